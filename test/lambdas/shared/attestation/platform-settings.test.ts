// The platform's own enclave settings: computed from the deployment's environment and the signing
// key's public key (real KMS client against the local KMS wire fake), cached, never cached on failure;
// `servesCluster` is the rule the kubeconfig and node-join routes share.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KMSClient } from '@aws-sdk/client-kms';
import { settingsDigest, spkiSha256 } from '../../../../lambdas/shared/attestation/enclave-claims';
import { EnvPlatformSettings, SettingsUnavailableError, servesCluster, type PlatformSettingsEnv } from '../../../../lambdas/shared/attestation/platform-settings';
import { startFakeKms, type FakeKms } from '../../../support/fake-kms';
import { attestationRecordFor, createClusterCaPem } from '../../../support/cluster-ca';

let kms: FakeKms;
beforeAll(async () => {
  kms = await startFakeKms();
});
afterAll(() => kms.stop());

const env = (over: Partial<PlatformSettingsEnv> = {}): PlatformSettingsEnv => ({
  CLUSTER_ID: 'k3s-daas-dev',
  API_URL: 'https://abc123.execute-api.us-east-1.amazonaws.com',
  CLUSTER_STATE_KEY_ID: 'arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555',
  JOIN_TOKEN_KEY_ID: 'arn:aws:kms:us-east-1:111111111111:key/66666666-7777-8888-9999-000000000000',
  KUBECONFIG_SIGNING_KEY_ARN: kms.keyArn,
  SERVER_URL: 'https://K3s-NLB.elb.us-east-1.amazonaws.com:6443',
  ...over,
});

describe('platform settings', () => {
  it('are the canonical settings of the deployment, with the SPKI hash of the KMS signing key and the server host as the SAN', async () => {
    const client = new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1' });
    const { settings, digest } = await new EnvPlatformSettings(env(), client).current();
    expect(settings).toEqual({
      v: 1,
      clusterId: 'k3s-daas-dev',
      apiUrl: 'https://abc123.execute-api.us-east-1.amazonaws.com',
      webhookUrl: 'https://abc123.execute-api.us-east-1.amazonaws.com/v1/authenticate',
      clusterStateKeyId: env().CLUSTER_STATE_KEY_ID,
      joinTokenKeyId: env().JOIN_TOKEN_KEY_ID,
      tlsSans: ['k3s-nlb.elb.us-east-1.amazonaws.com'],
      kubeconfigSigningKeySpkiSha256: spkiSha256(kms.publicKey.export({ format: 'der', type: 'spki' })),
    });
    expect(digest).toEqual(settingsDigest(settings));
  });

  it('reads the public key once per container, and a failure is not cached', async () => {
    const client = new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1', maxAttempts: 1 });
    // KMS not answering is an outage (the shared 503); a key KMS does not know is a deployment bug (500), not an outage.
    const unreachable = new EnvPlatformSettings(env(), new KMSClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }));
    await expect(unreachable.current()).rejects.toBeInstanceOf(SettingsUnavailableError);
    await expect(unreachable.current()).rejects.toBeInstanceOf(SettingsUnavailableError);
    const broken = new EnvPlatformSettings(env({ KUBECONFIG_SIGNING_KEY_ARN: 'arn:aws:kms:us-east-1:111111111111:key/missing' }), client);
    await expect(broken.current()).rejects.toMatchObject({ name: 'NotFoundException' });
    await expect(broken.current()).rejects.toMatchObject({ name: 'NotFoundException' });
    const good = new EnvPlatformSettings(env(), client);
    const before = kms.calls.filter((c) => c.op === 'GetPublicKey').length;
    await good.current();
    await good.current();
    expect(kms.calls.filter((c) => c.op === 'GetPublicKey').length).toBe(before + 1);
  });

  it('servesCluster: only a record carrying exactly the platform digest', async () => {
    const record = attestationRecordFor(await createClusterCaPem(), new Date());
    const digest = Buffer.from(record.settingsSha256!, 'hex');
    expect(servesCluster(record, digest)).toEqual({ ok: true });
    expect(servesCluster(record, Buffer.alloc(32))).toMatchObject({ ok: false, reason: 'settings_mismatch' });
    expect(servesCluster({ ...record, settingsSha256: undefined }, digest)).toMatchObject({ ok: false, reason: 'settings_mismatch' });
  });
});
