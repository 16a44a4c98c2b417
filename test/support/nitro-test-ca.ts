// A stand-in for the AWS Nitro PKI in tests: an ES384 (P-384) chain root → intermediate → leaf built
// with node's WebCrypto and pkijs, and COSE_Sign1 attestation documents signed by the leaf exactly as
// the Nitro Secure Module lays them out. Every field can be overridden or left out, so tests can build
// each kind of bad document the verifier must refuse. Shared by the attestation and enclave tests.
import * as asn1js from 'asn1js';
import { Encoder } from 'cbor-x';
import { createHash, KeyObject, sign as signBytes, webcrypto, X509Certificate } from 'node:crypto';
import * as pkijs from 'pkijs';

const subtle = webcrypto.subtle;
const engine = new pkijs.CryptoEngine({ name: 'nitro-test-ca', crypto: webcrypto as unknown as ConstructorParameters<typeof pkijs.CryptoEngine>[0]['crypto'] });
const encoder = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false } as ConstructorParameters<typeof Encoder>[0]);
const EC_P384 = { name: 'ECDSA', namedCurve: 'P-384' } as const;
const HOUR = 3_600_000;

/** Deterministic, non-zero PCR values (hex) for documents of a "production" enclave. */
export const TEST_PCRS: Record<0 | 1 | 2 | 3 | 4 | 8, string> = Object.fromEntries(
  [0, 1, 2, 3, 4, 8].map((i) => [i, createHash('sha384').update(`k3s-daas test PCR${i}`).digest('hex')]),
) as Record<0 | 1 | 2 | 3 | 4 | 8, string>;

export interface IssuedCertificate {
  readonly der: Uint8Array;
  readonly pem: string;
  readonly privateKey: webcrypto.CryptoKey;
}

export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface DocumentSpec {
  moduleId?: string;
  digest?: string;
  /** NSM time, ms since the epoch. Default: the CA's `now`. */
  timestamp?: Date;
  /** PCR index → hex or bytes. Default: `TEST_PCRS`. */
  pcrs?: Record<number, string | Uint8Array>;
  publicKey?: Uint8Array | null;
  userData?: Uint8Array | null;
  nonce?: Uint8Array | null;
  /** Payload keys to leave out (e.g. `'certificate'`). */
  omit?: string[];
  /** Validity of the leaf issued for this document. Default: one hour either side of `timestamp`. */
  leafValidity?: Validity;
  /** Prefix the COSE_Sign1 with CBOR tag 18. */
  tagged?: boolean;
  /** COSE `alg` in the protected header. Default ES384 (-35). */
  alg?: number;
  /** Certificate (and key) that signs instead of a fresh leaf under this CA. */
  signer?: IssuedCertificate;
  /** The cabundle as given, instead of [root, intermediate]. */
  cabundle?: Uint8Array[];
}

export interface NitroTestDocument {
  readonly bytes: Uint8Array;
  readonly leaf: IssuedCertificate;
  /** The COSE parts, for tests that tamper with one of them. */
  readonly protectedHeader: Uint8Array;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

function toPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}

let serial = 1;

async function issue(opts: {
  subjectCn: string;
  issuer?: { cert: pkijs.Certificate; key: webcrypto.CryptoKey };
  ca: boolean;
  validity: Validity;
  /** Key-usage bits instead of the profile's (CA: keyCertSign + cRLSign; leaf: digitalSignature). */
  keyUsage?: { byte: number; unusedBits: number };
}): Promise<{ cert: pkijs.Certificate; issued: IssuedCertificate }> {
  const keys = (await subtle.generateKey(EC_P384, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: serial++ });
  const name = new pkijs.RelativeDistinguishedNames({
    typesAndValues: [new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: opts.subjectCn }) })],
  });
  cert.subject = name;
  cert.issuer = opts.issuer ? opts.issuer.cert.subject : name;
  cert.notBefore.value = opts.validity.notBefore;
  cert.notAfter.value = opts.validity.notAfter;
  const bits = opts.keyUsage ?? { byte: opts.ca ? 0x06 : 0x80, unusedBits: opts.ca ? 1 : 7 };
  const keyUsage = new asn1js.BitString({ valueHex: new Uint8Array([bits.byte]).buffer, unusedBits: bits.unusedBits });
  cert.extensions = [
    new pkijs.Extension({
      extnID: '2.5.29.19',
      critical: true,
      extnValue: new pkijs.BasicConstraints({ cA: opts.ca }).toSchema().toBER(false),
      parsedValue: new pkijs.BasicConstraints({ cA: opts.ca }),
    }),
    new pkijs.Extension({ extnID: '2.5.29.15', critical: true, extnValue: keyUsage.toBER(false), parsedValue: keyUsage }),
  ];
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey, engine);
  await cert.sign(opts.issuer?.key ?? keys.privateKey, 'SHA-384', engine);
  const der = new Uint8Array(cert.toSchema(true).toBER(false));
  return { cert, issued: { der, pem: toPem(der), privateKey: keys.privateKey } };
}

function pcrBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === 'string' ? Buffer.from(v, 'hex') : v;
}

export class NitroTestCa {
  private constructor(
    readonly root: IssuedCertificate,
    readonly intermediate: IssuedCertificate,
    private readonly intermediateCert: pkijs.Certificate,
    readonly now: Date,
  ) {}

  /** A fresh root and intermediate valid for a year around `now`. */
  static async create(opts: {
    now?: Date;
    rootValidity?: Validity;
    intermediateValidity?: Validity;
    /**
     * A broken intermediate for chain tests: `not-ca` has keyCertSign but basic constraints cA false;
     * `ca-without-cert-sign` is a CA whose key usage lacks keyCertSign.
     */
    intermediateProfile?: 'ca' | 'not-ca' | 'ca-without-cert-sign';
  } = {}): Promise<NitroTestCa> {
    const now = opts.now ?? new Date();
    const year = { notBefore: new Date(now.getTime() - 365 * 24 * HOUR), notAfter: new Date(now.getTime() + 365 * 24 * HOUR) };
    const root = await issue({ subjectCn: 'k3s-daas-test.nitro-enclaves', ca: true, validity: opts.rootValidity ?? year });
    const intermediate = await issue({
      subjectCn: 'k3s-daas-test.zonal.nitro-enclaves',
      issuer: { cert: root.cert, key: root.issued.privateKey },
      ca: opts.intermediateProfile !== 'not-ca',
      validity: opts.intermediateValidity ?? year,
      ...(opts.intermediateProfile === 'ca-without-cert-sign' ? { keyUsage: { byte: 0x80, unusedBits: 7 } } : {}),
      ...(opts.intermediateProfile === 'not-ca' ? { keyUsage: { byte: 0x06, unusedBits: 1 } } : {}),
    });
    return new NitroTestCa(root.issued, intermediate.issued, intermediate.cert, now);
  }

  get rootPem(): string {
    return this.root.pem;
  }

  /** A COSE_Sign1 attestation document signed by a new leaf under this CA. */
  async document(spec: DocumentSpec = {}): Promise<NitroTestDocument> {
    const timestamp = spec.timestamp ?? this.now;
    const leaf = spec.signer ? { issued: spec.signer } : await issue({
      subjectCn: 'i-0123456789abcdef0-enc0123456789abcdef.us-east-1.aws.nitro-enclaves',
      issuer: { cert: this.intermediateCert, key: this.intermediate.privateKey },
      ca: false,
      validity: spec.leafValidity ?? { notBefore: new Date(timestamp.getTime() - HOUR), notAfter: new Date(timestamp.getTime() + HOUR) },
    });
    const pcrs = new Map<number, Uint8Array>(Object.entries(spec.pcrs ?? TEST_PCRS).map(([i, v]) => [Number(i), pcrBytes(v)]));
    const fields: [string, unknown][] = [
      ['module_id', spec.moduleId ?? 'i-0123456789abcdef0-enc0123456789abcdef'],
      ['digest', spec.digest ?? 'SHA384'],
      ['timestamp', timestamp.getTime()],
      ['pcrs', pcrs],
      ['certificate', leaf.issued.der],
      ['cabundle', spec.cabundle ?? [this.root.der, this.intermediate.der]],
      ['public_key', spec.publicKey ?? null],
      ['user_data', spec.userData ?? null],
      ['nonce', spec.nonce ?? null],
    ];
    const payload = encoder.encode(new Map(fields.filter(([k]) => !spec.omit?.includes(k))));
    const protectedHeader = encoder.encode(new Map([[1, spec.alg ?? -35]]));
    const toBeSigned = encoder.encode(['Signature1', protectedHeader, new Uint8Array(0), payload]);
    const key = KeyObject.from(leaf.issued.privateKey);
    const signature = signBytes('sha384', toBeSigned, { key, dsaEncoding: 'ieee-p1363' });
    return { leaf: leaf.issued, protectedHeader, payload, signature, bytes: encodeCose(protectedHeader, payload, signature, spec.tagged) };
  }
}

/** Re-assembles a COSE_Sign1 from (possibly tampered) parts. */
export function encodeCose(protectedHeader: Uint8Array, payload: Uint8Array, signature: Uint8Array, tagged = false): Uint8Array {
  const body = encoder.encode([protectedHeader, new Map(), payload, signature]);
  return tagged ? Buffer.concat([Buffer.from([0xd2]), body]) : body;
}

/** SHA-256 of a PEM certificate's DER, as the enclave binds its CA into `user_data`. */
export function certificateSha256(pem: string): Uint8Array {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest();
}
