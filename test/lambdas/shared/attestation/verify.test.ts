// One test per verification rule of the Nitro attestation verifier: the real AWS document at its own
// time and now, and synthetic documents from a test CA broken in exactly one way each.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { Encoder } from 'cbor-x';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { verifyAttestationDocument, type VerifyOptions } from '../../../../lambdas/shared/attestation/verify';
import { REPO_ROOT } from '../../../support/cdk-app';
import { encodeCose, NitroTestCa, TEST_PCRS } from '../../../support/nitro-test-ca';

const NITRO_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'nitro');
const REAL_DOC = Buffer.from(fs.readFileSync(path.join(NITRO_DIR, 'attestation-doc-us-east-1-debug.b64'), 'utf8').trim(), 'base64');
const REAL_AT = new Date('2023-09-07T15:56:02Z');
const ZERO = '00'.repeat(48);
const encoder = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false } as ConstructorParameters<typeof Encoder>[0]);

describe('real AWS Nitro attestation document', () => {
  it('verifies against the pinned AWS root at its own timestamp', async () => {
    const result = await verifyAttestationDocument(REAL_DOC, { expectedPcrs: null, at: REAL_AT });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.document.moduleId).toBe('i-0644948d93f19c17b-enc018a705a4fc6e067');
    expect(result.document.timestamp.toISOString()).toBe('2023-09-07T15:56:01.556Z');
    expect(result.document.digest).toBe('SHA384');
    expect(result.document.debugMode).toBe(true);
    expect(result.document.pcrs[0]).toBe(ZERO);
    expect(result.document.pcrs[3]).toMatch(/^4a9329d6/);
    expect(result.document.userData).toHaveLength(91);
    expect(result.document.nonce).toHaveLength(256);
    expect(result.document.publicKey).toBeUndefined();
  });

  it('also verifies when wrapped in the COSE_Sign1 tag 18', async () => {
    const tagged = Buffer.concat([Buffer.from([0xd2]), REAL_DOC]);
    expect((await verifyAttestationDocument(tagged, { expectedPcrs: null, at: REAL_AT })).ok).toBe(true);
  });

  it('is refused now because its certificate chain has expired', async () => {
    const result = await verifyAttestationDocument(REAL_DOC, { expectedPcrs: null });
    expect(result).toMatchObject({ ok: false, reason: 'certificate_expired' });
  });

  it('is refused against non-zero expected PCRs because it is a debug-mode document', async () => {
    const result = await verifyAttestationDocument(REAL_DOC, { expectedPcrs: { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] }, at: REAL_AT });
    expect(result).toMatchObject({ ok: false, reason: 'debug_mode' });
  });

  it('is accepted only when the expected PCR0-2 are themselves zero', async () => {
    const result = await verifyAttestationDocument(REAL_DOC, { expectedPcrs: { 0: ZERO, 1: ZERO, 2: ZERO }, at: REAL_AT });
    expect(result.ok).toBe(true);
  });

  it('is refused when an expected PCR differs', async () => {
    const result = await verifyAttestationDocument(REAL_DOC, { expectedPcrs: { 0: ZERO, 1: ZERO, 2: ZERO, 3: TEST_PCRS[3] }, at: REAL_AT });
    expect(result).toMatchObject({ ok: false, reason: 'pcr_mismatch' });
  });

  it('is refused with a nonce other than its own and accepted with its own', async () => {
    const wrong = await verifyAttestationDocument(REAL_DOC, { expectedPcrs: null, at: REAL_AT, nonce: new Uint8Array(256) });
    expect(wrong).toMatchObject({ ok: false, reason: 'nonce_mismatch' });
    const first = await verifyAttestationDocument(REAL_DOC, { expectedPcrs: null, at: REAL_AT });
    const own = first.ok ? first.document.nonce : undefined;
    expect((await verifyAttestationDocument(REAL_DOC, { expectedPcrs: null, at: REAL_AT, nonce: own })).ok).toBe(true);
  });

  it('is refused when older than the maximum age', async () => {
    const result = await verifyAttestationDocument(REAL_DOC, { expectedPcrs: null, at: new Date('2023-09-07T16:10:00Z'), maxAgeMs: 5 * 60_000 });
    expect(result).toMatchObject({ ok: false, reason: 'stale' });
  });
});

