// The whole enclave boot off-hardware: the supervisor (real code) with an in-memory vsock, the real
// host agent server (in-memory storage), a KMS that enforces the PCR policy, documents from the test
// Nitro CA, a stand-in `k3s` script that writes a cluster CA, takes and restores "snapshots", and the
// platform's side of the snapshot counter: documents the enclave serves are verified with the
// attestation route's rule and stored in a record store, whose committed counter the enclave reads back.
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
import { canonicalSettings, settingsDigest, spkiSha256, type EnclaveSettings } from '../../../lambdas/shared/attestation/enclave-claims';
import { MemoryAttestationRecordStore, SnapshotCounterError } from '../../../lambdas/shared/attestation/record-store';
import type { PlatformClient } from '../../../enclave/src/supervisor/platform-client';
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
  clusterStateKeyId: 'arn:aws:kms:us-east-1:111111111111:key/state-key',
  joinTokenKeyId: 'arn:aws:kms:us-east-1:111111111111:key/join-key',
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
/** Where the node reconciler read its roster (API URL, bearer) and what it asked of kube-apiserver. */
const rosterReads: string[] = [];
const kubeCalls: string[] = [];
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

const SIGNING_SPKI = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
const SIGNING_PEM = crypto.createPublicKey({ key: SIGNING_SPKI, format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString();
/** The platform's own settings (what the attestation route computes from its environment). */
const PLATFORM_SETTINGS: EnclaveSettings = canonicalSettings({ ...BOOT, kubeconfigSigningKeySpkiSha256: spkiSha256(SIGNING_SPKI) });
const EXPECTED = { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] };

/** The attestation route's record (the committed snapshot counter lives in it). */
const records = new MemoryAttestationRecordStore();
/** The platform API as the enclave sees it over TLS: the signing key and the committed counter. */
const platform: PlatformClient = {
  async view() {
    const record = await records.getLatest();
    return {
      signingKeySpkiSha256: spkiSha256(crypto.createPublicKey(SIGNING_PEM).export({ format: 'der', type: 'spki' })),
      committed: record?.snapshotSeq === undefined ? undefined : { seq: record.snapshotSeq, sha256: record.snapshotSha256! },
    };
  },
};

/** One round of the host agent: fetch a document from the enclave and post it to the attestation route's rule and store. */
async function attestOnce(): Promise<{ document: string; caCertPem: string }> {
  const bridge = await forwardTcpToVsock({ vsock: fabric.network(PARENT_CID), listenHost: '127.0.0.1', listenPort: 0, cid: ENCLAVE_CID, port: VSOCK_PORTS.attestation });
  try {
    const body = (await (await fetch(`http://127.0.0.1:${bridge.port}/attestation?nonce=0102`)).json()) as { document: string; caCertPem: string };
    if (typeof body.document !== 'string') throw new Error(`enclave served no document: ${JSON.stringify(body)}`);
    const verdict = await verifyClusterAttestation(body, {
      expectedPcrs: EXPECTED,
      now: ca.now,
      maxDocumentAgeMs: 300_000,
      rootPem: ca.rootPem,
      platformSettings: { settings: PLATFORM_SETTINGS, digest: settingsDigest(PLATFORM_SETTINGS) },
    });
    if (!verdict.ok) throw new Error(`attestation refused: ${verdict.reason}: ${verdict.message}`);
    await records.putLatest(verdict.record);
    return body;
  } finally {
    await bridge.close();
  }
}

function deps(pcrs: Record<number, string>): SupervisorDeps {
  return {
    vsock: fabric.network(ENCLAVE_CID),
    platform: () => platform,
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
    roster: (apiUrl, webhookSecret) => ({
      fetchAll: async () => (rosterReads.push(`${apiUrl} ${webhookSecret}`), [{ name: 'i-0aaaaaaaaaaaaaaa1', kind: 'asg', stakeId: '0x' + 'a1'.repeat(32) }]),
    }),
    kubeApi: {
      listNodeNames: async () => (kubeCalls.push('list nodes'), ['i-0aaaaaaaaaaaaaaa1', 'ext-evicted']),
      listPodsOnNode: async (n) => (kubeCalls.push(`list pods ${n}`), []),
      deletePod: async () => undefined,
      deleteNode: async (n) => void kubeCalls.push(`delete node ${n}`),
      deleteSecret: async (ns, n) => void kubeCalls.push(`delete secret ${ns}/${n}`),
      putConfigMap: async (ns, n, data) => void kubeCalls.push(`configmap ${ns}/${n} ${JSON.stringify(data)}`),
    },
  };
}

/** Sealed snapshot 1, kept as the host's S3 versioning would keep it. */
let olderSnapshot: Uint8Array | undefined;

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

      // The node reconciler reads the roster at the sealed API URL with the webhook secret, writes the allow-list, evicts the rest.
      expect(await running.reconcileNodesNow()).toEqual({ outcome: 'reconciled', rostered: 1, deleted: ['ext-evicted'], failed: [] });
      expect(rosterReads).toEqual([`${BOOT.apiUrl} ${BOOT.webhookSecret}`]);
      expect(kubeCalls).toEqual([
        `configmap kube-system/k3s-daas-node-roster {"i-0aaaaaaaaaaaaaaa1":"asg/${'a1'.repeat(32)}"}`,
        'list nodes', 'list pods ext-evicted', 'delete node ext-evicted', 'list pods ext-evicted', 'delete secret kube-system/ext-evicted.node-password.k3s',
      ]);

      // The host agent's view: vsock 16:8003 through its own bridge; the route accepts it and commits seq 0.
      await attestOnce();
      expect((await records.getLatest())?.snapshotSeq).toBe(0);

      expect(await running.snapshotNow()).toBe(true);
      expect(Buffer.from(stored.snapshot!).toString()).not.toContain('etcd state');
      olderSnapshot = stored.snapshot;
      // Attack: a second snapshot before the first is committed would widen what a host can roll back to.
      expect(await running.snapshotNow()).toBe(false);
      await attestOnce();
      expect((await records.getLatest())?.snapshotSeq).toBe(1);
      expect(await running.snapshotNow()).toBe(true);
      await attestOnce();
      expect((await records.getLatest())?.snapshotSeq).toBe(2);
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

  it('attack: a host that rolls the datastore back to an older sealed snapshot is refused at boot', async () => {
    const committed = (await records.getLatest())!;
    expect(committed.snapshotSeq).toBe(2);
    const newest = stored.snapshot;
    // The host kept every version (S3 versioning); it offers snapshot 1, which still unseals.
    stored.snapshot = olderSnapshot;
    try {
      await expect(runSupervisor(deps(TEST_PCRS))).rejects.toThrow(/older than the committed snapshot 2: refusing to roll the datastore back/);
    } finally {
      stored.snapshot = newest;
    }
  });

  it('attack: relabelling an older snapshot with the next sequence number does not open it', async () => {
    const newest = stored.snapshot;
    const relabelled = JSON.parse(Buffer.from(olderSnapshot!).toString('utf8')) as { seq: string };
    relabelled.seq = '3';
    stored.snapshot = Buffer.from(JSON.stringify(relabelled));
    try {
      await expect(runSupervisor(deps(TEST_PCRS))).rejects.toThrow(/InvalidCiphertextException|fails authentication/);
    } finally {
      stored.snapshot = newest;
    }
  });

  it('attack: a host that withholds the snapshot once one is committed does not get an empty datastore', async () => {
    const newest = stored.snapshot;
    stored.snapshot = undefined;
    try {
      await expect(runSupervisor(deps(TEST_PCRS))).rejects.toThrow(/committed snapshot 2 but the host has no snapshot/);
    } finally {
      stored.snapshot = newest;
    }
  });

  it('the attestation route refuses a document that claims an older snapshot than the committed one', async () => {
    const committed = (await records.getLatest())!;
    await expect(records.putLatest({ ...committed, timestamp: new Date(Date.parse(committed.timestamp) + 1000).toISOString(), snapshotSeq: 1 })).rejects.toThrow(
      SnapshotCounterError,
    );
  });

  it('a snapshot sealed after the last commit (the enclave stopped before its next attestation) is restored', async () => {
    const running = await runSupervisor(deps(TEST_PCRS));
    try {
      expect(await running.snapshotNow()).toBe(true);
    } finally {
      await running.stop();
    }
    expect((await records.getLatest())?.snapshotSeq).toBe(2);
    fs.rmSync(path.join(root, 'restored'));
    const rebooted = await runSupervisor(deps(TEST_PCRS));
    await rebooted.stop();
    expect(fs.existsSync(path.join(root, 'restored'))).toBe(true);
  });

  it('attack: a second enclave of the same image booted with the host\'s own settings cannot get its document accepted', async () => {
    fs.rmSync(path.join(root, 'etc'), { recursive: true });
    fs.rmSync(path.join(root, 'data/server/tls/server-ca.crt')); // wait for this boot's K3s, not the last one's file
    // Same image, same sealed state, but kube-apiserver certificates for a name the host controls.
    hostBoot = { ...BOOT, tlsSans: ['attacker.example.net'] };
    const running = await runSupervisor(deps(TEST_PCRS));
    try {
      await expect(attestOnce()).rejects.toThrow(/attestation refused: settings_mismatch/);
    } finally {
      hostBoot = BOOT;
      await running.stop();
    }
  });

  it('a host that names a key alias (re-pointable after the digest is taken) stops the boot before anything is sealed', async () => {
    const secrets = stored.secrets;
    hostBoot = { ...BOOT, clusterStateKeyId: 'arn:aws:kms:us-east-1:111111111111:alias/state' };
    try {
      await expect(runSupervisor(deps(TEST_PCRS))).rejects.toThrow(/boot setting clusterStateKeyId is invalid/);
      expect(stored.secrets).toBe(secrets);
    } finally {
      hostBoot = BOOT;
    }
  });
});
