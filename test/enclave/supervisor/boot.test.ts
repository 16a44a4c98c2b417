// The whole enclave boot off-hardware: the supervisor (real code) with an in-memory vsock, the real
// host agent server (in-memory storage), a KMS that enforces the PCR policy, documents from the test
// Nitro CA, and a stand-in `k3s` script that writes a cluster CA, takes and restores "snapshots".
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import type { BootSettings } from '../../../enclave/src/common/host-protocol';
import { PARENT_CID, VSOCK_PORTS, forwardTcpToVsock, forwardVsockToTcp, type Closeable } from '../../../enclave/src/common/vsock';
import { createHostAgentServer } from '../../../enclave/src/host-agent/server';
import type { CiphertextStore } from '../../../enclave/src/host-agent/snapshot-bucket';
import { runSupervisor, type SupervisorDeps } from '../../../enclave/src/supervisor/main';
import { verifyClusterAttestation } from '../../../lambdas/shared/attestation/cluster-attestation';
import { bootstrapTokenEncryptionContext, caPemSha256, type BootstrapPoolEntry } from '../../../lambdas/shared/nodes/join-token';
import { createClusterCaPem } from '../../support/cluster-ca';
import { NitroTestCa, TEST_PCRS } from '../../support/nitro-test-ca';
import { FakeKms, OTHER_IMAGE_PCRS, testCaAttester } from '../support/fake-nitro';
import { MemoryVsockFabric } from '../support/memory-vsock';
import * as crypto from 'node:crypto';

const ENCLAVE_CID = 16;
const BOOT: BootSettings = {
  region: 'us-east-1',
  clusterId: 'k3s-daas-dev',
  clusterStateKeyId: 'state-key',
  joinTokenKeyId: 'join-key',
  apiUrl: 'https://abc123.execute-api.us-east-1.amazonaws.com/',
  tlsSans: ['nlb.example.com'],
  webhookSecret: 'w'.repeat(48),
  snapshotIntervalSeconds: 3600,
};

let ca: NitroTestCa;
let kms: FakeKms;
let root: string;
let hostServer: http.Server;
const stored: { snapshot?: Uint8Array; secrets?: Uint8Array } = {};
/** The index's bootstrap-token pool as the host agent relays it. */
const poolItems = new Map<string, BootstrapPoolEntry>();
/** What the supervisor asked of K3s's bootstrap tokens. */
let k3sTokenCalls: string[] = [];
let clusterCaPem: string;
const hostClosers: Closeable[] = [];
let fabric: MemoryVsockFabric;

/** A `k3s` stand-in: `server` writes the CA and stays up (or records a restore); `etcd-snapshot save` writes a file. */
function fakeK3s(dir: string, caPem: string): string {
  const script = path.join(dir, 'k3s');
  fs.writeFileSync(path.join(dir, 'ca.pem'), caPem);
  fs.writeFileSync(
    script,
    `#!/bin/bash
set -eu
data="${dir}/data"
case "$1" in
  server)
    for a in "$@"; do case "$a" in --cluster-reset-restore-path=*) cp "\${a#*=}" "${dir}/restored"; exit 0 ;; esac; done
    # Like K3s, write the certificate in place: readers can see an empty or partial file first.
    mkdir -p "$data/server/tls"; : > "$data/server/tls/server-ca.crt"; sleep 0.3
    head -c 100 "${dir}/ca.pem" > "$data/server/tls/server-ca.crt"; sleep 0.3
    cp "${dir}/ca.pem" "$data/server/tls/server-ca.crt"
    exec sleep 600 ;;
  etcd-snapshot)
    while [ $# -gt 0 ]; do [ "$1" = --dir ] && out="$2"; shift; done
    printf 'etcd state at %s' "$(date +%s%N)" > "$out/k3s-daas-node-1" ;;
esac
`,
    { mode: 0o755 },
  );
  return script;
}

