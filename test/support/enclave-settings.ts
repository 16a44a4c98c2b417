// Canonical enclave boot settings for tests: what a platform computes from its environment and an
// enclave attests (lambdas/shared/attestation/enclave-claims.ts), with a real P-256 signing key.
import * as crypto from 'node:crypto';
import { createHash, X509Certificate } from 'node:crypto';
import { canonicalSettings, encodeClaims, NO_SNAPSHOT, settingsDigest, spkiSha256, type EnclaveSettings } from '../../lambdas/shared/attestation/enclave-claims';

export const TEST_SIGNING_KEY = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
export const TEST_SIGNING_SPKI = TEST_SIGNING_KEY.publicKey.export({ format: 'der', type: 'spki' });
export const TEST_SIGNING_PEM = TEST_SIGNING_KEY.publicKey.export({ format: 'pem', type: 'spki' }).toString();

export function testSettings(overrides: Partial<Parameters<typeof canonicalSettings>[0]> = {}): EnclaveSettings {
  return canonicalSettings({
    clusterId: 'k3s-daas-dev',
    apiUrl: 'https://abc123.execute-api.us-east-1.amazonaws.com',
    clusterStateKeyId: 'arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555',
    joinTokenKeyId: 'arn:aws:kms:us-east-1:111111111111:key/66666666-7777-8888-9999-000000000000',
    tlsSans: ['k3s-nlb.elb.us-east-1.amazonaws.com'],
    kubeconfigSigningKeySpkiSha256: spkiSha256(TEST_SIGNING_SPKI),
    ...overrides,
  });
}

export const TEST_SETTINGS = testSettings();
export const TEST_PLATFORM_SETTINGS = { settings: TEST_SETTINGS, digest: settingsDigest(TEST_SETTINGS) };

/** The `user_data` an enclave with `settings` and the given newest snapshot attests for the CA `caPem`. */
export function testClaims(caPem: string, options: { settingsDigest?: Buffer; snapshotSeq?: number; snapshotSha256?: Buffer } = {}): Buffer {
  const seq = BigInt(options.snapshotSeq ?? 0);
  return encodeClaims({
    caSha256: createHash('sha256').update(new X509Certificate(caPem).raw).digest(),
    settingsSha256: options.settingsDigest ?? TEST_PLATFORM_SETTINGS.digest,
    snapshot: { seq, sha256: options.snapshotSha256 ?? (seq === 0n ? NO_SNAPSHOT.sha256 : createHash('sha256').update(`snapshot ${seq}`).digest()) },
  });
}
