// POST /v1/attestation: a verified document bound to the posted CA is stored (204); every refusal is
// a 400 with its reason code; without an enclave build nothing is ever accepted.
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createHandler, type AttestationHandlerDeps } from '../../../lambdas/attestation/handler';
import { MemoryAttestationRecordStore } from '../../../lambdas/shared/attestation/record-store';
import { createClusterCaPem } from '../../support/cluster-ca';
import { certificateSha256, NitroTestCa, TEST_PCRS } from '../../support/nitro-test-ca';

function post(body: unknown, raw?: string): APIGatewayProxyEventV2 {
  return { body: raw ?? JSON.stringify(body), isBase64Encoded: false } as APIGatewayProxyEventV2;
}

describe('POST /v1/attestation', () => {
  let ca: NitroTestCa;
  let clusterCaPem: string;
  let store: MemoryAttestationRecordStore;
  const deps = (over: Partial<AttestationHandlerDeps> = {}): AttestationHandlerDeps => ({
    expectedPcrs: { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] },
    store,
    now: () => ca.now,
    maxDocumentAgeMs: 300_000,
    rootPem: ca.rootPem,
    ...over,
  });
  const goodDocument = async () => Buffer.from((await ca.document({ userData: certificateSha256(clusterCaPem) })).bytes).toString('base64');

  beforeAll(async () => {
    ca = await NitroTestCa.create();
    clusterCaPem = await createClusterCaPem();
  });

  it('stores the latest record and answers 204 for a verified document bound to the CA', async () => {
    store = new MemoryAttestationRecordStore();
    const res = await createHandler(deps())(post({ document: await goodDocument(), caCertPem: clusterCaPem }));
    expect(res.statusCode).toBe(204);
    expect(store.record).toMatchObject({
      pcrs: { PCR0: TEST_PCRS[0], PCR1: TEST_PCRS[1], PCR2: TEST_PCRS[2] },
      caSha256: Buffer.from(certificateSha256(clusterCaPem)).toString('hex'),
      timestamp: ca.now.toISOString(),
      verifiedAt: ca.now.toISOString(),
    });
  });

  it('400 user_data_mismatch when user_data is not the SHA-256 of the posted CA', async () => {
    store = new MemoryAttestationRecordStore();
    const other = await createClusterCaPem('another-ca');
    const res = await createHandler(deps())(post({ document: await goodDocument(), caCertPem: other }));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body!).error).toBe('user_data_mismatch');
    expect(store.record).toBeUndefined();
  });

  it('400 with the verifier reason for a document that fails verification', async () => {
    store = new MemoryAttestationRecordStore();
    const doc = Buffer.from((await ca.document({ userData: certificateSha256(clusterCaPem), pcrs: { ...TEST_PCRS, 1: 'cd'.repeat(48) } })).bytes);
    const res = await createHandler(deps())(post({ document: doc.toString('base64'), caCertPem: clusterCaPem }));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body!).error).toBe('pcr_mismatch');
  });

  it('400 untrusted_chain against the real AWS root', async () => {
    store = new MemoryAttestationRecordStore();
    const res = await createHandler(deps({ rootPem: undefined }))(post({ document: await goodDocument(), caCertPem: clusterCaPem }));
    expect(JSON.parse(res.body!).error).toBe('untrusted_chain');
  });

  it('400 stale for a document older than the maximum document age', async () => {
    store = new MemoryAttestationRecordStore();
    const res = await createHandler(deps({ now: () => new Date(ca.now.getTime() + 400_000) }))(
      post({ document: await goodDocument(), caCertPem: clusterCaPem }),
    );
    expect(JSON.parse(res.body!).error).toBe('stale');
  });

  it('fails closed: 503 no_expected_pcrs for every document when the environment has no enclave build', async () => {
    store = new MemoryAttestationRecordStore();
    const res = await createHandler(deps({ expectedPcrs: undefined }))(post({ document: await goodDocument(), caCertPem: clusterCaPem }));
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!).error).toBe('no_expected_pcrs');
    expect(store.record).toBeUndefined();
  });

  it('an older document never replaces a newer record', async () => {
    store = new MemoryAttestationRecordStore();
    const handler = createHandler(deps());
    await handler(post({ document: await goodDocument(), caCertPem: clusterCaPem }));
    const older = Buffer.from((await ca.document({ userData: certificateSha256(clusterCaPem), timestamp: new Date(ca.now.getTime() - 60_000) })).bytes);
    expect((await handler(post({ document: older.toString('base64'), caCertPem: clusterCaPem }))).statusCode).toBe(204);
    expect(store.record?.timestamp).toBe(ca.now.toISOString());
  });

  it('400 ca_changed for a genuine document that attests another cluster CA (a fresh cluster the host started); the pinned record stays', async () => {
    store = new MemoryAttestationRecordStore();
    const handler = createHandler(deps());
    await handler(post({ document: await goodDocument(), caCertPem: clusterCaPem }));
    const pinned = store.record;
    const otherCaPem = await createClusterCaPem('k3s-server-ca@1800000000');
    const other = Buffer.from((await ca.document({ userData: certificateSha256(otherCaPem) })).bytes).toString('base64');
    const res = await handler(post({ document: other, caCertPem: otherCaPem }));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body!).error).toBe('ca_changed');
    expect(store.record).toEqual(pinned);
  });

  it.each([
    ['invalid JSON', undefined, '{not json', 400, 'invalid_json'],
    ['a missing document', { caCertPem: 'x' }, undefined, 400, 'invalid_request'],
    ['an unknown field', { document: 'AAAA', caCertPem: 'x', extra: 1 }, undefined, 400, 'invalid_request'],
    ['a document that is not base64', { document: '!!!!', caCertPem: 'PEM' }, undefined, 400, 'malformed'],
    ['an oversize body', undefined, JSON.stringify({ document: 'A'.repeat(20_000), caCertPem: 'x' }), 413, 'payload_too_large'],
  ])('%s is a clean 4xx', async (_name, body, raw, status, code) => {
    store = new MemoryAttestationRecordStore();
    const res = await createHandler(deps())(post(body, raw));
    expect(res.statusCode).toBe(status);
    expect(JSON.parse(res.body!).error).toBe(code);
  });

  it('400 invalid_ca_certificate for a CA that is not a certificate or not a CA', async () => {
    store = new MemoryAttestationRecordStore();
    const handler = createHandler(deps());
    const document = await goodDocument();
    expect(JSON.parse((await handler(post({ document, caCertPem: 'garbage' }))).body!).error).toBe('invalid_ca_certificate');
    const leafPem = (await ca.document()).leaf.pem;
    expect(JSON.parse((await handler(post({ document, caCertPem: leafPem }))).body!).error).toBe('invalid_ca_certificate');
  });
});
