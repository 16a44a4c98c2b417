// The enclave's pool of per-node bootstrap tokens against a model of K3s's bootstrap-token authenticator
// (a token admits an agent while its Secret exists and its `expiration` has not passed) and an untrusted
// host that may hide, replay or invent pool entries. The attacks: a second machine using a claimed
// node's token after the node registered, a token after its expiry, an entry the host made up, and a
// host that hides entries to make the enclave mint without bound.
import { beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BootstrapTokenPool,
  caSha256ForJoin,
  JoinTokenCaError,
  k3sTokenCli,
  randomTokenChars,
  type K3sTokens,
  type PoolHost,
} from '../../../enclave/src/supervisor/bootstrap-tokens';
import { EnclaveKms } from '../../../enclave/src/supervisor/kms-client';
import { RecipientKey } from '../../../enclave/src/supervisor/recipient';
import {
  BOOTSTRAP_TOKEN_TIMING,
  bootstrapTokenEncryptionContext,
  caPemSha256,
  type BootstrapPoolEntry,
} from '../../../lambdas/shared/nodes/join-token';
import { createClusterCaPem } from '../../support/cluster-ca';
import { NitroTestCa, TEST_PCRS } from '../../support/nitro-test-ca';
import { FakeKms, testCaAttester } from '../support/fake-nitro';

const CLUSTER = 'k3s-daas-dev';
const JOIN_KEY = 'join-key';
const T0 = new Date('2026-11-23T00:00:00Z').getTime();

/** K3s's side: bootstrap-token Secrets and the authenticator's rule for them. */
class K3sModel implements K3sTokens {
  readonly secrets = new Map<string, { secret: string; expiresAtMs: number }>();
  readonly created: { tokenId: string; ttlSeconds: number; description: string }[] = [];
  constructor(private readonly clock: () => number) {}
  async create(tokenId: string, secret: string, ttlSeconds: number, description: string) {
    if (this.secrets.has(tokenId)) throw new Error(`bootstrap-token-${tokenId} already exists`);
    this.secrets.set(tokenId, { secret, expiresAtMs: this.clock() + ttlSeconds * 1000 });
    this.created.push({ tokenId, ttlSeconds, description });
  }
  async delete(tokenId: string) {
    this.secrets.delete(tokenId);
  }
  /** Whether `<id>.<secret>` would authenticate an agent now (k8s bootstrap token authenticator). */
  admits(token: string): boolean {
    const [id, secret] = token.split('.');
    const s = this.secrets.get(id);
    return !!s && s.secret === secret && this.clock() < s.expiresAtMs;
  }
}

/** The index's pool partition behind an untrusted host. */
class HostModel implements PoolHost {
  readonly entries = new Map<string, BootstrapPoolEntry>();
  hide = false;
  failPut = false;
  async list() {
    return this.hide ? [] : [...this.entries.values()];
  }
  async put(entry: BootstrapPoolEntry) {
    if (this.failPut) throw new Error('host agent PUT /v1/bootstrap-tokens answered 502');
    this.entries.set(entry.tokenId, entry);
  }
  async retire(tokenId: string) {
    this.entries.delete(tokenId);
  }
  /** What the join route does when it admits a node: takes the entry out of the pool. */
  claim(): BootstrapPoolEntry {
    const [entry] = this.entries.values();
    this.entries.delete(entry.tokenId);
    return entry;
  }
}

let ca: NitroTestCa;
let clusterCaPem: string;
let kms: FakeKms;
let now: number;
let k3s: K3sModel;
let host: HostModel;

function pool(opts: { size?: number; maxLive?: number } = {}) {
  return new BootstrapTokenPool({
    k3s,
    kms: new EnclaveKms(kms, RecipientKey.generate(), testCaAttester(ca, TEST_PCRS)),
    joinTokenKeyId: JOIN_KEY,
    clusterId: CLUSTER,
    host,
    caPem: Buffer.from(clusterCaPem),
    random: (n) => crypto.randomBytes(n),
    now: () => new Date(now),
    ...opts,
  });
}

/** The secret the join route would open from an entry (plain Decrypt with the bootstrap context). */
function open(entry: BootstrapPoolEntry): string {
  const context = bootstrapTokenEncryptionContext({ clusterId: CLUSTER, tokenId: entry.tokenId, expiresAt: entry.expiresAt, caSha256: entry.caSha256 });
  return kms.decryptPlain(Buffer.from(entry.ciphertext, 'base64'), context).toString();
}

beforeAll(async () => {
  ca = await NitroTestCa.create();
  clusterCaPem = await createClusterCaPem();
  kms = new FakeKms(ca.rootPem);
  kms.createKey(JOIN_KEY, null);
});

