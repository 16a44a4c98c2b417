// What the control-plane enclave attests (the attestation document's `user_data`), one rule for the
// enclave that writes it, the Lambdas that check it and the CLI that checks it again:
//
//   offset  size  field
//        0     4  magic "K3SD"
//        4     1  layout version (1)
//        5    32  SHA-256 of the cluster CA certificate (DER)
//       37    32  SHA-256 of the canonical boot settings (`settingsDigest`)
//       69     8  sequence number of the newest sealed datastore snapshot (uint64, big endian; 0 = none yet)
//       77    32  SHA-256 of that sealed snapshot (zeros when the sequence is 0)
//      109        end (NSM accepts up to 512 bytes)
//
// The settings are the ones an untrusted host could otherwise choose at first boot (where
// authentication goes, which keys seal the state and the join token, which key signs kubeconfigs), so
// binding their digest lets the platform refuse an enclave booted with other settings, and lets a
// client check them against what it expects. The snapshot fields commit the datastore's rollback
// counter through the attestation route (docs/enclave.md, "Snapshot rollback").
import { createHash } from 'node:crypto';
import * as z from '../runtime/zod';

export const CLAIMS_MAGIC = Buffer.from('K3SD', 'ascii');
export const CLAIMS_VERSION = 1;
export const CLAIMS_BYTES = 109;

/** Same rule as the cluster id everywhere else (kubeconfig names, file names, credential audience). */
export const CLUSTER_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const HEX64 = /^[0-9a-f]{64}$/;
// A key ARN, never an alias: an alias can be pointed at another key after the digest was taken.
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[A-Za-z0-9-]{1,64}$/;
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** An https URL with no credentials, query or fragment, as `new URL(...).toString()` writes it, no trailing slash. */
export function canonicalApiUrl(raw: string): string {
  const url = new URL(raw);
  if (url.protocol !== 'https:') throw new EnclaveSettingsError('the API URL must be https');
  if (url.username || url.password || url.search || url.hash) throw new EnclaveSettingsError('the API URL must not carry credentials, a query or a fragment');
  return url.toString().replace(/\/+$/, '');
}

/** `<api>/v1/authenticate`, keeping a stage path: the URL kube-apiserver's token webhook calls. */
export function webhookUrlOf(apiUrl: string): string {
  return `${canonicalApiUrl(apiUrl)}/v1/authenticate`;
}

export class EnclaveSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnclaveSettingsError';
  }
}

export const EnclaveSettingsSchema = z
  .strictObject({
    v: z.literal(1),
    clusterId: z.string().check(z.regex(CLUSTER_ID_PATTERN)),
    apiUrl: z.string().check(z.maxLength(512)),
    webhookUrl: z.string().check(z.maxLength(600)),
    clusterStateKeyId: z.string().check(z.regex(KEY_ARN)),
    joinTokenKeyId: z.string().check(z.regex(KEY_ARN)),
    /** Names in the kube-apiserver certificate: the only hosts a kubeconfig's server may name. */
    tlsSans: z.array(z.string().check(z.regex(DNS_NAME))).check(z.minLength(1), z.maxLength(10)),
    /** SHA-256 (hex) of the DER SubjectPublicKeyInfo of the KMS key that signs kubeconfigs. */
    kubeconfigSigningKeySpkiSha256: z.string().check(z.regex(HEX64)),
  });

export type EnclaveSettings = z.infer<typeof EnclaveSettingsSchema>;

export interface EnclaveSettingsInput {
  clusterId: string;
  apiUrl: string;
  clusterStateKeyId: string;
  joinTokenKeyId: string;
  tlsSans: readonly string[];
  kubeconfigSigningKeySpkiSha256: string;
}

/**
 * The canonical settings: API URL normalised, webhook URL derived from it (never supplied separately,
 * so the two cannot disagree), SANs lowercased, sorted and de-duplicated. Throws
 * `EnclaveSettingsError` on anything that does not fit the schema.
 */
export function canonicalSettings(input: EnclaveSettingsInput): EnclaveSettings {
  let apiUrl: string;
  try {
    apiUrl = canonicalApiUrl(input.apiUrl);
  } catch (error) {
    throw error instanceof EnclaveSettingsError ? error : new EnclaveSettingsError(`the API URL ${JSON.stringify(input.apiUrl)} is not a URL`);
  }
  const candidate = {
    v: 1 as const,
    clusterId: input.clusterId,
    apiUrl,
    webhookUrl: `${apiUrl}/v1/authenticate`,
    clusterStateKeyId: input.clusterStateKeyId,
    joinTokenKeyId: input.joinTokenKeyId,
    tlsSans: [...new Set(input.tlsSans.map((s) => s.toLowerCase()))].sort(),
    kubeconfigSigningKeySpkiSha256: input.kubeconfigSigningKeySpkiSha256.toLowerCase(),
  };
  const parsed = EnclaveSettingsSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EnclaveSettingsError(`boot setting ${issue.path.join('.') || '(root)'} is invalid: ${issue.message}`);
  }
  return parsed.data;
}

