// The enclave's pool of per-node bootstrap tokens (lambdas/shared/nodes/join-token.ts). The supervisor
// mints each token from NSM randomness, creates it in K3s with `k3s token create <id>.<secret> --ttl`
// (a `kube-system/bootstrap-token-<id>` Secret whose `expiration` K3s enforces), and hands the host only
// KMS ciphertext of the secret under the join-token key, bound to the token id, its expiry and the CA
// hash. The node-join route claims one entry per admitted instance and removes it from the pool.
//
// The host is untrusted, so its listing of the pool is only a hint, checked against the supervisor's own
// ledger of what it minted:
// - an entry the ledger does not know (minted before a reboot, or made up) is deleted from K3s and the pool;
// - a minted token that left the listing was claimed (or dropped by the host): its Secret is deleted
//   `claimGraceMs` later, once its node has registered — afterwards the agent authenticates with its
//   kubelet certificate, so the token admits no one, not even a second machine under another name;
// - an entry that is too old to be handed out is retired before the route could give it away;
// - the ledger never holds more than `maxLive` tokens, so a host that hides entries cannot make the
//   enclave mint without bound.
// A lying host can thus only delay joins; every token it can make the enclave keep dies at its expiry.
import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { promisify } from 'node:util';
import {
  BOOTSTRAP_TOKEN_ALPHABET,
  BOOTSTRAP_TOKEN_ID_PATTERN,
  BOOTSTRAP_TOKEN_SECRET_PATTERN,
  BOOTSTRAP_TOKEN_TIMING,
  bootstrapTokenEncryptionContext,
  type BootstrapPoolEntry,
} from '../../../lambdas/shared/nodes/join-token';
import type { EnclaveKms } from './kms-client';

export class JoinTokenCaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JoinTokenCaError';
  }
}

/**
 * The node-join route pins SHA-256 of the attested CA re-encoded as canonical PEM, while K3s agents hash
 * the raw /cacerts bytes. Both agree only when server-ca.crt is exactly one certificate in canonical PEM;
 * anything else (a chain, CRLF, extra text) would give tokens every join refuses, so it is refused at boot.
 */
export function caSha256ForJoin(caCertPemBytes: Uint8Array): string {
  let canonical: string;
  try {
    canonical = new crypto.X509Certificate(Buffer.from(caCertPemBytes)).toString();
  } catch {
    throw new JoinTokenCaError('server-ca.crt is not a PEM certificate');
  }
  if (!Buffer.from(canonical, 'utf8').equals(Buffer.from(caCertPemBytes))) {
    throw new JoinTokenCaError('server-ca.crt is not exactly one certificate in canonical PEM; the node-join route could never match its hash');
  }
  return crypto.createHash('sha256').update(caCertPemBytes).digest('hex');
}

/** Uniform characters of the bootstrap-token alphabet from a random source (rejection sampling). */
export function randomTokenChars(length: number, random: (n: number) => Uint8Array): string {
  const limit = 256 - (256 % BOOTSTRAP_TOKEN_ALPHABET.length);
  let out = '';
  for (let rounds = 0; out.length < length; rounds++) {
    if (rounds > 64) throw new Error('random source keeps returning out-of-range bytes');
    for (const b of random(length * 2)) {
      if (b < limit && out.length < length) out += BOOTSTRAP_TOKEN_ALPHABET[b % BOOTSTRAP_TOKEN_ALPHABET.length];
    }
  }
  return out;
}

/** The two K3s operations the pool needs; tests put a recording stand-in behind the real pool logic. */
export interface K3sTokens {
  create(tokenId: string, secret: string, ttlSeconds: number, description: string): Promise<void>;
  /** Idempotent: deleting a token K3s no longer has is not an error. */
  delete(tokenId: string): Promise<void>;
}

const exec = promisify(execFile);

/** `k3s token create` (the K3s way to make a bootstrap-token Secret) and `kubectl delete secret --ignore-not-found`. */
export function k3sTokenCli(opts: { k3sBin: string; dataDir: string }): K3sTokens {
  const kubeconfig = path.join(opts.dataDir, 'server', 'cred', 'admin.kubeconfig');
  return {
    async create(tokenId, secret, ttlSeconds, description) {
      await exec(opts.k3sBin, ['token', 'create', `${tokenId}.${secret}`, '--ttl', `${ttlSeconds}s`, '--description', description, '--kubeconfig', kubeconfig], {
        timeout: 60_000,
      });
    },
    async delete(tokenId) {
      if (!BOOTSTRAP_TOKEN_ID_PATTERN.test(tokenId)) throw new Error(`not a bootstrap token id: ${tokenId}`);
      await exec(opts.k3sBin, ['kubectl', '--kubeconfig', kubeconfig, '-n', 'kube-system', 'delete', 'secret', `bootstrap-token-${tokenId}`, '--ignore-not-found'], {
        timeout: 60_000,
      });
    },
  };
}

export interface PoolHost {
  list(): Promise<BootstrapPoolEntry[]>;
  put(entry: BootstrapPoolEntry): Promise<void>;
  retire(tokenId: string): Promise<void>;
}

interface Minted {
  expiresAtMs: number;
  /** When the supervisor first saw the entry gone from the pool (claimed by a join, or dropped by the host). */
  leftPoolAt?: number;
}

export interface SweepReport {
  minted: string[];
  /** Deleted from K3s: claimed past the grace, too old to hand out, or unknown to the ledger. */
  deleted: string[];
}

