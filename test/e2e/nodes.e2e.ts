// Eviction that reaches machines the platform does not own (issue 15), against the real kube-apiserver of the
// e2e suite (Node,RBAC authorization and NodeRestriction as K3s runs it, the RBAC manifests and admission
// policies applied as shipped): kubelets authenticate with client certificates `system:node:<name>` (group
// system:nodes) from the e2e CA; the roster is the real GET /v1/nodes/roster handler over HTTPS, reading the
// index in moto that the real indexer fills from the local ledger; the reconciler is the real module
// (enclave/src/supervisor/node-reconciler.ts) with the admin credentials, driven round by round with
// reconcileOnce(). No assertion depends on wall-clock speed: the eviction bound is by construction (one
// indexer run + one reconciler round after it; docs/node-operators.md), and each test waits on conditions.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { createHandler as rosterHandler, dynamoRosterIndex, handler as liveRosterHandler } from '../../lambdas/node-roster/handler';
import { DynamoIndexRepository } from '../../lambdas/shared/index/index-repository-dynamodb';
import { MIST_PER_SUI, roleToU8, TIER_PERMISSIONS } from '../../lambdas/shared/sui/roles';
import {
  httpsKubeApi, httpsRosterSource, NodeReconciler, nodePasswordSecret, ROSTER_CONFIGMAP, type ReconcileReport,
} from '../../enclave/src/supervisor/node-reconciler';
import { createIndexTable, emulatorClient } from '../support/index-table';
import { startMoto, type Moto } from '../support/moto';
import { applyRbac, startCluster, type Cluster, type KubectlResult } from './support/cluster';
import { startLocalApi, type LocalApi } from './support/local-api';
import { kubeletIdentity } from './support/kubelet';
import { createPki, type Pki } from './support/pki';
import { pollUntil } from './support/processes';
import { suiId } from './support/users';
import { nodeManifest, workerNode } from './support/worker-node';
import { LocalLedger } from './sandbox/local-ledger';

const CLUSTER_ID = 'e2e-nodes';
const TABLE = 'k3s-daas-index';
const SECRET = 'e2e-webhook-secret-nodes-0123456789';
const ROSTER_ROUTE = 'GET /v1/nodes/roster';
const saved = { ...process.env };

let dir: string;
let moto: Moto;
let api: LocalApi;
let cluster: Cluster;
let pki: Pki;
let repo: DynamoIndexRepository;
let ledger: LocalLedger;
let reconciler: NodeReconciler;
const reconcilerLog: string[] = [];

/** A node operator's stake and node-tier token on the ledger, indexed by the real indexer. */
interface Operator {
  stakeId: string;
  tokenId: string;
}

async function stakeAndToken(sui: bigint): Promise<Operator> {
  const owner = Ed25519Keypair.generate().toSuiAddress();
  const stakeId = suiId();
  const tokenId = suiId();
  ledger.record([{ name: 'staking::StakeDeposited', data: { stake_id: stakeId, owner, role: roleToU8('node'), amount: sui * MIST_PER_SUI, node_id: 'machines' } }]);
  ledger.record([{ name: 'seal_token::SealTokenIssued', data: {
    token_id: tokenId, stake_id: stakeId, owner, role: roleToU8('node'), permissions: [...TIER_PERMISSIONS.node], cluster_id: CLUSTER_ID,
    expires_at_ms: BigInt(Date.now() + 30 * 86_400_000),
  } }]);
  await indexOnce();
  return { stakeId, tokenId };
}

async function indexOnce(): Promise<void> {
  const report = await ledger.index(repo);
  if (report.stoppedBecause !== 'caught_up') throw new Error(`indexer run stopped: ${report.stoppedBecause}`);
}

const stakeLabels = (stakeId: string) => ({ 'k3s-daas.io/stake-id-hi': stakeId.slice(2, 34), 'k3s-daas.io/stake-id-lo': stakeId.slice(34) });
const EXTERNAL_TAINT = { key: 'k3s-daas.io/external', value: 'true', effect: 'NoSchedule' };

/** The Node an external agent registers with the join answer's labels and taint (contracts-15), or without them. */
function externalNodeManifest(name: string, stakeId: string, opts: { taint?: boolean; kindLabel?: boolean } = {}): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      name,
      labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...stakeLabels(stakeId), ...(opts.kindLabel === false ? {} : { 'k3s-daas.io/node-kind': 'external' }) },
    },
    spec: opts.taint === false ? {} : { taints: [EXTERNAL_TAINT] },
  });
}

