// The credential format of DESIGN §5 (contract): `k3sdaas.v1.<payload>.<signature>`, created by the CLI
// and verified by the token-check Lambdas. One implementation of every rule of the format lives here.
//
// Verification has two paths that must agree: OpenSSL (`node:crypto`, ./native-signatures.ts) for the
// single-key schemes Ed25519, Secp256k1 and Secp256r1, and the official SDK (`@mysten/sui/verify`) for
// multisig and zkLogin. The SDK (with its pure-JS curves) is loaded on the first signature that needs it,
// so a function that only sees single-key credentials never evaluates it at cold start.
import type { ClientWithCoreApi } from '@mysten/sui/client';
import { randomBytes } from 'node:crypto';
import { SUI_ID_PATTERN, SUI_ID_RULE } from '../sui/ids';
import { DependencyUnavailableError } from '../runtime/outage';
import { isNativeScheme, isSmallOrderEd25519, SIGNATURE_FLAG as FLAG, verifyNativeSignature } from './native-signatures';

export { ed25519Address, isSmallOrderEd25519, personalMessageDigest, suiAddress } from './native-signatures';

export const CREDENTIAL_PREFIX = 'k3sdaas.v1.';
/** Longest lifetime a credential may claim (`exp - iat`), in seconds. */
export const MAX_LIFETIME_S = 900;
/** Accepted clock skew between the signer and the verifier, in seconds. */
export const CLOCK_SKEW_S = 60;
/** Longer strings are refused unread; a 10-member multisig or a zkLogin signature fits well within. */
export const MAX_CREDENTIAL_LENGTH = 8192;

/** Reasons a credential itself (before any index lookup) is refused (DESIGN §4 reason codes). */
export type CredentialReason = 'malformed' | 'bad_signature' | 'expired' | 'not_yet_valid' | 'lifetime_too_long' | 'wrong_audience';

export interface CredentialPayload {
  /** Seal token object id, `0x` + 64 lowercase hex. */
  tok: string;
  /** Sui address of the signer, `0x` + 64 lowercase hex. */
  sub: string;
  /** Cluster id the credential is bound to. */
  aud: string;
  iat: number;
  exp: number;
  /** base64url of 16 random bytes. */
  nonce: string;
}

export interface ParsedCredential {
  readonly payload: CredentialPayload;
  /** The exact bytes that were signed (decoded `<payload>`). */
  readonly payloadBytes: Uint8Array;
  /** The Sui serialized signature (flag ‖ signature ‖ public key, or the multisig/zkLogin encodings). */
  readonly signatureBytes: Uint8Array;
}

export type Result<T, R> = { ok: true; value: T } | { ok: false; reason: R };

/** Anything that signs Sui personal messages: every SDK `Keypair`, a `MultiSigSigner`, a wallet adapter. */
export interface PersonalMessageSigner {
  toSuiAddress(): string;
  signPersonalMessage(bytes: Uint8Array): Promise<{ signature: string }>;
}

/** A zkLogin (or other) verification needed a backend that could not answer: fail closed, retry later. */
export class SignatureVerifierUnavailableError extends DependencyUnavailableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SignatureVerifierUnavailableError';
  }
}

/**
 * gRPC statuses that mean the node could not judge the signature right now. Only these (and network
 * failures, which the token checker's client reports as UNAVAILABLE, and a client that could not be
 * loaded) are "verifier unavailable"; any other answer — INVALID_ARGUMENT for bytes the node cannot
 * parse, INTERNAL, NOT_FOUND, … — is the node refusing the signature. Otherwise anyone could make the
 * token routes answer 5xx with a self-made credential.
 */
export const VERIFIER_UNAVAILABLE_CODES: ReadonlySet<string> = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED']);