export class BootstrapTokenPool {
  private readonly ledger = new Map<string, Minted>();
  private readonly caSha256: string;
  private readonly size: number;
  private readonly maxLive: number;
  private readonly now: () => Date;
  private running: Promise<SweepReport> | undefined;

  constructor(
    private readonly opts: {
      k3s: K3sTokens;
      kms: EnclaveKms;
      joinTokenKeyId: string;
      clusterId: string;
      host: PoolHost;
      /** server-ca.crt as K3s serves it. */
      caPem: Uint8Array;
      random: (n: number) => Uint8Array;
      /** Unclaimed tokens kept ready (default 4). */
      size?: number;
      /** Most tokens alive at once, claimed ones in their grace included (default 32). */
      maxLive?: number;
      now?: () => Date;
      log?: (message: string, extra?: Record<string, unknown>) => void;
    },
  ) {
    this.caSha256 = caSha256ForJoin(opts.caPem);
    this.size = opts.size ?? 4;
    this.maxLive = opts.maxLive ?? 32;
    this.now = opts.now ?? (() => new Date());
  }

  /** Tokens this enclave minted and has not yet deleted or seen expire. */
  live(): string[] {
    return [...this.ledger.keys()];
  }

  /** One sweep at a time: a sweep asked for while one runs gets that one's result. */
  sweep(): Promise<SweepReport> {
    this.running ??= this.sweepOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async sweepOnce(): Promise<SweepReport> {
    const report: SweepReport = { minted: [], deleted: [] };
    const now = this.now().getTime();
    const listed = new Set((await this.opts.host.list()).map((e) => e.tokenId));
    // Retired from the pool this long before the route would stop handing it out, so a join that read the
    // pool just before never gets a token that is being deleted.
    const retireBeforeMs = BOOTSTRAP_TOKEN_TIMING.minRemainingAtClaimMs - 2 * 60_000;

    const remove = async (tokenId: string, fromPool: boolean) => {
      await this.opts.k3s.delete(tokenId);
      if (fromPool) await this.opts.host.retire(tokenId);
      this.ledger.delete(tokenId);
      report.deleted.push(tokenId);
    };

    for (const tokenId of listed) {
      if (!this.ledger.has(tokenId) && BOOTSTRAP_TOKEN_ID_PATTERN.test(tokenId)) await remove(tokenId, true);
    }
    let ready = 0;
    for (const [tokenId, minted] of [...this.ledger]) {
      if (minted.expiresAtMs <= now) {
        // K3s refuses it already and its token cleaner deletes the Secret; only the pool item is left.
        this.ledger.delete(tokenId);
        if (listed.has(tokenId)) await this.opts.host.retire(tokenId);
      } else if (listed.has(tokenId) && minted.leftPoolAt !== undefined) {
        // It left the pool (the route claimed it) and the untrusted host put it back: never hand it out again.
        await remove(tokenId, true);
      } else if (listed.has(tokenId)) {
        const remaining = minted.expiresAtMs - now;
        if (remaining < retireBeforeMs) await remove(tokenId, true);
        // Between the route's cutoff and retirement an entry is listed but no longer handed out.
        else if (remaining >= BOOTSTRAP_TOKEN_TIMING.minRemainingAtClaimMs) ready++;
      } else {
        minted.leftPoolAt ??= now;
        if (now - minted.leftPoolAt >= BOOTSTRAP_TOKEN_TIMING.claimGraceMs) await remove(tokenId, false);
      }
    }

    while (ready < this.size && this.ledger.size < this.maxLive) {
      report.minted.push(await this.mintOne(now));
      ready++;
    }
    if (ready < this.size) this.opts.log?.('bootstrap-token pool at its limit of live tokens', { live: this.ledger.size, maxLive: this.maxLive });
    return report;
  }

  private async mintOne(now: number): Promise<string> {
    const tokenId = randomTokenChars(6, this.opts.random);
    const secret = randomTokenChars(16, this.opts.random);
    if (!BOOTSTRAP_TOKEN_ID_PATTERN.test(tokenId) || !BOOTSTRAP_TOKEN_SECRET_PATTERN.test(secret)) throw new Error('minted token does not fit the bootstrap format');
    const ttlSeconds = Math.floor(BOOTSTRAP_TOKEN_TIMING.ttlMs / 1000);
    // Computed before K3s starts its own clock, so the advertised expiry is never later than K3s's.
    const expiresAtMs = Math.floor(now / 1000) * 1000 + ttlSeconds * 1000;
    const expiresAt = new Date(expiresAtMs).toISOString();
    await this.opts.k3s.create(tokenId, secret, ttlSeconds, 'k3s-daas per-node join token');
    try {
      const context = bootstrapTokenEncryptionContext({ clusterId: this.opts.clusterId, tokenId, expiresAt, caSha256: this.caSha256 });
      const ciphertext = await this.opts.kms.encrypt(this.opts.joinTokenKeyId, Buffer.from(secret, 'utf8'), context);
      await this.opts.host.put({ tokenId, expiresAt, caSha256: this.caSha256, ciphertext: Buffer.from(ciphertext).toString('base64') });
    } catch (err) {
      // Never leave a live token behind that no node can be given.
      await this.opts.k3s.delete(tokenId);
      throw err;
    }
    this.ledger.set(tokenId, { expiresAtMs });
    this.opts.log?.('bootstrap token minted', { tokenId, expiresAt });
    return tokenId;
  }
}
