// An operator's own machine, end to end (issue 15 "Done when"), with every part real and chained: the operator's
// node stake and seal token on the local ledger, indexed into moto by the real indexer; the real external join
// route (lambdas/node-external-join/handler.ts, wired from its environment as on Lambda: DynamoDB, KMS and its
// token checker with the join audience) over HTTPS, serving a verified attestation record made by the platform's
// own verifier from a Nitro test-CA document whose claims carry this run's cluster CA and the platform's
// settings, and a bootstrap pool sealed under the run's KMS key; the CLI's `k3s-daas node join` in-process with
// its anchors (the test root, pcrs.json of the document) up to the agent start step; then the roster route, the
// reconciler module and the admission policy against the real kube-apiserver, until a slash on the ledger takes
// the machine out. The stake covers exactly one node. The kubectl-vs-join credential refusals are in
// join.e2e.ts; what an evicted kubelet can still read, and pods on an evicted node, are in nodes.e2e.ts.
// No assertion depends on wall-clock speed: the eviction bound is one indexer run + one reconciler round.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateKeyCommand, GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { parse } from 'yaml';
import { runCli } from '../../cli/program';
import { handler as externalJoin } from '../../lambdas/node-external-join/handler';
import { handler as roster } from '../../lambdas/node-roster/handler';
import { verifyClusterAttestation } from '../../lambdas/shared/attestation/cluster-attestation';
import { settingsDigest, spkiSha256 } from '../../lambdas/shared/attestation/enclave-claims';
import { platformSettingsFrom } from '../../lambdas/shared/attestation/platform-settings';
import { DynamoAttestationRecordStore } from '../../lambdas/shared/attestation/record-store';
import { createCredential } from '../../lambdas/shared/credentials/credential';
import { joinAudience } from '../../lambdas/shared/credentials/token-check';
import { DynamoIndexRepository } from '../../lambdas/shared/index/index-repository-dynamodb';
import { BOOTSTRAP_TOKEN_TIMING, JOIN_TOKEN_PATTERN, KmsJoinTokenCipher } from '../../lambdas/shared/nodes/join-token';
import { K3S_RELEASE, type K3sRelease } from '../../lambdas/shared/nodes/k3s-release';
import { externalNodeName } from '../../lambdas/shared/nodes/node-labels';
import { NodeRegistry } from '../../lambdas/shared/nodes/node-registry';
import { DEFAULT_MIN_STAKE_MIST, roleToU8, TIER_PERMISSIONS } from '../../lambdas/shared/sui/roles';
import { SEAL_TOKEN_OBJECT } from '../../lambdas/shared/sui/objects';
import { sealTokenType } from '../../lambdas/shared/sui/transactions';
import { httpsKubeApi, httpsRosterSource, NodeReconciler, nodePasswordSecret, ROSTER_CONFIGMAP } from '../../enclave/src/supervisor/node-reconciler';
import { FakeSuiNode } from '../cli/fake-sui-node';
import { makeHarness } from '../cli/sui-cli-harness';
import { testClaims } from '../support/enclave-settings';
import { createIndexTable, emulatorClient } from '../support/index-table';
import { startMoto, type Moto } from '../support/moto';
import { mintPoolEntry } from '../support/worker-fixtures';
import { NitroTestCa, TEST_PCRS } from '../support/nitro-test-ca';
import { applyRbac, startCluster, type Cluster, type KubectlResult } from './support/cluster';
import { kubeletIdentity, type KubeletIdentity } from './support/kubelet';
import { startLocalApi, type LocalApi } from './support/local-api';
import { createPki, type Pki } from './support/pki';
import { pollUntil } from './support/processes';
import { suiId } from './support/users';
import { LocalLedger } from './sandbox/local-ledger';

