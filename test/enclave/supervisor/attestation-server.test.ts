// What the enclave hands out: attestation documents binding the cluster CA, checked with the same
// verifier the attestation route uses (the bootstrap-token pool has its own test).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { caSha256, createAttestationServer } from '../../../enclave/src/supervisor/attestation-server';
import { verifyClusterAttestation } from '../../../lambdas/shared/attestation/cluster-attestation';
import { createClusterCaPem } from '../../support/cluster-ca';
import { NitroTestCa, TEST_PCRS } from '../../support/nitro-test-ca';
import { TEST_PLATFORM_SETTINGS } from '../../support/enclave-settings';
import { decodeClaims, NO_SNAPSHOT } from '../../../lambdas/shared/attestation/enclave-claims';
import { testCaAttester } from '../support/fake-nitro';

const claimsDeps = { settingsSha256: TEST_PLATFORM_SETTINGS.digest, snapshot: () => NO_SNAPSHOT };

let ca: NitroTestCa;
let clusterCaPem: string;
let server: http.Server;
let base: string;
let caAvailable = true;

beforeAll(async () => {
  ca = await NitroTestCa.create();
  clusterCaPem = await createClusterCaPem();
  server = createAttestationServer({
    attester: testCaAttester(ca, TEST_PCRS),
    readCaCertPem: async () => {
      if (!caAvailable) throw new Error('server-ca.crt not written yet');
      return clusterCaPem;
    },
    ...claimsDeps,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('attestation server', () => {
  it('serves a document whose user_data claims the CA DER hash, the settings digest and the snapshot, accepted by the attestation route verifier', async () => {
    const res = await fetch(`${base}/attestation?nonce=${'ab'.repeat(32)}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { document: string; caCertPem: string };
    expect(body.caCertPem).toBe(clusterCaPem);
    const verdict = await verifyClusterAttestation(body, {
      expectedPcrs: { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] },
      now: ca.now,
      maxDocumentAgeMs: 300_000,
      rootPem: ca.rootPem,
      platformSettings: TEST_PLATFORM_SETTINGS,
    });
    expect(verdict).toMatchObject({ ok: true, record: { caSha256: caSha256(clusterCaPem).toString('hex') } });
  });

  it('never binds a public key into a served document (the host could use one as a KMS Recipient), whatever the query says', async () => {
    const requests: { publicKey?: Uint8Array; userData?: Uint8Array; nonce?: Uint8Array }[] = [];
    const recording = createAttestationServer({
      attester: { attestation: (req) => (requests.push(req), testCaAttester(ca, TEST_PCRS).attestation(req)) },
      readCaCertPem: async () => clusterCaPem,
      ...claimsDeps,
    });
    await new Promise<void>((resolve) => recording.listen(0, '127.0.0.1', resolve));
    try {
      const port = (recording.address() as AddressInfo).port;
      const res = await fetch(`http://127.0.0.1:${port}/attestation?nonce=ab&public_key=${'cd'.repeat(32)}&publicKey=${'cd'.repeat(32)}`);
      expect(res.status).toBe(200);
      expect(requests).toHaveLength(1);
      expect(requests[0].publicKey).toBeUndefined();
      expect(decodeClaims(requests[0].userData)).toEqual({
        ok: true,
        claims: { caSha256: caSha256(clusterCaPem), settingsSha256: TEST_PLATFORM_SETTINGS.digest, snapshot: NO_SNAPSHOT },
      });
    } finally {
      await new Promise<void>((resolve) => recording.close(() => resolve()));
    }
  });

  it('refuses a nonce that is not 1-512 bytes of hex', async () => {
    for (const nonce of ['xyz', 'abc', 'ab'.repeat(513)]) {
      const res = await fetch(`${base}/attestation?nonce=${nonce}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'bad_nonce' });
    }
  });

  it('answers 503 until the cluster CA exists, and 404 elsewhere', async () => {
    caAvailable = false;
    try {
      expect((await fetch(`${base}/attestation`)).status).toBe(503);
    } finally {
      caAvailable = true;
    }
    expect((await fetch(`${base}/other`)).status).toBe(404);
  });
});
