// KMS as the enclave uses it. Decrypt and GenerateDataKey always carry a `Recipient` (attestation
// document + RSA key), so KMS evaluates the `kms:RecipientAttestation:*` conditions of the
// cluster-state key policy and answers with `CiphertextForRecipient` only; a response carrying
// plaintext instead is refused. The SDK client reaches KMS through the host's vsock-proxy via the
// supervisor's loopback bridge (see main.ts), with credentials the host agent hands in.
import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  type DecryptCommandInput,
  type DecryptCommandOutput,
  type EncryptCommandInput,
  type EncryptCommandOutput,
  type GenerateDataKeyCommandInput,
  type GenerateDataKeyCommandOutput,
} from '@aws-sdk/client-kms';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Attester, RecipientKey } from './recipient';

/** The three KMS operations, so tests can put a fake KMS behind the real enclave logic. */
export interface KmsApi {
  generateDataKey(input: GenerateDataKeyCommandInput): Promise<GenerateDataKeyCommandOutput | Omit<GenerateDataKeyCommandOutput, '$metadata'>>;
  decrypt(input: DecryptCommandInput): Promise<DecryptCommandOutput | Omit<DecryptCommandOutput, '$metadata'>>;
  encrypt(input: EncryptCommandInput): Promise<EncryptCommandOutput | Omit<EncryptCommandOutput, '$metadata'>>;
}

export function sdkKmsApi(client: KMSClient): KmsApi {
  return {
    generateDataKey: (input) => client.send(new GenerateDataKeyCommand(input)),
    decrypt: (input) => client.send(new DecryptCommand(input)),
    encrypt: (input) => client.send(new EncryptCommand(input)),
  };
}

/**
 * A KMS client for inside the enclave: regional endpoint (resolved to the loopback bridge through the
 * enclave's /etc/hosts), host-provided credentials refreshed through `credentials`.
 */
export function enclaveKmsClient(opts: { region: string; credentials: AwsCredentialIdentityProvider; endpoint?: string }): KMSClient {
  return new KMSClient({
    region: opts.region,
    credentials: opts.credentials,
    endpoint: opts.endpoint ?? `https://kms.${opts.region}.amazonaws.com`,
    maxAttempts: 5,
  });
}

export type EncryptionContext = Record<string, string>;

export class KmsRecipientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KmsRecipientError';
  }
}

export class EnclaveKms {
  constructor(
    private readonly kms: KmsApi,
    private readonly key: RecipientKey,
    private readonly attester: Attester,
  ) {}

  /** A fresh 256-bit data key: plaintext (opened in the enclave) and its KMS ciphertext blob. */
  async generateDataKey(keyId: string, context: EncryptionContext): Promise<{ plaintext: Buffer; ciphertextBlob: Uint8Array }> {
    const out = await this.kms.generateDataKey({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context, Recipient: await this.key.recipient(this.attester) });
    if (!out.CiphertextBlob) throw new KmsRecipientError('GenerateDataKey returned no CiphertextBlob');
    const plaintext = this.openForRecipient(out.CiphertextForRecipient, out.Plaintext, 'GenerateDataKey');
    if (plaintext.length !== 32) throw new KmsRecipientError(`GenerateDataKey returned a ${plaintext.length}-byte key`);
    return { plaintext, ciphertextBlob: out.CiphertextBlob };
  }

  async decrypt(ciphertextBlob: Uint8Array, context: EncryptionContext, keyId?: string): Promise<Buffer> {
    const out = await this.kms.decrypt({ CiphertextBlob: ciphertextBlob, EncryptionContext: context, KeyId: keyId, Recipient: await this.key.recipient(this.attester) });
    return this.openForRecipient(out.CiphertextForRecipient, out.Plaintext, 'Decrypt');
  }

  /** Plain Encrypt (no recipient needed: the result is ciphertext), e.g. a bootstrap-token secret for the join key. */
  async encrypt(keyId: string, plaintext: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    const out = await this.kms.encrypt({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: context });
    if (!out.CiphertextBlob) throw new KmsRecipientError('Encrypt returned no CiphertextBlob');
    return out.CiphertextBlob;
  }

  private openForRecipient(forRecipient: Uint8Array | undefined, plaintext: Uint8Array | undefined, op: string): Buffer {
    // KMS omits Plaintext when a Recipient is given; if one shows up, something in between is not KMS.
    if (plaintext && plaintext.length > 0) throw new KmsRecipientError(`${op} returned plaintext despite the Recipient; refusing it`);
    if (!forRecipient) throw new KmsRecipientError(`${op} returned no CiphertextForRecipient`);
    return this.key.open(forRecipient);
  }
}