function deps(pcrs: Record<number, string>): SupervisorDeps {
  return {
    vsock: fabric.network(ENCLAVE_CID),
    nsm: { attester: testCaAttester(ca, pcrs), random: (n) => crypto.randomBytes(n) },
    kmsApi: () => kms,
    k3sBin: path.join(root, 'k3s'),
    rbacDir: path.join(root, 'rbac'),
    paths: { configFile: path.join(root, 'etc/config.yaml'), webhookConfigFile: path.join(root, 'etc/authn.yaml'), dataDir: path.join(root, 'data') },
    hostsFile: path.join(root, 'hosts'),
    runDir: path.join(root, 'run'),
    loopback: { kms: '127.0.0.1', api: '127.0.0.1', host: '127.0.0.1' },
    ports: { remoteBridges: 0, hostBridge: 0, attestation: 0, apiServer: 6443 },
    log: () => undefined,
    retryDelayMs: 10,
    caTimeoutMs: 10_000,
    k3sTokens: {
      create: async (id, _secret, ttl) => void k3sTokenCalls.push(`create ${id} ${ttl}s`),
      delete: async (id) => void k3sTokenCalls.push(`delete ${id}`),
    },
  };
}

/** What the (untrusted) host agent answers for boot settings; a test may make it lie. */
let hostBoot = BOOT;

beforeAll(async () => {
  ca = await NitroTestCa.create();
  kms = new FakeKms(ca.rootPem);
  kms.createKey(BOOT.clusterStateKeyId, { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] });
  kms.createKey(BOOT.joinTokenKeyId, null);
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-boot-'));
  fs.mkdirSync(path.join(root, 'rbac'));
  fs.writeFileSync(path.join(root, 'rbac', 'k3s-daas-rbac.yaml'), 'kind: ClusterRoleBinding\n');
  clusterCaPem = await createClusterCaPem();
  fakeK3s(root, clusterCaPem);

  const store: CiphertextStore = {
    getSnapshot: async () => stored.snapshot,
    putSnapshot: async (b) => void (stored.snapshot = b),
    getSealedSecrets: async () => stored.secrets,
    putSealedSecrets: async (b) => void (stored.secrets = b),
  };
  hostServer = createHostAgentServer({
    boot: async () => hostBoot,
    credentials: async () => ({ accessKeyId: 'ASIAEXAMPLEMASTER000', secretAccessKey: 's' }),
    store,
    bootstrapPool: {
      list: async () => [...poolItems.values()],
      put: async (e) => void poolItems.set(e.tokenId, e),
      delete: async (id) => void poolItems.delete(id),
    },
  });
  await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', r));
  fabric = new MemoryVsockFabric();
  hostClosers.push(
    await forwardVsockToTcp({ vsock: fabric.network(PARENT_CID), port: VSOCK_PORTS.hostAgent, targetHost: '127.0.0.1', targetPort: (hostServer.address() as AddressInfo).port }),
  );
});

afterAll(async () => {
  for (const c of hostClosers) await c.close();
  await new Promise<void>((r) => hostServer.close(() => r()));
});

