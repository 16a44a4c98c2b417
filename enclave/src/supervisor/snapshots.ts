// Datastore snapshots: K3s's embedded etcd is snapshotted periodically, sealed under the
// cluster-state key (fresh data key per snapshot) and handed to the host, which keeps them in the
// versioned snapshot bucket. At boot the newest one is unsealed and restored before K3s starts.
//
// Rollback: every snapshot carries a sequence number, bound into its encryption context (the host
// cannot relabel one), and so is the cluster's secrets lineage (a snapshot opens only beside the
// sealed secrets it was made with). The enclave attests (seq, SHA-256 of the sealed bytes) of its
// newest snapshot; the attestation route commits that pair and never lets it go backwards. At boot the
// enclave reads the committed pair from the platform over TLS (platform-client.ts) and accepts only
// the committed snapshot itself or the one sealed right after it (`checkAgainstCommitted`). A new
// snapshot is sealed only once the previous one is committed, so at most one uncommitted snapshot
// ever exists and the host can choose between nothing older than the last commit.
import { createHash, createHmac } from 'node:crypto';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { NO_SNAPSHOT, type SnapshotClaim } from '../../../lambdas/shared/attestation/enclave-claims';
import { seal, unseal } from './envelope';
import type { EnclaveKms } from './kms-client';
import type { CommittedSnapshot } from './platform-client';

export interface SnapshotStore {
  put(sealed: Uint8Array): Promise<void>;
  latest(): Promise<Uint8Array | undefined>;
}

export const snapshotContext = (clusterId: string, seq: bigint, lineage: string) => ({
  cluster: clusterId,
  purpose: 'k3s-daas-datastore-snapshot',
  seq: seq.toString(),
  lineage,
});

/**
 * A public, stable name for one generation of cluster secrets: an HMAC of the server token (the
 * context is visible in KMS logs, the token must not be).
 */
export function secretsLineage(serverToken: string): string {
  return createHmac('sha256', serverToken).update('k3s-daas snapshot lineage v1').digest('hex').slice(0, 32);
}

/** What the host stores: the sequence in the clear (to pick the context) and the envelope it must open under. */
const SealedSnapshotSchema = z
  .object({
    v: z.literal(1),
    seq: z.string().regex(/^[1-9][0-9]{0,15}$/),
    envelope: z.string().min(1),
  })
  .strict();

export class SnapshotRollbackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotRollbackError';
  }
}

export interface PulledSnapshot {
  plaintext: Buffer;
  claim: SnapshotClaim;
}

export function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

function parseSealed(sealed: Uint8Array): { seq: bigint; envelope: Buffer } {
  let parsed;
  try {
    parsed = SealedSnapshotSchema.parse(JSON.parse(Buffer.from(sealed).toString('utf8')));
  } catch {
    throw new SnapshotRollbackError('the stored snapshot is not a K3s-DaaS sealed snapshot (v1, with a sequence number)');
  }
  return { seq: BigInt(parsed.seq), envelope: Buffer.from(parsed.envelope, 'base64') };
}

/**
 * The boot rule against the platform's committed counter. Accepts the committed snapshot itself (same
 * digest) or the single snapshot sealed after it (seq + 1: sealed, then the enclave stopped before its
 * next attestation was committed). Refuses a missing snapshot when one was committed, an older one,
 * another one with the committed number, and a jump. With no committed record (first boot, or an
 * operator reset of the attestation record) any snapshot of this lineage is accepted.
 */
export function checkAgainstCommitted(sealed: Uint8Array | undefined, committed: CommittedSnapshot | undefined): void {
  if (!committed) return;
  if (!sealed) {
    if (committed.seq === 0) return;
    throw new SnapshotRollbackError(`the platform committed snapshot ${committed.seq} but the host has no snapshot; refusing to start from an empty datastore`);
  }
  const { seq } = parseSealed(sealed);
  const digest = sha256(sealed).toString('hex');
  const c = BigInt(committed.seq);
  if (seq === c && digest === committed.sha256) return;
  if (seq === c + 1n) return;
  if (seq < c) throw new SnapshotRollbackError(`the host offers snapshot ${seq}, older than the committed snapshot ${committed.seq}: refusing to roll the datastore back`);
  if (seq === c) throw new SnapshotRollbackError(`the host offers another snapshot ${seq} than the committed one: refusing`);
  throw new SnapshotRollbackError(`the host offers snapshot ${seq}, but only ${committed.seq} is committed: refusing`);
}