/** Whether a failed zkLogin verification call means the verifier was unavailable (not a refusal). */
export function isVerifierUnavailable(error: unknown): boolean {
  if (error instanceof SignatureVerifierUnavailableError) return true;
  const e = error as { name?: unknown; code?: unknown } | null;
  return e?.name === 'RpcError' && typeof e.code === 'string' && VERIFIER_UNAVAILABLE_CODES.has(e.code);
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const PAYLOAD_KEYS = ['tok', 'sub', 'aud', 'iat', 'exp', 'nonce'] as const;
const ED25519_SERIALIZED_LENGTH = 1 + 64 + 32;

/** Decodes base64url without padding, refusing any non-canonical spelling (so every string maps to one byte string). */
function decodeB64url(text: string): Buffer | undefined {
  if (!B64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

function isUnixSeconds(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function validPayload(value: unknown): value is CredentialPayload {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== PAYLOAD_KEYS.length || !PAYLOAD_KEYS.every((k) => Object.hasOwn(value, k))) return false;
  const p = value as Record<string, unknown>;
  return (
    typeof p.tok === 'string' && SUI_ID_PATTERN.test(p.tok) &&
    typeof p.sub === 'string' && SUI_ID_PATTERN.test(p.sub) &&
    typeof p.aud === 'string' && p.aud.length > 0 && p.aud.length <= 128 &&
    isUnixSeconds(p.iat) && isUnixSeconds(p.exp) &&
    typeof p.nonce === 'string' && decodeB64url(p.nonce)?.length === 16
  );
}

function canonicalPayloadJson(p: CredentialPayload): string {
  const canonical: CredentialPayload = { tok: p.tok, sub: p.sub, aud: p.aud, iat: p.iat, exp: p.exp, nonce: p.nonce };
  return JSON.stringify(canonical);
}

/** Splits and decodes a credential string; anything that is not exactly the §5 shape is `malformed`. */
export function parseCredential(credential: string): Result<ParsedCredential, 'malformed'> {
  const malformed = { ok: false, reason: 'malformed' } as const;
  if (typeof credential !== 'string' || credential.length > MAX_CREDENTIAL_LENGTH || !credential.startsWith(CREDENTIAL_PREFIX)) return malformed;
  const parts = credential.slice(CREDENTIAL_PREFIX.length).split('.');
  if (parts.length !== 2) return malformed;
  const payloadBytes = decodeB64url(parts[0]);
  const signatureBytes = decodeB64url(parts[1]);
  if (!payloadBytes || !signatureBytes) return malformed;
  let text: string;
  let payload: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payloadBytes);
    payload = JSON.parse(text);
  } catch {
    return malformed;
  }
  if (!validPayload(payload)) return malformed;
  // One spelling only: the compact JSON createCredential writes (keys in contract order, no whitespace,
  // JSON.stringify's escapes). JSON.parse silently keeps the last of duplicate keys, so without this a
  // signed payload could read differently to another parser, and one payload could have many encodings.
  if (text !== canonicalPayloadJson(payload)) return malformed;
  return { ok: true, value: { payload, payloadBytes, signatureBytes } };
}

/** The time and audience rules of §5, checked before any signature work. */
export function checkClaims(payload: CredentialPayload, opts: { audience: string; nowMs: number }): Result<CredentialPayload, CredentialReason> {
  const lifetime = payload.exp - payload.iat;
  if (lifetime <= 0) return { ok: false, reason: 'malformed' };
  if (lifetime > MAX_LIFETIME_S) return { ok: false, reason: 'lifetime_too_long' };
  if (payload.aud !== opts.audience) return { ok: false, reason: 'wrong_audience' };
  const now = opts.nowMs / 1000;
  if (now < payload.iat - CLOCK_SKEW_S) return { ok: false, reason: 'not_yet_valid' };
  if (now > payload.exp) return { ok: false, reason: 'expired' };
  return { ok: true, value: payload };
}

type SdkVerifier = typeof import('./sdk-verifier');

let sdkVerifier: Promise<SdkVerifier> | undefined;
/** Loads the SDK once, on the first signature that needs it (a failed load is retried on the next). */
function loadSdkVerifier(): Promise<SdkVerifier> {
  sdkVerifier ??= import('./sdk-verifier').catch((error: unknown) => {
    sdkVerifier = undefined;
    throw error;
  });
  return sdkVerifier;
}

/** Whether a zkLogin signature's identifier (issuer + address seed) derives `address`, before asking a node. */
function zkLoginDerives(sdk: SdkVerifier, signatureB64: string, address: string): boolean {
  try {
    const parsed = sdk.parseSerializedSignature(signatureB64);
    return parsed.signatureScheme === 'ZkLogin' && sdk.publicKeyFromRawBytes('ZkLogin', parsed.publicKey).verifyAddress(address);
  } catch {
    return false;
  }
}

/**
 * A multisig this verifier accepts: canonical BCS (re-encodes to the same bytes), a bitmap with exactly
 * one in-range bit per signature (the SDK ignores surplus bits, which would make the encoding
 * malleable), only members whose schemes verify without a client (zkLogin members would need one),
 * each signature of its member's own scheme, and no small-order Ed25519 key in the set.
 */
function multisigWellFormed(sdk: SdkVerifier, serialized: Uint8Array): boolean {
  try {
    const parsed = sdk.parseSerializedSignature(Buffer.from(serialized).toString('base64'));
    if (parsed.signatureScheme !== 'MultiSig') return false;
    const { multisig } = parsed;
    const reencoded = sdk.bcs.MultiSig.serialize(multisig).toBytes();
    if (!Buffer.from(reencoded).equals(Buffer.from(serialized.subarray(1)))) return false;
    let bits = 0;
    for (let i = 0; i < 16; i++) if (multisig.bitmap & (1 << i)) bits++;
    if (bits !== multisig.sigs.length || multisig.bitmap >= 1 << multisig.multisig_pk.pk_map.length) return false;
    const ed25519Keys = multisig.multisig_pk.pk_map.flatMap(({ pubKey }) => ('ED25519' in pubKey ? [Uint8Array.from(pubKey.ED25519)] : []));
    if (ed25519Keys.some(isSmallOrderEd25519)) return false;
    // The SDK verifies each signature with the scheme the signature names, applied to the member's key
    // bytes; Sui requires the member's own scheme (the one its address commits to). Refuse a mismatch.
    const members = multisig.multisig_pk.pk_map.filter((_, i) => multisig.bitmap & (1 << i));
    return multisig.sigs.every((sig, i) => (['ED25519', 'Secp256k1', 'Secp256r1'] as const).some((scheme) => scheme in sig && scheme in members[i].pubKey));
  } catch {
    return false;
  }
}

// DESIGN §5 names the accepted schemes; passkeys (and unknown flags) are not among them.
const ACCEPTED_FLAGS: ReadonlySet<number> = new Set(Object.values(FLAG));

async function verifyWithSdk(message: Uint8Array, serialized: Uint8Array, address: string, client?: ClientWithCoreApi): Promise<boolean> {
  const flag = serialized[0];
  if (!ACCEPTED_FLAGS.has(flag)) return false;
  // zkLogin needs a full node to check the proof against the current JWKs and epoch: without one, refuse.
  if (flag === FLAG.zklogin && !client) return false;
  if (flag === FLAG.ed25519 && (serialized.length !== ED25519_SERIALIZED_LENGTH || isSmallOrderEd25519(serialized.subarray(65)))) return false;
  const sdk = await loadSdkVerifier();
  const signatureB64 = Buffer.from(serialized).toString('base64');
  if (flag === FLAG.zklogin && !zkLoginDerives(sdk, signatureB64, address)) return false;
  if (flag === FLAG.multisig && !multisigWellFormed(sdk, serialized)) return false;
  try {
    return await sdk.isValidPersonalMessageSignature(message, signatureB64, { address, client: flag === FLAG.zklogin ? client : undefined });
  } catch (error) {
    // Unavailability must not be reported as a bad signature (fail closed, retry); everything else the
    // SDK or the node throws — bytes the curve code or the node rejects — is a bad signature.
    if (flag === FLAG.zklogin && isVerifierUnavailable(error)) {
      if (error instanceof SignatureVerifierUnavailableError) throw error;
      const code = (error as { code?: string }).code;
      throw new SignatureVerifierUnavailableError(`the Sui node could not verify the zkLogin signature now (${code})`, { cause: error });
    }
    return false;
  }
}

export interface SignatureVerifyOptions {
  /** Sui client used for zkLogin signatures; without it zkLogin credentials are refused. */
  readonly zkLoginClient?: ClientWithCoreApi;
  /** `false` sends Ed25519 through the SDK too (the tests compare both paths). @default true */
  readonly ed25519FastPath?: boolean;
  /** `false` sends Secp256k1 and Secp256r1 through the SDK too (the tests compare both paths). @default true */
  readonly secp256FastPath?: boolean;
}

function nativePathFor(flag: number, opts: SignatureVerifyOptions): boolean {
  if (!isNativeScheme(flag)) return false;
  return flag === FLAG.ed25519 ? opts.ed25519FastPath !== false : opts.secp256FastPath !== false;
}

/**
 * Whether the credential's signature is a valid Sui personal-message signature over the payload bytes
 * by a key that derives `sub`. Throws `SignatureVerifierUnavailableError` when a needed backend failed.
 */
export async function verifyCredentialSignature(parsed: ParsedCredential, opts: SignatureVerifyOptions = {}): Promise<boolean> {
  const { payloadBytes, signatureBytes, payload } = parsed;
  if (signatureBytes.length === 0) return false;
  if (nativePathFor(signatureBytes[0], opts)) return verifyNativeSignature(payloadBytes, signatureBytes, payload.sub);
  return verifyWithSdk(payloadBytes, signatureBytes, payload.sub, opts.zkLoginClient);
}

export interface VerifyCredentialOptions extends SignatureVerifyOptions {
  /** The cluster id this verifier serves (`aud`). */
  readonly audience: string;
  readonly nowMs: number;
}

/** Every rule of §5 that needs no index: format, lifetime, audience, time window, signature. */
export async function verifyCredential(credential: string, opts: VerifyCredentialOptions): Promise<Result<ParsedCredential, CredentialReason>> {
  const parsed = parseCredential(credential);
  if (!parsed.ok) return parsed;
  const claims = checkClaims(parsed.value.payload, opts);
  if (!claims.ok) return claims;
  if (!(await verifyCredentialSignature(parsed.value, opts))) return { ok: false, reason: 'bad_signature' };
  return parsed;
}

export interface CreateCredentialOptions {
  tokenId: string;
  clusterId: string;
  /** Seconds, 1..900. @default 900 */
  lifetimeSeconds?: number;
  now?: Date;
  /** 16 bytes; random unless a test pins it. */
  nonce?: Uint8Array;
}

export interface CreatedCredential {
  credential: string;
  payload: CredentialPayload;
  expiresAt: Date;
}

/** Signs a new credential for `tokenId` with `signer` (the seal token's owner). */
export async function createCredential(signer: PersonalMessageSigner, opts: CreateCredentialOptions): Promise<CreatedCredential> {
  const lifetime = opts.lifetimeSeconds ?? MAX_LIFETIME_S;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_LIFETIME_S) {
    throw new RangeError(`credential lifetime must be an integer between 1 and ${MAX_LIFETIME_S} seconds`);
  }
  if (!SUI_ID_PATTERN.test(opts.tokenId)) throw new RangeError(`token id ${SUI_ID_RULE}`);
  if (!opts.clusterId || opts.clusterId.length > 128) throw new RangeError('cluster id must be 1-128 characters');
  const nonce = opts.nonce ?? randomBytes(16);
  if (nonce.length !== 16) throw new RangeError('nonce must be 16 bytes');
  const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const payload: CredentialPayload = {
    tok: opts.tokenId,
    sub: signer.toSuiAddress(),
    aud: opts.clusterId,
    iat,
    exp: iat + lifetime,
    nonce: Buffer.from(nonce).toString('base64url'),
  };
  const payloadBytes = new TextEncoder().encode(canonicalPayloadJson(payload));
  const { signature } = await signer.signPersonalMessage(payloadBytes);
  const credential = `${CREDENTIAL_PREFIX}${Buffer.from(payloadBytes).toString('base64url')}.${Buffer.from(signature, 'base64').toString('base64url')}`;
  return { credential, payload, expiresAt: new Date(payload.exp * 1000) };
}
