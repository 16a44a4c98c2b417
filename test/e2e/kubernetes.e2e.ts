// Real Kubernetes in the loop (npm run test:e2e): upstream kube-apiserver v1.34.2 on embedded etcd,
// configured exactly as the enclave supervisor configures K3s, authenticating through the real
// `authenticate` handler (HTTPS, index and webhook secret in moto), RBAC and the admission policy applied
// with kubectl as shipped, and people using the real kubectl with the project's kubeconfig and CLI.
// Timing assertions are about the apiserver's cache TTL: each waits explicitly past the configured TTL and
// probes; none needs the machine to be fast.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AUTHENTICATE_ENV, createHandler, handler } from '../../lambdas/authenticate/handler';
import { cachedSecret, secretsManagerLoader } from '../../lambdas/shared/runtime/webhook-secret';
import { tokenCheckerFromEnv } from '../../lambdas/shared/credentials/token-check-env';
import { DynamoIndexRepository } from '../../lambdas/shared/index/index-repository-dynamodb';
import { readEnv } from '../../lambdas/shared/runtime/env';
import { DEFAULT_MIN_STAKE_MIST } from '../../lambdas/shared/sui/roles';
import { renderWebhookKubeconfig, WEBHOOK_CACHE_TTL_SECONDS } from '../../enclave/src/supervisor/k3s-config';
import { INDEX_VIEW_TTL_SECONDS, REVOCATION_CACHE_BOUND_SECONDS, TOKEN_DECISION_TTL_SECONDS } from '../../lambdas/shared/credentials/revocation-bound';
import { createIndexTable, emulatorClient } from '../support/index-table';
import { startMoto, type Moto } from '../support/moto';
import { applyRbac, startCluster, type Cluster } from './support/cluster';
import { startLocalApi, startRelay, type LocalApi, type Relay } from './support/local-api';
import { createPki } from './support/pki';
import { pollUntil } from './support/processes';
import { LocalLedger } from './sandbox/local-ledger';
import { createPerson, installCli, type PeopleContext, type Person } from './support/users';
import { nodeManifest, workerNode, type WorkerNode } from './support/worker-node';

const CLUSTER_ID = 'e2e-cluster';
const TABLE = 'k3s-daas-index';
const SECRET = 'e2e-webhook-secret-0123456789abcdef';
/**
 * How long an answer may outlive the index state it came from (DESIGN §6): the apiserver's cache plus the
 * function's per-container decision cache (a decision up to that old can fill the apiserver's cache).
 */
const BOUND_MS = (WEBHOOK_CACHE_TTL_SECONDS + TOKEN_DECISION_TTL_SECONDS) * 1000;
/** The deployed default (lib/config `indexer.maxIndexAgeSeconds`). */
const INDEX_MAX_AGE_SECONDS = 300;
/** The indexer's schedule here: runs like the EventBridge one (every minute on AWS), more often. */
const INDEXER_INTERVAL_MS = 10_000;
const saved = { ...process.env };

let dir: string;
let moto: Moto;
let relay: Relay;
let api: LocalApi;
let cluster: Cluster;
let repo: DynamoIndexRepository;
let people: PeopleContext;
let user: Person;
let operatorA: Person;
let operatorB: Person;
let admin: Person;
let nodeA: WorkerNode;
let nodeB: WorkerNode;
let rotated: typeof handler;
let ledger: LocalLedger;
let indexerTimer: NodeJS.Timeout | undefined;

/** The indexer's schedule, which the stale-index test stops. */
function startIndexerSchedule(): void {
  indexerTimer = setInterval(() => void ledger.index(repo).catch((e: unknown) => process.stderr.write(`scheduled indexer run failed: ${String(e)}\n`)), INDEXER_INTERVAL_MS);
}
function stopIndexerSchedule(): void {
  clearInterval(indexerTimer);
  indexerTimer = undefined;
}

