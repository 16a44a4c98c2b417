// Datastore snapshots: K3s's embedded etcd is snapshotted periodically, sealed under the
// cluster-state key (fresh data key per snapshot) and handed to the host, which keeps them in the
// versioned snapshot bucket. At boot the newest one is unsealed and restored before K3s starts.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { seal, unseal } from './envelope';
import type { EnclaveKms } from './kms-client';

export interface SnapshotStore {
  put(sealed: Uint8Array): Promise<void>;
  latest(): Promise<Uint8Array | undefined>;
}

export const snapshotContext = (clusterId: string) => ({ cluster: clusterId, purpose: 'k3s-daas-datastore-snapshot' });

export class SnapshotVault {
  constructor(
    private readonly opts: { kms: EnclaveKms; keyId: string; clusterId: string; store: SnapshotStore },
  ) {}

  async push(snapshot: Uint8Array): Promise<void> {
    await this.opts.store.put(await seal(this.opts.kms, this.opts.keyId, snapshotContext(this.opts.clusterId), snapshot));
  }

  /** The newest snapshot in plaintext, or undefined when none was ever stored. */
  async pullLatest(): Promise<Buffer | undefined> {
    const sealed = await this.opts.store.latest();
    if (!sealed) return undefined;
    return unseal(this.opts.kms, snapshotContext(this.opts.clusterId), sealed, this.opts.keyId);
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
