// Verification of AWS Nitro Enclaves attestation documents (DESIGN §2 step 5, §8): a COSE_Sign1
// (RFC 9052) over a CBOR payload, signed ES384 by a leaf certificate that chains to the pinned AWS
// Nitro root. Every refusal carries one reason code so callers (the attestation Lambda, the CLI, the
// enclave's tests) can say precisely why a document was not accepted.
import { Decoder, Encoder, Tag } from 'cbor-x';
import { timingSafeEqual, verify as verifySignature, X509Certificate } from 'node:crypto';
import type { ExpectedPcrs } from './pcrs';
import { AWS_NITRO_ROOT_G1_PEM } from './aws-nitro-root';

export type AttestationFailureReason =
  | 'malformed'
  | 'missing_field'
  | 'unsupported_algorithm'
  | 'unsupported_digest'
  | 'bad_signature'
  | 'untrusted_chain'
  | 'certificate_expired'
  | 'certificate_not_yet_valid'
  | 'stale'
  | 'timestamp_in_future'
  | 'debug_mode'
  | 'pcr_mismatch'
  | 'nonce_mismatch';

/** The verified content of a document. Byte fields are copies, hex where a person reads them. */
export interface AttestationDocument {
  moduleId: string;
  timestamp: Date;
  digest: 'SHA384';
  /** PCR index → lowercase hex, every PCR the document carries. */
  pcrs: Record<number, string>;
  /** The signing (leaf) certificate, DER. */
  certificate: Uint8Array;
  publicKey?: Uint8Array;
  userData?: Uint8Array;
  nonce?: Uint8Array;
  /** PCR0, PCR1 and PCR2 are all zero: the enclave ran with `--debug-mode`, its memory is readable. */
  debugMode: boolean;
}

export type AttestationResult =
  | { ok: true; document: AttestationDocument }
  | { ok: false; reason: AttestationFailureReason; message: string };

export interface VerifyOptions {
  /**
   * PCRs the document must carry. `null` checks no measurement and lets debug-mode documents through:
   * only for inspecting a document (`k3s-daas attestation verify` without `--pcrs`), never to admit one.
   */
  expectedPcrs: ExpectedPcrs | null;
  /** Verification time: certificates must be valid then and the document not older than `maxAgeMs`. */
  at?: Date;
  maxAgeMs?: number;
  /** When set, the document's nonce must equal it. */
  nonce?: Uint8Array;
  /** Trust anchor, PEM; the pinned AWS Nitro root G1 by default. */
  rootPem?: string;
  /** Tolerated clock difference for a document timestamped after `at`. Default 60 s. */
  clockSkewMs?: number;
}

const COSE_SIGN1_TAG = 18;
const ES384 = -35;
const PCR_BYTES = 48;
const DEFAULT_CLOCK_SKEW_MS = 60_000;

// Maps stay Maps (PCR indexes are integers); no cbor-x record extensions on either side.
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0]);
const encoder = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false } as ConstructorParameters<typeof Encoder>[0]);

class Refusal extends Error {
  constructor(readonly reason: AttestationFailureReason, message: string) {
    super(message);
  }
}