// kubectl's words for a 401.
const UNAUTHORIZED = /You must be logged in to the server \((Unauthorized|the server has asked for the client to provide credentials)\)/;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const instanceId = () => `i-0${Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString('hex')}`;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-daas-e2e-'));
  moto = await startMoto();
  const db = emulatorClient(moto.endpoint);
  await createIndexTable(db, TABLE);
  repo = new DynamoIndexRepository({ tableName: TABLE, client: db });
  ledger = new LocalLedger();
  const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const { ARN } = await secrets.send(new CreateSecretCommand({ Name: 'webhook', SecretString: SECRET }));
  const { ARN: rotatedArn } = await secrets.send(new CreateSecretCommand({ Name: 'webhook-rotated', SecretString: 'a-rotated-secret-the-apiserver-never-saw' }));
  // The function reaches DynamoDB through a relay the suite can cut (an index outage); everything else
  // (Secrets Manager) goes straight to moto.
  relay = await startRelay(moto.endpoint);
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: moto.endpoint, AWS_ENDPOINT_URL_DYNAMODB: relay.endpoint, AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing',
    TABLE_NAME: TABLE, CLUSTER_ID, SUI_NETWORK: 'testnet', WEBHOOK_SECRET_ARN: ARN,
    INDEX_MAX_AGE_SECONDS: String(INDEX_MAX_AGE_SECONDS),
  });

  const pki = createPki(path.join(dir, 'pki'));
  api = await startLocalApi(pki.leaf('local-api', '/CN=local-api', 'serverAuth'), { '/v1/authenticate': handler });
  // A second instance of the function wired the same way but reading a rotated secret: what the apiserver
  // meets when its webhook secret is wrong.
  rotated = createHandler({ checker: tokenCheckerFromEnv(readEnv(AUTHENTICATE_ENV)), webhookSecret: cachedSecret(secretsManagerLoader(rotatedArn!)) });

  cluster = await startCluster({ dir: path.join(dir, 'cluster'), apiUrl: api.url, webhookSecret: SECRET, pki, apiserverEnv: { SSL_CERT_FILE: pki.caCert } });
  await applyRbac(cluster);

  people = { dir, repo, ledger, clusterId: CLUSTER_ID, serverUrl: cluster.serverUrl, caCertPem: fs.readFileSync(pki.caCert, 'utf8'), cliBinDir: await installCli(path.join(dir, 'cli')), kubectlPath: cluster.kubectlPath };
  [user, operatorA, operatorB, admin] = await Promise.all([
    createPerson(people, 'user', 'user'), createPerson(people, 'operator-a', 'node'), createPerson(people, 'operator-b', 'node'), createPerson(people, 'admin', 'admin'),
  ]);
  startIndexerSchedule();
  nodeA = workerNode(dir, { clusterId: CLUSTER_ID, workerGroup: 'general', stakeId: operatorA.stakeId, instanceId: instanceId() });
  nodeB = workerNode(dir, { clusterId: CLUSTER_ID, workerGroup: 'general', stakeId: operatorB.stakeId, instanceId: instanceId() });
  for (const node of [nodeA, nodeB]) {
    const created = await cluster.kubectl(['create', '-f', '-'], { input: nodeManifest(node) });
    if (created.code !== 0) throw new Error(`registering node ${node.name} with the bootstrap's labels failed: ${created.stderr}`);
  }
}, 30 * 60_000);

afterAll(async () => {
  stopIndexerSchedule();
  await cluster?.stop();
  await api?.close();
  await relay?.close();
  await moto?.stop();
  process.env = saved;
  if (dir && !process.env.K3S_DAAS_E2E_KEEP) fs.rmSync(dir, { recursive: true, force: true });
}, 120_000);

const canI = async (person: Person, ...args: string[]) => {
  const out = await person.kubectl(['auth', 'can-i', ...args]);
  if (out.code !== 0 && out.stdout.trim() !== 'no') throw new Error(`kubectl auth can-i ${args.join(' ')} as ${person.name}: ${out.stderr}`);
  return out.stdout.trim() === 'yes';
};

interface Rule { verbs: string[]; apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }

/** Everything the authorizer lets this person do in a namespace (SelfSubjectRulesReview, what `can-i --list` shows). */
async function rulesOf(person: Person, namespace = 'default'): Promise<Rule[]> {
  const review = JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } });
  // --validate=false: kubectl's client-side validation would list CRDs first, which no tier but admin may.
  const out = await person.kubectl(['create', '--validate=false', '-f', '-', '-o', 'json'], review);
  if (out.code !== 0) throw new Error(`SelfSubjectRulesReview as ${person.name}: ${out.stderr}`);
  const status = (JSON.parse(out.stdout) as { status: { resourceRules: Rule[]; nonResourceRules: Rule[]; incomplete: boolean } }).status;
  expect(status.incomplete).toBe(false);
  return [...status.resourceRules, ...status.nonResourceRules];
}

