// GET /v1/issuer publishes the kubeconfig signing key (from KMS), the expected PCRs and the latest attestation.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createPublicKey } from 'node:crypto';
import { createHandler } from '../../../lambdas/issuer/handler';
import { MemoryAttestationRecordStore } from '../../../lambdas/shared/attestation/record-store';
import { KmsKubeconfigSigner } from '../../../lambdas/shared/kubeconfig/kms-signing-key';
import { startFakeKms, type FakeKms } from '../../support/fake-kms';

const PCRS = { 0: 'aa'.repeat(48), 1: 'bb'.repeat(48), 2: 'cc'.repeat(48) };

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
    const res = await createHandler({ clusterId: 'k3s-daas-dev', signer, expectedPcrs: PCRS, store: new MemoryAttestationRecordStore(record) })({} as APIGatewayProxyEventV2);
    expect(res.statusCode).toBe(200);
    const body = JSON.parse(res.body!);
    expect(body.clusterId).toBe('k3s-daas-dev');
    expect(body.keyId).toBe(kms.keyArn);
    expect(createPublicKey(body.publicKeyPem).equals(kms.publicKey)).toBe(true);
    expect(body.expectedPcrs).toEqual({ PCR0: PCRS[0], PCR1: PCRS[1], PCR2: PCRS[2] });
    expect(body.attestation).toMatchObject({ caSha256: record.caSha256, timestamp: record.timestamp, pcrs: record.pcrs });
    expect(body.attestation.caCertPem).toBeUndefined();
  });

  it('says null for the PCRs and the attestation when there are none (fail-closed environment)', async () => {
    const res = await createHandler({ clusterId: 'k3s-daas-dev', signer, expectedPcrs: undefined, store: new MemoryAttestationRecordStore() })({} as APIGatewayProxyEventV2);
    expect(JSON.parse(res.body!)).toMatchObject({ expectedPcrs: null, attestation: null });
  });

  it('500 internal_error without details when KMS fails', async () => {
    const broken = new KmsKubeconfigSigner(new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1' }), 'arn:aws:kms:us-east-1:111111111111:key/missing');
    const res = await createHandler({ clusterId: 'k3s-daas-dev', signer: broken, expectedPcrs: PCRS, store: new MemoryAttestationRecordStore() })({} as APIGatewayProxyEventV2);
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body!)).toEqual({ error: 'internal_error', message: 'the request could not be processed' });
  });
});