describe('synthetic documents from a test CA', () => {
  let ca: NitroTestCa;
  let options: VerifyOptions;
  beforeAll(async () => {
    ca = await NitroTestCa.create();
    options = { expectedPcrs: { ...TEST_PCRS }, rootPem: ca.rootPem, at: ca.now, maxAgeMs: 5 * 60_000 };
  });

  it('a well-formed document signed under the trusted root is accepted with all its fields', async () => {
    const publicKey = new Uint8Array([1, 2, 3]);
    const userData = new Uint8Array(32).fill(7);
    const nonce = new Uint8Array(16).fill(9);
    const doc = await ca.document({ publicKey, userData, nonce, tagged: true });
    const result = await verifyAttestationDocument(doc.bytes, { ...options, nonce });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.document).toMatchObject({ publicKey, userData, nonce, debugMode: false });
    expect(result.document.pcrs).toEqual(TEST_PCRS);
  });

  it('wrong root: a chain under another CA with the same names is untrusted', async () => {
    const other = await NitroTestCa.create({ now: ca.now });
    const doc = await other.document();
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'untrusted_chain' });
  });

  it('wrong root: the real AWS root does not trust the test CA', async () => {
    const doc = await ca.document();
    expect(await verifyAttestationDocument(doc.bytes, { ...options, rootPem: undefined })).toMatchObject({ ok: false, reason: 'untrusted_chain' });
  });

  it('forged leaf: a signing certificate repeated inside a genuine cabundle is untrusted', async () => {
    // pkijs drops the duplicate and would validate the genuine intermediate instead of the signer.
    const forger = (await NitroTestCa.create({ now: ca.now })).root;
    const doc = await ca.document({ signer: forger, cabundle: [ca.root.der, forger.der, ca.intermediate.der] });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'untrusted_chain' });
  });

  it.each(['not-ca', 'ca-without-cert-sign'] as const)('issuer constraints: a correctly signed chain through an intermediate that is %s is untrusted', async (intermediateProfile) => {
    const broken = await NitroTestCa.create({ now: ca.now, intermediateProfile });
    const doc = await broken.document();
    expect(await verifyAttestationDocument(doc.bytes, { ...options, rootPem: broken.rootPem })).toMatchObject({ ok: false, reason: 'untrusted_chain' });
    // The same CA with a proper intermediate is trusted: only the intermediate's constraints differ.
    const proper = await NitroTestCa.create({ now: ca.now });
    expect((await verifyAttestationDocument((await proper.document()).bytes, { ...options, rootPem: proper.rootPem })).ok).toBe(true);
  });

  it('forged signer: a leaf whose signature is not its issuer\'s is untrusted even with matching names', async () => {
    const other = await NitroTestCa.create({ now: ca.now });
    const stranger = await other.document();
    const doc = await ca.document({ signer: stranger.leaf });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'untrusted_chain' });
  });

  it('cabundle order: a bundle that does not start with the trusted root is untrusted', async () => {
    const doc = await ca.document({ cabundle: [ca.intermediate.der, ca.root.der] });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'untrusted_chain' });
  });

  it('cabundle order: a bundle with a certificate outside the path is untrusted', async () => {
    const other = await NitroTestCa.create({ now: ca.now });
    const doc = await ca.document({ cabundle: [ca.root.der, ca.intermediate.der, other.intermediate.der] });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'untrusted_chain' });
  });

  it('tampered payload: one changed PCR byte breaks the signature', async () => {
    const doc = await ca.document();
    const payload = Buffer.from(doc.payload);
    const at = payload.indexOf(Buffer.from(TEST_PCRS[3], 'hex'));
    payload[at] ^= 0x01;
    const tampered = encodeCose(doc.protectedHeader, payload, doc.signature);
    expect(await verifyAttestationDocument(tampered, options)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('bad signature: a flipped signature bit is refused', async () => {
    const doc = await ca.document();
    const signature = Buffer.from(doc.signature);
    signature[10] ^= 0x80;
    expect(await verifyAttestationDocument(encodeCose(doc.protectedHeader, doc.payload, signature), options)).toMatchObject({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('bad signature: a signature of the wrong length is refused', async () => {
    const doc = await ca.document();
    expect(await verifyAttestationDocument(encodeCose(doc.protectedHeader, doc.payload, doc.signature.subarray(0, 64)), options)).toMatchObject({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('expired certificate: a leaf past notAfter is refused', async () => {
    const doc = await ca.document({
      leafValidity: { notBefore: new Date(ca.now.getTime() - 7_200_000), notAfter: new Date(ca.now.getTime() - 1000) },
    });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'certificate_expired' });
  });

  it('expired certificate: an expired intermediate is refused', async () => {
    const old = await NitroTestCa.create({
      now: ca.now,
      intermediateValidity: { notBefore: new Date(ca.now.getTime() - 86_400_000), notAfter: new Date(ca.now.getTime() - 1000) },
    });
    const doc = await old.document();
    expect(await verifyAttestationDocument(doc.bytes, { ...options, rootPem: old.rootPem })).toMatchObject({ ok: false, reason: 'certificate_expired' });
  });

  it('not-yet-valid certificate: a leaf before notBefore is refused', async () => {
    const doc = await ca.document({
      leafValidity: { notBefore: new Date(ca.now.getTime() + 60_000), notAfter: new Date(ca.now.getTime() + 7_200_000) },
    });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'certificate_not_yet_valid' });
  });

  it('PCR mismatch: a different PCR0 is refused', async () => {
    const doc = await ca.document({ pcrs: { ...TEST_PCRS, 0: 'ab'.repeat(48) } });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'pcr_mismatch' });
  });

  it('PCR mismatch: an expected PCR the document does not carry is refused', async () => {
    const withoutPcr8 = Object.fromEntries(Object.entries(TEST_PCRS).filter(([i]) => i !== '8'));
    const doc = await ca.document({ pcrs: withoutPcr8 });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'pcr_mismatch' });
  });

  it('debug mode: all-zero PCR0-2 are refused against real expected PCRs', async () => {
    const doc = await ca.document({ pcrs: { ...TEST_PCRS, 0: ZERO, 1: ZERO, 2: ZERO } });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'debug_mode' });
  });

  it('stale timestamp: a document older than the maximum age is refused', async () => {
    const doc = await ca.document({ timestamp: new Date(ca.now.getTime() - 10 * 60_000) });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'stale' });
  });

  it('future timestamp: a document dated beyond the clock skew is refused', async () => {
    const doc = await ca.document({ timestamp: new Date(ca.now.getTime() + 10 * 60_000) });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'timestamp_in_future' });
  });

  it('nonce mismatch: a different nonce and a missing nonce are refused', async () => {
    const expected = new Uint8Array(16).fill(1);
    const other = await ca.document({ nonce: new Uint8Array(16).fill(2) });
    expect(await verifyAttestationDocument(other.bytes, { ...options, nonce: expected })).toMatchObject({ ok: false, reason: 'nonce_mismatch' });
    const none = await ca.document();
    expect(await verifyAttestationDocument(none.bytes, { ...options, nonce: expected })).toMatchObject({ ok: false, reason: 'nonce_mismatch' });
  });

  it.each(['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle'])('missing field: a document without %s is refused', async (name) => {
    const doc = await ca.document({ omit: [name] });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'missing_field' });
  });

  it('wrong digest: a SHA256 document is refused', async () => {
    const doc = await ca.document({ digest: 'SHA256' });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'unsupported_digest' });
  });

  it('wrong algorithm: a COSE alg other than ES384 is refused', async () => {
    const doc = await ca.document({ alg: -7 });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'unsupported_algorithm' });
  });

  it('CBOR garbage: non-CBOR bytes, trailing bytes and a wrong shape are malformed', async () => {
    const doc = await ca.document();
    for (const bytes of [
      Buffer.from('not cbor at all'),
      Buffer.alloc(0),
      Buffer.concat([doc.bytes, Buffer.from([0x00])]),
      encoder.encode([doc.protectedHeader, new Map(), doc.payload]),
      encoder.encode({ a: 1 }),
      Buffer.concat([Buffer.from([0xd8, 0x19]), doc.bytes]),
      encodeCose(doc.protectedHeader, encoder.encode([1, 2, 3]), doc.signature),
    ]) {
      expect(await verifyAttestationDocument(bytes, options)).toMatchObject({ ok: false, reason: 'malformed' });
    }
  });

  it('CBOR garbage: a PCR of the wrong length is malformed', async () => {
    const doc = await ca.document({ pcrs: { ...TEST_PCRS, 4: new Uint8Array(32) } });
    expect(await verifyAttestationDocument(doc.bytes, options)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('any byte changed anywhere in a valid document is refused, never thrown', async () => {
    const doc = await ca.document();
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: doc.bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (index, xor) => {
        const bytes = Buffer.from(doc.bytes);
        bytes[index] ^= xor;
        const result = await verifyAttestationDocument(bytes, options);
        expect(result.ok).toBe(false);
      }),
      { numRuns: 150 },
    );
  });
});
