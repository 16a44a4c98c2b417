// GET /v1/issuer publishes the kubeconfig signing key (from KMS), the expected PCRs and the latest attestation.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createPublicKey } from 'node:crypto';
import { createHandler } from '../../../lambdas/issuer/handler';
import { MemoryAttestationRecordStore } from '../../../lambdas/shared/attestation/record-store';
import { KmsKubeconfigSigner } from '../../../lambdas/shared/kubeconfig/kms-signing-key';
import { startFakeKms, type FakeKms } from '../../support/fake-kms';
import { StaticPlatformSettings } from '../../../lambdas/shared/attestation/platform-settings';
import { settingsDigest } from '../../../lambdas/shared/attestation/enclave-claims';
import { TEST_SETTINGS } from '../../support/enclave-settings';

const PCRS = { 0: 'aa'.repeat(48), 1: 'bb'.repeat(48), 2: 'cc'.repeat(48) };
const settings = new StaticPlatformSettings(TEST_SETTINGS);

describe('GET /v1/issuer', () => {
  let kms: FakeKms;
  let signer: KmsKubeconfigSigner;
  beforeAll(async () => {
    kms = await startFakeKms();
    signer = new KmsKubeconfigSigner(new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1' }), kms.keyArn);
  });
  afterAll(() => kms.stop());

  it('returns the KMS public key as PEM, the expected PCRs and the latest attestation', async () => {
    const record = { pcrs: { PCR0: PCRS[0] }, caSha256: 'ee'.repeat(32), caCertPem: 'pem', moduleId: 'm', timestamp: '2026-01-01T00:00:00.000Z', verifiedAt: '2026-01-01T00:00:01.000Z' };
    const res = await createHandler({ clusterId: 'k3s-daas-dev', signer, expectedPcrs: PCRS, store: new MemoryAttestationRecordStore(record), settings })({} as APIGatewayProxyEventV2);
    expect(res.statusCode).toBe(200);
    const body = JSON.parse(res.body!);
    expect(body.clusterId).toBe('k3s-daas-dev');
    expect(body.keyId).toBe(kms.keyArn);
    expect(createPublicKey(body.publicKeyPem).equals(kms.publicKey)).toBe(true);
    expect(body.expectedPcrs).toEqual({ PCR0: PCRS[0], PCR1: PCRS[1], PCR2: PCRS[2] });
    expect(body.attestation).toMatchObject({ caSha256: record.caSha256, timestamp: record.timestamp, pcrs: record.pcrs });
    expect(body.attestation.caCertPem).toBeUndefined();
    // The platform's own settings and their digest: what an enclave must attest, what a user may pin.
    expect(body.settings).toEqual(TEST_SETTINGS);
    expect(body.settingsSha256).toBe(settingsDigest(TEST_SETTINGS).toString('hex'));
    expect(body.attestation).toMatchObject({ document: null, settingsSha256: null, snapshot: null });
  });

  it('publishes the committed snapshot counter and the raw document of the latest attestation', async () => {
    const record = {
      pcrs: { PCR0: PCRS[0] },
      caSha256: 'ee'.repeat(32),
      caCertPem: 'pem',
      moduleId: 'm',
      timestamp: '2026-01-01T00:00:00.000Z',
      verifiedAt: '2026-01-01T00:00:01.000Z',
      settingsSha256: 'cd'.repeat(32),
      settings: TEST_SETTINGS,
      snapshotSeq: 7,
      snapshotSha256: 'ab'.repeat(32),
      document: 'AAAA',
    };
    const res = await createHandler({ clusterId: 'k3s-daas-dev', signer, expectedPcrs: PCRS, store: new MemoryAttestationRecordStore(record), settings })({} as APIGatewayProxyEventV2);
    expect(JSON.parse(res.body!).attestation).toMatchObject({ document: 'AAAA', settingsSha256: 'cd'.repeat(32), snapshot: { seq: 7, sha256: 'ab'.repeat(32) } });
  });

  it('says null for the PCRs and the attestation when there are none (fail-closed environment)', async () => {
    const res = await createHandler({ clusterId: 'k3s-daas-dev', signer, expectedPcrs: undefined, store: new MemoryAttestationRecordStore(), settings })({} as APIGatewayProxyEventV2);
    expect(JSON.parse(res.body!)).toMatchObject({ expectedPcrs: null, attestation: null });
  });

  it('500 internal_error without details when KMS fails', async () => {
    const broken = new KmsKubeconfigSigner(new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1' }), 'arn:aws:kms:us-east-1:111111111111:key/missing');
    const res = await createHandler({ clusterId: 'k3s-daas-dev', signer: broken, expectedPcrs: PCRS, store: new MemoryAttestationRecordStore(), settings })({} as APIGatewayProxyEventV2);
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body!)).toEqual({ error: 'internal_error', message: 'the request could not be processed' });
  });
});
