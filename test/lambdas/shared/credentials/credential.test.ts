import { describe, expect, it, jest } from '@jest/globals';
import { bcs } from '@mysten/sui/bcs';
import type { ClientWithCoreApi } from '@mysten/sui/client';
import { messageWithIntent } from '@mysten/sui/cryptography';
import { Ed25519Keypair, Ed25519PublicKey } from '@mysten/sui/keypairs/ed25519';
import { Secp256k1Keypair } from '@mysten/sui/keypairs/secp256k1';
import { Secp256r1Keypair } from '@mysten/sui/keypairs/secp256r1';
import { MultiSigPublicKey, MultiSigSigner } from '@mysten/sui/multisig';
import { isValidPersonalMessageSignature } from '@mysten/sui/verify';
import { ed25519 } from '@noble/curves/ed25519.js';
import { blake2b } from '@noble/hashes/blake2.js';
import { build } from 'esbuild';
import fc from 'fast-check';
import * as path from 'node:path';
import {
  CREDENTIAL_PREFIX,
  createCredential,
  ed25519Address,
  isSmallOrderEd25519,
  parseCredential,
  personalMessageDigest,
  SignatureVerifierUnavailableError,
  verifyCredential,
  verifyCredentialSignature,
  type ParsedCredential,
  type PersonalMessageSigner,
} from '../../../../lambdas/shared/credentials/credential';
import { zkLoginSigner } from '../../../support/token-fixtures';

const TOKEN = `0x${'ab'.repeat(32)}`;
const CLUSTER = 'dev-cluster';
const NOW = new Date('2026-11-23T01:00:00Z');
const NOW_S = NOW.getTime() / 1000;

const ed = Ed25519Keypair.fromSecretKey(new Uint8Array(32).fill(7));
const k1 = Secp256k1Keypair.fromSecretKey(new Uint8Array(32).fill(8));
const r1 = Secp256r1Keypair.fromSecretKey(new Uint8Array(32).fill(9));
const multisigPk = MultiSigPublicKey.fromPublicKeys({
  threshold: 2,
  publicKeys: [
    { publicKey: ed.getPublicKey(), weight: 1 },
    { publicKey: k1.getPublicKey(), weight: 1 },
    { publicKey: r1.getPublicKey(), weight: 1 },
  ],
});
const multisig = new MultiSigSigner(multisigPk, [ed, r1]);

const SIGNERS: [string, PersonalMessageSigner][] = [
  ['Ed25519', ed],
  ['Secp256k1', k1],
  ['Secp256r1', r1],
  ['MultiSig (2 of 3)', multisig],
];

/** Every scheme through the SDK's verifier, the reference the native (OpenSSL) paths are compared with. */
const SDK_PATH = { ed25519FastPath: false, secp256FastPath: false } as const;

const at = (seconds: number) => ({ audience: CLUSTER, nowMs: seconds * 1000 });

async function credentialFor(signer: PersonalMessageSigner, lifetimeSeconds = 300) {
  return (await createCredential(signer, { tokenId: TOKEN, clusterId: CLUSTER, lifetimeSeconds, now: NOW })).credential;
}

/** Signs arbitrary payload bytes, to build credentials createCredential would refuse to make. */
async function signRaw(signer: PersonalMessageSigner, payload: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const { signature } = await signer.signPersonalMessage(bytes);
  return `${CREDENTIAL_PREFIX}${Buffer.from(bytes).toString('base64url')}.${Buffer.from(signature, 'base64').toString('base64url')}`;
}

function payload(overrides: Record<string, unknown> = {}) {
  return { tok: TOKEN, sub: ed.toSuiAddress(), aud: CLUSTER, iat: NOW_S, exp: NOW_S + 300, nonce: 'AAAAAAAAAAAAAAAAAAAAAA', ...overrides };
}