/** A kubelet: the client certificate K3s would issue it (CN system:node:<name>, O system:nodes). */
interface Kubelet {
  name: string;
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  /** PATCH nodes/<name>/status as a kubelet sends it (kubectl would GET nodes/status first, which kubelets may not). */
  patchStatus(): Promise<{ status: number; body: string }>;
}

function kubelet(name: string): Kubelet {
  const { cert, kubectl } = kubeletIdentity(cluster, pki, dir, name);
  const patchStatus = () => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const server = new URL(cluster.serverUrl);
    const body = JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'e2e', lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] } });
    const req = https.request({
      method: 'PATCH', host: server.hostname, port: server.port, path: `/api/v1/nodes/${name}/status`,
      ca: fs.readFileSync(pki.caCert), cert: fs.readFileSync(cert.cert), key: fs.readFileSync(cert.key),
      headers: { 'content-type': 'application/strategic-merge-patch+json', accept: 'application/json' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
  return { name, kubectl, patchStatus };
}

const NOT_ROSTERED = /is not in the k3s-daas node roster/;
const NEEDS_TAINT = /must carry the label k3s-daas\.io\/node-kind=external and the taint k3s-daas\.io\/external=true:NoSchedule/;

async function admin(args: string[], input?: string): Promise<KubectlResult> {
  return cluster.kubectl(args, { input });
}

async function exists(kind: string, name: string, namespace?: string): Promise<boolean> {
  const out = await admin(['get', kind, name, ...(namespace ? ['-n', namespace] : []), '--ignore-not-found', '-o', 'name']);
  if (out.code !== 0) throw new Error(`kubectl get ${kind} ${name}: ${out.stderr}`);
  return out.stdout.trim() !== '';
}

async function round(): Promise<ReconcileReport> {
  return reconciler.reconcileOnce();
}

let opA: Operator;
let opB: Operator;
const EXT_A = `ext-${'a'.repeat(12)}-0000000a`;
const SECOND_MACHINE = `ext-${'a'.repeat(12)}-0000000b`;
let asgNode: { name: string; labels: Record<string, string> };
let extKubelet: Kubelet;
let asgKubelet: Kubelet;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-daas-e2e-nodes-'));
  moto = await startMoto();
  const db = emulatorClient(moto.endpoint);
  await createIndexTable(db, TABLE);
  repo = new DynamoIndexRepository({ tableName: TABLE, client: db });
  ledger = new LocalLedger();
  const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const { ARN } = await secrets.send(new CreateSecretCommand({ Name: 'webhook', SecretString: SECRET }));
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: moto.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing',
    TABLE_NAME: TABLE, WEBHOOK_SECRET_ARN: ARN, INDEX_MAX_AGE_SECONDS: '300',
  });

  pki = createPki(path.join(dir, 'pki'));
  // The deployed handler exactly as its Lambda entry builds it (environment, Secrets Manager, DynamoDB).
  api = await startLocalApi(pki.leaf('local-api', '/CN=local-api', 'serverAuth'), { [ROSTER_ROUTE]: liveRosterHandler });
  cluster = await startCluster({ dir: path.join(dir, 'cluster'), apiUrl: api.url, webhookSecret: SECRET, pki, apiserverEnv: { SSL_CERT_FILE: pki.caCert } });
  await applyRbac(cluster);

  // The enclave reaches the API over TLS verified against its roots; here that root is the e2e CA.
  const agent = new Agent({ connect: { ca: fs.readFileSync(pki.caCert) } });
  const fetchWithE2eCa = ((url: string | URL, init?: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
  reconciler = new NodeReconciler({
    roster: httpsRosterSource(api.url, SECRET, fetchWithE2eCa),
    kube: httpsKubeApi(cluster.adminKubeconfig),
    log: (message, extra) => reconcilerLog.push(`${message} ${JSON.stringify(extra ?? {})}`),
  });

  // Operator A runs an external machine; operator B's stake backs a worker group of the platform.
  [opA, opB] = [await stakeAndToken(2n), await stakeAndToken(1n)];
  const at = new Date().toISOString();
  await repo.putNode({ instanceId: EXT_A, stakeId: opA.stakeId, autoScalingGroup: '', kind: 'external', tokenId: opA.tokenId, status: 'joined', joinedAt: at });
  asgNode = workerNode(dir, { clusterId: CLUSTER_ID, workerGroup: 'general', stakeId: opB.stakeId, instanceId: 'i-0b0b0b0b0b0b0b0b0' });
  await repo.putNode({ instanceId: asgNode.name, stakeId: opB.stakeId, autoScalingGroup: 'k3s-daas-e2e-workers-general', kind: 'asg', status: 'joined', joinedAt: at });
  extKubelet = kubelet(EXT_A);
  asgKubelet = kubelet(asgNode.name);
}, 30 * 60_000);