function refuse(reason: AttestationFailureReason, message: string): never {
  throw new Refusal(reason, message);
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

function decodeCbor(bytes: Uint8Array, what: string): unknown {
  try {
    return decoder.decode(bytes);
  } catch {
    return refuse('malformed', `${what} is not valid CBOR`);
  }
}

interface CoseSign1 {
  protectedHeader: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
}

function parseCoseSign1(bytes: Uint8Array): CoseSign1 {
  let value = decodeCbor(bytes, 'document');
  // NSM emits it untagged; COSE allows tag 18 in front.
  if (value instanceof Tag) {
    if (value.tag !== COSE_SIGN1_TAG) refuse('malformed', `document has CBOR tag ${value.tag}, expected COSE_Sign1 (18)`);
    value = value.value;
  }
  if (!Array.isArray(value) || value.length !== 4) refuse('malformed', 'document is not a COSE_Sign1 array of four elements');
  const [protectedHeader, unprotected, payload, signature] = value as unknown[];
  if (!isBytes(protectedHeader) || !isBytes(payload) || !isBytes(signature) || !(unprotected instanceof Map)) {
    refuse('malformed', 'COSE_Sign1 elements have the wrong types');
  }
  return { protectedHeader, payload, signature };
}

function algorithmOf(protectedHeader: Uint8Array): unknown {
  if (protectedHeader.length === 0) return undefined;
  const header = decodeCbor(protectedHeader, 'protected header');
  if (!(header instanceof Map)) refuse('malformed', 'protected header is not a CBOR map');
  return header.get(1);
}

interface RawPayload {
  moduleId: string;
  digest: string;
  timestampMs: number;
  pcrs: Map<number, Uint8Array>;
  certificate: Uint8Array;
  cabundle: Uint8Array[];
  publicKey?: Uint8Array;
  userData?: Uint8Array;
  nonce?: Uint8Array;
}

function field(map: Map<unknown, unknown>, name: string): unknown {
  if (!map.has(name)) refuse('missing_field', `document has no ${name}`);
  return map.get(name);
}

function optionalBytes(map: Map<unknown, unknown>, name: string): Uint8Array | undefined {
  const v = map.get(name);
  if (v === undefined || v === null) return undefined;
  if (!isBytes(v)) refuse('malformed', `${name} must be a byte string or null`);
  return new Uint8Array(v);
}

function parsePayload(bytes: Uint8Array): RawPayload {
  const map = decodeCbor(bytes, 'payload');
  if (!(map instanceof Map)) refuse('malformed', 'payload is not a CBOR map');
  const moduleId = field(map, 'module_id');
  const digest = field(map, 'digest');
  const timestamp = field(map, 'timestamp');
  const pcrs = field(map, 'pcrs');
  const certificate = field(map, 'certificate');
  const cabundle = field(map, 'cabundle');
  if (typeof moduleId !== 'string' || moduleId.length === 0) refuse('malformed', 'module_id must be a non-empty text string');
  if (typeof digest !== 'string') refuse('malformed', 'digest must be a text string');
  if (!(typeof timestamp === 'number' || typeof timestamp === 'bigint') || timestamp <= 0 || Number(timestamp) > Number.MAX_SAFE_INTEGER) {
    refuse('malformed', 'timestamp must be a positive integer of milliseconds');
  }
  if (typeof timestamp === 'number' && !Number.isInteger(timestamp)) refuse('malformed', 'timestamp must be an integer');
  if (!(pcrs instanceof Map) || pcrs.size === 0 || pcrs.size > 32) refuse('malformed', 'pcrs must be a map of 1 to 32 entries');
  const pcrMap = new Map<number, Uint8Array>();
  for (const [index, value] of pcrs) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 31) refuse('malformed', 'pcrs keys must be integers 0-31');
    if (!isBytes(value) || value.length !== PCR_BYTES) refuse('malformed', `PCR${index} must be ${PCR_BYTES} bytes (SHA-384)`);
    pcrMap.set(index, new Uint8Array(value));
  }
  if (!isBytes(certificate) || certificate.length === 0) refuse('malformed', 'certificate must be a non-empty byte string');
  if (!Array.isArray(cabundle) || cabundle.length === 0 || !cabundle.every((c) => isBytes(c) && c.length > 0)) {
    refuse('malformed', 'cabundle must be a non-empty array of byte strings');
  }
  return {
    moduleId,
    digest,
    timestampMs: Number(timestamp),
    pcrs: pcrMap,
    certificate: new Uint8Array(certificate),
    cabundle: (cabundle as Uint8Array[]).map((c) => new Uint8Array(c)),
    publicKey: optionalBytes(map, 'public_key'),
    userData: optionalBytes(map, 'user_data'),
    nonce: optionalBytes(map, 'nonce'),
  };
}

