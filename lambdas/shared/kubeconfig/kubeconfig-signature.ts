// Kubeconfig signatures (DESIGN §4): ECDSA P-256 over SHA-256 of the kubeconfig's UTF-8 bytes, DER
// encoded, made by the platform's KMS key (ECDSA_SHA_256) and checked by the CLI with the key that
// `GET /v1/issuer` publishes. Verification only needs node:crypto, so the CLI bundle stays small.
import { createHash, createPublicKey, verify } from 'node:crypto';

/** What the KMS key signs: SHA-256 of the exact bytes the user will write to disk. */
export function kubeconfigDigest(kubeconfig: string): Buffer {
  return createHash('sha256').update(Buffer.from(kubeconfig, 'utf8')).digest();
}

/** True only when `signatureBase64` is a valid DER ECDSA P-256 signature of `kubeconfig` by `publicKeyPem`. */
export function verifyKubeconfigSignature(kubeconfig: string, signatureBase64: string, publicKeyPem: string): boolean {
  let key;
  try {
    key = createPublicKey(publicKeyPem);
  } catch {
    return false;
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return false;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureBase64)) return false;
  try {
    return verify('sha256', Buffer.from(kubeconfig, 'utf8'), { key, dsaEncoding: 'der' }, Buffer.from(signatureBase64, 'base64'));
  } catch {
    return false;
  }
}

/** PEM (SPKI) of a DER SubjectPublicKeyInfo, as KMS `GetPublicKey` returns it. */
export function spkiDerToPem(der: Uint8Array): string {
  return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString();
}
