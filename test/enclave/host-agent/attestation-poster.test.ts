// The host agent relays attestation documents to POST /v1/attestation, SigV4-signed for execute-api.
// A local HTTP server plays API Gateway: it re-computes the signature from what it received (the
// same way IAM auth does, with @smithy/signature-v4) and runs the attestation route's verifier.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { relayAttestation, signedAttestationRequest } from '../../../enclave/src/host-agent/attestation-poster';
import { createAttestationServer } from '../../../enclave/src/supervisor/attestation-server';
import { verifyClusterAttestation } from '../../../lambdas/shared/attestation/cluster-attestation';
import { createClusterCaPem } from '../../support/cluster-ca';
import { NitroTestCa, TEST_PCRS } from '../../support/nitro-test-ca';
import { TEST_PLATFORM_SETTINGS } from '../../support/enclave-settings';
import { NO_SNAPSHOT } from '../../../lambdas/shared/attestation/enclave-claims';

const claimsDeps = { settingsSha256: TEST_PLATFORM_SETTINGS.digest, snapshot: () => NO_SNAPSHOT };
import { testCaAttester } from '../support/fake-nitro';

const REGION = 'us-east-1';
const CREDS = { accessKeyId: 'ASIAEXAMPLEMASTER000', secretAccessKey: 'master-secret', sessionToken: 'master-session' };

interface Received {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Re-signs the received request with `credentials` at its own x-amz-date; true when the signatures match. */
async function signatureValid(req: Received, credentials: typeof CREDS): Promise<boolean> {
  const amzDate = req.headers['x-amz-date'];
  if (!amzDate || !req.headers.authorization) return false;
  // Like API Gateway: a declared payload hash must be the hash of the body actually received.
  const declared = req.headers['x-amz-content-sha256'];
  if (declared && declared !== crypto.createHash('sha256').update(req.body).digest('hex')) return false;
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(req.headers.authorization)?.[1].split(';') ?? [];
  const headers = Object.fromEntries(signedHeaders.map((h) => [h, req.headers[h]]));
  const date = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const resigned = await new SignatureV4({ service: 'execute-api', region: REGION, credentials, sha256: Sha256 }).sign(
    new HttpRequest({ method: req.method, protocol: 'http:', hostname: headers.host.split(':')[0], port: Number(headers.host.split(':')[1]), path: req.path, headers, body: req.body }),
    { signingDate: date },
  );
  return resigned.headers.authorization === req.headers.authorization;
}

let ca: NitroTestCa;
let caPem: string;
let enclave: http.Server;
let api: http.Server;
let enclaveUrl: string;
let apiUrl: string;
const received: Received[] = [];
const verdicts: unknown[] = [];

beforeAll(async () => {
  ca = await NitroTestCa.create();
  caPem = await createClusterCaPem();
  enclave = createAttestationServer({ attester: testCaAttester(ca, TEST_PCRS), readCaCertPem: async () => caPem, ...claimsDeps });
  api = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      const r: Received = { method: req.method!, path: req.url!, headers: req.headers as Record<string, string>, body };
      received.push(r);
      if (!(await signatureValid(r, CREDS))) {
        res.writeHead(403).end('{"message":"Forbidden"}');
        return;
      }
      const verdict = await verifyClusterAttestation(JSON.parse(body), {
        expectedPcrs: { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] },
        now: new Date(),
        maxDocumentAgeMs: 300_000,
        rootPem: ca.rootPem,
        platformSettings: TEST_PLATFORM_SETTINGS,
      });
      verdicts.push(verdict);
      res.writeHead((verdict as { ok: boolean }).ok ? 204 : 400).end();
    });
  });
  for (const s of [enclave, api]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  enclaveUrl = `http://127.0.0.1:${(enclave.address() as AddressInfo).port}`;
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  for (const s of [enclave, api]) await new Promise<void>((r) => s.close(() => r()));
});

describe('attestation relay', () => {
  it('posts {document, caCertPem} to /v1/attestation with a valid SigV4 signature, and the route accepts it', async () => {
    received.length = 0;
    await relayAttestation({ enclaveUrl, apiUrl, region: REGION, credentials: async () => CREDS });
    expect(received).toHaveLength(1);
    const [req] = received;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/attestation');
    expect(req.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEMASTER000\/\d{8}\/us-east-1\/execute-api\/aws4_request, SignedHeaders=[^ ]*host/);
    expect(req.headers['x-amz-security-token']).toBe('master-session');
    expect(JSON.parse(req.body)).toEqual({ document: expect.any(String), caCertPem: caPem });
    expect(verdicts.at(-1)).toMatchObject({ ok: true });
  });

  it('a signature made with other credentials does not verify (the check above can fail)', async () => {
    const signed = await signedAttestationRequest({ apiUrl, region: REGION, credentials: { ...CREDS, secretAccessKey: 'wrong' }, body: '{}' });
    const r: Received = { method: 'POST', path: signed.path, headers: signed.headers, body: '{}' };
    expect(await signatureValid(r, CREDS)).toBe(false);
    expect(await signatureValid({ ...r, body: '{"tampered":1}' }, { ...CREDS, secretAccessKey: 'wrong' })).toBe(false);
    expect(await signatureValid(r, { ...CREDS, secretAccessKey: 'wrong' })).toBe(true);
  });

  it('keeps a stage path of the API URL', async () => {
    const signed = await signedAttestationRequest({ apiUrl: 'https://abc.execute-api.us-east-1.amazonaws.com/prod', region: REGION, credentials: CREDS, body: '{}' });
    expect(signed.path).toBe('/prod/v1/attestation');
    expect(signed.headers.host).toBe('abc.execute-api.us-east-1.amazonaws.com');
  });

  it('fails loudly when the route refuses the post', async () => {
    await expect(relayAttestation({ enclaveUrl, apiUrl, region: REGION, credentials: async () => ({ ...CREDS, secretAccessKey: 'wrong' }) })).rejects.toThrow(
      /POST \/v1\/attestation answered 403/,
    );
  });
});
