// Shared setup of the external node route tests: moto's DynamoDB holding the index (seal tokens and stakes
// written by the real index repository, a fresh indexer cursor), the enclave's bootstrap-token pool sealed
// with a local KMS stand-in, a verified attestation, and real Sui-signed credentials checked by the real
// token checker with the join audience.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { randomBytes } from 'node:crypto';
import { DynamoAttestationRecordStore } from '../../../lambdas/shared/attestation/record-store';
import { createCredential } from '../../../lambdas/shared/credentials/credential';
import { createTokenChecker, joinAudience } from '../../../lambdas/shared/credentials/token-check';
import type { AttestationRecord, SealTokenRecord, StakeRecord } from '../../../lambdas/shared/index/index-model';
import { DynamoIndexRepository } from '../../../lambdas/shared/index/index-repository-dynamodb';
import { BOOTSTRAP_TOKEN_TIMING } from '../../../lambdas/shared/nodes/join-token';
import { NodeRegistry } from '../../../lambdas/shared/nodes/node-registry';
import type { Role } from '../../../lambdas/shared/sui/roles';
import { attestationRecordFor, createClusterCaPem } from '../../support/cluster-ca';
import { CLUSTER_ID, FIXED_NOW, OWNER, postEvent, stakeRecord, tokenIdOf, tokenRecord } from '../../support/token-fixtures';
import { clients, createIndexTable, FakeKmsCipher, mintPoolEntry } from '../../support/worker-fixtures';

export const TABLE = 'index';
export const NOW = FIXED_NOW;
export const FRESH = new Date(NOW.getTime() + BOOTSTRAP_TOKEN_TIMING.ttlMs).toISOString();
/** A second node-tier token of another stake (another operator). */
export const OTHER_NODE_TOKEN = '0x' + '7a'.repeat(32);
export const OTHER_NODE_STAKE = '0x' + '7b'.repeat(32);

export interface World {
  db: DynamoDBClient;
  registry: NodeRegistry;
  index: DynamoIndexRepository;
  cipher: FakeKmsCipher;
  caPem: string;
  attestation: AttestationRecord;
  /** Token id → secret of every pool entry minted. */
  pool: Map<string, string>;
  checker: (at?: () => Date) => ReturnType<typeof createTokenChecker>;
  mint: (opts?: { expiresAt?: string }) => Promise<void>;
  updateStake: (stakeId: string, patch: Partial<StakeRecord>) => Promise<void>;
  updateToken: (tokenId: string, patch: Partial<SealTokenRecord>) => Promise<void>;
  markIndexed: (coveredThroughMs: number) => Promise<void>;
}

let caPem: string | undefined;

/** A fresh world in moto (after `moto.reset()`): one token and stake per role, the other operator's, 3 pool entries. */
export async function buildWorld(endpoint: string): Promise<World> {
  caPem ??= await createClusterCaPem();
  const { db } = clients(endpoint);
  await createIndexTable(db, TABLE);
  const index = new DynamoIndexRepository({ tableName: TABLE, client: db });
  const registry = new NodeRegistry(db, TABLE);
  const cipher = new FakeKmsCipher();
  for (const role of ['user', 'node', 'admin'] as const) {
    await index.writeEntities([
      { kind: 'token', record: tokenRecord(role), expectedRev: 0 },
      { kind: 'stake', record: stakeRecord(role), expectedRev: 0 },
    ]);
  }
  await index.writeEntities([
    { kind: 'token', record: tokenRecord('node', { tokenId: OTHER_NODE_TOKEN, stakeId: OTHER_NODE_STAKE }), expectedRev: 0 },
    { kind: 'stake', record: stakeRecord('node', { stakeId: OTHER_NODE_STAKE }), expectedRev: 0 },
    { kind: 'admin', record: { address: OWNER.toSuiAddress(), approved: true, lastEvent: { checkpoint: 1n, txOrdinal: 0, eventIndex: 0, txDigest: 'f' } }, expectedRev: 0 },
  ]);
  const attestation = attestationRecordFor(caPem, NOW);
  await new DynamoAttestationRecordStore({ tableName: TABLE, client: db }).putLatest(attestation);
  const pool = new Map<string, string>();
  const world: World = {
    db,
    registry,
    index,
    cipher,
    caPem,
    attestation,
    pool,
    checker: (at = () => NOW) => createTokenChecker({ index, clusterId: CLUSTER_ID, audience: joinAudience(CLUSTER_ID), freshness: { maxAgeMs: 300_000 }, now: at, cacheSize: 0 }),
    mint: async (opts = {}) => {
      const minted = await mintPoolEntry(cipher, registry, { clusterId: CLUSTER_ID, caPem: caPem!, expiresAt: opts.expiresAt ?? FRESH });
      pool.set(minted.entry.tokenId, minted.secret);
    },
    updateStake: async (stakeId, patch) => {
      const current = (await index.getStakes([stakeId])).get(stakeId)!;
      await index.writeEntities([{ kind: 'stake', record: { ...current.record, ...patch }, expectedRev: current.rev }]);
    },
    updateToken: async (tokenId, patch) => {
      const current = (await index.getTokens([tokenId])).get(tokenId)!;
      await index.writeEntities([{ kind: 'token', record: { ...current.record, ...patch }, expectedRev: current.rev }]);
    },
    markIndexed: async (coveredThroughMs) => {
      const previous = await index.getCursor();
      await index.putCursor({ cursor: `c-${coveredThroughMs}`, checkpoint: 1n, eventsSeen: 0, updatedAt: NOW.toISOString(), coveredThroughMs }, previous);
    },
  };
  for (let i = 0; i < 3; i++) await world.mint();
  await world.markIndexed(NOW.getTime());
  return world;
}

/** A join credential (aud = joinAudience) of `role`'s fixture token, or of any token id. */
export async function joinCredential(opts: { role?: Role; tokenId?: string; audience?: string; now?: Date; lifetimeSeconds?: number } = {}): Promise<string> {
  const { credential } = await createCredential(OWNER, {
    tokenId: opts.tokenId ?? tokenIdOf(opts.role ?? 'node'),
    clusterId: opts.audience ?? joinAudience(CLUSTER_ID),
    now: opts.now ?? NOW,
    lifetimeSeconds: opts.lifetimeSeconds ?? 600,
  });
  return credential;
}

/** base64url of 16 random bytes, as the CLI sends it. */
export function newRequestId(): string {
  return randomBytes(16).toString('base64url');
}

export function joinEvent(body: unknown): APIGatewayProxyEventV2 {
  return postEvent('/v1/nodes/external/join', typeof body === 'string' ? body : JSON.stringify(body));
}

export function leaveEvent(body: unknown): APIGatewayProxyEventV2 {
  return postEvent('/v1/nodes/external/leave', typeof body === 'string' ? body : JSON.stringify(body));
}
