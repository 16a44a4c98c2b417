// Differential tests: the OpenSSL verifier of Secp256k1/Secp256r1 personal-message signatures
// (native-signatures.ts, the production path) against the SDK's own verifier (`@mysten/sui/verify`,
// pure-JS noble curves), over generated keys and messages and over the edge cases of Sui's acceptance
// rules. The two must agree on every case; where a rule is Sui's and not OpenSSL's (low-S, compressed
// keys only), the test also shows that plain OpenSSL would have accepted, so the rule is what refuses.
import { describe, expect, it } from '@jest/globals';
import { Secp256k1Keypair } from '@mysten/sui/keypairs/secp256k1';
import { Secp256r1Keypair } from '@mysten/sui/keypairs/secp256r1';
import { isValidPersonalMessageSignature } from '@mysten/sui/verify';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { verifyCredentialSignature, type ParsedCredential } from '../../../../lambdas/shared/credentials/credential';
import { personalMessageDigest, suiAddress, verifyNativeSignature } from '../../../../lambdas/shared/credentials/native-signatures';

const CURVES = [
  { scheme: 'Secp256k1', flag: 0x01, noble: secp256k1, jwkCurve: 'secp256k1', keypair: (secret: Uint8Array) => Secp256k1Keypair.fromSecretKey(secret) },
  { scheme: 'Secp256r1', flag: 0x02, noble: p256, jwkCurve: 'P-256', keypair: (secret: Uint8Array) => Secp256r1Keypair.fromSecretKey(secret) },
] as const;
type Curve = (typeof CURVES)[number];

const TOKEN = `0x${'ab'.repeat(32)}`;

const toBig = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
const to32 = (value: bigint) => Buffer.from((value & ((1n << 256n) - 1n)).toString(16).padStart(64, '0'), 'hex');
const serialize = (flag: number, signature: Uint8Array, key: Uint8Array) => new Uint8Array([flag, ...signature, ...key]);

/** The SDK's verdict: its verifier refuses by returning false or by throwing (wrong lengths). */
async function sdkAccepts(message: Uint8Array, serialized: Uint8Array, address: string): Promise<boolean> {
  try {
    return await isValidPersonalMessageSignature(message, Buffer.from(serialized).toString('base64'), { address });
  } catch {
    return false;
  }
}

/**
 * Verifies with both verifiers (and the production entry point) and expects one verdict; returns it.
 * `label` names the case in a failure.
 */