describe('credential format (DESIGN §5)', () => {
  it('creates k3sdaas.v1.<b64url payload>.<b64url serialized signature> with exactly the six payload keys in order', async () => {
    const { credential, payload: p, expiresAt } = await createCredential(ed, { tokenId: TOKEN, clusterId: CLUSTER, lifetimeSeconds: 600, now: NOW });
    expect(credential).toMatch(/^k3sdaas\.v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const [, , body, sig] = credential.split('.');
    const json = Buffer.from(body, 'base64url').toString('utf8');
    expect(Object.keys(JSON.parse(json))).toEqual(['tok', 'sub', 'aud', 'iat', 'exp', 'nonce']);
    expect(p).toMatchObject({ tok: TOKEN, sub: ed.toSuiAddress(), aud: CLUSTER, iat: NOW_S, exp: NOW_S + 600 });
    expect(Buffer.from(p.nonce, 'base64url')).toHaveLength(16);
    expect(expiresAt.toISOString()).toBe('2026-11-23T01:10:00.000Z');
    // The signature part is the SDK's serialized signature over the decoded payload bytes.
    const expected = await ed.signPersonalMessage(new TextEncoder().encode(json));
    expect(Buffer.from(sig, 'base64url').toString('base64')).toBe(expected.signature);
  });

  it('creates a fresh random nonce per credential', async () => {
    const a = await createCredential(ed, { tokenId: TOKEN, clusterId: CLUSTER, now: NOW });
    const b = await createCredential(ed, { tokenId: TOKEN, clusterId: CLUSTER, now: NOW });
    expect(a.payload.nonce).not.toBe(b.payload.nonce);
  });

  it('refuses to create credentials outside the lifetime and id rules', async () => {
    await expect(createCredential(ed, { tokenId: TOKEN, clusterId: CLUSTER, lifetimeSeconds: 901 })).rejects.toThrow(/lifetime/);
    await expect(createCredential(ed, { tokenId: TOKEN, clusterId: CLUSTER, lifetimeSeconds: 0 })).rejects.toThrow(/lifetime/);
    await expect(createCredential(ed, { tokenId: '0x12', clusterId: CLUSTER })).rejects.toThrow(/token id/);
  });
});

describe('credentials signed with the official SDK are accepted', () => {
  it.each(SIGNERS)('%s', async (_name, signer) => {
    const credential = await credentialFor(signer);
    const result = await verifyCredential(credential, at(NOW_S + 10));
    expect(result).toMatchObject({ ok: true, value: { payload: { sub: signer.toSuiAddress(), tok: TOKEN } } });
  });

  it('every single-key scheme through the SDK path as well as the native fast path', async () => {
    for (const signer of [ed, k1, r1]) {
      const credential = await credentialFor(signer);
      expect(await verifyCredential(credential, at(NOW_S))).toMatchObject({ ok: true });
      expect(await verifyCredential(credential, { ...at(NOW_S), ...SDK_PATH })).toMatchObject({ ok: true });
    }
  });
});

describe('reason codes of DESIGN §4 for the credential itself', () => {
  it('malformed: wrong prefix, part count, alphabet, padding, non-canonical base64, JSON, keys, field shapes, length', async () => {
    const good = await credentialFor(ed);
    const [, , body, sig] = good.split('.');
    const cases = [
      '',
      `k3sdaas.v2.${body}.${sig}`,
      `K3SDAAS.v1.${body}.${sig}`,
      `k3sdaas.v1.${body}`,
      `k3sdaas.v1.${body}.${sig}.x`,
      `k3sdaas.v1.${body}=.${sig}`,
      `k3sdaas.v1.${body}.${sig}==`,
      `k3sdaas.v1.${Buffer.from(body, 'base64url').toString('base64')}.${sig}`,
      `k3sdaas.v1.${body}.`,
      'k3sdaas.v1..',
      `k3sdaas.v1.${body}.${sig}${'A'.repeat(9000)}`,
    ];
    for (const c of cases) expect({ c, r: await verifyCredential(c, at(NOW_S)) }).toEqual({ c, r: { ok: false, reason: 'malformed' } });
    const signedBad = [
      'not json',
      '[]',
      'null',
      payload({ extra: 1 }),
      { ...payload(), nonce: undefined },
      payload({ __proto__x: 1 }),
      payload({ tok: TOKEN.toUpperCase().replace('0X', '0x') }),
      payload({ tok: '0x1234' }),
      payload({ sub: 'sui:abc' }),
      payload({ aud: '' }),
      payload({ iat: '1' }),
      payload({ iat: NOW_S + 0.5 }),
      payload({ exp: -1 }),
      payload({ nonce: 'AAAA' }),
      payload({ nonce: 'AAAAAAAAAAAAAAAAAAAAAB' }), // non-canonical: trailing bits set
      payload({ exp: NOW_S }), // exp - iat must be > 0
      payload({ exp: NOW_S - 5 }),
    ];
    for (const p of signedBad) {
      const c = await signRaw(ed, p);
      expect({ p, r: await verifyCredential(c, at(NOW_S)) }).toEqual({ p, r: { ok: false, reason: 'malformed' } });
    }
    // Invalid UTF-8 in the payload.
    const c = `k3sdaas.v1.${Buffer.from([0xff, 0xfe]).toString('base64url')}.${sig}`;
    expect(await verifyCredential(c, at(NOW_S))).toEqual({ ok: false, reason: 'malformed' });
  });

  it('malformed: signed payloads that are not the one canonical JSON spelling (duplicate keys, order, whitespace, escapes, number forms)', async () => {
    const canonical = JSON.stringify(payload());
    expect(await verifyCredential(await signRaw(ed, canonical), at(NOW_S))).toMatchObject({ ok: true });
    const hex = TOKEN.slice(2);
    const other = `0x${'cd'.repeat(32)}`;
    const variants = [
      // Duplicate keys: JSON.parse keeps the last one, another parser may keep the first.
      canonical.replace('{', `{"tok":"${other}",`),
      canonical.replace('}', `,"tok":"${other}"}`),
      canonical.replace('}', `,"aud":"${CLUSTER}"}`),
      // Same values, other encodings.
      JSON.stringify({ sub: ed.toSuiAddress(), tok: TOKEN, aud: CLUSTER, iat: NOW_S, exp: NOW_S + 300, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' }),
      JSON.stringify(payload(), null, 1),
      ` ${canonical}`,
      `${canonical}\n`,
      canonical.replace(`"${TOKEN}"`, `"\\u0030x${hex}"`),
      canonical.replace(`"aud":"${CLUSTER}"`, `"aud":"\\u0064ev-cluster"`),
      canonical.replace(`"aud"`, '"\\u0061ud"'),
      canonical.replace(`"iat":${NOW_S}`, `"iat":${NOW_S}.0`),
      canonical.replace(`"exp":${NOW_S + 300}`, `"exp":${(NOW_S + 300) / 1000}e3`),
    ];
    for (const v of variants) {
      expect(JSON.parse(v)).toMatchObject({ aud: CLUSTER }); // each one parses, most to the very same object
      expect({ v, r: await verifyCredential(await signRaw(ed, v), at(NOW_S)) }).toEqual({ v, r: { ok: false, reason: 'malformed' } });
    }
  });

  it('bad_signature: signed by a key that does not derive sub (every scheme, native and SDK paths)', async () => {
    for (const [, signer] of SIGNERS) {
      const c = await signRaw(signer, payload({ sub: `0x${'cd'.repeat(32)}` }));
      expect(await verifyCredential(c, at(NOW_S))).toEqual({ ok: false, reason: 'bad_signature' });
      expect(await verifyCredential(c, { ...at(NOW_S), ...SDK_PATH })).toEqual({ ok: false, reason: 'bad_signature' });
    }
  });

  it('bad_signature: a valid signature of another payload', async () => {
    const a = await credentialFor(ed);
    const b = await signRaw(ed, payload({ exp: NOW_S + 299 }));
    const spliced = `${b.split('.').slice(0, 3).join('.')}.${a.split('.')[3]}`;
    expect(await verifyCredential(spliced, at(NOW_S))).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('bad_signature: a multisig below its threshold', async () => {
    // The SDK signer refuses to produce it, so combine a lone partial signature by hand.
    const underweight: PersonalMessageSigner = {
      toSuiAddress: () => multisigPk.toSuiAddress(),
      async signPersonalMessage(bytes) {
        return { signature: multisigPk.combinePartialSignatures([(await k1.signPersonalMessage(bytes)).signature]) };
      },
    };
    const c = await credentialFor(underweight);
    expect(await verifyCredential(c, at(NOW_S))).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('bad_signature: a multisig signature whose scheme is not its member key\'s scheme (Sui refuses it, the SDK does not)', async () => {
    // A member registered as Secp256k1 whose bytes are r1's P-256 key; r1 signs and labels its part Secp256r1.
    const multisig_pk = {
      pk_map: [{ pubKey: { Secp256k1: Array.from(r1.getPublicKey().toRawBytes()) }, weight: 1 }, { pubKey: { ED25519: Array.from(ed.getPublicKey().toRawBytes()) }, weight: 1 }],
      threshold: 1,
    };
    const address = new MultiSigPublicKey(multisig_pk as never).toSuiAddress();
    const signWith = (label: 'Secp256r1' | 'Secp256k1'): PersonalMessageSigner => ({
      toSuiAddress: () => address,
      async signPersonalMessage(bytes) {
        const raw = Buffer.from((await r1.signPersonalMessage(bytes)).signature, 'base64').subarray(1, 65);
        const body = bcs.MultiSig.serialize({ sigs: [{ [label]: Array.from(raw) }], bitmap: 1, multisig_pk } as never).toBytes();
        return { signature: Buffer.concat([Buffer.from([0x03]), Buffer.from(body)]).toString('base64') };
      },
    });
    const mismatched = await credentialFor(signWith('Secp256r1'));
    const parsed = parseCredential(mismatched);
    if (!parsed.ok) throw new Error('does not parse');
    // The SDK alone accepts it: the guard, not the curve, refuses it.
    expect(await isValidPersonalMessageSignature(parsed.value.payloadBytes, Buffer.from(parsed.value.signatureBytes).toString('base64'), { address })).toBe(true);
    expect(await verifyCredential(mismatched, at(NOW_S))).toEqual({ ok: false, reason: 'bad_signature' });
    expect(await verifyCredential(await credentialFor(signWith('Secp256k1')), at(NOW_S))).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('bad_signature: unsupported scheme flags (passkey 0x06, unknown 0x04)', async () => {
    const c = await credentialFor(r1);
    const [, , body, sig] = c.split('.');
    for (const flag of [0x04, 0x06, 0x07]) {
      const bytes = Buffer.from(sig, 'base64url');
      bytes[0] = flag;
      expect(await verifyCredential(`${CREDENTIAL_PREFIX}${body}.${bytes.toString('base64url')}`, at(NOW_S))).toEqual({ ok: false, reason: 'bad_signature' });
    }
  });

  it('expired: now > exp (exp itself still valid)', async () => {
    const c = await credentialFor(ed, 300);
    expect(await verifyCredential(c, at(NOW_S + 300))).toMatchObject({ ok: true });
    expect(await verifyCredential(c, at(NOW_S + 300.001))).toEqual({ ok: false, reason: 'expired' });
    expect(await verifyCredential(c, at(NOW_S + 86_400))).toEqual({ ok: false, reason: 'expired' });
  });

  it('not_yet_valid: now < iat - 60 (60 s skew accepted)', async () => {
    const c = await credentialFor(ed, 300);
    expect(await verifyCredential(c, at(NOW_S - 60))).toMatchObject({ ok: true });
    expect(await verifyCredential(c, at(NOW_S - 61))).toEqual({ ok: false, reason: 'not_yet_valid' });
  });

  it('lifetime_too_long: exp - iat > 900 (900 accepted)', async () => {
    expect(await verifyCredential(await signRaw(ed, payload({ exp: NOW_S + 900 })), at(NOW_S))).toMatchObject({ ok: true });
    expect(await verifyCredential(await signRaw(ed, payload({ exp: NOW_S + 901 })), at(NOW_S))).toEqual({ ok: false, reason: 'lifetime_too_long' });
  });

  it('wrong_audience: aud differs from the cluster id', async () => {
    const c = await credentialFor(ed);
    expect(await verifyCredential(c, { audience: 'other-cluster', nowMs: NOW.getTime() })).toEqual({ ok: false, reason: 'wrong_audience' });
  });
});

describe('zkLogin goes through a Sui client, and only through one', () => {
  const zkSigner = zkLoginSigner();
  const address = zkSigner.toSuiAddress();
  const client = (answer: () => Promise<unknown>) => {
    const verifyZkLoginSignature = jest.fn<(options: unknown) => Promise<unknown>>(answer);
    return { client: { core: { verifyZkLoginSignature } } as unknown as ClientWithCoreApi, verifyZkLoginSignature };
  };

  it('is refused (bad_signature) when no client is configured', async () => {
    expect(await verifyCredential(await credentialFor(zkSigner), at(NOW_S))).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('is accepted when the node verifies it, asking with the payload bytes, PersonalMessage scope and sub', async () => {
    const c = await credentialFor(zkSigner);
    const { client: zkLoginClient, verifyZkLoginSignature } = client(async () => ({ success: true, errors: [] }));
    expect(await verifyCredential(c, { ...at(NOW_S), zkLoginClient })).toMatchObject({ ok: true, value: { payload: { sub: address } } });
    const parsed = parseCredential(c);
    expect(verifyZkLoginSignature).toHaveBeenCalledWith(expect.objectContaining({
      intentScope: 'PersonalMessage',
      address,
      bytes: Buffer.from(parsed.ok ? parsed.value.payloadBytes : []).toString('base64'),
    }));
  });

  it('is refused when the node rejects it or sub is another address', async () => {
    const { client: zkLoginClient } = client(async () => ({ success: false, errors: ['Groth16 proof verify failed'] }));
    expect(await verifyCredential(await credentialFor(zkSigner), { ...at(NOW_S), zkLoginClient })).toEqual({ ok: false, reason: 'bad_signature' });
    const { client: yes, verifyZkLoginSignature } = client(async () => ({ success: true, errors: [] }));
    const wrongSub: PersonalMessageSigner = { ...zkSigner, toSuiAddress: () => ed.toSuiAddress() };
    expect(await verifyCredential(await credentialFor(wrongSub), { ...at(NOW_S), zkLoginClient: yes })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyZkLoginSignature).not.toHaveBeenCalled();
  });

  it('an unreachable node is a backend failure, never a verdict', async () => {
    const { client: zkLoginClient } = client(async () => { throw Object.assign(new Error('connection refused'), { name: 'RpcError', code: 'UNAVAILABLE' }); });
    await expect(verifyCredential(await credentialFor(zkSigner), { ...at(NOW_S), zkLoginClient })).rejects.toBeInstanceOf(SignatureVerifierUnavailableError);
  });

  it('any other failure of the verification call is a bad signature, not an outage (no 5xx for anyone)', async () => {
    for (const thrown of [new Error('could not parse the signature'), Object.assign(new Error('bad'), { name: 'RpcError', code: 'INVALID_ARGUMENT' })]) {
      const { client: zkLoginClient } = client(async () => { throw thrown; });
      expect(await verifyCredential(await credentialFor(zkSigner), { ...at(NOW_S), zkLoginClient })).toEqual({ ok: false, reason: 'bad_signature' });
    }
  });
});

describe('the Ed25519 fast path agrees with the SDK', () => {
  it('builds the same personal-message digest as the SDK (incl. multi-byte ULEB128 lengths)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), (message) => {
        const sdk = blake2b(messageWithIntent('PersonalMessage', bcs.byteVector().serialize(message).toBytes()), { dkLen: 32 });
        expect(Buffer.from(personalMessageDigest(message)).equals(Buffer.from(sdk))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('derives the same address as the SDK', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (secret) => {
        const kp = Ed25519Keypair.fromSecretKey(secret);
        expect(ed25519Address(kp.getPublicKey().toRawBytes())).toBe(kp.toSuiAddress());
      }),
      { numRuns: 100 },
    );
  });

  it('accepts and rejects exactly the same signatures (random keys, payloads, bit flips)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 1, max: 900 }),
        fc.string({ minLength: 1, maxLength: 63 }),
        fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { nil: undefined }),
        async (secret, lifetime, cluster, flip) => {
          const kp = Ed25519Keypair.fromSecretKey(secret);
          const { credential } = await createCredential(kp, { tokenId: TOKEN, clusterId: cluster, lifetimeSeconds: lifetime, now: NOW });
          const parsed = parseCredential(credential);
          if (!parsed.ok) throw new Error('created credential does not parse');
          const sig = Buffer.from(parsed.value.signatureBytes);
          if (flip) sig[1 + (flip[0] % (sig.length - 1))] ^= 1 << flip[1];
          const candidate = { ...parsed.value, signatureBytes: sig };
          const native = await verifyCredentialSignature(candidate);
          const sdk = await verifyCredentialSignature(candidate, SDK_PATH);
          expect(native).toBe(sdk);
          expect(native).toBe(flip === undefined);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('any single-byte mutation of a valid credential is rejected', () => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
  it.each(SIGNERS)('%s', async (_name, signer) => {
    const credential = await credentialFor(signer);
    expect(await verifyCredential(credential, at(NOW_S))).toMatchObject({ ok: true });
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: credential.length - 1 }), fc.constantFrom(...alphabet), async (index, replacement) => {
        fc.pre(credential[index] !== replacement);
        const mutated = credential.slice(0, index) + replacement + credential.slice(index + 1);
        const result = await verifyCredential(mutated, at(NOW_S));
        const sdk = await verifyCredential(mutated, { ...at(NOW_S), ...SDK_PATH });
        expect(result.ok).toBe(false);
        expect(sdk.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('small-order Ed25519 keys (anyone can sign for them) are refused on both paths', () => {
  // The eight torsion points, from the SDK's own curve library, plus the non-canonical encodings
  // (y + p, either sign bit) that a ZIP-215 verifier also decodes.
  const order8 = ed25519.Point.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a');
  const torsion: Uint8Array[] = [];
  for (let i = 0, point = ed25519.Point.ZERO; i < 8; i++, point = point.add(order8)) torsion.push(point.toBytes());
  const p = 2n ** 255n - 19n;
  const encode = (y: bigint, sign: boolean) => {
    const bytes = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) bytes[i] = Number((y >> BigInt(8 * i)) & 0xffn);
    if (sign) bytes[31] |= 0x80;
    return new Uint8Array(bytes);
  };
  const nonCanonical = [encode(p, false), encode(p, true), encode(p + 1n, false), encode(p + 1n, true), encode(1n, true), encode(p - 1n, true)];

  it('recognises every small-order encoding and no real key', () => {
    expect(new Set(torsion.map((t) => Buffer.from(t).toString('hex'))).size).toBe(8);
    for (const key of [...torsion, ...nonCanonical]) expect(isSmallOrderEd25519(key)).toBe(true);
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (secret) => {
      expect(isSmallOrderEd25519(Ed25519Keypair.fromSecretKey(secret).getPublicKey().toRawBytes())).toBe(false);
    }), { numRuns: 100 });
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
      let small: boolean;
      try {
        small = ed25519.Point.fromBytes(bytes, true).isSmallOrder();
      } catch {
        return; // not a point at all
      }
      expect(isSmallOrderEd25519(bytes)).toBe(small);
    }), { numRuns: 300 });
  });

  it('the trivial forgery (R = identity, S = 0) with the identity key verifies on neither path', async () => {
    for (const key of [...torsion, ...nonCanonical]) {
      const forged = new Uint8Array([0x00, ...torsion[0], ...new Uint8Array(32), ...key]);
      const candidate: ParsedCredential = { payload: payloadFor(ed25519Address(key)), payloadBytes: new TextEncoder().encode('anything'), signatureBytes: forged };
      expect(await verifyCredentialSignature(candidate)).toBe(false);
      expect(await verifyCredentialSignature(candidate, SDK_PATH)).toBe(false);
    }
  });

  it('a multisig holding a small-order Ed25519 key is refused', async () => {
    const identity = torsion[0];
    const pk = MultiSigPublicKey.fromPublicKeys({
      threshold: 1,
      publicKeys: [{ publicKey: ed.getPublicKey(), weight: 1 }, { publicKey: new Ed25519PublicKey(identity), weight: 1 }],
    });
    const c = await credentialFor(new MultiSigSigner(pk, [ed]));
    expect(await verifyCredential(c, at(NOW_S))).toEqual({ ok: false, reason: 'bad_signature' });
  });
});

describe('cold start: single-key credentials never load the SDK verifier', () => {
  it('no pure-JS curve or SDK verifier module is statically reachable from credential.ts (only through the lazy import)', async () => {
    const entry = path.resolve('lambdas/shared/credentials/credential.ts');
    const { metafile } = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
    const staticallyReached = new Set<string>();
    const visit = (file: string) => {
      if (staticallyReached.has(file)) return;
      staticallyReached.add(file);
      for (const i of metafile.inputs[file].imports) if (i.kind === 'import-statement' && !i.external) visit(i.path);
    };
    visit(path.relative(process.cwd(), entry));
    const heavy = [...staticallyReached].filter((f) => /@noble\/curves|@mysten\/sui\/dist\/(verify|keypairs|multisig|zklogin|cryptography)\//.test(f));
    expect(heavy).toEqual([]);
    // The bundle does contain the SDK verifier, for multisig and zkLogin.
    expect(Object.keys(metafile.inputs).some((f) => f.includes('@mysten/sui/dist/verify/'))).toBe(true);
  });
});

function payloadFor(sub: string) {
  return { tok: TOKEN, sub, aud: CLUSTER, iat: NOW_S, exp: NOW_S + 300, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' };
}
