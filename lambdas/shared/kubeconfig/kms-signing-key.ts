// The kubeconfig signing key in AWS KMS (ECC_NIST_P256, SIGN_VERIFY): `Sign` for the kubeconfig
// Lambda, `GetPublicKey` for the issuer Lambda. The public key never changes for a key id, so it is
// fetched once per container.
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { kubeconfigDigest, spkiDerToPem } from './kubeconfig-signature';

export interface KubeconfigSigner {
  readonly keyId: string;
  /** Base64 DER ECDSA P-256 signature over SHA-256 of the UTF-8 bytes. */
  sign(kubeconfig: string): Promise<string>;
  publicKeyPem(): Promise<string>;
}

export class KmsKubeconfigSigner implements KubeconfigSigner {
  private publicKey?: Promise<string>;

  constructor(
    private readonly kms: Pick<KMSClient, 'send'>,
    readonly keyId: string,
  ) {}

  async sign(kubeconfig: string): Promise<string> {
    // KMS caps RAW messages at 4096 bytes; signing the SHA-256 digest (DIGEST) gives the same ECDSA_SHA_256
    // signature over the kubeconfig bytes with no size limit (several CAs, long URLs).
    const out = await this.kms.send(
      new SignCommand({ KeyId: this.keyId, Message: kubeconfigDigest(kubeconfig), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }),
    );
    if (!out.Signature) throw new Error('KMS Sign returned no signature');
    return Buffer.from(out.Signature).toString('base64');
  }

  publicKeyPem(): Promise<string> {
    this.publicKey ??= this.fetchPublicKey().catch((error: unknown) => {
      this.publicKey = undefined; // a failed fetch must not be cached
      throw error;
    });
    return this.publicKey;
  }

  private async fetchPublicKey(): Promise<string> {
    const out = await this.kms.send(new GetPublicKeyCommand({ KeyId: this.keyId }));
    if (!out.PublicKey) throw new Error('KMS GetPublicKey returned no key');
    if (out.KeySpec !== 'ECC_NIST_P256' || out.KeyUsage !== 'SIGN_VERIFY') {
      throw new Error(`KMS key ${this.keyId} is ${out.KeySpec}/${out.KeyUsage}, expected ECC_NIST_P256/SIGN_VERIFY`);
    }
    return spkiDerToPem(out.PublicKey);
  }
}