async function agreed(label: string, message: Uint8Array, serialized: Uint8Array, address: string): Promise<boolean> {
  const native = verifyNativeSignature(message, serialized, address);
  const sdk = await sdkAccepts(message, serialized, address);
  const candidate: ParsedCredential = {
    payload: { tok: TOKEN, sub: address, aud: 'c', iat: 0, exp: 1, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' },
    payloadBytes: message,
    signatureBytes: serialized,
  };
  const production = await verifyCredentialSignature(candidate);
  const sdkPath = await verifyCredentialSignature(candidate, { ed25519FastPath: false, secp256FastPath: false });
  expect({ label, native, production, sdkPath }).toEqual({ label, native: sdk, production: sdk, sdkPath: sdk });
  return sdk;
}

/** Plain OpenSSL ECDSA, without Sui's rules: a key from its affine coordinates (JWK), any s. */
function opensslAccepts(curve: Curve, key: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const point = curve.noble.Point.fromBytes(key).toAffine();
  const jwk = { kty: 'EC', crv: curve.jwkCurve, x: to32(point.x).toString('base64url'), y: to32(point.y).toString('base64url') };
  return cryptoVerify('sha256', personalMessageDigest(message), { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, signature);
}

/** A key and its SDK-made signature over `message` (flag ‖ r ‖ s ‖ compressed key). */
async function signed(curve: Curve, secret: Uint8Array, message: Uint8Array) {
  const kp = curve.keypair(secret);
  const serialized = new Uint8Array(Buffer.from((await kp.signPersonalMessage(message)).signature, 'base64'));
  return { serialized, signature: serialized.subarray(1, 65), key: serialized.subarray(65), address: kp.toSuiAddress() };
}

/**
 * A valid ECDSA signature with a chosen s, for a public key made to fit it (no private key known):
 * R = kG, r = R.x mod n, Q = r⁻¹(sR − hG), so sR = hG + rQ. That reaches the low-S boundary exactly.
 */
function withChosenS(curve: Curve, message: Uint8Array, s: bigint, k: bigint) {
  const { Point } = curve.noble;
  const { Fn } = Point;
  const h = Fn.create(toBig(createHash('sha256').update(personalMessageDigest(message)).digest()));
  const R = Point.BASE.multiply(k);
  const r = Fn.create(R.toAffine().x);
  const Q = R.multiply(s).subtract(Point.BASE.multiplyUnsafe(h)).multiply(Fn.inv(r));
  const key = Q.toBytes(true);
  const signature = Buffer.concat([to32(r), to32(s)]);
  return { signature, key, serialized: serialize(curve.flag, signature, key), address: suiAddress(curve.flag, key) };
}

const secretArb = (curve: Curve) =>
  fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((b) => {
    const d = toBig(b);
    return d > 0n && d < curve.noble.Point.CURVE().n;
  });
const messageArb = fc.uint8Array({ maxLength: 300 });

describe.each(CURVES)('$scheme: OpenSSL and the SDK verifier agree', (curve) => {
  const { n, p } = curve.noble.Point.CURVE();
  const half = n >> 1n;
  const message = new TextEncoder().encode('{"tok":"0x..","sub":"0x.."}');
  const secret = new Uint8Array(32).fill(curve.flag + 40);

  it('derives the same address as the SDK', () => {
    fc.assert(
      fc.property(secretArb(curve), (s) => {
        const kp = curve.keypair(s);
        expect(suiAddress(curve.flag, kp.getPublicKey().toRawBytes())).toBe(kp.toSuiAddress());
      }),
      { numRuns: 50 },
    );
  });

  it('on generated keys and messages, unchanged (accepted) or with one bit flipped anywhere (refused)', async () => {
    await fc.assert(
      fc.asyncProperty(secretArb(curve), messageArb, fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { nil: undefined }), async (s, msg, flip) => {
        const { serialized, address } = await signed(curve, s, msg);
        if (flip) serialized[flip[0] % serialized.length] ^= 1 << flip[1];
        expect(await agreed('generated', msg, serialized, address)).toBe(flip === undefined);
      }),
      { numRuns: 120 },
    );
  });

  it('on generated high-S twins (r, n - s): refused, though plain OpenSSL accepts them', async () => {
    await fc.assert(
      fc.asyncProperty(secretArb(curve), messageArb, async (s, msg) => {
        const { signature, key, address } = await signed(curve, s, msg);
        const twin = Buffer.concat([signature.subarray(0, 32), to32(n - toBig(signature.subarray(32)))]);
        expect(opensslAccepts(curve, key, msg, twin)).toBe(true);
        expect(await agreed('high-S twin', msg, serialize(curve.flag, twin, key), address)).toBe(false);
      }),
      { numRuns: 40 },
    );
  });

  it('on generated signatures with a chosen s, accepted exactly when s ≤ n/2 (the low-S boundary)', async () => {
    const sArb = fc.oneof(fc.bigInt({ min: 1n, max: n - 1n }), fc.bigInt({ min: half - 3n, max: half + 3n }), fc.constantFrom(1n, half, half + 1n, n - 1n));
    await fc.assert(
      fc.asyncProperty(sArb, fc.bigInt({ min: 1n, max: n - 1n }), messageArb, async (s, k, msg) => {
        const forged = withChosenS(curve, msg, s, k);
        expect(opensslAccepts(curve, forged.key, msg, forged.signature)).toBe(true);
        expect(await agreed(`s = ${s}`, msg, forged.serialized, forged.address)).toBe(s <= half);
      }),
      { numRuns: 80 },
    );
  });

  it('on random bytes in the shape of a signature (refused)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 97, maxLength: 97 }), messageArb, async (body, msg) => {
        const serialized = new Uint8Array([curve.flag, ...body]);
        expect(await agreed('random', msg, serialized, suiAddress(curve.flag, body.subarray(64)))).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it('on r and s at and past their bounds (0, n - 1, n, 2^256 - 1)', async () => {
    const { signature, key, address } = await signed(curve, secret, message);
    const [r, s] = [toBig(signature.subarray(0, 32)), toBig(signature.subarray(32))];
    expect(await agreed('valid', message, serialize(curve.flag, signature, key), address)).toBe(true);
    const bounds = [0n, 1n, n - 1n, n, n + 1n, (1n << 256n) - 1n];
    for (const value of bounds) {
      expect(await agreed(`r = ${value}`, message, serialize(curve.flag, Buffer.concat([to32(value), to32(s)]), key), address)).toBe(false);
      expect(await agreed(`s = ${value}`, message, serialize(curve.flag, Buffer.concat([to32(r), to32(value)]), key), address)).toBe(false);
    }
    // r + n and s + n where they fit in 32 bytes: the same residues, a second spelling.
    if (r + n < 1n << 256n) expect(await agreed('r + n', message, serialize(curve.flag, Buffer.concat([to32(r + n), to32(s)]), key), address)).toBe(false);
    if (s + n < 1n << 256n) expect(await agreed('s + n', message, serialize(curve.flag, Buffer.concat([to32(r), to32(s + n)]), key), address)).toBe(false);
  });

  it('on wrong lengths, a DER signature, and the wrong flag (the other curve, Ed25519, multisig, zkLogin)', async () => {
    const { serialized, signature, key, address } = await signed(curve, secret, message);
    const der = curve.noble.Signature.fromBytes(signature).toBytes('der');
    const cases: [string, Uint8Array, string][] = [
      ['one byte short', serialized.subarray(0, 97), address],
      ['one byte long', new Uint8Array([...serialized, 0]), address],
      ['uncompressed key', serialize(curve.flag, signature, curve.noble.Point.fromBytes(key).toBytes(false)), suiAddress(curve.flag, curve.noble.Point.fromBytes(key).toBytes(false))],
      ['DER signature', serialize(curve.flag, der, key), address],
      ['flag only', serialized.subarray(0, 1), address],
    ];
    for (const flag of [0x00, 0x01, 0x02, 0x03, 0x05, 0x06]) {
      if (flag === curve.flag) continue;
      // The address is the one the relabelled key would have, so only the scheme decides.
      cases.push([`flag ${flag}`, serialize(flag, signature, key), suiAddress(flag, key)]);
    }
    for (const [label, bytes, addr] of cases) expect(await agreed(label, message, bytes, addr)).toBe(false);
  });

  it('on a key of the other curve, and a cached key presented for another address', async () => {
    const other = CURVES.find((c) => c !== curve)!;
    const mine = await signed(curve, secret, message);
    const theirs = await signed(other, secret, message);
    expect(await agreed('key of the other curve', message, serialize(curve.flag, mine.signature, theirs.key), suiAddress(curve.flag, theirs.key))).toBe(false);
    expect(await agreed('signature of the other curve', message, serialize(curve.flag, theirs.signature, mine.key), mine.address)).toBe(false);
    expect(await agreed('valid (now cached)', message, mine.serialized, mine.address)).toBe(true);
    expect(await agreed('cached key, another address', message, mine.serialized, `0x${'cd'.repeat(32)}`)).toBe(false);
    expect(await agreed('cached key, its address under the other flag', message, mine.serialized, suiAddress(other.flag, mine.key))).toBe(false);
  });

  it('on malformed compressed keys: prefixes other than 02/03, x ≥ p, x off the curve', async () => {
    const { signature, key } = await signed(curve, secret, message);
    const x = toBig(key.subarray(1));
    // Smallest x0 with a curve point and x0 + p < 2^256: x0 + p is x0's point spelled a second way.
    let x0 = 0n;
    while (!isCurveX(curve, x0)) x0++;
    expect(x0 + p < 1n << 256n).toBe(true);
    let offCurve = x + 1n;
    while (isCurveX(curve, offCurve % p)) offCurve++;
    const keys: [string, Uint8Array][] = [
      ...[0x00, 0x01, 0x04, 0x05, 0x06, 0x07, 0xff].map((prefix): [string, Uint8Array] => [`prefix ${prefix}`, new Uint8Array([prefix, ...key.subarray(1)])]),
      ['x = x0 + p', new Uint8Array([0x02, ...to32(x0 + p)])],
      ['x = x0 + p, odd', new Uint8Array([0x03, ...to32(x0 + p)])],
      ['x = p', new Uint8Array([0x02, ...to32(p)])],
      ['x = 2^256 - 1', new Uint8Array([0x02, ...to32((1n << 256n) - 1n)])],
      ['x off the curve', new Uint8Array([key[0], ...to32(offCurve % p)])],
      ['all zero', new Uint8Array(33)],
    ];
    for (const [label, bad] of keys) {
      expect(await agreed(label, message, serialize(curve.flag, signature, bad), suiAddress(curve.flag, bad))).toBe(false);
    }
  });
});

/** Whether x (< p) is the x coordinate of a point of the curve. */
function isCurveX(curve: Curve, x: bigint): boolean {
  try {
    curve.noble.Point.fromBytes(new Uint8Array([0x02, ...to32(x)]));
    return true;
  } catch {
    return false;
  }
}
