// Seal tokens, stakes and API Gateway events for the token-check tests and benchmark: a real index
// (in-memory repository) holding one valid token per role, and real SDK-signed credentials.
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { computeZkLoginAddressFromSeed, genAddressSeed, getZkLoginSignature } from '@mysten/sui/zklogin';
import { createCredential, type PersonalMessageSigner } from '../../lambdas/shared/credentials/credential';
import type { SealTokenRecord, StakeRecord } from '../../lambdas/shared/index/index-model';
import { MemoryIndexRepository } from '../../lambdas/shared/index/index-repository-memory';
import { DEFAULT_MIN_STAKE_MIST, TIER_PERMISSIONS, type Role } from '../../lambdas/shared/sui/roles';

export const CLUSTER_ID = 'dev-cluster';
export const FIXED_NOW = new Date('2026-11-23T01:00:00Z');
export const OWNER = Ed25519Keypair.fromSecretKey(new Uint8Array(32).fill(42));
const position = { checkpoint: 1n, txOrdinal: 0, eventIndex: 0, txDigest: 'fixture' };

export const tokenIdOf = (role: Role) => `0x${(['a1', 'b2', 'c3'] as const)[['user', 'node', 'admin'].indexOf(role)].repeat(32)}`;
export const stakeIdOf = (role: Role) => `0x${(['d4', 'e5', 'f6'] as const)[['user', 'node', 'admin'].indexOf(role)].repeat(32)}`;

export function tokenRecord(role: Role, overrides: Partial<SealTokenRecord> = {}): SealTokenRecord {
  return {
    tokenId: tokenIdOf(role), stakeId: stakeIdOf(role), owner: OWNER.toSuiAddress(), role, permissions: [...TIER_PERMISSIONS[role]],
    clusterId: CLUSTER_ID, expiresAtMs: FIXED_NOW.getTime() + 30 * 86_400_000, revoked: false, invalidated: false, lastEvent: position,
    ...overrides,
  };
}

export function stakeRecord(role: Role, overrides: Partial<StakeRecord> = {}): StakeRecord {
  return {
    stakeId: stakeIdOf(role), owner: OWNER.toSuiAddress(), role, amountMist: DEFAULT_MIN_STAKE_MIST[role], status: 'active',
    nodeId: role === 'node' ? 'node-1' : '', lastEvent: position, ...overrides,
  };
}

/**
 * A token as the indexer writes it: with the `backing` copy of its stake (and, for admin tokens, the
 * owner's approval), so one read decides. `tokenRecord` alone is an item written before copies existed.
 */
export function backedTokenRecord(role: Role, overrides: Partial<SealTokenRecord> = {}, stake: StakeRecord = stakeRecord(role), adminApproved = role === 'admin'): SealTokenRecord {
  return tokenRecord(role, { backing: { stake: { status: stake.status, amountMist: stake.amountMist }, adminApproved }, ...overrides });
}

/** The freshness bound the token-check tests run with (the index is fresh at FIXED_NOW). */
export const TEST_FRESHNESS = { maxAgeMs: 300_000 } as const;

/** Marks the index as covered by the indexer up to `coveredThroughMs` (default FIXED_NOW), as a run would. */
export async function markIndexed(repo: MemoryIndexRepository, coveredThroughMs = FIXED_NOW.getTime()): Promise<void> {
  const previous = await repo.getCursor();
  await repo.putCursor({ cursor: `fixture-${coveredThroughMs}`, checkpoint: 1n, eventsSeen: 0, updatedAt: FIXED_NOW.toISOString(), coveredThroughMs }, previous);
}

/** An index with one valid token (and its stake) per role, the owner an approved admin, freshly indexed. */
export async function seededIndex(): Promise<MemoryIndexRepository> {
  const repo = new MemoryIndexRepository();
  for (const role of ['user', 'node', 'admin'] as const) {
    await repo.writeEntities([
      { kind: 'token', record: backedTokenRecord(role), expectedRev: 0 },
      { kind: 'stake', record: stakeRecord(role), expectedRev: 0 },
    ]);
  }
  await repo.writeEntities([{ kind: 'admin', record: { address: OWNER.toSuiAddress(), approved: true, lastEvent: position }, expectedRev: 0 }]);
  await markIndexed(repo);
  return repo;
}

export async function credentialFor(role: Role, opts: { signer?: Ed25519Keypair; now?: Date; lifetimeSeconds?: number } = {}): Promise<string> {
  const { credential } = await createCredential(opts.signer ?? OWNER, {
    tokenId: tokenIdOf(role), clusterId: CLUSTER_ID, now: opts.now ?? FIXED_NOW, lifetimeSeconds: opts.lifetimeSeconds ?? 600,
  });
  return credential;
}

/** A POST event as API Gateway (HTTP API, payload v2) delivers it; header names are lower case. */
export function postEvent(path: string, body: string, headers: Record<string, string> = {}, isBase64Encoded = false): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: `POST ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...headers },
    requestContext: {
      accountId: '123456789012', apiId: 'api', domainName: 'api.example', domainPrefix: 'api', requestId: 'req',
      routeKey: `POST ${path}`, stage: '$default', time: '23/Nov/2026:01:00:00 +0000', timeEpoch: FIXED_NOW.getTime(),
      http: { method: 'POST', path, protocol: 'HTTP/1.1', sourceIp: '10.0.0.1', userAgent: 'kube-apiserver' },
    },
    body,
    isBase64Encoded,
  };
}

/**
 * A zkLogin signer: a real ephemeral Ed25519 signature wrapped in a zkLogin signature whose proof is
 * not a real Groth16 proof. Only a Sui node can judge it, which is exactly what the tests exercise.
 */
export function zkLoginSigner(): PersonalMessageSigner {
  const iss = 'https://accounts.google.com';
  const seed = genAddressSeed(123n, 'sub', '1234567890', 'client-id');
  const address = computeZkLoginAddressFromSeed(seed, iss, false);
  const ephemeral = Ed25519Keypair.fromSecretKey(new Uint8Array(32).fill(3));
  return {
    toSuiAddress: () => address,
    async signPersonalMessage(bytes) {
      const { signature: userSignature } = await ephemeral.signPersonalMessage(bytes);
      const signature = getZkLoginSignature({
        inputs: {
          proofPoints: { a: ['1', '2', '1'], b: [['1', '2'], ['3', '4'], ['1', '0']], c: ['1', '2', '1'] },
          issBase64Details: { value: Buffer.from(`"iss":"${iss}",`).toString('base64url'), indexMod4: 0 },
          headerBase64: 'eyJhbGciOiJSUzI1NiJ9',
          addressSeed: seed.toString(),
        },
        maxEpoch: '10',
        userSignature,
      });
      return { signature };
    },
  };
}