const CLUSTER_ID = 'e2e-external';
const TABLE = 'k3s-daas-index';
const SECRET = 'e2e-webhook-secret-external-0123456789';
// The NLB name the answer's server carries (and the attested settings' TLS SAN): the agent is never started here.
const SERVER_URL = 'https://k3s.e2e.invalid:6443';
const JOIN_PATH = '/v1/nodes/external/join';
const sha256Hex = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const FAKE_K3S = Buffer.from('#!/bin/sh\necho "not really k3s: the agent cannot run in this suite"\n'.repeat(512));
/** The pinned version, with the checksum of the file the release server below serves (in-process only: ctx.k3sRelease). */
const TEST_RELEASE: K3sRelease = { version: K3S_RELEASE.version, sha256Amd64: sha256Hex(FAKE_K3S), sha256Arm64: sha256Hex(FAKE_K3S) };
const NOT_ROSTERED = /is not in the k3s-daas node roster/;
const saved = { ...process.env };

let dir: string;
let moto: Moto;
let api: LocalApi;
let cluster: Cluster;
let pki: Pki;
let repo: DynamoIndexRepository;
let registry: NodeRegistry;
let ledger: LocalLedger;
let reconciler: NodeReconciler;
let releases: Server;
let fetchWithE2eCa: typeof fetch;
let anchors: { pcrs: string; root: string };

// The operator: one Sui key, a node stake of exactly one node's minimum, one node-tier seal token.
const operator = Ed25519Keypair.generate();
const stakeId = suiId();
const tokenId = suiId();
const tokenExpiresAtMs = Date.now() + 30 * 86_400_000;
let chain: FakeSuiNode;
const reconcilerLog: string[] = [];

async function indexOnce(): Promise<void> {
  const report = await ledger.index(repo);
  if (report.stoppedBecause !== 'caught_up') throw new Error(`indexer run stopped: ${report.stoppedBecause}`);
}

/** One machine of the operator: its own home and root, running `k3s-daas node join` in-process. */
async function machine(name: string) {
  const h = await makeHarness(
    { SUI_PRIVATE_KEY: operator.getSecretKey(), K3S_DAAS_PACKAGE_ID: ledger.packageId, K3S_DAAS_STAKING_POOL_ID: suiId() },
    // The real clock (the route and the index use it); TLS to the local API trusts this run's CA.
    { suiClient: chain.client, fetch: fetchWithE2eCa, now: () => new Date(), k3sRelease: TEST_RELEASE },
  );
  const root = path.join(h.ctx.homeDir, name);
  const installDir = path.join(root, 'usr/local/bin');
  const config = path.join(root, 'etc/rancher/k3s/config.yaml');
  const releaseBase = `http://127.0.0.1:${(releases.address() as AddressInfo).port}/releases`;
  const join = () => runCli(['node', 'join', '--api', api.url, '--pcrs', anchors.pcrs, '--root', anchors.root, '--trust-first-use',
    '--k3s-download-base', releaseBase, '--install-dir', installDir, '--config', config], h.ctx);
  return { h, installDir, config, join };
}

/** The Node an agent started with `config` registers: its name, the config's labels and taints, what kubelets add. */
function nodeFromAgentConfig(config: { 'node-name': string; 'node-label': string[]; 'node-taint': string[] }, name = config['node-name']): string {
  const labels = Object.fromEntries(config['node-label'].map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const taints = config['node-taint'].map((t) => {
    const m = /^([^=:]+)(?:=([^:]*))?:(\w+)$/.exec(t);
    if (!m) throw new Error(`the agent config's taint ${t} is not key[=value]:Effect`);
    return { key: m[1], ...(m[2] !== undefined ? { value: m[2] } : {}), effect: m[3] };
  });
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...labels } },
    spec: { taints },
  });
}

