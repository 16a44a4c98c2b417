// The worker join token at rest (DESIGN §2 step 6). The enclave generates the K3s agent token and hands it,
// KMS-encrypted under the join-token key, to the master host, which stores the ciphertext at
// `KEYS.joinToken()`; only the node-join Lambda can decrypt it. The encryption context below is part of
// the contract between the enclave/host agent (Encrypt) and the join route (Decrypt), and the key grants
// in `lib/api/node-join-routes.ts` require exactly it, so a ciphertext made for anything else never opens.
import { DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { createHash, timingSafeEqual } from 'node:crypto';

/** Value of the `purpose` key of the encryption context. */
export const JOIN_TOKEN_PURPOSE = 'k3s-agent-token';

/** The KMS encryption context of the join token: `{cluster: <cluster id>, purpose: 'k3s-agent-token'}`. */
export function joinTokenEncryptionContext(clusterId: string): Record<string, string> {
  return { cluster: clusterId, purpose: JOIN_TOKEN_PURPOSE };
}

/**
 * K3s "secure" token format `K10<sha256 of the cluster CA, hex>::<user>:<password>`: an agent holding it
 * pins the server's CA on first contact, so the join cannot be intercepted by a host in the middle.
 */
export const JOIN_TOKEN_PATTERN = /^K10[0-9a-f]{64}::[!-~]{1,512}$/;

/**
 * Whether `token` pins exactly the cluster CA the enclave attested (`caCertPem` of the latest verified
 * attestation record). The master host is untrusted and holds `kms:Encrypt` on the join key, so it could
 * publish a token pinning a CA of its own and steer workers to a K3s server outside the enclave; only a
 * token whose hash is that of the attested CA may leave the join route. K3s hashes the PEM bytes it serves
 * on /cacerts; the record keeps the CA re-encoded as canonical PEM (64-column base64, `\n` line ends), which
 * is byte for byte how K3s (Go `pem.Encode`) writes the single self-signed CA the enclave generates.
 */
export function joinTokenPinsCa(token: string, caCertPem: string): boolean {
  if (!JOIN_TOKEN_PATTERN.test(token)) return false;
  const pinned = Buffer.from(token.slice(3, 67), 'hex');
  return timingSafeEqual(pinned, createHash('sha256').update(caCertPem, 'utf8').digest());
}

/** The stored item (besides its keys): base64 KMS ciphertext and when the host last published it. */
export interface JoinTokenItem {
  ciphertext: string;
  updatedAt: string;
}

/** Encrypts/decrypts the join token with its context; tests inject a local implementation. */
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
