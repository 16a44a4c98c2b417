// Off-hardware stand-ins for the Nitro Secure Module and for KMS's recipient handling.
// FakeNsmDevice answers the real CBOR protocol (see enclave/src/supervisor/nsm.ts). testCaAttester
// makes real COSE_Sign1 documents with the shared test Nitro CA. FakeKms holds AES keys, binds
// ciphertext to key id + encryption context, and — like KMS under a `kms:RecipientAttestation` key
// policy — opens data only for a Recipient whose document passes the project's verifier with the
// key's PCRs, answering with CMS `CiphertextForRecipient` for the document's public key.
import * as crypto from 'node:crypto';
import { Decoder, Encoder } from 'cbor-x';
import type { DecryptCommandInput, EncryptCommandInput, GenerateDataKeyCommandInput, RecipientInfo } from '@aws-sdk/client-kms';
import { encryptEnvelopedData } from '../../../enclave/src/supervisor/cms';
import type { KmsApi } from '../../../enclave/src/supervisor/kms-client';
import type { AttestationRequest, NsmDevice } from '../../../enclave/src/supervisor/nsm';
import type { Attester } from '../../../enclave/src/supervisor/recipient';
import { verifyAttestationDocument } from '../../../lambdas/shared/attestation/verify';
import type { ExpectedPcrs } from '../../../lambdas/shared/attestation/pcrs';
import type { NitroTestCa } from '../../support/nitro-test-ca';

const encoder = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: true, variableMapSize: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** A fake /dev/nsm: answers the real CBOR protocol; documents are opaque CBOR echoing the request. */
export class FakeNsmDevice implements NsmDevice {
  readonly requests: unknown[] = [];
  /** When set, every call answers `{"Error": <code>}`. */
  failWith?: string;
  /** When set, every call answers these raw bytes. */
  rawAnswer?: Uint8Array;
  private randomCounter = 0;

  call(request: Uint8Array): Uint8Array {
    const req = decoder.decode(request) as unknown;
    this.requests.push(req);
    if (this.rawAnswer) return this.rawAnswer;
    if (this.failWith) return encoder.encode({ Error: this.failWith });
    if (req === 'GetRandom') {
      // 256 bytes like the real NSM, distinct per call.
      const block = crypto.createHash('sha512').update(`nsm-random-${this.randomCounter++}`).digest();
      return encoder.encode({ GetRandom: { random: Buffer.concat([block, block, block, block]) } });
    }
    if (typeof req === 'object' && req !== null && 'Attestation' in req) {
      return encoder.encode({ Attestation: { document: Buffer.from(encoder.encode(['fake-document', (req as { Attestation: unknown }).Attestation])) } });
    }
    return encoder.encode({ Error: 'InvalidOperation' });
  }
}

/** An attester backed by the test Nitro CA: real COSE_Sign1 documents carrying `pcrs`. */
export function testCaAttester(ca: NitroTestCa, pcrs: Record<number, string>): Attester & { documents: number } {
  const attester = {
    documents: 0,
    async attestation(req: AttestationRequest) {
      attester.documents++;
      const doc = await ca.document({ pcrs, publicKey: req.publicKey ?? null, userData: req.userData ?? null, nonce: req.nonce ?? null });
      return doc.bytes;
    },
  };
  return attester;
}

/** PCRs of some other image than TEST_PCRS (what an attacker's modified enclave would measure). */
export const OTHER_IMAGE_PCRS: Record<number, string> = Object.fromEntries(
  [0, 1, 2].map((i) => [i, crypto.createHash('sha384').update(`another image PCR${i}`).digest('hex')]),
);

export class AccessDenied extends Error {
  name = 'AccessDeniedException';
}

interface FakeKey {
  material: Buffer;
  /** Null: no attestation condition (like the join-token key). */
  expectedPcrs: ExpectedPcrs | null;
}

/** In-process KMS. Ciphertext blob = keyId-length ‖ keyId ‖ iv ‖ tag ‖ AES-GCM(plaintext, aad = keyId ‖ context). */
export class FakeKms implements KmsApi {
  private readonly keys = new Map<string, FakeKey>();
  readonly calls: { op: string; context?: Record<string, string>; recipient: boolean }[] = [];
  /** Simulates a man in the middle that answers with plaintext instead of CiphertextForRecipient. */
  leakPlaintext = false;