afterAll(async () => {
  await cluster?.stop();
  await api?.close();
  await moto?.stop();
  process.env = saved;
  if (dir && !process.env.K3S_DAAS_E2E_KEEP) fs.rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('the allow-list admits exactly the rostered machines', () => {
  it('a reconciler round writes the roster into kube-system/k3s-daas-node-roster', async () => {
    const report = await round();
    expect(report).toEqual({ outcome: 'reconciled', rostered: 2, deleted: [], failed: [] });
    const out = await admin(['get', 'configmap', ROSTER_CONFIGMAP.name, '-n', ROSTER_CONFIGMAP.namespace, '-o', 'json']);
    expect(out.code).toBe(0);
    expect((JSON.parse(out.stdout) as { data: Record<string, string> }).data).toEqual({
      [EXT_A]: `external/${opA.stakeId.slice(2)}`,
      [asgNode.name]: `asg/${opB.stakeId.slice(2)}`,
    });
  });

  it('nobody may delete the allow-list, cluster admins included (a missing one would refuse every write)', async () => {
    await pollUntil('the allow-list guard to be enforced', async () => {
      const out = await admin(['-n', ROSTER_CONFIGMAP.namespace, 'delete', 'configmap', ROSTER_CONFIGMAP.name, '--dry-run=server']);
      return out.code !== 0 && /the node allow-list kube-system\/k3s-daas-node-roster cannot be deleted/.test(out.stderr) ? true : undefined;
    }, { attempts: 120, intervalMs: 1000, alive: cluster.peers });
  });

  it('waits until the allow-list policy is in force (a kubelet outside the roster is denied)', async () => {
    const stranger = kubelet(SECOND_MACHINE);
    await pollUntil('the node allow-list ValidatingAdmissionPolicy to be enforced', async () => {
      const out = await stranger.kubectl(['create', '-f', '-', '--dry-run=server'], externalNodeManifest(SECOND_MACHINE, opA.stakeId));
      return out.code !== 0 && NOT_ROSTERED.test(out.stderr) ? true : undefined;
    }, { attempts: 120, intervalMs: 1000, alive: cluster.peers });
  });

  it('a rostered ASG worker registers its Node with the bootstrap\'s stake labels', async () => {
    const out = await asgKubelet.kubectl(['create', '-f', '-'], nodeManifest(asgNode));
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
  });

  it('a rostered external node cannot register without the external taint, nor without the node-kind label', async () => {
    const noTaint = await extKubelet.kubectl(['create', '-f', '-'], externalNodeManifest(EXT_A, opA.stakeId, { taint: false }));
    expect(noTaint.code).not.toBe(0);
    expect(noTaint.stderr).toMatch(NEEDS_TAINT);
    const noLabel = await extKubelet.kubectl(['create', '-f', '-'], externalNodeManifest(EXT_A, opA.stakeId, { kindLabel: false }));
    expect(noLabel.code).not.toBe(0);
    expect(noLabel.stderr).toMatch(NEEDS_TAINT);
  });

  it('nor with another stake\'s labels', async () => {
    const out = await extKubelet.kubectl(['create', '-f', '-'], externalNodeManifest(EXT_A, opB.stakeId));
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/must carry the k3s-daas\.io\/stake-id-hi and -lo labels of its roster entry/);
  });

  it('with its label and taint it registers, and may update its status', async () => {
    const created = await extKubelet.kubectl(['create', '-f', '-'], externalNodeManifest(EXT_A, opA.stakeId));
    expect(created.stderr).toBe('');
    const status = await extKubelet.patchStatus();
    expect(status.status).toBe(200);
  });

  it('once registered it cannot strip its taint or node-kind label (kubelet flags edited)', async () => {
    const out = await extKubelet.kubectl(['label', 'node', EXT_A, 'k3s-daas.io/node-kind-']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(NEEDS_TAINT);
  });

  it('a second machine (a kubelet for a name the roster does not hold) can neither register nor write anything', async () => {
    const second = kubelet(SECOND_MACHINE);
    const create = await second.kubectl(['create', '-f', '-'], externalNodeManifest(SECOND_MACHINE, opA.stakeId));
    expect(create.code).not.toBe(0);
    expect(create.stderr).toMatch(NOT_ROSTERED);
    const lease = await second.kubectl(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: SECOND_MACHINE, namespace: 'kube-node-lease' }, spec: { holderIdentity: SECOND_MACHINE },
    }));
    expect(lease.code).not.toBe(0);
    expect(lease.stderr).toMatch(NOT_ROSTERED);
  });
});

