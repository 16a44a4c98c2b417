// Kubeconfig signatures made through KMS (a local server speaking the KMS wire format) verify with the
// published public key, and nothing else does.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KMSClient } from '@aws-sdk/client-kms';
import fc from 'fast-check';
import { generateKeyPairSync, sign } from 'node:crypto';
import { KmsKubeconfigSigner } from '../../../../lambdas/shared/kubeconfig/kms-signing-key';
import { kubeconfigDigest, verifyKubeconfigSignature } from '../../../../lambdas/shared/kubeconfig/kubeconfig-signature';
import { startFakeKms, type FakeKms } from '../../../support/fake-kms';

const KUBECONFIG = 'apiVersion: v1\nkind: Config\nclusters: []\n';

describe('KMS kubeconfig signatures', () => {
  let kms: FakeKms;
  let signer: KmsKubeconfigSigner;
  beforeAll(async () => {
    kms = await startFakeKms();
    signer = new KmsKubeconfigSigner(new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1' }), kms.keyArn);
  });
  afterAll(() => kms.stop());

  it('signs the SHA-256 digest with KMS Sign (DIGEST, ECDSA_SHA_256) and the signature verifies over the bytes with GetPublicKey', async () => {
    const signature = await signer.sign(KUBECONFIG);
    expect(kms.calls.find((c) => c.op === 'Sign')?.body).toMatchObject({
      KeyId: kms.keyArn,
      Message: kubeconfigDigest(KUBECONFIG).toString('base64'),
      MessageType: 'DIGEST',
      SigningAlgorithm: 'ECDSA_SHA_256',
    });
    expect(verifyKubeconfigSignature(KUBECONFIG, signature, await signer.publicKeyPem())).toBe(true);
  });

  it('fetches the public key once per container', async () => {
    const before = kms.calls.filter((c) => c.op === 'GetPublicKey').length;
    const fresh = new KmsKubeconfigSigner(new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1' }), kms.keyArn);
    await fresh.publicKeyPem();
    await fresh.publicKeyPem();
    expect(kms.calls.filter((c) => c.op === 'GetPublicKey').length - before).toBe(1);
  });

  it('a kubeconfig changed in any one byte no longer verifies', async () => {
    const signature = await signer.sign(KUBECONFIG);
    const pem = await signer.publicKeyPem();
    fc.assert(
      fc.property(fc.nat({ max: KUBECONFIG.length - 1 }), fc.integer({ min: 1, max: 127 }), (i, xor) => {
        const changed = KUBECONFIG.slice(0, i) + String.fromCharCode(KUBECONFIG.charCodeAt(i) ^ xor) + KUBECONFIG.slice(i + 1);
        expect(verifyKubeconfigSignature(changed, signature, pem)).toBe(false);
      }),
    );
  });

  it('a signature by another P-256 key does not verify', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const signature = sign('sha256', Buffer.from(KUBECONFIG), other.privateKey).toString('base64');
    expect(verifyKubeconfigSignature(KUBECONFIG, signature, await signer.publicKeyPem())).toBe(false);
  });

  it('garbage signatures and keys are refused, not thrown', async () => {
    const pem = await signer.publicKeyPem();
    for (const [sig, key] of [
      ['', pem],
      ['not base64!', pem],
      ['AAAA', pem],
      [await signer.sign(KUBECONFIG), 'not a pem'],
      [await signer.sign(KUBECONFIG), generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString()],
    ]) {
      expect(verifyKubeconfigSignature(KUBECONFIG, sig, key)).toBe(false);
    }
  });

  it('a kubeconfig over the 4096-byte KMS RAW limit is signed (DIGEST has no size cap)', async () => {
    const big = `${KUBECONFIG}# ${'x'.repeat(20_000)}\n`;
    const signature = await signer.sign(big);
    expect(verifyKubeconfigSignature(big, signature, await signer.publicKeyPem())).toBe(true);
  });

  it('the fake KMS signs digests as real ECDSA: many signatures all verify with node:crypto', async () => {
    const pem = await signer.publicKeyPem();
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1 }), async (text) => {
        expect(verifyKubeconfigSignature(text, await signer.sign(text), pem)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });
});
