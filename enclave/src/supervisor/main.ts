// Enclave entry point (bundled to enclave/dist/supervisor.mjs, started by enclave/init.sh). Order
// matters: bridges first (the enclave's only way out is vsock), then settings and credentials from
// the host, then the cluster secrets (need KMS; they pin the API URL), then the platform's view over
// TLS from that API (signing key, committed snapshot counter), then the datastore snapshot checked
// against the counter and restored, then K3s, and only once the cluster CA exists the attestation
// server (documents bind the canonical boot settings), the pool of per-node bootstrap tokens and the node
// reconciler (the roster from the platform → the cluster's allow-list; Nodes outside it are deleted).
// `runSupervisor` takes its dependencies so the whole boot is tested off-hardware.
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs/promises';
import type * as http from 'node:http';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { BootSettings } from '../common/host-protocol';
import { PARENT_CID, VSOCK_PORTS, forwardTcpToVsock, forwardVsockToTcp, socatVsock, type Closeable, type VsockNetwork } from '../common/vsock';
import { createAttestationServer } from './attestation-server';
import { HostClient } from './host-client';
import { DEFAULT_PATHS, authenticateUrl, renderHosts, writeK3sConfig, type K3sPaths } from './k3s-config';
import { EnclaveKms, enclaveKmsClient, sdkKmsApi, type KmsApi } from './kms-client';
import { BootstrapTokenPool, k3sTokenCli, type K3sTokens } from './bootstrap-tokens';
import { Nsm, openNsmDevice } from './nsm';
import { supervise, type SupervisedProcess } from './process-supervisor';
import { RecipientKey, type Attester } from './recipient';
import { loadOrCreateClusterSecrets } from './sealed-secrets';
import { SnapshotVault, checkAgainstCommitted, k3sEtcdSnapshotter, schedulePeriodic, secretsLineage } from './snapshots';
import { httpsPlatformClient, type PlatformClient } from './platform-client';
import { NODE_RECONCILE_INTERVAL_MS, NodeReconciler, httpsKubeApi, httpsRosterSource, type KubeApi, type ReconcileReport, type RosterSource } from './node-reconciler';
import { canonicalSettings, settingsDigest } from '../../../lambdas/shared/attestation/enclave-claims';

export interface SupervisorDeps {
  vsock: VsockNetwork;
  nsm: { attester: Attester; random(length: number): Uint8Array };
  kmsApi(boot: BootSettings, credentials: AwsCredentialIdentityProvider): KmsApi;
  /** The platform API at the pinned URL, over TLS verified inside the enclave (tests pass a local one). */
  platform?(apiUrl: string): PlatformClient;
  k3sBin: string;
  rbacDir: string;
  paths: K3sPaths;
  hostsFile: string;
  runDir: string;
  /** Loopback addresses of the bridges: one per remote host, so each keeps port 443 and its own Host header. */
  loopback: { kms: string; api: string; host: string };
  /** Local TCP ports: bridges (0 = any, for tests), the attestation server, kube-apiserver. */
  ports: { remoteBridges: number; hostBridge: number; attestation: number; apiServer: number };
  log(message: string, extra?: Record<string, unknown>): void;
  retryDelayMs?: number;
  caTimeoutMs?: number;
  /** How often the bootstrap-token pool is swept and refilled (default 30 s). */
  bootstrapSweepMs?: number;
  /** K3s's bootstrap-token operations (default: the `k3s` binary); tests record them. */
  k3sTokens?: K3sTokens;
  /** The roster at the pinned API URL (default: GET /v1/nodes/roster over TLS with the webhook secret). */
  roster?(apiUrl: string, webhookSecret: string): RosterSource;
  /** The local kube-apiserver (default: the admin kubeconfig K3s writes). */
  kubeApi?: KubeApi;
  /** How often the node reconciler runs (default 30 s). */
  nodeReconcileMs?: number;
}

export interface RunningSupervisor {
  stop(): Promise<void>;
  /** One datastore snapshot now (also runs on the boot settings' interval); false when deferred until the previous one is committed. */
  snapshotNow(): Promise<boolean>;
  /** One sweep of the bootstrap-token pool now (also runs every `bootstrapSweepMs`). */
  sweepBootstrapTokensNow(): Promise<void>;
  /** One node-reconciler round now (also runs every `nodeReconcileMs`). */
  reconcileNodesNow(): Promise<ReconcileReport>;
}

