// Signature verification per scheme (issue 16 item 4): the production path (OpenSSL through node:crypto,
// lambdas/shared/credentials/native-signatures.ts) against the SDK's pure-JS verifier, in the same run,
// through the same entry point (`verifyCredentialSignature`, with and without the fast paths). Two key
// populations: 256 distinct keys (the per-container key cache hits, as for users who come back) and
// 4,500 distinct keys cycled through a 4,096-entry cache (every verify parses its key afresh).
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { verifyCredentialSignature, type ParsedCredential } from '../../lambdas/shared/credentials/credential';
import { personalMessageDigest, SIGNATURE_FLAG, suiAddress } from '../../lambdas/shared/credentials/native-signatures';

const RUN_MS = 500;
const ROUNDS = 3;
const WARM_KEYS = 256;
const COLD_KEYS = 4_500; // more than the verifier's key cache holds (4,096)
const SDK_PATH = { ed25519FastPath: false, secp256FastPath: false } as const;

// Keys are made and signed with OpenSSL (thousands of SDK signatures would take minutes on this machine);
// every signature is checked to verify on both paths before it is timed.
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const SECP256R1_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const SCHEMES = [
  ['ed25519', SIGNATURE_FLAG.ed25519, undefined, undefined],
  ['secp256k1', SIGNATURE_FLAG.secp256k1, 'secp256k1', SECP256K1_N],
  ['secp256r1', SIGNATURE_FLAG.secp256r1, 'prime256v1', SECP256R1_N],
] as const;

/** The raw public key bytes Sui serializes: 32 bytes for Ed25519, SEC 1 compressed (33) for ECDSA. */
function suiPublicKey(publicKey: KeyObject, ecdsa: boolean): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x!, 'base64url');
  if (!ecdsa) return x;
  const y = Buffer.from(jwk.y!, 'base64url');
  return new Uint8Array([0x02 | (y[31] & 1), ...x]);
}

/** Distinct keys, each with a signed credential-sized payload (low-S, as Sui requires). */
function candidates(flag: number, curve: string | undefined, n: bigint | undefined, count: number): ParsedCredential[] {
  const out: ParsedCredential[] = [];
  for (let i = 0; i < count; i++) {
    const { publicKey, privateKey } = curve ? generateKeyPairSync('ec', { namedCurve: curve }) : generateKeyPairSync('ed25519');
    const key = suiPublicKey(publicKey, curve !== undefined);
    const payload = { tok: `0x${'ab'.repeat(32)}`, sub: suiAddress(flag, key), aud: 'bench-cluster', iat: 1_800_000_000, exp: 1_800_000_900, nonce: Buffer.alloc(16, i).toString('base64url') };
    const payloadBytes = new TextEncoder().encode(JSON.stringify(payload));
    const digest = personalMessageDigest(payloadBytes);
    let signature = curve ? sign('sha256', digest, { key: privateKey, dsaEncoding: 'ieee-p1363' }) : sign(null, digest, privateKey);
    if (n !== undefined) {
      const s = BigInt(`0x${signature.subarray(32).toString('hex')}`);
      if (s > n >> 1n) signature = Buffer.concat([signature.subarray(0, 32), Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex')]);
    }
    out.push({ payload, payloadBytes, signatureBytes: new Uint8Array([flag, ...signature, ...key]) });
  }
  return out;
}

/** Verifies the candidates in turn for about `RUN_MS`; returns verifies per second (all must pass). */
async function perSecond(list: ParsedCredential[], opts: typeof SDK_PATH | undefined): Promise<number> {
  let i = 0;
  const once = async () => {
    const ok = await verifyCredentialSignature(list[i++ % list.length], opts);
    if (!ok) throw new Error('benchmark signature refused');
  };
  const warmUntil = performance.now() + 100;
  while (performance.now() < warmUntil) await once();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < RUN_MS) {
    for (let k = 0; k < 16; k++) await once();
    n += 16;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

export async function run(): Promise<void> {
  for (const [name, flag, curve, n] of SCHEMES) {
    const cold = candidates(flag, curve, n, COLD_KEYS);
    const warm = cold.slice(0, WARM_KEYS);
    // Interleaved rounds, best of each: a load spike on the shared machine must not skew one side.
    const best = { openssl: 0, sdk: 0, opensslNewKey: 0, sdkNewKey: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      best.openssl = Math.max(best.openssl, await perSecond(warm, undefined));
      best.sdk = Math.max(best.sdk, await perSecond(warm, SDK_PATH));
      best.opensslNewKey = Math.max(best.opensslNewKey, await perSecond(cold, undefined));
      best.sdkNewKey = Math.max(best.sdkNewKey, await perSecond(cold, SDK_PATH));
    }
    console.log(`${name}_openssl_verify_per_s: ${best.openssl.toFixed(0)}`);
    console.log(`${name}_sdk_verify_per_s: ${best.sdk.toFixed(0)}`);
    console.log(`${name}_openssl_vs_sdk: ${(best.openssl / best.sdk).toFixed(1)}x`);
    console.log(`${name}_new_key_openssl_verify_per_s: ${best.opensslNewKey.toFixed(0)}`);
    console.log(`${name}_new_key_openssl_vs_sdk: ${(best.opensslNewKey / best.sdkNewKey).toFixed(1)}x`);
    console.log(`${name}_new_key_vs_cached_key: ${(best.opensslNewKey / best.openssl).toFixed(2)}x`);
  }
}