async function postJoin(body: { credential: string; requestId: string }): Promise<{ status: number; error?: string }> {
  const res = await fetchWithE2eCa(new URL(JOIN_PATH.slice(1), api.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, error: ((await res.json()) as { error?: string }).error };
}

const joinCredential = async () => (await createCredential(operator, { tokenId, clusterId: joinAudience(CLUSTER_ID), lifetimeSeconds: 600 })).credential;

async function exists(kind: string, name: string, namespace?: string): Promise<boolean> {
  const out = await cluster.kubectl(['get', kind, name, ...(namespace ? ['-n', namespace] : []), '--ignore-not-found', '-o', 'name']);
  if (out.code !== 0) throw new Error(`kubectl get ${kind} ${name}: ${out.stderr}`);
  return out.stdout.trim() !== '';
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-daas-e2e-external-'));
  moto = await startMoto();
  const db = emulatorClient(moto.endpoint);
  await createIndexTable(db, TABLE);
  repo = new DynamoIndexRepository({ tableName: TABLE, client: db });
  registry = new NodeRegistry(db, TABLE);
  ledger = new LocalLedger();
  chain = new FakeSuiNode(ledger.packageId);
  const aws = { endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const { ARN: secretArn } = await new SecretsManagerClient(aws).send(new CreateSecretCommand({ Name: 'webhook', SecretString: SECRET }));
  // The deployment's KMS keys: the bootstrap pool's key and the kubeconfig signing key (its public key is in the settings).
  const kms = new KMSClient(aws);
  const joinKey = (await kms.send(new CreateKeyCommand({ Description: 'join tokens' }))).KeyMetadata!.Arn!;
  const stateKey = (await kms.send(new CreateKeyCommand({ Description: 'cluster state' }))).KeyMetadata!.Arn!;
  const signingKey = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.Arn!;

  pki = createPki(path.join(dir, 'pki'));
  const agent = new Agent({ connect: { ca: fs.readFileSync(pki.caCert) } });
  fetchWithE2eCa = ((url: string | URL, init?: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
  api = await startLocalApi(pki.leaf('local-api', '/CN=local-api', 'serverAuth'), { [JOIN_PATH]: externalJoin, 'GET /v1/nodes/roster': roster });
  const apiUrl = api.url.replace(/\/$/, '');
  // Both functions read their settings from the environment at their first request, as on Lambda.
  const env = {
    CLUSTER_ID, API_URL: apiUrl, SERVER_URL, CLUSTER_STATE_KEY_ID: stateKey, JOIN_TOKEN_KEY_ID: joinKey, KUBECONFIG_SIGNING_KEY_ARN: signingKey,
  };
  Object.assign(process.env, env, {
    AWS_ENDPOINT_URL: moto.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing',
    TABLE_NAME: TABLE, SUI_NETWORK: 'testnet', INDEX_MAX_AGE_SECONDS: '300', WEBHOOK_SECRET_ARN: secretArn,
    JOIN_TOKEN_KEY_ARN: joinKey, ATTESTATION_MAX_AGE_SECONDS: '900',
  });

  cluster = await startCluster({ dir: path.join(dir, 'cluster'), apiUrl: api.url, webhookSecret: SECRET, pki, apiserverEnv: { SSL_CERT_FILE: pki.caCert } });
  await applyRbac(cluster);
  reconciler = new NodeReconciler({ roster: httpsRosterSource(api.url, SECRET, fetchWithE2eCa), kube: httpsKubeApi(cluster.adminKubeconfig),
    log: (message, extra) => reconcilerLog.push(`${message} ${JSON.stringify(extra ?? {})}`),
  });

  // What `k3s-daas stake 1 --role node` and `token issue` make the package emit, indexed; and the token object the CLI reads.
  const owner = operator.toSuiAddress();
  ledger.record([{ name: 'staking::StakeDeposited', data: { stake_id: stakeId, owner, role: roleToU8('node'), amount: DEFAULT_MIN_STAKE_MIST.node, node_id: 'my-machines' } }]);
  ledger.record([{ name: 'seal_token::SealTokenIssued', data: {
    token_id: tokenId, stake_id: stakeId, owner, role: roleToU8('node'), permissions: [...TIER_PERMISSIONS.node], cluster_id: CLUSTER_ID, expires_at_ms: BigInt(tokenExpiresAtMs),
  } }]);
  await indexOnce();
  chain.addObject(tokenId, {
    kind: 'owned', version: 1n, owner, type: sealTokenType(ledger.packageId),
    contents: SEAL_TOKEN_OBJECT.serialize({
      id: tokenId, stake_id: stakeId, owner, role: roleToU8('node'), permissions: [...TIER_PERMISSIONS.node], cluster_id: CLUSTER_ID,
      issued_at_ms: BigInt(Date.now() - 1000), expires_at_ms: BigInt(tokenExpiresAtMs),
    }).toBytes(),
  });

  // The enclave's part: a Nitro document (test CA) over this cluster's CA and the platform's settings, verified
  // by the platform's verifier into the record the attestation route stores; two per-node bootstrap tokens
  // sealed under the join-token key, pinning that CA.
  const caCertPem = fs.readFileSync(pki.caCert, 'utf8');
  const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: signingKey }));
  const settings = platformSettingsFrom(env, spkiSha256(PublicKey!));
  const platformSettings = { settings, digest: settingsDigest(settings) };
  const nitro = await NitroTestCa.create({ now: new Date() });
  const doc = await nitro.document({ userData: testClaims(caCertPem, { settingsDigest: platformSettings.digest }), pcrs: TEST_PCRS });
  const verdict = await verifyClusterAttestation(
    { document: Buffer.from(doc.bytes).toString('base64'), caCertPem },
    { expectedPcrs: null as never, now: new Date(), maxDocumentAgeMs: 300_000, rootPem: nitro.rootPem, platformSettings },
  );
  if (!verdict.ok) throw new Error(`the test document did not verify: ${verdict.message}`);
  await new DynamoAttestationRecordStore({ tableName: TABLE, client: db }).putLatest(verdict.record);
  const cipher = new KmsJoinTokenCipher(new KMSClient(aws), joinKey);
  const expiresAt = new Date(Date.now() + BOOTSTRAP_TOKEN_TIMING.ttlMs).toISOString();
  for (let i = 0; i < 2; i++) await mintPoolEntry(cipher, registry, { clusterId: CLUSTER_ID, caPem: caCertPem, expiresAt });
  anchors = { pcrs: path.join(dir, 'pcrs.json'), root: path.join(dir, 'root.pem') };
  fs.writeFileSync(anchors.pcrs, JSON.stringify({ PCR0: TEST_PCRS[0], PCR1: TEST_PCRS[1], PCR2: TEST_PCRS[2], eifSha256: 'ab'.repeat(32), arch: 'x86_64' }));
  fs.writeFileSync(anchors.root, nitro.rootPem);

  // The K3s release mirror (--k3s-download-base): the CLI checks what it serves against TEST_RELEASE.
  releases = createServer((req, res) => {
    const asset = `/releases/${encodeURIComponent(K3S_RELEASE.version)}/${process.arch === 'arm64' ? 'k3s-arm64' : 'k3s'}`;
    if (req.method === 'GET' && req.url === asset) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(FAKE_K3S);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => releases.listen(0, '127.0.0.1', resolve));
}, 30 * 60_000);

afterAll(async () => {
  await cluster?.stop();
  await api?.close();
  await new Promise<void>((resolve) => (releases ? releases.close(() => resolve()) : resolve()));
  await moto?.stop();
  process.env = saved;
  if (dir && !process.env.K3S_DAAS_E2E_KEEP) fs.rmSync(dir, { recursive: true, force: true });
}, 120_000);

let agentConfig: { server: string; token: string; 'node-name': string; 'node-label': string[]; 'node-taint': string[] };
let admitted: string;
let secondMachineName: string;
let kubelet: KubeletIdentity;

describe('an operator joins their own machine with `k3s-daas node join` through the real route', () => {
  it('the first machine is admitted: the CLI verifies the answer with its anchors, installs the agent and configures it, and says the agent cannot start here (exit 3)', async () => {
    const m = await machine('machine-a');
    const code = await m.join();
    const err = m.h.stderr();
    const last = err.trim().split('\n').at(-1) ?? '';
    expect(last).toMatch(/^k3s-daas: (systemctl is not on PATH|systemd is not running on this machine \(\/run\/systemd\/system is absent\)): start the agent yourself before \S+: sudo \S+\/k3s agent --config \S+$/);
    expect(code).toBe(3);
    for (const step of ['[1/7] reading your node token', '[2/7] K3s', '[3/7] asking', '[4/7] verifying the answer', '[5/7] installing', '[6/7] writing', '[7/7] starting the K3s agent']) {
      expect(err).toContain(step);
    }
    agentConfig = parse(fs.readFileSync(m.config, 'utf8'));
    admitted = agentConfig['node-name'];
    expect(m.h.stdout()).toBe(`admitted as ${admitted}; the agent is installed and configured but not started\n`);
    expect(api.exchanges.filter((e) => e.path === JOIN_PATH).map((e) => e.status)).toEqual([200]);
    expect(fs.readFileSync(path.join(m.installDir, 'k3s'))).toEqual(FAKE_K3S);

    // The config names what the route assigned and recorded: the node name, the stake labels, the kind label and taint, the server.
    const record = await registry.getNode(admitted);
    expect(record).toMatchObject({ instanceId: admitted, kind: 'external', tokenId, stakeId, autoScalingGroup: '', status: 'joined' });
    expect(admitted).toBe(externalNodeName(stakeId, record!.requestId!));
    expect(agentConfig).toEqual({
      server: SERVER_URL,
      token: expect.stringMatching(JOIN_TOKEN_PATTERN),
      'node-name': admitted,
      'node-label': [`k3s-daas.io/stake-id-hi=${stakeId.slice(2, 34)}`, `k3s-daas.io/stake-id-lo=${stakeId.slice(34)}`, 'k3s-daas.io/node-kind=external'],
      'node-taint': ['k3s-daas.io/external=true:NoSchedule'],
    });
    // The per-node token pins this run's CA (K10<sha256 of the CA file>), and its secret is never printed.
    expect(agentConfig.token.startsWith(`K10${sha256Hex(fs.readFileSync(pki.caCert))}::`)).toBe(true);
    expect(err).not.toContain(agentConfig.token.split('.')[1]);
  });

  it('a second machine of the same stake is refused stake_insufficient (exit 5), and takes no slot', async () => {
    const m = await machine('machine-b');
    const code = await m.join();
    expect(m.h.stderr().trim().split('\n').at(-1)).toMatch(/refused \(403 stake_insufficient\)/);
    expect(code).toBe(5);
    expect(fs.existsSync(m.config)).toBe(false);
    expect(api.exchanges.filter((e) => e.path === JOIN_PATH).map((e) => e.status)).toEqual([200, 403]);
    expect(await registry.joinedCount(stakeId)).toBe(1n);
    // The name the route would have given it, had the stake covered it: a kubelet of that name is tried below.
    secondMachineName = externalNodeName(stakeId, randomBytes(16).toString('base64url'));
  });
});

describe('the admitted node in the real cluster, until a slash takes it out', () => {
  beforeAll(() => {
    kubelet = kubeletIdentity(cluster, pki, dir, admitted);
  });

  it('a reconciler round writes the admitted node into the allow-list', async () => {
    expect(await reconciler.reconcileOnce()).toEqual({ outcome: 'reconciled', rostered: 1, deleted: [], failed: [] });
    const out = await cluster.kubectl(['get', 'configmap', ROSTER_CONFIGMAP.name, '-n', ROSTER_CONFIGMAP.namespace, '-o', 'jsonpath={.data}']);
    expect(JSON.parse(out.stdout)).toEqual({ [admitted]: `external/${stakeId.slice(2)}` });
  });

  it('the refused second machine\'s kubelet cannot register a Node, even with the admitted node\'s labels and taint', async () => {
    const second = kubeletIdentity(cluster, pki, dir, secondMachineName);
    // Wait until the policy is in force (a fresh apiserver loads it asynchronously); then the real attempt.
    await pollUntil('the node allow-list policy to refuse the second machine', async () => {
      const out = await second.kubectl(['create', '--dry-run=server', '-f', '-'], nodeFromAgentConfig(agentConfig, secondMachineName));
      return out.code !== 0 && NOT_ROSTERED.test(out.stderr) ? true : undefined;
    }, { attempts: 120, intervalMs: 1000, alive: cluster.peers });
    const out = await second.kubectl(['create', '-f', '-'], nodeFromAgentConfig(agentConfig, secondMachineName));
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(NOT_ROSTERED);
  });

  it('the admitted node\'s kubelet registers its Node with exactly the labels and taint of the join answer', async () => {
    // The policy reads the allow-list through an informer: wait until it sees this round's entry.
    await pollUntil('the allow-list entry to reach the policy', async () => {
      const out = await kubelet.kubectl(['create', '--dry-run=server', '-f', '-'], nodeFromAgentConfig(agentConfig));
      return out.code === 0 ? true : undefined;
    }, { attempts: 120, intervalMs: 1000, alive: cluster.peers });
    const created: KubectlResult = await kubelet.kubectl(['create', '-f', '-'], nodeFromAgentConfig(agentConfig));
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const node = JSON.parse((await cluster.kubectl(['get', 'node', admitted, '-o', 'json'])).stdout) as { metadata: { labels: Record<string, string> }; spec: { taints: unknown[] } };
    expect(node.metadata.labels).toMatchObject({ 'k3s-daas.io/node-kind': 'external', 'k3s-daas.io/stake-id-hi': stakeId.slice(2, 34), 'k3s-daas.io/stake-id-lo': stakeId.slice(34) });
    // (The apiserver's TaintNodesByCondition adds node.kubernetes.io/not-ready until the kubelet reports Ready.)
    expect(node.spec.taints).toContainEqual({ key: 'k3s-daas.io/external', value: 'true', effect: 'NoSchedule' });
    // What K3s's supervisor stores for the node's password, deleted with the Node on eviction.
    const secret = await cluster.kubectl(['-n', 'kube-system', 'create', 'secret', 'generic', nodePasswordSecret(admitted), '--from-literal=hash=e2e']);
    expect(secret.code).toBe(0);
  });

  it('after a slash on the ledger, one indexer run and one reconciler round: the Node and its password secret are gone', async () => {
    ledger.record([{ name: 'staking::StakeSlashed', data: { stake_id: stakeId, amount: DEFAULT_MIN_STAKE_MIST.node / 2n, remaining: DEFAULT_MIN_STAKE_MIST.node / 2n, reason: 'e2e' } }]);
    await indexOnce();
    expect(await reconciler.reconcileOnce()).toEqual({ outcome: 'reconciled', rostered: 0, deleted: [admitted], failed: [] });
    expect(await exists('node', admitted)).toBe(false);
    expect(await exists('secret', nodePasswordSecret(admitted), 'kube-system')).toBe(false);
    expect(reconcilerLog.join('\n')).toMatch(new RegExp(`node evicted: not in the roster.*${admitted}`));
  });

  it('the evicted node\'s kubelet certificate can no longer write: neither re-register its Node nor renew its lease', async () => {
    await pollUntil('the emptied allow-list to reach the policy', async () => {
      const out = await kubelet.kubectl(['create', '--dry-run=server', '-f', '-'], nodeFromAgentConfig(agentConfig));
      return out.code !== 0 && NOT_ROSTERED.test(out.stderr) ? true : undefined;
    }, { attempts: 120, intervalMs: 1000, alive: cluster.peers });
    const recreate = await kubelet.kubectl(['create', '-f', '-'], nodeFromAgentConfig(agentConfig));
    expect(recreate.code).not.toBe(0);
    expect(recreate.stderr).toMatch(NOT_ROSTERED);
    const lease = await kubelet.kubectl(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: admitted, namespace: 'kube-node-lease' }, spec: { holderIdentity: admitted },
    }));
    expect(lease.code).not.toBe(0);
    expect(lease.stderr).toMatch(NOT_ROSTERED);
    expect(await exists('node', admitted)).toBe(false);
  });

  // The indexer's slash sweep invalidates the stake's tokens, and the token check names that first: token_revoked
  // (docs/token-checks.md), where a stake record marked slashed alone would be stake_inactive (external-join.test.ts).
  it('the node\'s join credential is refused at the join route (401 token_revoked): its own retry and a new request alike', async () => {
    const { requestId } = (await registry.getNode(admitted))!;
    const seen: { status: number; error?: string }[] = [];
    for (const id of [requestId!, randomBytes(16).toString('base64url')]) {
      // The route's token check may answer from its short decision cache; the stake read behind it is not cached.
      await pollUntil('the join route to refuse the slashed stake', async () => {
        const answer = await postJoin({ credential: await joinCredential(), requestId: id });
        seen.push(answer);
        return answer.status === 401 ? true : undefined;
      }, { attempts: 30, intervalMs: 1000 });
    }
    expect(seen.every((a) => a.status !== 200)).toBe(true);
    expect(seen.filter((a) => a.status === 401).map((a) => a.error)).toEqual(['token_revoked', 'token_revoked']);
    // Nothing was admitted meanwhile: the one record is the evicted node's (the roster excludes it at read time).
    expect(await registry.joinedCount(stakeId)).toBe(1n);
  });
});