  constructor(
    private readonly rootPem: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  createKey(keyId: string, expectedPcrs: ExpectedPcrs | null): void {
    this.keys.set(keyId, { material: crypto.randomBytes(32), expectedPcrs });
  }

  private aad(keyId: string, context: Record<string, string> = {}): Buffer {
    return Buffer.from(keyId + JSON.stringify(Object.entries(context).sort()));
  }

  private wrap(keyId: string, plaintext: Uint8Array, context?: Record<string, string>): Uint8Array {
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`NotFoundException: ${keyId}`);
    const iv = crypto.randomBytes(12);
    const c = crypto.createCipheriv('aes-256-gcm', key.material, iv);
    c.setAAD(this.aad(keyId, context));
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    return Buffer.concat([Buffer.from([keyId.length]), Buffer.from(keyId), iv, c.getAuthTag(), ct]);
  }

  private unwrap(blob: Uint8Array, context?: Record<string, string>): { keyId: string; plaintext: Buffer } {
    const b = Buffer.from(blob);
    const keyId = b.subarray(1, 1 + b[0]).toString();
    const key = this.keys.get(keyId);
    if (!key) throw new Error('InvalidCiphertextException');
    const rest = b.subarray(1 + b[0]);
    try {
      const d = crypto.createDecipheriv('aes-256-gcm', key.material, rest.subarray(0, 12));
      d.setAAD(this.aad(keyId, context));
      d.setAuthTag(rest.subarray(12, 28));
      return { keyId, plaintext: Buffer.concat([d.update(rest.subarray(28)), d.final()]) };
    } catch {
      throw new Error('InvalidCiphertextException');
    }
  }

  /**
   * The key policy: attestation-gated keys need a Recipient whose document verifies against the test
   * root (the project's real verifier) with the key's expected PCRs.
   */
  private async authorize(keyId: string, recipient: RecipientInfo | undefined): Promise<Uint8Array | undefined> {
    const key = this.keys.get(keyId)!;
    if (!recipient) {
      if (key.expectedPcrs) throw new AccessDenied('no recipient attestation');
      return undefined;
    }
    if (recipient.KeyEncryptionAlgorithm !== 'RSAES_OAEP_SHA_256') throw new Error('ValidationException: KeyEncryptionAlgorithm');
    const result = await verifyAttestationDocument(recipient.AttestationDocument!, { expectedPcrs: key.expectedPcrs, rootPem: this.rootPem, at: this.now() });
    if (!result.ok) throw new AccessDenied(`recipient attestation refused: ${result.reason}`);
    if (!result.document.publicKey) throw new Error('ValidationException: attestation document has no public key');
    return result.document.publicKey;
  }

  private answer(plaintext: Buffer, publicKey: Uint8Array | undefined) {
    if (!publicKey || this.leakPlaintext) return { Plaintext: plaintext };
    return { CiphertextForRecipient: encryptEnvelopedData(plaintext, publicKey) };
  }

  async generateDataKey(input: GenerateDataKeyCommandInput) {
    this.calls.push({ op: 'GenerateDataKey', context: input.EncryptionContext, recipient: !!input.Recipient });
    const publicKey = await this.authorize(input.KeyId!, input.Recipient);
    const plaintext = crypto.randomBytes(32);
    return { KeyId: input.KeyId, CiphertextBlob: this.wrap(input.KeyId!, plaintext, input.EncryptionContext), ...this.answer(plaintext, publicKey) };
  }

  async decrypt(input: DecryptCommandInput) {
    this.calls.push({ op: 'Decrypt', context: input.EncryptionContext, recipient: !!input.Recipient });
    const { keyId, plaintext } = this.unwrap(input.CiphertextBlob!, input.EncryptionContext);
    if (input.KeyId && input.KeyId !== keyId) throw new Error('IncorrectKeyException');
    const publicKey = await this.authorize(keyId, input.Recipient);
    return { KeyId: keyId, ...this.answer(plaintext, publicKey) };
  }

  async encrypt(input: EncryptCommandInput) {
    this.calls.push({ op: 'Encrypt', context: input.EncryptionContext, recipient: false });
    return { KeyId: input.KeyId, CiphertextBlob: this.wrap(input.KeyId!, input.Plaintext!, input.EncryptionContext) };
  }

  /** What the node-join Lambda does with the join token (no attestation: a plain IAM-gated Decrypt). */
  decryptPlain(blob: Uint8Array, context: Record<string, string>): Buffer {
    return this.unwrap(blob, context).plaintext;
  }
}
