// The enclave's KMS recipient key. KMS encrypts `CiphertextForRecipient` to the public key inside the
// attestation document, so the plaintext data key never leaves KMS in a form the host could read. The
// private half is created at boot in enclave memory and never serialized.
import * as crypto from 'node:crypto';
import type { RecipientInfo } from '@aws-sdk/client-kms';
import { decryptEnvelopedData } from './cms';
import type { AttestationRequest } from './nsm';

/** What can produce attestation documents: the NSM (synchronous ioctl), or a test CA in tests. */
export interface Attester {
  attestation(req: AttestationRequest): Uint8Array | Promise<Uint8Array>;
}

export const KEY_ENCRYPTION_ALGORITHM = 'RSAES_OAEP_SHA_256';

export class RecipientKey {
  private constructor(
    private readonly privateKey: crypto.KeyObject,
    /** DER SubjectPublicKeyInfo, the attestation document's `public_key`. */
    readonly publicKeyDer: Uint8Array,
  ) {}

  static generate(): RecipientKey {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
    return new RecipientKey(privateKey, new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })));
  }

  /** A KMS `Recipient` carrying a fresh attestation document that binds this key. */
  async recipient(attester: Attester): Promise<RecipientInfo> {
    return { AttestationDocument: await attester.attestation({ publicKey: this.publicKeyDer }), KeyEncryptionAlgorithm: KEY_ENCRYPTION_ALGORITHM };
  }

  /** Opens a `CiphertextForRecipient`. */
  open(ciphertextForRecipient: Uint8Array): Buffer {
    return decryptEnvelopedData(ciphertextForRecipient, this.privateKey);
  }
}
