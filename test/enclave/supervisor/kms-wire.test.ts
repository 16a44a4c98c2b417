// KMS Recipient requests on the wire: the real SDK client (as the enclave builds it) against a local
// server speaking the KMS JSON protocol. Checks what AWS documents for Recipient requests: the
// `Recipient` member with the base64 attestation document and `RSAES_OAEP_SHA_256`, the answer's
// `CiphertextForRecipient` opened in the enclave, and no `Plaintext` accepted.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { encryptEnvelopedData } from '../../../enclave/src/supervisor/cms';
import { EnclaveKms, KmsRecipientError, enclaveKmsClient, sdkKmsApi } from '../../../enclave/src/supervisor/kms-client';
import { RecipientKey } from '../../../enclave/src/supervisor/recipient';
import { verifyAttestationDocument } from '../../../lambdas/shared/attestation/verify';
import { NitroTestCa, TEST_PCRS } from '../../support/nitro-test-ca';
import { testCaAttester } from '../support/fake-nitro';

let ca: NitroTestCa;
let server: http.Server;
let endpoint: string;
const seen: { target: string; body: Record<string, unknown>; authorization: string }[] = [];
let answerWithPlaintext = false;

beforeAll(async () => {
  ca = await NitroTestCa.create();
  server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      const body = JSON.parse(raw) as { Recipient?: { AttestationDocument: string; KeyEncryptionAlgorithm: string } };
      seen.push({ target: String(req.headers['x-amz-target']), body, authorization: String(req.headers.authorization) });
      const verdict = await verifyAttestationDocument(Buffer.from(body.Recipient!.AttestationDocument, 'base64'), {
        expectedPcrs: { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] },
        rootPem: ca.rootPem,
        at: ca.now,
      });
      if (!verdict.ok || !verdict.document.publicKey) {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: 'AccessDeniedException', message: 'attestation' }));
        return;
      }
      const dataKey = Buffer.alloc(32, 7);
      const answer = answerWithPlaintext
        ? { Plaintext: dataKey.toString('base64') }
        : { CiphertextForRecipient: encryptEnvelopedData(dataKey, verdict.document.publicKey).toString('base64') };
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ KeyId: 'arn:aws:kms:us-east-1:111111111111:key/k', CiphertextBlob: Buffer.from('blob').toString('base64'), ...answer }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

function enclaveKms(): EnclaveKms {
  const client = enclaveKmsClient({ region: 'us-east-1', endpoint, credentials: async () => ({ accessKeyId: 'ASIAEXAMPLEMASTER000', secretAccessKey: 's', sessionToken: 't' }) });
  return new EnclaveKms(sdkKmsApi(client), RecipientKey.generate(), testCaAttester(ca, TEST_PCRS));
}

describe('KMS with Recipient through the SDK', () => {
  it('GenerateDataKey sends Recipient {AttestationDocument, RSAES_OAEP_SHA_256} and opens CiphertextForRecipient', async () => {
    seen.length = 0;
    const key = await enclaveKms().generateDataKey('state-key', { cluster: 'c', purpose: 'p' });
    expect(key.plaintext.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(Buffer.from(key.ciphertextBlob).toString()).toBe('blob');
    expect(seen[0].target).toBe('TrentService.GenerateDataKey');
    expect(seen[0].body).toMatchObject({ KeyId: 'state-key', KeySpec: 'AES_256', EncryptionContext: { cluster: 'c', purpose: 'p' }, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' } });
    expect(seen[0].authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEMASTER000\/\d{8}\/us-east-1\/kms\/aws4_request/);
  });

  it('Decrypt carries a fresh document binding this boot\'s recipient key', async () => {
    seen.length = 0;
    const kms = enclaveKms();
    expect((await kms.decrypt(Buffer.from('blob'), { cluster: 'c' })).equals(Buffer.alloc(32, 7))).toBe(true);
    expect(seen[0].target).toBe('TrentService.Decrypt');
    const doc = await verifyAttestationDocument(Buffer.from((seen[0].body.Recipient as { AttestationDocument: string }).AttestationDocument, 'base64'), {
      expectedPcrs: null,
      rootPem: ca.rootPem,
      at: ca.now,
    });
    expect(doc.ok && crypto.createPublicKey({ key: Buffer.from(doc.document.publicKey!), format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('refuses an answer with Plaintext instead of CiphertextForRecipient', async () => {
    answerWithPlaintext = true;
    try {
      await expect(enclaveKms().decrypt(Buffer.from('blob'), {})).rejects.toThrow(KmsRecipientError);
    } finally {
      answerWithPlaintext = false;
    }
  });
});