describe('enclave boot', () => {
  it('first boot: seals new secrets, writes the K3s config, fills the bootstrap-token pool, serves attestation, stores a snapshot', async () => {
    const running = await runSupervisor(deps(TEST_PCRS));
    try {
      const config = parse(fs.readFileSync(path.join(root, 'etc/config.yaml'), 'utf8'));
      expect(config['disable-agent']).toBe(true);
      expect(stored.secrets).toBeDefined();
      expect(Buffer.from(stored.secrets!).toString()).not.toContain(config.token);
      expect(fs.readFileSync(path.join(root, 'hosts'), 'utf8')).toContain('127.0.0.1 abc123.execute-api.us-east-1.amazonaws.com');
      expect(fs.existsSync(path.join(root, 'data/server/manifests/k3s-daas-rbac-k3s-daas-rbac.yaml'))).toBe(true);

      // Per-node bootstrap tokens, created in K3s with the TTL; the host holds only their ciphertext.
      await running.sweepBootstrapTokensNow();
      expect(poolItems.size).toBe(4);
      for (const entry of poolItems.values()) {
        expect(k3sTokenCalls).toContain(`create ${entry.tokenId} 1800s`);
        expect(entry.caSha256).toBe(caPemSha256(clusterCaPem));
        const context = bootstrapTokenEncryptionContext({ clusterId: BOOT.clusterId, tokenId: entry.tokenId, expiresAt: entry.expiresAt, caSha256: entry.caSha256 });
        expect(kms.decryptPlain(Buffer.from(entry.ciphertext, 'base64'), context).toString()).toMatch(/^[a-z0-9]{16}$/);
      }
      // The K3s agent token never leaves the enclave.
      expect(JSON.stringify([...poolItems.values()])).not.toContain(config['agent-token']);

      // The host agent's view: vsock 16:8003 through its own bridge.
      const bridge = await forwardTcpToVsock({ vsock: fabric.network(PARENT_CID), listenHost: '127.0.0.1', listenPort: 0, cid: ENCLAVE_CID, port: VSOCK_PORTS.attestation });
      try {
        const body = (await (await fetch(`http://127.0.0.1:${bridge.port}/attestation?nonce=0102`)).json()) as { document: string; caCertPem: string };
        const verdict = await verifyClusterAttestation(body, { expectedPcrs: { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] }, now: ca.now, maxDocumentAgeMs: 300_000, rootPem: ca.rootPem });
        expect(verdict.ok).toBe(true);
      } finally {
        await bridge.close();
      }

      await running.snapshotNow();
      expect(Buffer.from(stored.snapshot!).toString()).not.toContain('etcd state');
    } finally {
      await running.stop();
    }
  });

  it('reboot of the same image: unseals the same server token, rotates the agent token, retires the old pool, restores the newest snapshot', async () => {
    const before = parse(fs.readFileSync(path.join(root, 'etc/config.yaml'), 'utf8'));
    const oldPool = [...poolItems.keys()];
    fs.rmSync(path.join(root, 'etc'), { recursive: true });
    k3sTokenCalls = [];
    const running = await runSupervisor(deps(TEST_PCRS));
    try {
      const after = parse(fs.readFileSync(path.join(root, 'etc/config.yaml'), 'utf8'));
      expect(after.token).toBe(before.token);
      expect(after['agent-token']).toMatch(/^[0-9a-f]{64}$/);
      expect(after['agent-token']).not.toBe(before['agent-token']);
      // Tokens of the previous boot are not in this boot's ledger: deleted from K3s and from the pool.
      await running.sweepBootstrapTokensNow();
      for (const id of oldPool) {
        expect(k3sTokenCalls).toContain(`delete ${id}`);
        expect(poolItems.has(id)).toBe(false);
      }
      expect(poolItems.size).toBe(4);
      expect(fs.readFileSync(path.join(root, 'restored'), 'utf8')).toMatch(/^etcd state at \d+$/);
      expect(fs.existsSync(path.join(root, 'run/restore.snapshot'))).toBe(false);
    } finally {
      await running.stop();
    }
  });

  it('a host that swaps the join-token key for one it can decrypt gets no bootstrap token: the boot is refused', async () => {
    kms.createKey('arn:aws:kms:us-east-1:222222222222:key/host-owned', null);
    const published = [...poolItems.values()];
    hostBoot = { ...BOOT, joinTokenKeyId: 'arn:aws:kms:us-east-1:222222222222:key/host-owned' };
    try {
      await expect(runSupervisor(deps(TEST_PCRS))).rejects.toThrow(/refusing to hand the agent token to another key/);
      expect([...poolItems.values()]).toEqual(published);
    } finally {
      hostBoot = BOOT;
    }
  });

  it('an enclave running another image cannot boot the cluster: the snapshot stays sealed', async () => {
    await expect(runSupervisor(deps(OTHER_IMAGE_PCRS))).rejects.toThrow(/pcr_mismatch/);
  });
});