export class SnapshotVault {
  private current: SnapshotClaim = NO_SNAPSHOT;

  constructor(
    private readonly opts: { kms: EnclaveKms; keyId: string; clusterId: string; store: SnapshotStore },
  ) {}

  /** The newest snapshot this enclave restored or sealed: what its attestation documents claim. */
  claim(): SnapshotClaim {
    return this.current;
  }

  /** True when the platform's committed counter is this enclave's current snapshot (a new one may follow). */
  isCommitted(committed: CommittedSnapshot | undefined): boolean {
    const cur = this.current;
    return committed !== undefined && BigInt(committed.seq) === cur.seq && (cur.seq === 0n || committed.sha256 === cur.sha256.toString('hex'));
  }

  /** The host's newest sealed snapshot, unopened (boot checks it against the committed counter first). */
  async fetchLatest(): Promise<Uint8Array | undefined> {
    return this.opts.store.latest();
  }

  /** Opens a sealed snapshot of this cluster and lineage; it becomes the current claim. */
  async open(sealed: Uint8Array, lineage: string): Promise<Buffer> {
    const { seq, envelope } = parseSealed(sealed);
    const plaintext = await unseal(this.opts.kms, snapshotContext(this.opts.clusterId, seq, lineage), envelope, this.opts.keyId);
    this.current = { seq, sha256: sha256(sealed) };
    return plaintext;
  }

  /**
   * Seals `snapshot` as the next sequence number and hands it to the host, but only when the current
   * one is committed (`committed` equals the current claim); otherwise nothing is sealed and false is
   * returned, so an uncommitted snapshot is never followed by another.
   */
  async push(snapshot: Uint8Array, lineage: string, committed: CommittedSnapshot | undefined): Promise<boolean> {
    if (!this.isCommitted(committed)) return false;
    const cur = this.current;
    const seq = cur.seq + 1n;
    const envelope = await seal(this.opts.kms, this.opts.keyId, snapshotContext(this.opts.clusterId, seq, lineage), snapshot);
    const sealed = Buffer.from(JSON.stringify({ v: 1, seq: seq.toString(), envelope: envelope.toString('base64') }));
    await this.opts.store.put(sealed);
    // Claimed only once the host took it: a snapshot the host never stored must not be committed.
    this.current = { seq, sha256: sha256(sealed) };
    return true;
  }
}

/** Produces one datastore snapshot file's bytes. */
export interface DatastoreSnapshotter {
  save(): Promise<Uint8Array>;
}

const exec = promisify(execFile);

/** `k3s etcd-snapshot save` into a scratch directory; the file is read and removed. */
export function k3sEtcdSnapshotter(opts: { k3sBin: string; dataDir: string; scratchDir: string }): DatastoreSnapshotter {
  return {
    async save() {
      await fs.rm(opts.scratchDir, { recursive: true, force: true });
      await fs.mkdir(opts.scratchDir, { recursive: true, mode: 0o700 });
      await exec(opts.k3sBin, ['etcd-snapshot', 'save', '--data-dir', opts.dataDir, '--dir', opts.scratchDir, '--name', 'k3s-daas'], { maxBuffer: 1 << 20 });
      const files = (await fs.readdir(opts.scratchDir)).filter((f) => f.startsWith('k3s-daas'));
      if (files.length !== 1) throw new Error(`etcd-snapshot save left ${files.length} snapshot files in ${opts.scratchDir}`);
      const file = path.join(opts.scratchDir, files[0]);
      const bytes = await fs.readFile(file);
      await fs.rm(opts.scratchDir, { recursive: true, force: true });
      return bytes;
    },
  };
}

/** Runs `takeOne` every `intervalMs` (never overlapping); failures are reported and retried next time. */
export function schedulePeriodic(opts: { intervalMs: number; takeOne: () => Promise<void>; onError: (err: unknown) => void }): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    opts.takeOne().catch(opts.onError).finally(() => {
      running = false;
    });
  }, opts.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
