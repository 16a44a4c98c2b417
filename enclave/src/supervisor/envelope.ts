// Envelope encryption under the cluster-state key: a fresh KMS data key (opened only inside the
// enclave via the Recipient flow) encrypts the payload with AES-256-GCM; the encryption context is
// both the KMS context and the GCM additional data, so a blob cannot be replayed as another kind.
import * as crypto from 'node:crypto';
import { z } from 'zod';
import type { EnclaveKms, EncryptionContext } from './kms-client';

const IV_BYTES = 12;
const TAG_BYTES = 16;

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');

export const SealedEnvelopeSchema = z
  .object({
    v: z.literal(1),
    encryptedDataKey: b64.min(1),
    iv: b64.min(1),
    tag: b64.min(1),
    ciphertext: b64,
  })
  .strict();

export type SealedEnvelope = z.infer<typeof SealedEnvelopeSchema>;

export class EnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

/** Canonical (key-sorted) JSON of the context, used as GCM additional data. */
function aad(context: EncryptionContext): Buffer {
  return Buffer.from(JSON.stringify(Object.keys(context).sort().map((k) => [k, context[k]])));
}

export async function seal(kms: EnclaveKms, keyId: string, context: EncryptionContext, plaintext: Uint8Array): Promise<Buffer> {
  const dataKey = await kms.generateDataKey(keyId, context);
  try {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', dataKey.plaintext, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const envelope: SealedEnvelope = {
      v: 1,
      encryptedDataKey: Buffer.from(dataKey.ciphertextBlob).toString('base64'),
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
    return Buffer.from(JSON.stringify(envelope));
  } finally {
    dataKey.plaintext.fill(0);
  }
}

export async function unseal(kms: EnclaveKms, context: EncryptionContext, sealed: Uint8Array, keyId?: string): Promise<Buffer> {
  let envelope: SealedEnvelope;
  try {
    envelope = SealedEnvelopeSchema.parse(JSON.parse(Buffer.from(sealed).toString('utf8')));
  } catch {
    throw new EnvelopeError('sealed blob is not a K3s-DaaS envelope');
  }
  const dataKey = await kms.decrypt(Buffer.from(envelope.encryptedDataKey, 'base64'), context, keyId);
  try {
    const iv = Buffer.from(envelope.iv, 'base64');
    const tag = Buffer.from(envelope.tag, 'base64');
    // The host stores the envelope: without a fixed tag length, Node accepts a tag truncated to 4 bytes,
    // which makes forging a ciphertext a matter of ~2^32 tries instead of 2^128.
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('bad iv or tag length');
    const decipher = crypto.createDecipheriv('aes-256-gcm', dataKey, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(context));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(envelope.ciphertext, 'base64')), decipher.final()]);
  } catch {
    throw new EnvelopeError('sealed blob fails authentication (tampered, or sealed for another context)');
  } finally {
    dataKey.fill(0);
  }
}
