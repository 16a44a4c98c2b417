// Single-key Sui personal-message signatures (Ed25519, Secp256k1, Secp256r1) verified by OpenSSL through
// `node:crypto`, under the acceptance rules of Sui and of the SDK's own verifier (`@mysten/sui`, pure-JS
// noble curves), which the differential tests compare it with. OpenSSL is several times (Secp256k1) to
// more than ten times (Ed25519, Secp256r1) faster (`npm run bench signatures`), and this module loads
// none of the SDK.
//
// What is signed, as the SDK builds it: digest = BLAKE2b-256(intent PersonalMessage ‖ BCS vector<u8> of
// the message). Ed25519 signs the digest itself; the ECDSA schemes sign SHA-256(digest) (the SDK's
// `secp256k1.verify` / `p256.verify` prehash the 32-byte digest with SHA-256, as Sui's fastcrypto does).
import { blake2b } from '@noble/hashes/blake2.js';
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';

/** The first byte of a Sui serialized signature: its scheme. */
export const SIGNATURE_FLAG = { ed25519: 0x00, secp256k1: 0x01, secp256r1: 0x02, multisig: 0x03, zklogin: 0x05 } as const;

// Intent of a Sui personal message: scope PersonalMessage (3), version V0, app id Sui.
const PERSONAL_MESSAGE_INTENT = [3, 0, 0] as const;

function uleb128(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

/**
 * The 32-byte digest a Sui key signs for a personal message, built as the SDK does: intent
 * (PersonalMessage, V0, Sui) ‖ BCS `vector<u8>` of the message, hashed with BLAKE2b-256.
 */
export function personalMessageDigest(message: Uint8Array): Uint8Array {
  const length = uleb128(message.length);
  const intentMessage = new Uint8Array(PERSONAL_MESSAGE_INTENT.length + length.length + message.length);
  intentMessage.set(PERSONAL_MESSAGE_INTENT, 0);
  intentMessage.set(length, PERSONAL_MESSAGE_INTENT.length);
  intentMessage.set(message, PERSONAL_MESSAGE_INTENT.length + length.length);
  return blake2b(intentMessage, { dkLen: 32 });
}

/** Sui address of a single-key public key: BLAKE2b-256(flag ‖ public key bytes). */
export function suiAddress(flag: number, publicKey: Uint8Array): string {
  const input = new Uint8Array(1 + publicKey.length);
  input[0] = flag;
  input.set(publicKey, 1);
  return `0x${Buffer.from(blake2b(input, { dkLen: 32 })).toString('hex')}`;
}

/** Sui address of an Ed25519 public key: BLAKE2b-256(flag 0x00 ‖ public key). */
export function ed25519Address(publicKey: Uint8Array): string {
  return suiAddress(SIGNATURE_FLAG.ed25519, publicKey);
}

const ED25519_P = 2n ** 255n - 19n;
// y of the order-8 points (the other order-8 points have p - y); with 0 (order 4), 1 (identity) and
// p - 1 (order 2) these are the y coordinates of all eight small-order points.
const ED25519_ORDER8_Y = 0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n;
const SMALL_ORDER_Y = new Set([0n, 1n, ED25519_P - 1n, ED25519_ORDER8_Y, ED25519_P - ED25519_ORDER8_Y]);

function bigEndian(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

/**
 * Whether an encoded Ed25519 public key is a point of small order, under any encoding (canonical or not).
 * Such keys admit signatures anyone can make; the SDK's ZIP-215 verifier accepts them, OpenSSL does
 * not. Both paths refuse them, so they agree and a forgeable key never authenticates anyone.
 */
export function isSmallOrderEd25519(publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32) return true;
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? publicKey[i] & 0x7f : publicKey[i]);
  return SMALL_ORDER_Y.has(y % ED25519_P);
}

/** Curve constants of the two ECDSA schemes, and the DER SubjectPublicKeyInfo header a 33-byte compressed key follows (RFC 5480). */
const ECDSA_CURVES = {
  [SIGNATURE_FLAG.secp256k1]: {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn,
    n: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
    // SEQUENCE { SEQUENCE { id-ecPublicKey, secp256k1 }, BIT STRING (0 unused bits) }
    spkiPrefix: Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex'),
  },
  [SIGNATURE_FLAG.secp256r1]: {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) }
    spkiPrefix: Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
  },
} as const;
type EcdsaFlag = keyof typeof ECDSA_CURVES;

interface Scheme {
  readonly publicKeyLength: number;
  /** The SPKI DER OpenSSL reads, or undefined for a key encoding Sui does not accept (checked before OpenSSL parses it). */
  spki(publicKey: Uint8Array): Buffer | undefined;
  /** Whether the raw signature is in the one encoding Sui accepts (checked before any curve work). */
  canonicalSignature(signature: Uint8Array): boolean;
  /** Digest algorithm OpenSSL applies to the personal-message digest (null: Ed25519 signs it as is). */
  readonly hash: 'sha256' | null;
}