interface Certificate {
  readonly x509: X509Certificate;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function parseCertificate(der: Uint8Array, what: string): Certificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    return refuse('malformed', `${what} is not a DER X.509 certificate`);
  }
  const notBefore = new Date(x509.validFrom);
  const notAfter = new Date(x509.validTo);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) refuse('malformed', `${what} has an unreadable validity period`);
  return { x509, notBefore, notAfter };
}

/** RFC 9052 §4.4: the bytes an ES384 COSE_Sign1 signature covers. */
function sigStructure(cose: CoseSign1): Uint8Array {
  return encoder.encode(['Signature1', cose.protectedHeader, new Uint8Array(0), cose.payload]);
}

function checkSignature(cose: CoseSign1, leaf: Uint8Array): void {
  let key;
  try {
    key = new X509Certificate(leaf).publicKey;
  } catch {
    refuse('malformed', 'certificate is not a DER X.509 certificate');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    refuse('bad_signature', 'the signing certificate does not hold a P-384 key');
  }
  // COSE carries r‖s (IEEE P1363), 2 × 48 bytes for P-384.
  if (cose.signature.length !== 96) refuse('bad_signature', 'ES384 signature must be 96 bytes');
  const valid = verifySignature('sha384', sigStructure(cose), { key, dsaEncoding: 'ieee-p1363' }, cose.signature);
  if (!valid) refuse('bad_signature', 'the COSE signature does not verify with the certificate key');
}

/**
 * The path is exactly leaf → cabundle (reversed) → pinned root, each certificate once, every link checked
 * by OpenSSL (node:crypto): the issuer's name and key identifiers match and its key usage allows
 * certificate signing (`checkIssued`), the issuer is a CA (basic constraints), and its key verifies the
 * child's signature. No path building: a certificate cannot be skipped or substituted.
 */
