// POST /v1/attestation: a verified document bound to the posted CA is stored (204); every refusal is
// a 400 with its reason code; without an enclave build nothing is ever accepted.
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createHandler, type AttestationHandlerDeps } from '../../../lambdas/attestation/handler';
import { MemoryAttestationRecordStore } from '../../../lambdas/shared/attestation/record-store';
import { createClusterCaPem } from '../../support/cluster-ca';
import { certificateSha256, NitroTestCa, TEST_PCRS } from '../../support/nitro-test-ca';
import { StaticPlatformSettings } from '../../../lambdas/shared/attestation/platform-settings';
import { TEST_SETTINGS, testClaims, testSettings } from '../../support/enclave-settings';
import { settingsDigest } from '../../../lambdas/shared/attestation/enclave-claims';

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
    settings: new StaticPlatformSettings(TEST_SETTINGS),
    ...over,
  });
  const goodDocument = async () => Buffer.from((await ca.document({ userData: testClaims(clusterCaPem) })).bytes).toString('base64');

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
    const doc = Buffer.from((await ca.document({ userData: testClaims(clusterCaPem), pcrs: { ...TEST_PCRS, 1: 'cd'.repeat(48) } })).bytes);
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
    const older = Buffer.from((await ca.document({ userData: testClaims(clusterCaPem), timestamp: new Date(ca.now.getTime() - 60_000) })).bytes);
    expect((await handler(post({ document: older.toString('base64'), caCertPem: clusterCaPem }))).statusCode).toBe(204);
    expect(store.record?.timestamp).toBe(ca.now.toISOString());
  });

  it('400 ca_changed for a genuine document that attests another cluster CA (a fresh cluster the host started); the pinned record stays', async () => {
    store = new MemoryAttestationRecordStore();
    const handler = createHandler(deps());
    await handler(post({ document: await goodDocument(), caCertPem: clusterCaPem }));
    const pinned = store.record;
    const otherCaPem = await createClusterCaPem('k3s-server-ca@1800000000');
    const other = Buffer.from((await ca.document({ userData: testClaims(otherCaPem) })).bytes).toString('base64');
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

  describe('boot settings and the snapshot counter (issue 12 items 2 and 5)', () => {
    const docWith = async (claims: Parameters<typeof testClaims>[1], at = ca.now) =>
      Buffer.from((await ca.document({ userData: testClaims(clusterCaPem, claims), timestamp: at })).bytes).toString('base64');

    it('attack: a genuine enclave booted by the host with its own webhook/key settings is refused 400 settings_mismatch', async () => {
      store = new MemoryAttestationRecordStore();
      const hostChosen = [
        testSettings({ apiUrl: 'https://attacker.example.net' }),
        testSettings({ clusterStateKeyId: 'arn:aws:kms:us-east-1:222222222222:key/host-owned' }),
        testSettings({ joinTokenKeyId: 'arn:aws:kms:us-east-1:222222222222:key/host-owned' }),
        testSettings({ tlsSans: ['attacker.example.net'] }),
        testSettings({ kubeconfigSigningKeySpkiSha256: 'ab'.repeat(32) }),
      ];
      for (const settings of hostChosen) {
        const res = await createHandler(deps())(post({ document: await docWith({ settingsDigest: settingsDigest(settings) }), caCertPem: clusterCaPem }));
        expect(res.statusCode).toBe(400);
        expect(JSON.parse(res.body!).error).toBe('settings_mismatch');
      }
      expect(store.record).toBeUndefined();
    });

    it('400 user_data_mismatch for the old layout (only the CA hash) and for a wrong magic or version', async () => {
      store = new MemoryAttestationRecordStore();
      const good = testClaims(clusterCaPem);
      for (const userData of [certificateSha256(clusterCaPem), Buffer.concat([Buffer.from('XXXX'), good.subarray(4)]), Buffer.concat([good.subarray(0, 4), Buffer.from([2]), good.subarray(5)])]) {
        const document = Buffer.from((await ca.document({ userData })).bytes).toString('base64');
        expect(JSON.parse((await createHandler(deps())(post({ document, caCertPem: clusterCaPem }))).body!).error).toBe('user_data_mismatch');
      }
    });

    it('commits the attested snapshot counter, one step at a time', async () => {
      store = new MemoryAttestationRecordStore();
      const handler = createHandler(deps());
      for (const seq of [0, 1, 1, 2]) {
        const res = await handler(post({ document: await docWith({ snapshotSeq: seq }, new Date(ca.now.getTime() - 40_000 + seq * 10_000)), caCertPem: clusterCaPem }));
        expect(res.statusCode).toBe(204);
      }
      expect(store.record).toMatchObject({ snapshotSeq: 2, settingsSha256: settingsDigest(TEST_SETTINGS).toString('hex'), settings: TEST_SETTINGS });
      expect(store.record?.document).toMatch(/^[A-Za-z0-9+/]+=*$/);
    });

    it.each([
      ['an older snapshot (rollback)', 1, undefined, 'snapshot_rollback'],
      ['another snapshot with the committed number (fork)', 2, Buffer.alloc(32, 7), 'snapshot_forked'],
      ['a jump past the next number', 4, undefined, 'snapshot_gap'],
    ])('attack: a newer document claiming %s is refused 400 %s and the committed counter stays', async (_name, seq, sha, code) => {
      store = new MemoryAttestationRecordStore();
      const handler = createHandler(deps());
      expect((await handler(post({ document: await docWith({ snapshotSeq: 2 }, new Date(ca.now.getTime() - 30_000)), caCertPem: clusterCaPem }))).statusCode).toBe(204);
      const res = await handler(post({ document: await docWith({ snapshotSeq: seq, snapshotSha256: sha }), caCertPem: clusterCaPem }));
      expect(res.statusCode).toBe(400);
      expect(JSON.parse(res.body!).error).toBe(code);
      expect(store.record?.snapshotSeq).toBe(2);
    });

    it('503 backend_unavailable (the shared outage rule; never a 500, never a pass) when the signing key cannot be read', async () => {
      store = new MemoryAttestationRecordStore();
      const { SettingsUnavailableError } = await import('../../../lambdas/shared/attestation/platform-settings');
      const res = await createHandler(deps({ settings: { current: () => Promise.reject(new SettingsUnavailableError('kms down')) } }))(
        post({ document: await goodDocument(), caCertPem: clusterCaPem }),
      );
      expect(res.statusCode).toBe(503);
      expect(JSON.parse(res.body!).error).toBe('backend_unavailable');
      expect(store.record).toBeUndefined();
    });
  });
});