// What every authenticated identity gets from Kubernetes itself (system:basic-user, system:discovery,
// system:public-info-viewer via the system:authenticated group the apiserver adds).
const SELF_REVIEWS = new Set(['selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'selfsubjectreviews']);
const READ = new Set(['get', 'list', 'watch']);

/** The verbs beyond reading that a rule grants, as `resource:verb` (self reviews excluded). */
function writes(rules: Rule[]): string[] {
  const found = new Set<string>();
  for (const rule of rules) {
    if (rule.nonResourceURLs) {
      for (const verb of rule.verbs) if (verb !== 'get') found.add(`nonresource:${verb}`);
      continue;
    }
    for (const resource of rule.resources ?? []) {
      if (SELF_REVIEWS.has(resource)) continue;
      for (const verb of rule.verbs) if (!READ.has(verb)) found.add(`${resource}:${verb}`);
    }
  }
  return [...found].sort();
}

const readable = (rules: Rule[]) => new Set(rules.filter((r) => r.verbs.some((v) => READ.has(v) || v === '*')).flatMap((r) => r.resources ?? []));

describe('configuration', () => {
  it('kube-apiserver runs with every kube-apiserver-arg the supervisor renders and its webhook kubeconfig', () => {
    for (const arg of cluster.renderedArgs) expect(cluster.apiserverArgs).toContain(`--${arg}`);
    // DESIGN §6 bounds the apiserver's cache plus the function's decision cache at 30 s; the revocation
    // tests measure against the configured values.
    expect(WEBHOOK_CACHE_TTL_SECONDS + TOKEN_DECISION_TTL_SECONDS).toBeLessThanOrEqual(REVOCATION_CACHE_BOUND_SECONDS);
    expect(cluster.apiserverArgs).toEqual(expect.arrayContaining([`--authentication-token-webhook-cache-ttl=${WEBHOOK_CACHE_TTL_SECONDS}s`, '--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction']));
    const webhookFile = cluster.renderedArgs.find((a) => a.startsWith('authentication-token-webhook-config-file='))!.split('=')[1]!;
    expect(fs.readFileSync(webhookFile, 'utf8')).toBe(renderWebhookKubeconfig(api.url, SECRET));
  });
});

describe('who the apiserver says people are', () => {
  it.each(['user', 'node', 'admin'] as const)('kubectl auth whoami as the %s tier: sui:<address>, the token uid, the tier groups, the stake in extra; no system: name from the webhook', async (role) => {
    const person = { user, node: operatorA, admin }[role];
    const out = await person.kubectl(['auth', 'whoami', '-o', 'json']);
    expect(out.stderr).toBe('');
    const info = (JSON.parse(out.stdout) as { status: { userInfo: { username: string; uid: string; groups: string[]; extra: Record<string, string[]> } } }).status.userInfo;
    const groups = { user: ['k3s-daas:user', 'k3s-daas:perm:read'], node: ['k3s-daas:node', 'k3s-daas:perm:read', 'k3s-daas:perm:node:write'], admin: ['k3s-daas:admin', 'k3s-daas:perm:read', 'k3s-daas:perm:write', 'k3s-daas:perm:node:write', 'k3s-daas:perm:admin'] }[role];
    // The apiserver itself appends system:authenticated to every authenticated identity; nothing else
    // may be a system: name.
    expect(info).toEqual({
      username: `sui:${person.address}`, uid: person.tokenId, groups: [...groups, 'system:authenticated'],
      extra: { 'k3s-daas.io/token-id': [person.tokenId], 'k3s-daas.io/stake-id': [person.stakeId] },
    });
    expect([info.username, ...info.groups.filter((g) => g !== 'system:authenticated')].filter((n) => n.startsWith('system:'))).toEqual([]);
  });
});

describe('tiers: exactly what docs/token-checks.md promises, through the real authorizer', () => {
  it('user tier: reads workloads and cluster-scoped objects, no Secrets, no write anywhere', async () => {
    for (const [verb, resource] of [['get', 'pods'], ['list', 'deployments.apps'], ['watch', 'services'], ['list', 'nodes'], ['get', 'namespaces'], ['list', 'persistentvolumes'], ['list', 'storageclasses.storage.k8s.io']]) {
      expect([verb, resource, await canI(user, verb!, resource!, '-A')]).toEqual([verb, resource, true]);
    }
    for (const [verb, resource] of [['get', 'secrets'], ['create', 'pods'], ['delete', 'pods'], ['patch', 'nodes'], ['create', 'namespaces'], ['create', 'pods/eviction'], ['create', 'clusterrolebindings'], ['impersonate', 'users'], ['create', 'serviceaccounts/token']]) {
      expect([verb, resource, await canI(user, verb!, resource!, '-A')]).toEqual([verb, resource, false]);
    }
    expect(writes(await rulesOf(user))).toEqual([]);
    expect(readable(await rulesOf(user))).not.toContain('secrets');
    // Real requests, not only the authorizer's opinion.
    expect((await user.kubectl(['get', 'ns'])).code).toBe(0);
    const create = await user.kubectl(['create', 'namespace', 'not-allowed']);
    expect(create.code).not.toBe(0);
    expect(create.stderr).toContain('Forbidden');
    expect((await user.kubectl(['get', 'secrets', '-A'])).stderr).toContain('Forbidden');
  });

  it('node tier: the user tier plus managing Node objects (patch/update/delete, nodes/status patch), nothing else', async () => {
    expect(writes(await rulesOf(operatorA))).toEqual(['nodes/status:patch', 'nodes:delete', 'nodes:patch', 'nodes:update']);
    expect(readable(await rulesOf(operatorA))).not.toContain('secrets');
    for (const [verb, resource] of [['create', 'pods'], ['create', 'pods/eviction'], ['get', 'secrets'], ['create', 'nodes'], ['update', 'daemonsets.apps'], ['create', 'rolebindings']]) {
      expect([verb, resource, await canI(operatorA, verb!, resource!, '-A')]).toEqual([verb, resource, false]);
    }
    expect(await canI(operatorA, 'patch', 'nodes')).toBe(true);
  });

  it('admin tier: everything', async () => {
    expect(await canI(admin, '*', '*', '-A')).toBe(true);
    expect((await admin.kubectl(['create', 'namespace', 'admin-made'])).code).toBe(0);
    expect((await admin.kubectl(['get', 'secrets', '-A'])).code).toBe(0);
  });
});

describe('node operators manage their own workers', () => {
  it('registered Nodes carry the bootstrap labels', async () => {
    const out = await admin.kubectl(['get', 'node', nodeA.name, '-o', 'json']);
    expect(out.code).toBe(0);
    expect((JSON.parse(out.stdout) as { metadata: { labels: Record<string, string> } }).metadata.labels).toMatchObject(nodeA.labels);
  });

  it('waits until the admission policy is in force (server-side dry run of a foreign cordon is denied)', async () => {
    await pollUntil('the node-operator ValidatingAdmissionPolicy to be enforced', async () => {
      const out = await operatorA.kubectl(['label', 'node', nodeB.name, 'probe=1', '--dry-run=server']);
      return out.code !== 0 && out.stderr.includes('node operators may only change nodes admitted under their own stake') ? true : undefined;
    }, { attempts: 120, intervalMs: 1000, alive: cluster.peers });
  });

  it('an operator cordons and labels their own node', async () => {
    const cordon = await operatorA.kubectl(['cordon', nodeA.name]);
    expect([cordon.code, cordon.stderr]).toEqual([0, '']);
    const label = await operatorA.kubectl(['label', 'node', nodeA.name, 'maintenance=planned']);
    expect([label.code, label.stderr]).toEqual([0, '']);
    const node = JSON.parse((await admin.kubectl(['get', 'node', nodeA.name, '-o', 'json'])).stdout) as { spec: { unschedulable?: boolean }; metadata: { labels: Record<string, string> } };
    expect(node.spec.unschedulable).toBe(true);
    expect(node.metadata.labels.maintenance).toBe('planned');
    expect((await operatorA.kubectl(['uncordon', nodeA.name])).code).toBe(0);
  });

  it('an operator cannot cordon, label or delete another operator\'s node', async () => {
    // `kubectl cordon` exits 0 even when its patch is refused (it only prints the error), so the verdict
    // is read from stderr and from the node itself.
    for (const args of [['cordon', nodeB.name], ['label', 'node', nodeB.name, 'maintenance=planned'], ['delete', 'node', nodeB.name]]) {
      const out = await operatorA.kubectl(args);
      expect([args.join(' '), out.stderr]).toEqual([args.join(' '), expect.stringContaining('node operators may only change nodes admitted under their own stake')]);
      if (args[0] !== 'cordon') expect(out.code).not.toBe(0);
    }
    const node = JSON.parse((await admin.kubectl(['get', 'node', nodeB.name, '-o', 'json'])).stdout) as { spec: { unschedulable?: boolean }; metadata: { labels: Record<string, string> } };
    expect(node.spec.unschedulable).toBeUndefined();
    expect(node.metadata.labels.maintenance).toBeUndefined();
  });

  it('an operator cannot move the stake labels of their own node (to hand it to, or take it from, another stake)', async () => {
    for (const [key, value] of Object.entries(nodeB.labels).filter(([k]) => k.startsWith('k3s-daas.io/stake-id'))) {
      const out = await operatorA.kubectl(['label', 'node', nodeA.name, `${key}=${value}`, '--overwrite']);
      expect(out.code).not.toBe(0);
      expect(out.stderr).toContain('Forbidden');
    }
  });

  it('a user-tier person cannot touch any node', async () => {
    const out = await user.kubectl(['cordon', nodeA.name]);
    expect(out.stderr).toContain(`cannot patch resource "nodes"`);
    const node = JSON.parse((await admin.kubectl(['get', 'node', nodeA.name, '-o', 'json'])).stdout) as { spec: { unschedulable?: boolean } };
    expect(node.spec.unschedulable).toBeUndefined();
  });
});

/**
 * Fills the apiserver's cache with an accepted review of the person's credential, applies `change` to the
 * index right after (the worst moment: the entry is as fresh as it gets), then probes until the TTL has
 * certainly passed. Returns when each probe started relative to the fill, and whether it was accepted.
 */
async function probeAfterChange(person: Person, change: () => Promise<void>): Promise<{ filledAt: number; changedAt: number; probes: { at: number; ok: boolean }[] }> {
  const before = api.exchanges.length;
  const first = await person.kubectl(['get', 'ns']);
  expect([first.code, first.stderr]).toEqual([0, '']);
  const fills = api.exchanges.slice(before).filter((e) => e.authenticated === true);
  expect(fills.length).toBe(1);
  const filledAt = fills[0]!.at;
  await change();
  const changedAt = Date.now();
  const probes: { at: number; ok: boolean }[] = [];
  // Probe until past the entry's expiry (and the slack below), then once more after that.
  while (Date.now() < filledAt + BOUND_MS + SLACK_MS + 1_000) {
    const at = Date.now();
    probes.push({ at: at - filledAt, ok: (await person.kubectl(['get', 'ns'])).code === 0 });
    await sleep(1_000);
  }
  const at = Date.now();
  probes.push({ at: at - filledAt, ok: (await person.kubectl(['get', 'ns'])).code === 0 });
  return { filledAt, changedAt, probes };
}

/**
 * The apiserver starts an entry's TTL when it has read the function's answer, which on a loaded machine
 * is measurably later than when the function sent it (up to 2 s seen on the shared 2-core machine under
 * `nice`). A third of the TTL absorbs that and still catches any cache longer than the bound by more.
 */
const SLACK_MS = BOUND_MS / 3;

/** DESIGN §6: once the index says no, the credential is accepted for at most the bound (apiserver cache + decision cache). */
function expectWithinBound(result: Awaited<ReturnType<typeof probeAfterChange>>): void {
  const lateAcceptances = result.probes.filter((p) => p.ok && p.at > BOUND_MS + SLACK_MS);
  expect(lateAcceptances).toEqual([]);
  expect(result.probes.at(-1)!.ok).toBe(false);
  // The measured window, for the report: last accepted probe after the change.
  const lastOk = result.probes.filter((p) => p.ok).at(-1);
  process.stdout.write(`  last acceptance ${lastOk ? `${(lastOk.at / 1000).toFixed(1)} s` : 'none'} after the cache fill (TTL ${WEBHOOK_CACHE_TTL_SECONDS} s + decision ${TOKEN_DECISION_TTL_SECONDS} s, change ${((result.changedAt - result.filledAt) / 1000).toFixed(1)} s after the fill)\n`);
}

describe('revocation, token expiry and slashing take effect within the cache TTL (DESIGN §6)', () => {
  const timeout = BOUND_MS + 5 * 60_000;

  it('a revoked seal token (SealTokenRevoked on the ledger, one indexer run)', async () => {
    const person = await createPerson(people, 'revoked', 'user');
    const result = await probeAfterChange(person, async () => {
      ledger.record([{ name: 'seal_token::SealTokenRevoked', data: { token_id: person.tokenId } }]);
      expect((await ledger.index(repo)).stoppedBecause).toBe('caught_up');
    });
    expectWithinBound(result);
  }, timeout);

  it('a slashed stake (StakeSlashed on the ledger, one indexer run)', async () => {
    const person = await createPerson(people, 'slashed', 'node');
    const result = await probeAfterChange(person, async () => {
      const amount = DEFAULT_MIN_STAKE_MIST.node;
      ledger.record([{ name: 'staking::StakeSlashed', data: { stake_id: person.stakeId, amount: amount / 2n, remaining: amount / 2n, reason: 'e2e' } }]);
      expect((await ledger.index(repo)).stoppedBecause).toBe('caught_up');
    });
    expectWithinBound(result);
  }, timeout);

  it('a seal token reaching its expires_at_ms right after the cache was filled', async () => {
    // Issued to expire 45 s from now (room for a slow machine to set up); the cache is filled 3 s before.
    const expiresAtMs = Date.now() + 45_000;
    const person = await createPerson(people, 'expiring', 'user', { tokenExpiresAtMs: expiresAtMs });
    await sleep(Math.max(0, expiresAtMs - 3_000 - Date.now()));
    const result = await probeAfterChange(person, () => sleep(Math.max(0, expiresAtMs - Date.now())));
    expectWithinBound(result);
  }, timeout);
});

describe('failures close the door (DESIGN §6)', () => {
  it('a wrong webhook secret: the function answers 401 and the person is refused; nothing is cached', async () => {
    const person = await createPerson(people, 'wrong-secret', 'user');
    const before = api.exchanges.length;
    api.route('/v1/authenticate', rotated);
    let refused;
    try {
      refused = await person.kubectl(['get', 'ns']);
    } finally {
      api.route('/v1/authenticate', handler);
    }
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(UNAUTHORIZED);
    const seen = api.exchanges.slice(before).filter((e) => e.token !== undefined);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((e) => e.status === 401 && e.authenticated !== true)).toBe(true);
    // Errors are not cached: with the right secret back, the same credential works at once.
    expect((await person.kubectl(['get', 'ns'])).code).toBe(0);
  }, 5 * 60_000);

  it('an index outage: the function answers 500, the apiserver retries, and no retry becomes an acceptance', async () => {
    const person = await createPerson(people, 'outage', 'user');
    const before = api.exchanges.length;
    relay.cut();
    let refused;
    try {
      refused = await person.kubectl(['get', 'ns']);
    } finally {
      relay.restore();
    }
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(UNAUTHORIZED);
    const seen = api.exchanges.slice(before).filter((e) => e.token !== undefined);
    // The apiserver's webhook backoff retried the 500s; none of them was taken as an answer.
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((e) => e.status === 500 && e.authenticated === false)).toBe(true);
    // The outage was not cached as a refusal either.
    expect((await person.kubectl(['get', 'ns'])).code).toBe(0);
  }, 5 * 60_000);

  it('a stale index (indexer stopped past INDEX_MAX_AGE_SECONDS): the function answers 500 index_stale, the apiserver refuses, nothing is cached', async () => {
    const person = await createPerson(people, 'stale', 'user');
    stopIndexerSchedule();
    try {
      await ledger.settled();
      // The index as it stands once the indexer has been stopped for longer than the bound: its cursor
      // covers the chain only up to a time more than INDEX_MAX_AGE_SECONDS ago. (Waiting the bound out in
      // real time would add five minutes; the check compares the same two numbers either way.)
      const cursor = await repo.getCursor();
      expect(cursor?.coveredThroughMs).toBeDefined();
      await repo.putCursor({ ...cursor!, coveredThroughMs: Date.now() - (INDEX_MAX_AGE_SECONDS + 60) * 1000 }, cursor);
      // The function reads the index view (the cursor's coverage) at most every INDEX_VIEW_TTL_SECONDS:
      // a stopped indexer is refused within maxIndexAge + that (docs/token-checks.md).
      await sleep(INDEX_VIEW_TTL_SECONDS * 1000 + 1_000);
      const before = api.exchanges.length;
      const refused = await person.kubectl(['get', 'ns']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(UNAUTHORIZED);
      const seen = api.exchanges.slice(before).filter((e) => e.token !== undefined);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((e) => e.status === 500 && e.authenticated === false && /index is stale/.test(e.error ?? ''))).toBe(true);
      // Still refused on a second request: no answer of the stale index became a cached acceptance.
      expect((await person.kubectl(['get', 'ns'])).code).not.toBe(0);
      expect(api.exchanges.slice(before).some((e) => e.authenticated === true)).toBe(false);
      // The indexer runs again (the chain's tip has moved on): the same credential works at once, so the
      // refusal was not cached either.
      expect((await ledger.index(repo)).stoppedBecause).toBe('caught_up');
      expect((await person.kubectl(['get', 'ns'])).code).toBe(0);
    } finally {
      startIndexerSchedule();
    }
  }, 5 * 60_000);
});
