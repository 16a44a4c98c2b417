// Enclave entry point (bundled to enclave/dist/supervisor.mjs, started by enclave/init.sh as PID 1's
// child). Order matters: bridges first (the enclave's only way out is vsock), then settings and
// credentials from the host, then unsealing (needs KMS), then the datastore restore, then K3s, and
// only once the cluster CA exists the attestation server and the join token.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { PARENT_CID, VSOCK_PORTS, forwardTcpToVsock, forwardVsockToTcp, socatVsock } from '../common/vsock';
import { createAttestationServer } from './attestation-server';
import { HostClient } from './host-client';
import { DEFAULT_PATHS, renderHosts, writeK3sConfig } from './k3s-config';
import { EnclaveKms, enclaveKmsClient, sdkKmsApi } from './kms-client';
import { encryptJoinToken, formatAgentJoinToken } from './join-token';
import { Nsm, openNsmDevice } from './nsm';
import { supervise } from './process-supervisor';
import { RecipientKey } from './recipient';
import { loadOrCreateClusterSecrets } from './sealed-secrets';
import { SnapshotVault, k3sEtcdSnapshotter, schedulePeriodic } from './snapshots';

const K3S_BIN = process.env.K3S_BIN ?? '/usr/local/bin/k3s';
const RBAC_DIR = process.env.RBAC_DIR ?? '/opt/k3s-daas/rbac';
/** Loopback addresses the bridges listen on: one per remote host, so each keeps port 443 and its own Host header. */
const LOOPBACK = { kms: '127.0.0.2', api: '127.0.0.3', host: '127.0.0.1' } as const;
const HOST_BRIDGE_PORT = 9002;
const ATTESTATION_PORT = 9003;
const SERVER_CA = path.join(DEFAULT_PATHS.dataDir, 'server', 'tls', 'server-ca.crt');

const exec = promisify(execFile);

function log(message: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'supervisor', message, ...extra })}\n`);
}

async function retry<T>(what: string, fn: () => Promise<T>, attempts = 30, delayMs = 2000): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      log(`${what} failed, retrying`, { attempt: i, error: (err as Error).message });
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

async function waitForFile(file: string, timeoutMs: number): Promise<Buffer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fs.readFile(file);
    } catch {
      if (Date.now() > deadline) throw new Error(`${file} did not appear within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export async function main(): Promise<void> {
  const vsock = socatVsock({ onExit: (what, code) => log('socat exited', { what, code }) });
  const onError = (err: Error) => log('bridge error', { error: err.message });
  await forwardTcpToVsock({ vsock, listenHost: LOOPBACK.kms, listenPort: 443, cid: PARENT_CID, port: VSOCK_PORTS.kms, onError });
  await forwardTcpToVsock({ vsock, listenHost: LOOPBACK.api, listenPort: 443, cid: PARENT_CID, port: VSOCK_PORTS.api, onError });
  await forwardTcpToVsock({ vsock, listenHost: LOOPBACK.host, listenPort: HOST_BRIDGE_PORT, cid: PARENT_CID, port: VSOCK_PORTS.hostAgent, onError });

  const host = new HostClient(`http://${LOOPBACK.host}:${HOST_BRIDGE_PORT}`);
  const boot = await retry('boot settings from the host agent', () => host.boot());
  log('boot settings received', { clusterId: boot.clusterId, apiUrl: boot.apiUrl, region: boot.region });
  await fs.writeFile(
    '/etc/hosts',
    renderHosts({ [`kms.${boot.region}.amazonaws.com`]: LOOPBACK.kms, [new URL(boot.apiUrl).hostname]: LOOPBACK.api }),
  );

  const nsm = new Nsm(await openNsmDevice());
  const kms = new EnclaveKms(sdkKmsApi(enclaveKmsClient({ region: boot.region, credentials: host.credentialProvider() })), RecipientKey.generate(), nsm);
  const vault = new SnapshotVault({ kms, keyId: boot.clusterStateKeyId, clusterId: boot.clusterId, store: host.snapshotStore() });

  const snapshot = await retry('fetching the newest snapshot', () => vault.pullLatest(), 5);
  const { secrets, created } = await loadOrCreateClusterSecrets({
    kms,
    keyId: boot.clusterStateKeyId,
    clusterId: boot.clusterId,
    apiUrl: boot.apiUrl,
    store: host.sealedSecretsStore(),
    random: (n) => nsm.random(n),
    snapshotExists: snapshot !== undefined,
  });
  log(created ? 'cluster secrets created and sealed' : 'cluster secrets unsealed');

  await writeK3sConfig(
    { apiUrl: boot.apiUrl, webhookSecret: boot.webhookSecret, tlsSans: boot.tlsSans, serverToken: secrets.serverToken, agentToken: secrets.agentToken },
    RBAC_DIR,
  );

  if (snapshot) {
    const restoreFile = '/run/k3s-daas/restore.snapshot';
    await fs.mkdir(path.dirname(restoreFile), { recursive: true, mode: 0o700 });
    await fs.writeFile(restoreFile, snapshot, { mode: 0o600 });
    log('restoring the newest datastore snapshot', { bytes: snapshot.length });
    // K3s resets etcd membership to this node, restores the snapshot, and exits.
    await exec(K3S_BIN, ['server', '--config', DEFAULT_PATHS.configFile, '--cluster-reset', `--cluster-reset-restore-path=${restoreFile}`], { maxBuffer: 16 << 20 });
    await fs.rm(restoreFile, { force: true });
  }

  const k3s = supervise({
    command: K3S_BIN,
    args: ['server', '--config', DEFAULT_PATHS.configFile],
    onExit: (code, signal, next) => log('k3s server exited, restarting', { code, signal, nextStartInMs: next }),
  });

  const caPem = await waitForFile(SERVER_CA, 10 * 60_000);
  log('cluster CA ready');
  await forwardVsockToTcp({ vsock, port: VSOCK_PORTS.apiServer, targetHost: '127.0.0.1', targetPort: 6443, onError });
  const attestation = createAttestationServer({ attester: nsm, readCaCertPem: () => fs.readFile(SERVER_CA, 'utf8') });
  await new Promise<void>((resolve) => attestation.listen(ATTESTATION_PORT, '127.0.0.1', resolve));
  await forwardVsockToTcp({ vsock, port: VSOCK_PORTS.attestation, targetHost: '127.0.0.1', targetPort: ATTESTATION_PORT, onError });

  const joinToken = formatAgentJoinToken(caPem, secrets.agentToken);
  await retry('publishing the join token', async () =>
    host.publishJoinToken(await encryptJoinToken({ kms, joinTokenKeyId: boot.joinTokenKeyId, clusterId: boot.clusterId, token: joinToken })),
  );
  log('join token published');

  const snapshotter = k3sEtcdSnapshotter({ k3sBin: K3S_BIN, configFile: DEFAULT_PATHS.configFile, scratchDir: '/run/k3s-daas/snapshots' });
  schedulePeriodic({
    intervalMs: boot.snapshotIntervalSeconds * 1000,
    takeOne: async () => {
      await vault.push(await snapshotter.save());
      log('datastore snapshot stored');
    },
    onError: (err) => log('datastore snapshot failed', { error: (err as Error).message }),
  });

  const shutdown = async () => {
    log('stopping');
    await k3s.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown());
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: Error) => {
    log('fatal', { error: err.message });
    process.exit(1);
  });
}