const exec = promisify(execFile);

async function retry<T>(deps: SupervisorDeps, what: string, fn: () => Promise<T>, attempts = 30): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      deps.log(`${what} failed, retrying`, { attempt: i, error: (err as Error).message });
      await new Promise((r) => setTimeout(r, deps.retryDelayMs ?? 2000));
    }
  }
}

/** The file's bytes once it exists and `complete` accepts them (K3s writes certificates in place, not atomically). */
async function waitForFile(file: string, timeoutMs: number, complete: (bytes: Buffer) => boolean): Promise<Buffer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const bytes = await fs.readFile(file);
      if (complete(bytes)) return bytes;
      throw new Error('incomplete');
    } catch {
      if (Date.now() > deadline) throw new Error(`${file} did not appear within ${Math.round(timeoutMs / 1000)} s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export async function runSupervisor(deps: SupervisorDeps): Promise<RunningSupervisor> {
  const closers: Closeable[] = [];
  let k3s: SupervisedProcess | undefined;
  const stopAll = async () => {
    await k3s?.stop();
    for (const c of closers.reverse()) await c.close();
  };
  try {
    return await boot(deps, closers, (p) => (k3s = p));
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function boot(deps: SupervisorDeps, closers: Closeable[], started: (k3s: SupervisedProcess) => void): Promise<RunningSupervisor> {
  const { vsock, log } = deps;
  const onError = (err: Error) => log('bridge error', { error: err.message });
  const bridge = (listenHost: string, listenPort: number, port: number) =>
    forwardTcpToVsock({ vsock, listenHost, listenPort, cid: PARENT_CID, port, onError }).then((b) => (closers.push(b), b));
  await bridge(deps.loopback.kms, deps.ports.remoteBridges, VSOCK_PORTS.kms);
  await bridge(deps.loopback.api, deps.ports.remoteBridges, VSOCK_PORTS.api);
  const hostBridge = await bridge(deps.loopback.host, deps.ports.hostBridge, VSOCK_PORTS.hostAgent);

  const host = new HostClient(`http://${deps.loopback.host}:${hostBridge.port}`);
  const boot = await retry(deps, 'boot settings from the host agent', () => host.boot());
  log('boot settings received', { clusterId: boot.clusterId, apiUrl: boot.apiUrl, region: boot.region });
  // Settings that could never be attested (a key alias, a bad SAN) stop the boot before anything is sealed with them.
  canonicalSettings({ ...boot, kubeconfigSigningKeySpkiSha256: '0'.repeat(64) });
  await fs.writeFile(deps.hostsFile, renderHosts({ [`kms.${boot.region}.amazonaws.com`]: deps.loopback.kms, [new URL(boot.apiUrl).hostname]: deps.loopback.api }));

  const kms = new EnclaveKms(deps.kmsApi(boot, host.credentialProvider()), RecipientKey.generate(), deps.nsm.attester);
  const vault = new SnapshotVault({ kms, keyId: boot.clusterStateKeyId, clusterId: boot.clusterId, store: host.snapshotStore() });
  const sealedSnapshot = await retry(deps, 'fetching the newest snapshot', () => vault.fetchLatest(), 5);
  const { secrets, created } = await loadOrCreateClusterSecrets({
    kms,
    keyId: boot.clusterStateKeyId,
    clusterId: boot.clusterId,
    apiUrl: boot.apiUrl,
    joinTokenKeyId: boot.joinTokenKeyId,
    store: host.sealedSecretsStore(),
    random: (n) => deps.nsm.random(n),
    snapshotExists: sealedSnapshot !== undefined,
  });
  log(created ? 'cluster secrets created and sealed' : 'cluster secrets unsealed');
  const lineage = secretsLineage(secrets.serverToken);

  // The API URL is now the one the secrets were sealed with (or, at first boot, the one the settings
  // digest will bind): what it answers over TLS is the platform's, not the host's.
  const platform = (deps.platform ?? httpsPlatformClient)(secrets.apiUrl);
  const view = await retry(deps, 'reading the platform API (signing key, committed snapshot)', () => platform.view());
  const settings = canonicalSettings({
    clusterId: boot.clusterId,
    apiUrl: secrets.apiUrl,
    clusterStateKeyId: boot.clusterStateKeyId,
    joinTokenKeyId: secrets.joinTokenKeyId,
    tlsSans: boot.tlsSans,
    kubeconfigSigningKeySpkiSha256: view.signingKeySpkiSha256,
  });
  // The attested webhook URL must be the one kube-apiserver is configured with, byte for byte.
  if (authenticateUrl(secrets.apiUrl) !== settings.webhookUrl) throw new Error(`webhook URL ${authenticateUrl(secrets.apiUrl)} differs from the attested ${settings.webhookUrl}`);
  const settingsSha256 = settingsDigest(settings);
  log('boot settings', { settingsSha256: settingsSha256.toString('hex'), committedSnapshot: view.committed ?? null });

  checkAgainstCommitted(sealedSnapshot, view.committed);
  const snapshot = sealedSnapshot ? await vault.open(sealedSnapshot, lineage) : undefined;

  // The agent token K3s requires for `node` is fresh on every boot and never leaves the enclave: workers
  // join with per-node bootstrap tokens only, and joined agents reconnect with their kubelet certificate.
  // (The sealed `agentToken` was handed to every worker by earlier releases; it is no longer used.)
  const agentToken = Buffer.from(deps.nsm.random(32)).toString('hex');
  await writeK3sConfig(
    { apiUrl: secrets.apiUrl, webhookSecret: boot.webhookSecret, tlsSans: boot.tlsSans, serverToken: secrets.serverToken, agentToken },
    deps.rbacDir,
    deps.paths,
  );

  await fs.mkdir(deps.runDir, { recursive: true, mode: 0o700 });
  if (snapshot) {
    const restoreFile = path.join(deps.runDir, 'restore.snapshot');
    await fs.writeFile(restoreFile, snapshot, { mode: 0o600 });
    log('restoring the newest datastore snapshot', { bytes: snapshot.length });
    // K3s resets etcd membership to this node, restores the snapshot, and exits.
    await exec(deps.k3sBin, ['server', '--config', deps.paths.configFile, '--cluster-reset', `--cluster-reset-restore-path=${restoreFile}`], { maxBuffer: 16 << 20 });
    await fs.rm(restoreFile, { force: true });
  }

  const k3s = supervise({
    command: deps.k3sBin,
    args: ['server', '--config', deps.paths.configFile],
    onExit: (code, signal, next) => log('k3s server exited, restarting', { code, signal, nextStartInMs: next }),
  });
  started(k3s);

  const serverCa = path.join(deps.paths.dataDir, 'server', 'tls', 'server-ca.crt');
  const caPem = await waitForFile(serverCa, deps.caTimeoutMs ?? 10 * 60_000, (bytes) => {
    try {
      new X509Certificate(bytes);
      return true;
    } catch {
      return false;
    }
  });
  log('cluster CA ready');
  closers.push(await forwardVsockToTcp({ vsock, port: VSOCK_PORTS.apiServer, targetHost: '127.0.0.1', targetPort: deps.ports.apiServer, onError }));
  const attestation: http.Server = createAttestationServer({
    attester: deps.nsm.attester,
    readCaCertPem: () => fs.readFile(serverCa, 'utf8'),
    settingsSha256,
    snapshot: () => vault.claim(),
  });
  await new Promise<void>((resolve) => attestation.listen(deps.ports.attestation, '127.0.0.1', resolve));
  closers.push({ close: () => new Promise<void>((resolve) => attestation.close(() => resolve())) });
  const attestationPort = (attestation.address() as { port: number }).port;
  closers.push(await forwardVsockToTcp({ vsock, port: VSOCK_PORTS.attestation, targetHost: '127.0.0.1', targetPort: attestationPort, onError }));

  const pool = new BootstrapTokenPool({
    k3s: deps.k3sTokens ?? k3sTokenCli({ k3sBin: deps.k3sBin, dataDir: deps.paths.dataDir }),
    kms,
    joinTokenKeyId: secrets.joinTokenKeyId,
    clusterId: boot.clusterId,
    host: host.bootstrapPool(),
    caPem,
    random: (n) => deps.nsm.random(n),
    log,
  });
  const sweepBootstrapTokensNow = async () => {
    const { minted, deleted } = await pool.sweep();
    if (minted.length > 0 || deleted.length > 0) log('bootstrap-token pool swept', { minted: minted.length, deleted: deleted.length });
  };
  // K3s writes the CA before kube-apiserver serves, so the first fill may fail; it never holds up the
  // attestation server or snapshots, and the timer below retries it every sweep interval.
  void sweepBootstrapTokensNow().catch((err: Error) => log('bootstrap-token pool not filled yet; the next sweep retries', { error: err.message }));

  // Eviction that reaches machines the platform does not own (node-reconciler.ts): a failed round changes nothing.
  const nodeReconciler = new NodeReconciler({
    roster: (deps.roster ?? httpsRosterSource)(secrets.apiUrl, boot.webhookSecret),
    kube: deps.kubeApi ?? httpsKubeApi(path.join(deps.paths.dataDir, 'server', 'cred', 'admin.kubeconfig')),
    log,
  });
  const reconcileNodesNow = async () => {
    const report = await nodeReconciler.reconcileOnce();
    if (report.outcome === 'reconciled' && (report.deleted.length > 0 || report.failed.length > 0)) log('node reconciler round', { ...report });
    return report;
  };

  const snapshotter = k3sEtcdSnapshotter({ k3sBin: deps.k3sBin, dataDir: deps.paths.dataDir, scratchDir: path.join(deps.runDir, 'snapshots') });
  const snapshotNow = async () => {
    // Seal the next one only once the platform committed the current one (snapshots.ts).
    const { committed } = await platform.view();
    if (!vault.isCommitted(committed) || !(await vault.push(await snapshotter.save(), lineage, committed))) {
      log('datastore snapshot deferred: the previous one is not committed yet', { current: vault.claim().seq.toString(), committed: committed ?? null });
      return false;
    }
    log('datastore snapshot stored', { seq: vault.claim().seq.toString() });
    return true;
  };
  const periodic = [
    schedulePeriodic({ intervalMs: boot.snapshotIntervalSeconds * 1000, takeOne: () => snapshotNow().then(() => undefined), onError: (err) => log('datastore snapshot failed', { error: (err as Error).message }) }),
    schedulePeriodic({ intervalMs: deps.bootstrapSweepMs ?? 30_000, takeOne: sweepBootstrapTokensNow, onError: (err) => log('bootstrap-token sweep failed', { error: (err as Error).message }) }),
    schedulePeriodic({ intervalMs: deps.nodeReconcileMs ?? NODE_RECONCILE_INTERVAL_MS, takeOne: () => reconcileNodesNow().then(() => undefined), onError: (err) => log('node reconciler round failed', { error: (err as Error).message }) }),
  ];
  return {
    snapshotNow,
    sweepBootstrapTokensNow,
    reconcileNodesNow,
    async stop() {
      for (const p of periodic) p.stop();
      await k3s.stop();
      for (const c of closers.reverse()) await c.close();
    },
  };
}

/** The real enclave: socat vsock, /dev/nsm, KMS through the loopback bridge. */
export async function productionDeps(): Promise<SupervisorDeps> {
  const nsm = new Nsm(await openNsmDevice());
  return {
    vsock: socatVsock({ onExit: (what, code) => log('socat exited', { what, code }) }),
    nsm: { attester: nsm, random: (n) => nsm.random(n) },
    kmsApi: (boot, credentials) => sdkKmsApi(enclaveKmsClient({ region: boot.region, credentials })),
    k3sBin: process.env.K3S_BIN ?? '/usr/local/bin/k3s',
    rbacDir: process.env.RBAC_DIR ?? '/opt/k3s-daas/rbac',
    paths: DEFAULT_PATHS,
    hostsFile: '/etc/hosts',
    runDir: '/run/k3s-daas',
    loopback: { kms: '127.0.0.2', api: '127.0.0.3', host: '127.0.0.1' },
    ports: { remoteBridges: 443, hostBridge: 9002, attestation: 9003, apiServer: 6443 },
    log,
  };
}

function log(message: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'supervisor', message, ...extra })}\n`);
}

export async function main(): Promise<void> {
  const running = await runSupervisor(await productionDeps());
  process.once('SIGTERM', () => {
    log('stopping');
    void running.stop().then(() => process.exit(0));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: Error) => {
    log('fatal', { error: err.message });
    process.exit(1);
  });
}