beforeEach(() => {
  now = T0;
  k3s = new K3sModel(() => now);
  host = new HostModel();
});

describe('bootstrap-token pool', () => {
  it('mints the pool size of tokens in K3s with the TTL, and hands the host only ciphertext bound to id, expiry and CA', async () => {
    const report = await pool({ size: 3 }).sweep();
    expect(report.minted).toHaveLength(3);
    expect(k3s.created.map((c) => c.ttlSeconds)).toEqual([1800, 1800, 1800]);
    expect(host.entries.size).toBe(3);
    for (const entry of host.entries.values()) {
      expect(entry.caSha256).toBe(caPemSha256(clusterCaPem));
      // Advertised expiry never later than the one K3s enforces.
      expect(Date.parse(entry.expiresAt)).toBeLessThanOrEqual(k3s.secrets.get(entry.tokenId)!.expiresAtMs);
      expect(Date.parse(entry.expiresAt)).toBe(T0 + BOOTSTRAP_TOKEN_TIMING.ttlMs);
      const secret = open(entry);
      expect(Buffer.from(entry.ciphertext, 'base64').toString('latin1')).not.toContain(secret);
      expect(k3s.admits(`${entry.tokenId}.${secret}`)).toBe(true);
      // The host edits the expiry to keep an entry alive: it no longer opens.
      expect(() => open({ ...entry, expiresAt: new Date(T0 + 3_600_000).toISOString() })).toThrow(/InvalidCiphertext/);
    }
  });

  it('a full pool is left alone by the same enclave; a claimed token is deleted from K3s once its node had time to register', async () => {
    const p = pool({ size: 2 });
    await p.sweep();
    expect((await p.sweep()).minted).toEqual([]);

    const claimed = host.claim();
    const token = `${claimed.tokenId}.${open(claimed)}`;
    // The route claimed it: the pool is refilled at once, but the token stays usable for its node for a while.
    expect((await p.sweep()).minted).toHaveLength(1);
    expect(k3s.admits(token)).toBe(true);
    now += BOOTSTRAP_TOKEN_TIMING.claimGraceMs - 1000;
    await p.sweep();
    expect(k3s.admits(token)).toBe(true);
    now += 1000;
    expect((await p.sweep()).deleted).toEqual([claimed.tokenId]);
    // A second machine holding the node's token (a leaked file, a pod escape) is refused from now on.
    expect(k3s.admits(token)).toBe(false);
  });

  it('attack: the host puts a claimed entry back in the pool: the token is deleted, never offered to a second node', async () => {
    const p = pool({ size: 2 });
    await p.sweep();
    const claimed = host.claim();
    const token = `${claimed.tokenId}.${open(claimed)}`;
    await p.sweep(); // sees the claim (the entry left the pool) and refills
    host.entries.set(claimed.tokenId, claimed); // the untrusted host replays it
    const report = await p.sweep();
    expect(report.deleted).toContain(claimed.tokenId);
    expect(host.entries.has(claimed.tokenId)).toBe(false);
    expect(k3s.admits(token)).toBe(false);
  });

  it('a token past its expiry admits no one, and entries are retired before the join route could hand out a dying one', async () => {
    const p = pool({ size: 1 });
    await p.sweep();
    const [first] = host.entries.values();
    const token = `${first.tokenId}.${open(first)}`;
    // Just before the route's cutoff (minRemainingAtClaim) the entry is retired and replaced.
    now = Date.parse(first.expiresAt) - BOOTSTRAP_TOKEN_TIMING.minRemainingAtClaimMs + 2 * 60_000 + 1000;
    const report = await p.sweep();
    expect(report.deleted).toEqual([first.tokenId]);
    expect(report.minted).toHaveLength(1);
    expect(host.entries.has(first.tokenId)).toBe(false);
    expect(k3s.admits(token)).toBe(false);

    // A claimed token the enclave has not deleted yet still dies at its expiry (K3s's own check).
    const claimed = host.claim();
    const claimedToken = `${claimed.tokenId}.${open(claimed)}`;
    now = Date.parse(claimed.expiresAt);
    expect(k3s.admits(claimedToken)).toBe(false);
  });

  it('keeps its size of claimable tokens: an entry past the route\'s cutoff but not yet retired is replaced, not counted', async () => {
    const p = pool({ size: 1 });
    await p.sweep();
    const [first] = host.entries.values();
    now = Date.parse(first.expiresAt) - BOOTSTRAP_TOKEN_TIMING.minRemainingAtClaimMs + 1000;
    const report = await p.sweep();
    expect(report.minted).toHaveLength(1);
    expect(report.deleted).toEqual([]);
    expect(host.entries.size).toBe(2);
  });

  it('an entry the host made up (or one minted before a reboot) is deleted from K3s and from the pool, never counted', async () => {
    const forged: BootstrapPoolEntry = { tokenId: 'abcdef', expiresAt: new Date(T0 + 1_200_000).toISOString(), caSha256: 'f'.repeat(64), ciphertext: 'AAAA' };
    host.entries.set(forged.tokenId, forged);
    k3s.secrets.set('abcdef', { secret: 'x'.repeat(16), expiresAtMs: T0 + 1_200_000 });
    const report = await pool({ size: 2 }).sweep();
    expect(report.deleted).toEqual(['abcdef']);
    expect(report.minted).toHaveLength(2);
    expect(host.entries.has('abcdef')).toBe(false);
    expect(k3s.secrets.has('abcdef')).toBe(false);
  });

  it('a host that hides the pool cannot make the enclave mint without bound: at most maxLive live tokens', async () => {
    const p = pool({ size: 4, maxLive: 10 });
    host.hide = true;
    for (let i = 0; i < 10; i++) {
      await p.sweep();
      now += 30_000;
    }
    expect(p.live().length).toBeLessThanOrEqual(10);
    expect(k3s.secrets.size).toBeLessThanOrEqual(10);
    // Hidden entries count as claimed: their grace runs out and they are deleted.
    now += BOOTSTRAP_TOKEN_TIMING.claimGraceMs;
    await p.sweep();
    expect([...k3s.secrets.keys()].every((id) => p.live().includes(id))).toBe(true);
  });

  it('runs one sweep at a time: the boot fill and the timer never both mint', async () => {
    const p = pool({ size: 3 });
    const [a, b] = await Promise.all([p.sweep(), p.sweep()]);
    expect(a).toBe(b);
    expect(k3s.created).toHaveLength(3);
    expect(host.entries.size).toBe(3);
  });

  it('never leaves a token alive in K3s that no node can be given (the host refuses the entry)', async () => {
    host.failPut = true;
    await expect(pool({ size: 1 }).sweep()).rejects.toThrow(/502/);
    expect(k3s.created).toHaveLength(1);
    expect(k3s.secrets.size).toBe(0);
  });

  it('refuses a CA file whose PEM hash the node-join route could never match (CRLF, a chain, extra text, not a certificate)', async () => {
    expect(caSha256ForJoin(Buffer.from(clusterCaPem))).toBe(caPemSha256(clusterCaPem));
    const other = await createClusterCaPem('k3s-intermediate');
    for (const pem of [clusterCaPem.replace(/\n/g, '\r\n'), clusterCaPem + other, `# k3s\n${clusterCaPem}`, clusterCaPem.trimEnd(), 'not a certificate']) {
      expect(() => caSha256ForJoin(Buffer.from(pem))).toThrow(JoinTokenCaError);
    }
  });

  it('draws token characters uniformly from [a-z0-9] and refuses a random source stuck out of range', () => {
    const counts = new Map<string, number>();
    for (const ch of randomTokenChars(36_000, (n) => crypto.randomBytes(n))) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect([...counts.keys()].sort().join('')).toBe('0123456789abcdefghijklmnopqrstuvwxyz');
    for (const c of counts.values()) expect(c).toBeGreaterThan(700);
    expect(() => randomTokenChars(6, (n) => new Uint8Array(n).fill(255))).toThrow(/out-of-range/);
  });
});

describe('k3sTokenCli', () => {
  it('creates with `k3s token create <id>.<secret> --ttl` and deletes the Secret idempotently, with the admin kubeconfig', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-token-'));
    const log = path.join(dir, 'calls');
    const bin = path.join(dir, 'k3s');
    fs.writeFileSync(bin, `#!/bin/sh\nprintf '%s\\n' "$*" >> "${log}"\n`, { mode: 0o755 });
    const cli = k3sTokenCli({ k3sBin: bin, dataDir: '/var/lib/rancher/k3s' });
    await cli.create('abc123', '0123456789abcdef', 1800, 'k3s-daas per-node join token');
    await cli.delete('abc123');
    await expect(cli.delete('../etc')).rejects.toThrow(/not a bootstrap token id/);
    expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      'token create abc123.0123456789abcdef --ttl 1800s --description k3s-daas per-node join token --kubeconfig /var/lib/rancher/k3s/server/cred/admin.kubeconfig',
      'kubectl --kubeconfig /var/lib/rancher/k3s/server/cred/admin.kubeconfig -n kube-system delete secret bootstrap-token-abc123 --ignore-not-found',
    ]);
  });
});