function checkChain(root: Certificate, intermediates: Certificate[], leaf: Certificate, at: Date): void {
  const named: [string, Certificate][] = [['leaf', leaf], ...intermediates.map((c, i) => [`cabundle[${i + 1}]`, c] as [string, Certificate]), ['root', root]];
  // Validity first, so an expired chain is reported as such rather than as an untrusted one.
  for (const [what, cert] of named) {
    if (cert.notAfter.getTime() < at.getTime()) refuse('certificate_expired', `${what} certificate expired at ${cert.notAfter.toISOString()}`);
    if (cert.notBefore.getTime() > at.getTime()) refuse('certificate_not_yet_valid', `${what} certificate is valid from ${cert.notBefore.toISOString()}`);
  }
  const path: [string, Certificate][] = [named[0], ...named.slice(1, -1).reverse(), named[named.length - 1]];
  const ders = path.map(([, c]) => c.x509.raw.toString('hex'));
  if (new Set(ders).size !== ders.length) refuse('untrusted_chain', 'the certificate chain repeats a certificate');
  for (let i = 0; i < path.length - 1; i++) {
    const [childName, child] = path[i];
    const [issuerName, issuer] = path[i + 1];
    if (!child.x509.checkIssued(issuer.x509)) {
      refuse('untrusted_chain', `certificate chain does not lead to the trusted root: ${childName} is not issued by ${issuerName} in the order AWS specifies`);
    }
    if (!issuer.x509.ca) refuse('untrusted_chain', `certificate chain does not lead to the trusted root: ${issuerName} is not a CA certificate`);
    let signed: boolean;
    try {
      signed = child.x509.verify(issuer.x509.publicKey);
    } catch {
      signed = false; // a key OpenSSL cannot use for this signature algorithm
    }
    if (!signed) refuse('untrusted_chain', `certificate chain does not lead to the trusted root: ${childName} is not signed by ${issuerName}`);
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const isZero = (b: Uint8Array | undefined) => b !== undefined && b.every((x) => x === 0);

function checkPcrs(pcrs: Map<number, Uint8Array>, expected: ExpectedPcrs | null): boolean {
  const debugMode = [0, 1, 2].every((i) => isZero(pcrs.get(i)));
  if (expected === null) return debugMode;
  const entries = Object.entries(expected) as [string, string][];
  if (entries.length === 0) throw new TypeError('expectedPcrs is empty: pass the PCRs to pin, or null to inspect only');
  const expectsDebug = [0, 1, 2].every((i) => {
    const v = expected[i as 0 | 1 | 2];
    return v !== undefined && /^0+$/.test(v);
  });
  if (debugMode && !expectsDebug) refuse('debug_mode', 'PCR0-2 are zero: the enclave ran in debug mode');
  for (const [index, value] of entries) {
    const actual = pcrs.get(Number(index));
    if (actual === undefined || hex(actual) !== value.toLowerCase()) {
      refuse('pcr_mismatch', `PCR${index} is ${actual ? hex(actual) : 'absent'}, expected ${value.toLowerCase()}`);
    }
  }
  return debugMode;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

async function verifyOrRefuse(documentBytes: Uint8Array, options: VerifyOptions): Promise<AttestationDocument> {
  const at = options.at ?? new Date();
  const cose = parseCoseSign1(documentBytes);
  const alg = algorithmOf(cose.protectedHeader);
  if (alg !== ES384) refuse('unsupported_algorithm', `COSE algorithm ${String(alg)} is not ES384 (-35)`);
  const payload = parsePayload(cose.payload);
  if (payload.digest !== 'SHA384') refuse('unsupported_digest', `digest ${payload.digest} is not SHA384`);

  const leaf = parseCertificate(payload.certificate, 'certificate');
  // cabundle[0] is the root as the NSM sees it; trust comes only from our pinned root, never from it.
  const intermediates = payload.cabundle.slice(1).map((c, i) => parseCertificate(c, `cabundle[${i + 1}]`));
  let rootDer: Uint8Array;
  try {
    rootDer = new X509Certificate(options.rootPem ?? AWS_NITRO_ROOT_G1_PEM).raw;
  } catch {
    throw new TypeError('the trusted root is not a PEM certificate');
  }
  const root = parseCertificate(rootDer, 'trusted root');
  if (!sameBytes(payload.cabundle[0], rootDer)) {
    refuse('untrusted_chain', 'cabundle[0] is not the trusted root (AWS orders the cabundle root first)');
  }
  checkSignature(cose, payload.certificate);
  checkChain(root, intermediates, leaf, at);

  const skew = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  const ageMs = at.getTime() - payload.timestampMs;
  if (ageMs < -skew) refuse('timestamp_in_future', `document is dated ${new Date(payload.timestampMs).toISOString()}, after ${at.toISOString()}`);
  if (options.maxAgeMs !== undefined && ageMs > options.maxAgeMs) {
    refuse('stale', `document is ${Math.round(ageMs / 1000)} s old, more than ${Math.round(options.maxAgeMs / 1000)} s`);
  }
  const debugMode = checkPcrs(payload.pcrs, options.expectedPcrs);
  if (options.nonce !== undefined && (payload.nonce === undefined || !sameBytes(payload.nonce, options.nonce))) {
    refuse('nonce_mismatch', payload.nonce ? 'document nonce differs from the expected one' : 'document carries no nonce');
  }
  return {
    moduleId: payload.moduleId,
    timestamp: new Date(payload.timestampMs),
    digest: 'SHA384',
    pcrs: Object.fromEntries([...payload.pcrs].sort(([a], [b]) => a - b).map(([i, v]) => [i, hex(v)])),
    certificate: payload.certificate,
    ...(payload.publicKey ? { publicKey: payload.publicKey } : {}),
    ...(payload.userData ? { userData: payload.userData } : {}),
    ...(payload.nonce ? { nonce: payload.nonce } : {}),
    debugMode,
  };
}

/**
 * Verifies a Nitro attestation document (COSE_Sign1, tagged or not): structure, ES384 signature,
 * certificate chain to the pinned root at `at`, digest, age, PCRs and nonce, in that order.
 */
export async function verifyAttestationDocument(documentBytes: Uint8Array, options: VerifyOptions): Promise<AttestationResult> {
  try {
    return { ok: true, document: await verifyOrRefuse(documentBytes, options) };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, reason: error.reason, message: error.message };
    throw error;
  }
}