// DER SubjectPublicKeyInfo header of an Ed25519 key (RFC 8410); the 32 raw key bytes follow it.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function ecdsaScheme(flag: EcdsaFlag): Scheme {
  const { p, n, spkiPrefix } = ECDSA_CURVES[flag];
  return {
    publicKeyLength: 33,
    // Compressed SEC 1 only (prefix 02/03) with x < p, as Sui and the SDK decode keys. OpenSSL 3 refuses
    // the other 33-byte forms too; checking here keeps the rule ours rather than one library version's.
    // Whether x is on the curve is OpenSSL's check (it finds no y otherwise).
    spki: (key) => ((key[0] === 0x02 || key[0] === 0x03) && bigEndian(key.subarray(1)) < p ? Buffer.concat([spkiPrefix, key]) : undefined),
    // r ‖ s, 32 bytes each, 1 ≤ r < n and 1 ≤ s ≤ n/2: Sui (and the SDK) refuse high-S signatures so
    // that (r, n - s), the twin anyone can compute from a valid signature, is not a second valid one.
    // OpenSSL accepts both twins (it refuses r, s = 0 or ≥ n itself; checked here all the same).
    canonicalSignature: (signature) => {
      const r = bigEndian(signature.subarray(0, 32));
      const s = bigEndian(signature.subarray(32, 64));
      return r >= 1n && r < n && s >= 1n && s <= n >> 1n;
    },
    hash: 'sha256',
  };
}

const SCHEMES: Readonly<Record<number, Scheme>> = {
  [SIGNATURE_FLAG.ed25519]: {
    publicKeyLength: 32,
    spki: (key) => (isSmallOrderEd25519(key) ? undefined : Buffer.concat([ED25519_SPKI_PREFIX, key])),
    canonicalSignature: () => true, // OpenSSL refuses S ≥ L (RFC 8032 §5.1.7), as the SDK does
    hash: null,
  },
  [SIGNATURE_FLAG.secp256k1]: ecdsaScheme(SIGNATURE_FLAG.secp256k1),
  [SIGNATURE_FLAG.secp256r1]: ecdsaScheme(SIGNATURE_FLAG.secp256r1),
};

const SIGNATURE_LENGTH = 64;

/** Whether `verifyNativeSignature` handles this serialized-signature flag (the single-key schemes). */
export function isNativeScheme(flag: number): boolean {
  return Object.hasOwn(SCHEMES, flag);
}

// Building a KeyObject and hashing the address cost a good part of a verify; users re-present the same
// key all day, so both are kept per (flag, public key) (bounded, oldest dropped first). Only keys that
// parsed and derived the address asked for are kept, so refused input cannot churn the cache.
const KNOWN_KEYS_LIMIT = 4096;
const knownKeys = new Map<string, { key: KeyObject; address: string }>();

function knownKey(flag: number, scheme: Scheme, publicKey: Uint8Array, address: string): KeyObject | undefined {
  const id = `${flag}:${Buffer.from(publicKey).toString('base64')}`;
  const known = knownKeys.get(id);
  if (known) return known.address === address ? known.key : undefined;
  // Address first: a signature by any other key is refused without parsing a point.
  if (suiAddress(flag, publicKey) !== address) return undefined;
  const spki = scheme.spki(publicKey);
  if (!spki) return undefined;
  let key: KeyObject;
  try {
    // The same SPKI as PEM text: Node 24 tests an object argument for being a key object by throwing
    // inside (a stack trace each, ~15 µs here, more under a deep async stack); a string skips that test.
    key = createPublicKey(`-----BEGIN PUBLIC KEY-----\n${spki.toString('base64')}\n-----END PUBLIC KEY-----\n`);
  } catch {
    return undefined; // not a point of the curve
  }
  if (knownKeys.size >= KNOWN_KEYS_LIMIT) knownKeys.delete(knownKeys.keys().next().value!);
  knownKeys.set(id, { key, address });
  return key;
}

/**
 * Whether `serialized` (flag ‖ 64-byte signature ‖ public key) is a valid Sui personal-message signature
 * over `message` by a single Ed25519, Secp256k1 or Secp256r1 key that derives `address`. Any other flag,
 * length, or encoding is `false`.
 */
export function verifyNativeSignature(message: Uint8Array, serialized: Uint8Array, address: string): boolean {
  const flag = serialized[0];
  const scheme = isNativeScheme(flag) ? SCHEMES[flag] : undefined;
  if (!scheme || serialized.length !== 1 + SIGNATURE_LENGTH + scheme.publicKeyLength) return false;
  const signature = serialized.subarray(1, 1 + SIGNATURE_LENGTH);
  if (!scheme.canonicalSignature(signature)) return false;
  const key = knownKey(flag, scheme, serialized.subarray(1 + SIGNATURE_LENGTH), address);
  if (!key) return false;
  try {
    const digest = personalMessageDigest(message);
    return scheme.hash === null
      ? cryptoVerify(null, digest, key, signature)
      : cryptoVerify(scheme.hash, digest, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}