/** The exact bytes that are hashed: JSON with the schema's key order (the object is always rebuilt, never taken as given). */
export function settingsBytes(settings: EnclaveSettings): Buffer {
  const s = settings;
  return Buffer.from(
    JSON.stringify({
      v: s.v,
      clusterId: s.clusterId,
      apiUrl: s.apiUrl,
      webhookUrl: s.webhookUrl,
      clusterStateKeyId: s.clusterStateKeyId,
      joinTokenKeyId: s.joinTokenKeyId,
      tlsSans: s.tlsSans,
      kubeconfigSigningKeySpkiSha256: s.kubeconfigSigningKeySpkiSha256,
    }),
    'utf8',
  );
}

/** SHA-256 of the canonical settings. */
export function settingsDigest(settings: EnclaveSettings): Buffer {
  return createHash('sha256').update(settingsBytes(settings)).digest();
}

/**
 * Parses settings someone else claims (an API answer) and re-canonicalises them: only settings that
 * are already canonical are accepted, so the digest of what was claimed is the digest of what is used.
 */
export function parseClaimedSettings(value: unknown): EnclaveSettings | undefined {
  const parsed = EnclaveSettingsSchema.safeParse(value);
  if (!parsed.success) return undefined;
  let canonical: EnclaveSettings;
  try {
    canonical = canonicalSettings(parsed.data);
  } catch {
    return undefined;
  }
  return settingsBytes(canonical).equals(settingsBytes(parsed.data)) && canonical.webhookUrl === parsed.data.webhookUrl ? canonical : undefined;
}

/** SHA-256 (hex) of a public key's DER SubjectPublicKeyInfo. */
export function spkiSha256(spkiDer: Uint8Array): string {
  return createHash('sha256').update(spkiDer).digest('hex');
}

/** The newest sealed snapshot as the enclave knows it; seq 0 means none was ever sealed. */
export interface SnapshotClaim {
  seq: bigint;
  /** SHA-256 of the sealed bytes; 32 zero bytes when seq is 0. */
  sha256: Buffer;
}

export const NO_SNAPSHOT: SnapshotClaim = Object.freeze({ seq: 0n, sha256: Buffer.alloc(32) }) as SnapshotClaim;

export interface EnclaveClaims {
  caSha256: Buffer;
  settingsSha256: Buffer;
  snapshot: SnapshotClaim;
}

/** Kept within JavaScript's exact integers, so the index, JSON answers and the CLI read it without loss (one per snapshot interval never gets near). */
const MAX_SEQ = BigInt(Number.MAX_SAFE_INTEGER);

export function encodeClaims(claims: EnclaveClaims): Buffer {
  const { caSha256, settingsSha256, snapshot } = claims;
  if (caSha256.length !== 32 || settingsSha256.length !== 32 || snapshot.sha256.length !== 32) throw new RangeError('claims hashes must be 32 bytes');
  if (snapshot.seq < 0n || snapshot.seq > MAX_SEQ) throw new RangeError('snapshot sequence out of range');
  if ((snapshot.seq === 0n) !== snapshot.sha256.equals(NO_SNAPSHOT.sha256)) throw new RangeError('snapshot sequence 0 goes with a zero digest, and only with it');
  const out = Buffer.alloc(CLAIMS_BYTES);
  CLAIMS_MAGIC.copy(out, 0);
  out.writeUInt8(CLAIMS_VERSION, 4);
  caSha256.copy(out, 5);
  settingsSha256.copy(out, 37);
  out.writeBigUInt64BE(snapshot.seq, 69);
  snapshot.sha256.copy(out, 77);
  return out;
}

export type ClaimsDecodeResult = { ok: true; claims: EnclaveClaims } | { ok: false; message: string };

export function decodeClaims(userData: Uint8Array | undefined): ClaimsDecodeResult {
  if (!userData) return { ok: false, message: 'the document has no user_data' };
  const bytes = Buffer.from(userData);
  if (bytes.length !== CLAIMS_BYTES) return { ok: false, message: `user_data is ${bytes.length} bytes, layout v${CLAIMS_VERSION} has ${CLAIMS_BYTES}` };
  if (!bytes.subarray(0, 4).equals(CLAIMS_MAGIC)) return { ok: false, message: 'user_data does not start with the K3SD magic' };
  if (bytes[4] !== CLAIMS_VERSION) return { ok: false, message: `user_data layout version ${bytes[4]} is not ${CLAIMS_VERSION}` };
  const seq = bytes.readBigUInt64BE(69);
  const sha256 = Buffer.from(bytes.subarray(77, 109));
  if (seq > MAX_SEQ) return { ok: false, message: 'snapshot sequence out of range' };
  if ((seq === 0n) !== sha256.equals(NO_SNAPSHOT.sha256)) return { ok: false, message: 'snapshot sequence and digest disagree' };
  return {
    ok: true,
    claims: { caSha256: Buffer.from(bytes.subarray(5, 37)), settingsSha256: Buffer.from(bytes.subarray(37, 69)), snapshot: { seq, sha256 } },
  };
}