describe('eviction after a slash (one indexer run, then one reconciler round)', () => {
  const pods = ['tenant-web', 'tenant-db'];

  beforeAll(async () => {
    // What the cluster holds for the node: pods bound to it (a tenant's, tolerating the taint) and the node
    // password Secret K3s stores at the agent's first join.
    // No service-account controller runs here (K3s's kube-controller-manager would create it).
    const sa = await admin(['-n', 'default', 'create', 'serviceaccount', 'default']);
    if (sa.code !== 0 && !/AlreadyExists/.test(sa.stderr)) throw new Error(`creating the default service account: ${sa.stderr}`);
    const tenantSecret = await admin(['-n', 'default', 'create', 'secret', 'generic', 'tenant-secret', '--from-literal=password=e2e']);
    if (tenantSecret.code !== 0) throw new Error(`creating the tenant's secret: ${tenantSecret.stderr}`);
    for (const pod of pods) {
      const out = await admin(['create', '-f', '-'], JSON.stringify({
        apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: 'default' },
        spec: {
          nodeName: EXT_A, tolerations: [{ key: EXTERNAL_TAINT.key, operator: 'Exists' }],
          containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', env: [{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'tenant-secret', key: 'password' } } }] }],
        },
      }));
      if (out.code !== 0) throw new Error(`creating pod ${pod}: ${out.stderr}`);
    }
    const secret = await admin(['-n', 'kube-system', 'create', 'secret', 'generic', nodePasswordSecret(EXT_A), '--from-literal=hash=e2e']);
    if (secret.code !== 0) throw new Error(`creating the node password secret: ${secret.stderr}`);
    const asgPod = await admin(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'platform-worker-pod', namespace: 'default' },
      spec: { nodeName: asgNode.name, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
    }));
    if (asgPod.code !== 0) throw new Error(`creating the ASG node's pod: ${asgPod.stderr}`);
  });

  it('before the slash nothing is deleted, and the node\'s kubelet can read the Secret its pods use (the Node authorizer)', async () => {
    expect(await round()).toMatchObject({ outcome: 'reconciled', deleted: [] });
    await pollUntil('the Node authorizer to see the pods bound to the node', async () => {
      const out = await extKubelet.kubectl(['get', 'secret', 'tenant-secret', '-n', 'default', '-o', 'name']);
      return out.stdout.trim() === 'secret/tenant-secret' ? true : undefined;
    }, { attempts: 60, intervalMs: 1000, alive: cluster.peers });
    // ... but not another Secret of the namespace.
    const other = await extKubelet.kubectl(['get', 'secret', nodePasswordSecret(EXT_A), '-n', 'kube-system']);
    expect(other.code).not.toBe(0);
  });

  it('a stale index changes nothing, even after the slash: the round is skipped', async () => {
    ledger.record([{ name: 'staking::StakeSlashed', data: { stake_id: opA.stakeId, amount: MIST_PER_SUI, remaining: MIST_PER_SUI, reason: 'e2e' } }]);
    await indexOnce();
    // A function instance whose clock is past the freshness bound: the route answers 503 index_stale.
    const db = emulatorClient(moto.endpoint);
    api.route(ROSTER_ROUTE, rosterHandler({ index: dynamoRosterIndex(TABLE, db), webhookSecret: async () => SECRET, maxIndexAgeSeconds: 300, now: () => new Date(Date.now() + 3_600_000) }));
    try {
      const report = await round();
      expect(report).toMatchObject({ outcome: 'skipped' });
      expect((report as { reason: string }).reason).toMatch(/503 index_stale/);
      expect(await exists('node', EXT_A)).toBe(true);
      expect(await exists('pod', 'tenant-web', 'default')).toBe(true);
    } finally {
      api.route(ROSTER_ROUTE, liveRosterHandler);
    }
  });

  it('the next round deletes the Node, its pods and its password secret; the other stake\'s node stays', async () => {
    const report = await round();
    expect(report).toEqual({ outcome: 'reconciled', rostered: 1, deleted: [EXT_A], failed: [] });
    expect(await exists('node', EXT_A)).toBe(false);
    for (const pod of pods) expect(await exists('pod', pod, 'default')).toBe(false);
    expect(await exists('secret', nodePasswordSecret(EXT_A), 'kube-system')).toBe(false);
    expect(await exists('node', asgNode.name)).toBe(true);
    expect(await exists('pod', 'platform-worker-pod', 'default')).toBe(true);
    const out = await admin(['get', 'configmap', ROSTER_CONFIGMAP.name, '-n', ROSTER_CONFIGMAP.namespace, '-o', 'jsonpath={.data}']);
    expect(Object.keys(JSON.parse(out.stdout) as object)).toEqual([asgNode.name]);
  });

  it('the evicted kubelet can no longer write: re-creating its Node, a lease, and a status update of a Node put back are all denied', async () => {
    const recreate = await extKubelet.kubectl(['create', '-f', '-'], externalNodeManifest(EXT_A, opA.stakeId));
    expect(recreate.code).not.toBe(0);
    expect(recreate.stderr).toMatch(NOT_ROSTERED);
    const lease = await extKubelet.kubectl(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: EXT_A, namespace: 'kube-node-lease' }, spec: { holderIdentity: EXT_A },
    }));
    expect(lease.code).not.toBe(0);
    expect(lease.stderr).toMatch(NOT_ROSTERED);
    // Someone with admin rights puts the Node back (or a stale controller does): its kubelet still cannot report on it,
    const putBack = await admin(['create', '-f', '-'], externalNodeManifest(EXT_A, opA.stakeId));
    expect(putBack.code).toBe(0);
    const status = await extKubelet.patchStatus();
    expect(status.status).toBe(403);
    expect(status.body).toMatch(NOT_ROSTERED);
    // and the next round deletes it again.
    expect(await round()).toMatchObject({ outcome: 'reconciled', deleted: [EXT_A] });
    expect(await exists('node', EXT_A)).toBe(false);
  });

  it('and no pod is bound to it any more, so the Secret its pods used is out of its reach', async () => {
    await pollUntil('the Node authorizer to drop the deleted pods', async () => {
      const out = await extKubelet.kubectl(['get', 'secret', 'tenant-secret', '-n', 'default']);
      return out.code !== 0 && /forbidden/i.test(out.stderr) ? true : undefined;
    }, { attempts: 60, intervalMs: 1000, alive: cluster.peers });
    const pods = await extKubelet.kubectl(['get', 'pods', '-A', '--field-selector', `spec.nodeName=${EXT_A}`, '-o', 'name']);
    expect(pods.stdout.trim()).toBe('');
  });

  it('what it can still read until its certificate expires (docs/node-operators.md)', async () => {
    const probes: Record<string, string[]> = {
      nodes: ['get', 'nodes'], otherNode: ['get', 'node', asgNode.name], services: ['get', 'services', '-A'], endpointslices: ['get', 'endpointslices', '-A'],
      endpoints: ['get', 'endpoints', '-A'], namespaces: ['get', 'namespaces'], allPods: ['get', 'pods', '-A'], secrets: ['get', 'secrets', '-A'],
      configmaps: ['get', 'configmaps', '-A'], persistentvolumes: ['get', 'persistentvolumes'], csinodes: ['get', 'csinodes'], runtimeclasses: ['get', 'runtimeclasses'],
    };
    const readable: Record<string, boolean> = {};
    for (const [what, args] of Object.entries(probes)) readable[what] = (await extKubelet.kubectl([...args, '-o', 'name'])).code === 0;
    process.stdout.write(`evicted kubelet reads: ${JSON.stringify(readable)}\n`);
    // Exactly what docs/node-operators.md says it keeps: cluster-wide Services and RuntimeClasses, nothing else.
    expect(Object.keys(readable).filter((what) => readable[what])).toEqual(['services', 'runtimeclasses']);
  });

  it('the rounds logged what they did, including the skipped one', () => {
    const log = reconcilerLog.join('\n');
    expect(log).toMatch(/node roster unavailable: nothing changed this round.*index_stale/);
    expect(log).toMatch(new RegExp(`node evicted: not in the roster.*${EXT_A}.*"podsDeleted":2`));
  });
});
