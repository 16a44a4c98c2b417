// Per-node bootstrap credentials for joining workers (DESIGN §2 step 6, issue 12 item 4).
//
// The enclave mints K3s bootstrap tokens (`<id>.<secret>`, backed by `kube-system/bootstrap-token-<id>`
// Secrets with an `expiration`, created with `k3s token create --ttl`) into a small pool. Each pool entry
// leaves the enclave only as KMS ciphertext of the secret under the join-token key, with the token id,
// its expiry and the hash of the CA it was minted for bound into the encryption context, and the host
// stores it in the index at `KEYS.bootstrapPoolEntry(id)`. The node-join route claims one entry per
// admitted instance (in the admission transaction, so no token is ever handed to two instances), opens it
// (only the join function may decrypt with this context) and answers `K10<sha256 of the attested CA>::<id>.<secret>`.
// The enclave deletes a claimed token's Secret once its node had time to register, and K3s refuses any
// token past its expiration: a leaked or evicted node's secret stops admitting anyone (docs/workers.md).
import { DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { createHash, timingSafeEqual } from 'node:crypto';

/** Value of the `purpose` key of the encryption context of a pool entry. */
export const BOOTSTRAP_TOKEN_PURPOSE = 'k3s-bootstrap-token';

/** Kubernetes bootstrap token parts (k8s.io/cluster-bootstrap: `[a-z0-9]{6}` and `[a-z0-9]{16}`). */
export const BOOTSTRAP_TOKEN_ID_PATTERN = /^[a-z0-9]{6}$/;
export const BOOTSTRAP_TOKEN_SECRET_PATTERN = /^[a-z0-9]{16}$/;
export const BOOTSTRAP_TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Lifetimes, shared by the enclave (which enforces them in K3s) and the join route (which never hands out
 * a token that would die before its node can use it). All in milliseconds.
 */
export const BOOTSTRAP_TOKEN_TIMING = {
  /** `k3s token create --ttl`: the Secret's `expiration`, counted from minting. */
  ttlMs: 30 * 60_000,
  /** The join route hands out only entries with at least this much life left. */
  minRemainingAtClaimMs: 15 * 60_000,
  /** The enclave deletes a claimed token this long after it saw the claim (the node has registered by then). */
  claimGraceMs: 10 * 60_000,
  /** A retry by the admitted instance (its answer was lost) gets the same token again within this window. */
  resendWindowMs: 5 * 60_000,
} as const;

/** The join answer: K3s's secure format with a bootstrap token, `K10<sha256 of the CA PEM>::<id>.<secret>`. */
export const JOIN_TOKEN_PATTERN = /^K10[0-9a-f]{64}::[a-z0-9]{6}\.[a-z0-9]{16}$/;

/** SHA-256 (hex) of the CA as K3s serves it on /cacerts: the PEM bytes. */
export function caPemSha256(caCertPem: string): string {
  return createHash('sha256').update(caCertPem, 'utf8').digest('hex');
}

/**
 * The join answer's token. `caCertPem` is the CA of the latest verified attestation record: the agent pins
 * exactly the CA the enclave attested, never one the untrusted host names. The record keeps the CA
 * re-encoded as canonical PEM (64-column base64, `\n` line ends), which is byte for byte how K3s (Go
 * `pem.Encode`) writes the single self-signed CA the enclave generates, so the two hashes agree.
 */
export function formatJoinToken(caCertPem: string, tokenId: string, tokenSecret: string): string {
  if (!BOOTSTRAP_TOKEN_ID_PATTERN.test(tokenId) || !BOOTSTRAP_TOKEN_SECRET_PATTERN.test(tokenSecret)) {
    throw new Error('not a bootstrap token id and secret');
  }
  return `K10${caPemSha256(caCertPem)}::${tokenId}.${tokenSecret}`;
}

/** Whether `token` pins exactly the CA `caCertPem` (constant-time on the hash). */
export function joinTokenPinsCa(token: string, caCertPem: string): boolean {
  if (!JOIN_TOKEN_PATTERN.test(token)) return false;
  return timingSafeEqual(Buffer.from(token.slice(3, 67), 'hex'), Buffer.from(caPemSha256(caCertPem), 'hex'));
}

/** What a pool entry's plaintext attributes claim; all of it is bound into the ciphertext's encryption context. */
export interface BootstrapTokenBinding {
  clusterId: string;
  tokenId: string;
  /** ISO 8601, UTC: the Secret's `expiration`. */
  expiresAt: string;
  /** SHA-256 (hex) of the CA PEM the enclave's K3s serves when the token was minted. */
  caSha256: string;
}

/**
 * The KMS encryption context of a pool entry. IAM lets the master role Encrypt and the join function
 * Decrypt only with `{cluster, purpose}` equal to this cluster and `k3s-bootstrap-token`; the other keys
 * bind the entry's visible attributes, so a host that edits an item's expiry, id or CA hash gets a
 * ciphertext that no longer opens.
 */
export function bootstrapTokenEncryptionContext(b: BootstrapTokenBinding): Record<string, string> {
  return { cluster: b.clusterId, purpose: BOOTSTRAP_TOKEN_PURPOSE, tokenId: b.tokenId, expiresAt: b.expiresAt, caSha256: b.caSha256 };
}

/** A pool entry as stored (`KEYS.bootstrapPoolEntry(tokenId)`), written by the host for the enclave. */
export interface BootstrapPoolEntry {
  tokenId: string;
  expiresAt: string;
  caSha256: string;
  /** Base64 of the KMS ciphertext of the token secret. */
  ciphertext: string;
}

/** Encrypts/decrypts with an encryption context; tests inject a local implementation. */
export interface JoinTokenCipher {
  encrypt(plaintext: string, context: Record<string, string>): Promise<Uint8Array>;
  decrypt(ciphertext: Uint8Array, context: Record<string, string>): Promise<string>;
}

export class KmsJoinTokenCipher implements JoinTokenCipher {
  constructor(
    private readonly kms: KMSClient,
    /** Pinning the key id makes KMS refuse a ciphertext produced under any other key. */
    private readonly keyId: string,
  ) {}

  async encrypt(plaintext: string, context: Record<string, string>): Promise<Uint8Array> {
    const out = await this.kms.send(
      new EncryptCommand({ KeyId: this.keyId, Plaintext: Buffer.from(plaintext, 'utf8'), EncryptionContext: context }),
    );
    if (!out.CiphertextBlob) throw new Error('KMS Encrypt returned no ciphertext');
    return out.CiphertextBlob;
  }

  async decrypt(ciphertext: Uint8Array, context: Record<string, string>): Promise<string> {
    const out = await this.kms.send(new DecryptCommand({ KeyId: this.keyId, CiphertextBlob: ciphertext, EncryptionContext: context }));
    if (!out.Plaintext) throw new Error('KMS Decrypt returned no plaintext');
    return Buffer.from(out.Plaintext).toString('utf8');
  }
}
