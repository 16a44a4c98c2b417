// Workloads shared by the benchmarks: many distinct users (Ed25519, Secp256k1 and Secp256r1 keys), each
// with a stake and a seal token put into an index the way production puts them there — chain events
// BCS-encoded, decoded and applied by the real event applier to whichever repository is given — and the
// raw OpenSSL signature verify of each credential, the baseline the token checks are measured against.
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { Secp256k1Keypair } from '@mysten/sui/keypairs/secp256k1';
import { Secp256r1Keypair } from '@mysten/sui/keypairs/secp256r1';
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { createCredential, parseCredential, personalMessageDigest } from '../../lambdas/shared/credentials/credential';
import { applyEventsToIndex, type PositionedEvent } from '../../lambdas/shared/index/event-applier';
import type { IndexRepository } from '../../lambdas/shared/index/index-repository';
import { decodeEvent, encodeEvent, type EventName } from '../../lambdas/shared/sui/events';
import { DEFAULT_MIN_STAKE_MIST } from '../../lambdas/shared/sui/roles';

export const BENCH_PACKAGE_ID = '0x' + 'ab'.repeat(32);
export const BENCH_CLUSTER_ID = 'bench-cluster';

export type Scheme = 'ed25519' | 'secp256k1' | 'secp256r1';
export type Signer = Ed25519Keypair | Secp256k1Keypair | Secp256r1Keypair;

/** Share of each scheme among users: most wallets use Ed25519; k1 and r1 come from other wallets and passkey-like devices. */
export const SCHEME_MIX: Readonly<Record<Scheme, number>> = { ed25519: 0.7, secp256k1: 0.15, secp256r1: 0.15 };

export interface BenchUser {
  readonly scheme: Scheme;
  readonly signer: Signer;
  readonly stakeId: string;
  readonly tokenId: string;
}

const objectId = (prefix: number, n: number) => `0x${prefix.toString(16).padStart(2, '0')}${n.toString(16).padStart(62, '0')}`;

function schemeOf(i: number, count: number): Scheme {
  const f = (i + 0.5) / count;
  return f < SCHEME_MIX.ed25519 ? 'ed25519' : f < SCHEME_MIX.ed25519 + SCHEME_MIX.secp256k1 ? 'secp256k1' : 'secp256r1';
}

/** `count` users with distinct keys in the `SCHEME_MIX` proportions, interleaved; `offset` keeps sets of users disjoint. */
export function makeUsers(count: number, offset = 0): BenchUser[] {
  const users: BenchUser[] = [];
  for (let i = 0; i < count; i++) {
    const scheme = schemeOf(i, count);
    const signer = scheme === 'ed25519' ? new Ed25519Keypair() : scheme === 'secp256k1' ? new Secp256k1Keypair() : new Secp256r1Keypair();
    users.push({ scheme, signer, stakeId: objectId(0xd4, offset + i), tokenId: objectId(0xa1, offset + i) });
  }
  // Interleave the schemes, as a real stream of checks would be.
  return users.map((u, i) => ({ u, k: (i * 7919) % count })).sort((a, b) => a.k - b.k).map(({ u }) => u);
}

/** The chain events that give every user an active user stake and a seal token for `clusterId`, decoded as the indexer decodes them. */
export function eventsFor(users: readonly BenchUser[], clusterId = BENCH_CLUSTER_ID, firstCheckpoint = 1000n): PositionedEvent[] {
  const events: PositionedEvent[] = [];
  const push = <N extends EventName>(name: N, data: Parameters<typeof encodeEvent<N>>[1], checkpoint: bigint, eventIndex: number) => {
    const type = `${BENCH_PACKAGE_ID}::${name}`;
    events.push({ event: decodeEvent(type, encodeEvent(name, data), BENCH_PACKAGE_ID), position: { checkpoint, txOrdinal: 0, eventIndex, txDigest: `bench-${checkpoint}` } });
  };
  users.forEach((user, i) => {
    const owner = user.signer.toSuiAddress();
    const checkpoint = firstCheckpoint + BigInt(i);
    push('staking::StakeDeposited', { stake_id: user.stakeId, owner, role: 0, amount: DEFAULT_MIN_STAKE_MIST.user * 5n, node_id: '' }, checkpoint, 0);
    push('seal_token::SealTokenIssued', {
      token_id: user.tokenId, stake_id: user.stakeId, owner, role: 0, permissions: ['read'], cluster_id: clusterId, expires_at_ms: 4_000_000_000_000n,
    }, checkpoint, 1);
  });
  return events;
}

/**
 * Applies the events through the real event applier in pages of `page` (what one indexer page does),
 * then marks the index covered through `coveredThroughMs` so token checks find it fresh.
 */
export async function seedIndex(repo: IndexRepository, events: readonly PositionedEvent[], coveredThroughMs: number, page = 100): Promise<void> {
  for (let i = 0; i < events.length; i += page) await applyEventsToIndex(repo, events.slice(i, i + page));
  const previous = await repo.getCursor();
  await repo.putCursor({ cursor: `bench-${coveredThroughMs}`, checkpoint: 1n, eventsSeen: events.length, updatedAt: new Date(coveredThroughMs).toISOString(), coveredThroughMs }, previous);
}

/** One fresh credential per user (a new nonce each call, so no two calls share a credential string). */
export function credentialsFor(users: readonly BenchUser[], now: Date, clusterId = BENCH_CLUSTER_ID, lifetimeSeconds = 900): Promise<string[]> {
  return Promise.all(users.map(async (u) => (await createCredential(u.signer, { tokenId: u.tokenId, clusterId, now, lifetimeSeconds })).credential));
}

// DER SubjectPublicKeyInfo prefixes for a raw Ed25519 key and compressed secp256k1 / P-256 points.
const SPKI_PREFIX: Record<Scheme, Buffer> = {
  ed25519: Buffer.from('302a300506032b6570032100', 'hex'),
  secp256k1: Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex'),
  secp256r1: Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
};

/**
 * The baseline: OpenSSL verifying the credential's signature over its 32-byte intent digest, with the key
 * object already built — the least work any checker must do. Throws if the signature does not verify, so
 * a broken baseline cannot flatter a ratio.
 */
export function rawVerifier(credential: string, scheme: Scheme): () => boolean {
  const parsed = parseCredential(credential);
  if (!parsed.ok) throw new Error('benchmark credential does not parse');
  const { payloadBytes, signatureBytes } = parsed.value;
  const digest = personalMessageDigest(payloadBytes);
  const signature = signatureBytes.subarray(1, 65);
  const key: KeyObject = createPublicKey({ key: Buffer.concat([SPKI_PREFIX[scheme], signatureBytes.subarray(65)]), format: 'der', type: 'spki' });
  // Sui's ECDSA schemes sign SHA-256 of the digest (r ‖ s); Ed25519 signs the digest itself.
  const run = scheme === 'ed25519'
    ? () => cryptoVerify(null, digest, key, signature)
    : () => cryptoVerify('sha256', digest, { key, dsaEncoding: 'ieee-p1363' }, signature);
  if (!run()) throw new Error(`baseline ${scheme} signature does not verify`);
  return run;
}
