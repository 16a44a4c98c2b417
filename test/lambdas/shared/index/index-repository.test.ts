// One contract, two implementations: the in-memory repository and the DynamoDB one against moto must
// behave the same (revision checks, conditional cursor, GSI lookups, exactly-once termination marks).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { MinStakeRecord, NodeRecord, SealTokenRecord, StakeRecord } from '../../../../lambdas/shared/index/index-model';
import { IndexUnavailableError } from '../../../../lambdas/shared/index/index-model';
import { IndexConflictError, type IndexRepository, type IndexerCursor } from '../../../../lambdas/shared/index/index-repository';
import { DynamoIndexRepository } from '../../../../lambdas/shared/index/index-repository-dynamodb';
import { MemoryIndexRepository } from '../../../../lambdas/shared/index/index-repository-memory';
import { generateHistory } from '../../../support/event-history';
import { createIndexTable, emulatorClient } from '../../../support/index-table';
import { createHarness } from '../../../support/indexer-harness';
import { describeWithMoto, motoSkipReason, startMoto, type Moto } from '../../../support/moto';

const id = (c: string) => '0x' + c.repeat(64);
const OWNER = id('a');
const pos = (checkpoint: bigint) => ({ checkpoint, txOrdinal: 3, eventIndex: 1, txDigest: 'Dx' });

const stake = (stakeId: string, over: Partial<StakeRecord> = {}): StakeRecord => ({
  stakeId, owner: OWNER, role: 'node', amountMist: 2n ** 64n - 1n, status: 'active', nodeId: 'n1', lastEvent: pos(2n ** 63n), ...over,
});
const token = (tokenId: string, stakeId: string, over: Partial<SealTokenRecord> = {}): SealTokenRecord => ({
  tokenId, stakeId, owner: OWNER, role: 'node', permissions: ['read', 'node:write'], clusterId: 'c1', expiresAtMs: 1_900_000_000_000,
  revoked: false, invalidated: false, lastEvent: pos(7n), ...over,
});
const node = (instanceId: string, stakeId: string): NodeRecord => ({
  instanceId, stakeId, autoScalingGroup: 'g', status: 'joined', joinedAt: '2026-01-01T00:00:00.000Z',
});

let moto: Moto | undefined;
let tableSeq = 0;

beforeAll(async () => {
  if (!motoSkipReason()) moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

const implementations: [string, () => Promise<IndexRepository>][] = [
  ['memory', async () => new MemoryIndexRepository()],
  ['dynamodb (moto)', async () => {
    const client = emulatorClient(moto!.endpoint);
    const tableName = `index-${++tableSeq}`;
    await createIndexTable(client, tableName);
    return new DynamoIndexRepository({ tableName, client });
  }],
];

for (const [name, create] of implementations) (name === 'memory' ? describe : describeWithMoto)(`index repository contract: ${name}`, () => {
  let repo: IndexRepository;
  beforeEach(async () => {
    repo = await create();
  });

  it('round-trips stakes and tokens exactly (u64 amounts, 2^63 checkpoints, empty lists)', async () => {
    const s = stake(id('1'));
    const t = token(id('2'), s.stakeId, { permissions: [] });
    await repo.writeEntities([{ kind: 'stake', record: s, expectedRev: 0 }, { kind: 'token', record: t, expectedRev: 0 }]);
    expect(await repo.getStake(s.stakeId)).toEqual(s);
    expect(await repo.getToken(t.tokenId)).toEqual(t);
    expect(await repo.getToken(id('9'))).toBeUndefined();
    const withUnlock = stake(id('3'), { status: 'unbonding', unlockAtMs: 1_800_000_000_000 });
    await repo.writeEntities([{ kind: 'stake', record: withUnlock, expectedRev: 0 }]);
    expect(await repo.getStake(withUnlock.stakeId)).toEqual(withUnlock);
  });

  it('stores a placeholder token that has no owner or stake yet (no GSI keys)', async () => {
    const t = token(id('4'), '', { owner: '', revoked: true, permissions: [] });
    await repo.writeEntities([{ kind: 'token', record: t, expectedRev: 0 }]);
    expect(await repo.getToken(t.tokenId)).toEqual(t);
  });

  it('writes only at the expected revision: creating twice or updating a stale revision conflicts', async () => {
    const s = stake(id('1'));
    await repo.writeEntities([{ kind: 'stake', record: s, expectedRev: 0 }]);
    await expect(repo.writeEntities([{ kind: 'stake', record: s, expectedRev: 0 }])).rejects.toBeInstanceOf(IndexConflictError);
    await repo.writeEntities([{ kind: 'stake', record: { ...s, status: 'slashed' }, expectedRev: 1 }]);
    await expect(repo.writeEntities([{ kind: 'stake', record: { ...s, status: 'active' }, expectedRev: 1 }])).rejects.toBeInstanceOf(IndexConflictError);
    expect((await repo.getStake(s.stakeId))?.status).toBe('slashed');
    expect((await repo.getStakes([s.stakeId])).get(s.stakeId)?.rev).toBe(2);
  });

  it('round-trips pool minimums per role (u64 amounts); roles never changed read as undefined', async () => {
    const node: MinStakeRecord = { role: 'node', amountMist: 2n ** 64n - 1n, lastEvent: pos(2n ** 63n) };
    const user: MinStakeRecord = { role: 'user', amountMist: 1n, lastEvent: pos(4n) };
    expect(await repo.getMinStake('node')).toBeUndefined();
    await repo.writeEntities([{ kind: 'minStake', record: node, expectedRev: 0 }, { kind: 'minStake', record: user, expectedRev: 0 }]);
    expect(await repo.getMinStake('node')).toBe(2n ** 64n - 1n);
    expect(await repo.getMinStake('user')).toBe(1n);
    expect(await repo.getMinStake('admin')).toBeUndefined();
    const read = await repo.getMinStakes(['node', 'user', 'admin']);
    expect([...read.keys()].sort()).toEqual(['node', 'user']);
    expect(read.get('node')).toEqual({ record: node, rev: 1 });
  });

  it('writes a pool minimum only at the expected revision (a concurrent run cannot overwrite a newer one)', async () => {
    const first: MinStakeRecord = { role: 'admin', amountMist: 5n, lastEvent: pos(1n) };
    await repo.writeEntities([{ kind: 'minStake', record: first, expectedRev: 0 }]);
    await expect(repo.writeEntities([{ kind: 'minStake', record: { ...first, amountMist: 6n }, expectedRev: 0 }])).rejects.toBeInstanceOf(IndexConflictError);
    await repo.writeEntities([{ kind: 'minStake', record: { ...first, amountMist: 7n, lastEvent: pos(2n) }, expectedRev: 1 }]);
    await expect(repo.writeEntities([{ kind: 'minStake', record: first, expectedRev: 1 }])).rejects.toBeInstanceOf(IndexConflictError);
    expect(await repo.getMinStake('admin')).toBe(7n);
    expect((await repo.getMinStakes(['admin'])).get('admin')?.rev).toBe(2);
  });

  it('round-trips admin approvals at the expected revision', async () => {
    const admin = { address: OWNER, approved: true, lastEvent: pos(3n) };
    expect((await repo.getAdmins([OWNER])).size).toBe(0);
    await repo.writeEntities([{ kind: 'admin', record: admin, expectedRev: 0 }]);
    await expect(repo.writeEntities([{ kind: 'admin', record: admin, expectedRev: 0 }])).rejects.toBeInstanceOf(IndexConflictError);
    await repo.writeEntities([{ kind: 'admin', record: { ...admin, approved: false, lastEvent: pos(4n) }, expectedRev: 1 }]);
    expect((await repo.getAdmins([OWNER, id('9')])).get(OWNER)).toEqual({ record: { ...admin, approved: false, lastEvent: pos(4n) }, rev: 2 });
  });

  it('readItems returns every named item of one check in one call, and the freshness the indexer recorded', async () => {
    const s = stake(id('1'));
    const t = token(id('2'), s.stakeId);
    await repo.writeEntities([
      { kind: 'stake', record: s, expectedRev: 0 }, { kind: 'token', record: t, expectedRev: 0 },
      { kind: 'minStake', record: { role: 'node', amountMist: 3n, lastEvent: pos(1n) }, expectedRev: 0 },
      { kind: 'admin', record: { address: OWNER, approved: true, lastEvent: pos(1n) }, expectedRev: 0 },
    ]);
    expect(await repo.readItems({ tokenId: t.tokenId, freshness: true })).toEqual({ token: t, freshness: {} });
    await repo.putCursor({ cursor: 'c1', checkpoint: 5n, eventsSeen: 1, updatedAt: '2026-01-01T00:00:00.000Z', coveredThroughMs: 1_800_000_000_123 }, undefined);
    expect(await repo.readItems({ tokenId: t.tokenId, freshness: true })).toEqual({ token: t, freshness: { coveredThroughMs: 1_800_000_000_123 } });
    expect(await repo.readItems({ stakeId: s.stakeId, minStakeRole: 'node', admin: OWNER })).toEqual({
      stake: s, minStakeMist: 3n, admin: { address: OWNER, approved: true, lastEvent: pos(1n) },
    });
    expect(await repo.readItems({ tokenId: id('e'), stakeId: id('f'), minStakeRole: 'user', admin: id('d') })).toEqual({});
    expect((await repo.getCursor())?.coveredThroughMs).toBe(1_800_000_000_123);
  });

  it('round-trips the token\'s backing copy exactly (u64 amount, unknown stake, approval), and reads it for a check', async () => {
    const s = stake(id('1'));
    const backed = token(id('2'), s.stakeId, { role: 'admin', backing: { stake: { status: 'active', amountMist: 2n ** 64n - 1n }, adminApproved: true } });
    const unknownStake = token(id('3'), id('4'), { backing: { adminApproved: false } });
    await repo.writeEntities([{ kind: 'token', record: backed, expectedRev: 0 }, { kind: 'token', record: unknownStake, expectedRev: 0 }]);
    expect(await repo.getToken(backed.tokenId)).toEqual(backed);
    expect(await repo.readTokenForCheck(backed.tokenId)).toEqual(backed);
    expect(await repo.readTokenForCheck(unknownStake.tokenId)).toEqual(unknownStake);
    expect(await repo.readTokenForCheck(id('e'))).toBeUndefined();
    // A token written before the copy existed reads back without one.
    const legacy = token(id('5'), s.stakeId);
    await repo.writeEntities([{ kind: 'token', record: legacy, expectedRev: 0 }]);
    expect(await repo.readTokenForCheck(legacy.tokenId)).toEqual(legacy);
  });

  it('readIndexView returns the recorded coverage and the changed minimums in one call', async () => {
    expect(await repo.readIndexView()).toEqual({ freshness: {}, minStakeMist: {} });
    await repo.writeEntities([
      { kind: 'minStake', record: { role: 'node', amountMist: 2n ** 64n - 1n, lastEvent: pos(1n) }, expectedRev: 0 },
      { kind: 'minStake', record: { role: 'admin', amountMist: 7n, lastEvent: pos(1n) }, expectedRev: 0 },
    ]);
    await repo.putCursor({ cursor: 'c1', checkpoint: 5n, eventsSeen: 1, updatedAt: '2026-01-01T00:00:00.000Z', coveredThroughMs: 1_800_000_000_123 }, undefined);
    expect(await repo.readIndexView()).toEqual({ freshness: { coveredThroughMs: 1_800_000_000_123 }, minStakeMist: { node: 2n ** 64n - 1n, admin: 7n } });
  });

  it('stakesOfOwner finds an owner\'s stakes (owner GSI), and only theirs', async () => {
    await repo.writeEntities([
      { kind: 'stake', record: stake(id('1')), expectedRev: 0 },
      { kind: 'stake', record: stake(id('2'), { role: 'admin' }), expectedRev: 0 },
      { kind: 'stake', record: stake(id('3'), { owner: id('b') }), expectedRev: 0 },
      { kind: 'token', record: token(id('4'), id('1')), expectedRev: 0 },
    ]);
    expect((await repo.stakesOfOwner(OWNER)).map((s) => s.stakeId).sort()).toEqual([id('1'), id('2')]);
    expect((await repo.stakesOfOwner(id('b'))).map((s) => s.stakeId)).toEqual([id('3')]);
    expect(await repo.stakesOfOwner(id('c'))).toEqual([]);
  });

  it('batch-reads and batch-writes more than one DynamoDB request holds (150 tokens)', async () => {
    const tokens = Array.from({ length: 150 }, (_, i) => token('0x' + i.toString(16).padStart(64, '0'), id('5')));
    await repo.writeEntities(tokens.map((record) => ({ kind: 'token' as const, record, expectedRev: 0 })));
    const read = await repo.getTokens([...tokens.map((t) => t.tokenId), id('e')]);
    expect(read.size).toBe(150);
    expect([...read.values()].every((v) => v.rev === 1)).toBe(true);
    expect((await repo.tokensOfStake(id('5'))).length).toBe(150);
  });

  it('looks tokens up by owner (GSI1) and tokens and nodes by stake (GSI2), each kind apart', async () => {
    await repo.writeEntities([
      { kind: 'stake', record: stake(id('1')), expectedRev: 0 },
      { kind: 'token', record: token(id('2'), id('1')), expectedRev: 0 },
      { kind: 'token', record: token(id('3'), id('1'), { owner: id('b') }), expectedRev: 0 },
      { kind: 'token', record: token(id('4'), id('6')), expectedRev: 0 },
    ]);
    await repo.putNode(node('i-1', id('1')));
    await repo.putNode(node('i-2', id('6')));
    expect((await repo.tokensOfOwner(OWNER)).map((t) => t.tokenId).sort()).toEqual([id('2'), id('4')]);
    expect((await repo.tokensOfStake(id('1'))).map((t) => t.record.tokenId).sort()).toEqual([id('2'), id('3')]);
    expect((await repo.nodesOfStake(id('1'))).map((n) => n.instanceId)).toEqual(['i-1']);
    expect(await repo.getNode('i-1')).toEqual(node('i-1', id('1')));
  });

  it('reads back an external node\'s kind, token and request id (the indexer must not take it for an ASG instance)', async () => {
    const external = { ...node('ext-111111111111-0a0b0c0d', id('1')), autoScalingGroup: '', kind: 'external' as const, tokenId: id('2'), requestId: 'AAAAAAAAAAAAAAAAAAAAAA' };
    await repo.putNode(external);
    expect(await repo.getNode(external.instanceId)).toEqual(external);
    expect((await repo.nodesOfStake(id('1'))).find((n) => n.instanceId === external.instanceId)).toEqual(external);
  });

  it('marks a node\'s termination request once; a replay sees it already marked', async () => {
    await repo.putNode(node('i-1', id('1')));
    expect(await repo.markTerminationRequested('i-1', '2026-06-01T00:00:00.000Z')).toBe(true);
    expect(await repo.markTerminationRequested('i-1', '2026-06-02T00:00:00.000Z')).toBe(false);
    expect((await repo.getNode('i-1'))?.terminationRequestedAt).toBe('2026-06-01T00:00:00.000Z');
    expect(await repo.markTerminationRequested('i-unknown', '2026-06-01T00:00:00.000Z')).toBe(false);
  });

  it('claims an eviction once until the claim is stale or given back; a marked node is never claimed', async () => {
    await repo.putNode(node('i-1', id('1')));
    const t0 = '2026-06-01T00:00:00.000Z';
    const t1 = '2026-06-01T00:05:00.000Z';
    expect(await repo.claimEviction('i-1', t0, '2026-05-31T23:50:00.000Z')).toBe(true);
    // A second run while the claim is fresh: refused.
    expect(await repo.claimEviction('i-1', t1, '2026-05-31T23:55:00.000Z')).toBe(false);
    expect((await repo.getNode('i-1'))?.evictionClaimedAt).toBe(t0);
    // Someone else's claim is not given back by a release naming another time.
    await repo.releaseEviction('i-1', t1);
    expect((await repo.getNode('i-1'))?.evictionClaimedAt).toBe(t0);
    // Stale (older than staleBefore): taken over.
    expect(await repo.claimEviction('i-1', t1, t0)).toBe(true);
    await repo.releaseEviction('i-1', t1);
    expect((await repo.getNode('i-1'))?.evictionClaimedAt).toBeUndefined();
    expect(await repo.claimEviction('i-1', t1, t0)).toBe(true);
    expect(await repo.markTerminationRequested('i-1', t1)).toBe(true);
    expect(await repo.claimEviction('i-1', '2026-06-02T00:00:00.000Z', '2026-06-02T00:00:00.000Z')).toBe(false);
    expect(await repo.claimEviction('i-unknown', t0, t0)).toBe(false);
  });

  it('moves the cursor only from the value it was read at (a concurrent run cannot move it back)', async () => {
    const c1: IndexerCursor = { cursor: 'AAAAAAAAAAE=', checkpoint: 10n, eventsSeen: 5, updatedAt: 't1', lastEvent: pos(9n) };
    const c2: IndexerCursor = { cursor: 'AAAAAAAAAAI=', checkpoint: 2n ** 60n, eventsSeen: 9, updatedAt: 't2', resweepStakes: [id('1'), id('2')] };
    expect(await repo.getCursor()).toBeUndefined();
    await repo.putCursor(c1, undefined);
    await expect(repo.putCursor(c2, undefined)).rejects.toBeInstanceOf(IndexConflictError);
    await repo.putCursor(c2, c1);
    // A slower run that read c1 tries to write its (older) result.
    await expect(repo.putCursor({ ...c1, updatedAt: 't3' }, c1)).rejects.toBeInstanceOf(IndexConflictError);
    expect(await repo.getCursor()).toEqual(c2);
  });

  it('an indexed history reads back identically to the in-memory reference', async () => {
    const history = generateHistory({ seed: 5, transactions: 120 });
    const reference = await createHarness(history);
    await reference.runUntilCaughtUp();
    const h = await createHarness(history, { repo });
    await h.runUntilCaughtUp();
    const stakeIds = [...history.expected.stakes.keys()];
    const tokenIds = [...history.expected.tokens.keys()];
    expect(await Promise.all(stakeIds.map((s) => repo.getStake(s)))).toEqual(await Promise.all(stakeIds.map((s) => reference.repo.getStake(s))));
    expect(await Promise.all(tokenIds.map((t) => repo.getToken(t)))).toEqual(await Promise.all(tokenIds.map((t) => reference.repo.getToken(t))));
    expect(await repo.getCursor()).toEqual(await reference.repo.getCursor());
    for (const role of ['user', 'node', 'admin'] as const) expect(await repo.getMinStake(role)).toEqual(await reference.repo.getMinStake(role));
    expect([...h.ec2.terminationCounts().keys()].sort()).toEqual(history.expectedTerminations);
  });
});

describeWithMoto('DynamoDB index repository when the table cannot be reached', () => {
  it('throws IndexUnavailableError (callers fail closed), never a raw SDK error', async () => {
    const client = emulatorClient('http://127.0.0.1:9');
    client.config.maxAttempts = async () => 1;
    const repo = new DynamoIndexRepository({ tableName: 'missing', client });
    await expect(repo.getToken(id('1'))).rejects.toBeInstanceOf(IndexUnavailableError);
    await expect(repo.getStakes([id('1')])).rejects.toBeInstanceOf(IndexUnavailableError);
    await expect(repo.getMinStake('node')).rejects.toBeInstanceOf(IndexUnavailableError);
    await expect(repo.getMinStakes(['node'])).rejects.toBeInstanceOf(IndexUnavailableError);
    await expect(repo.writeEntities([{ kind: 'minStake', record: { role: 'node', amountMist: 1n, lastEvent: pos(1n) }, expectedRev: 0 }])).rejects.toBeInstanceOf(IndexUnavailableError);
    await expect(repo.writeEntities([{ kind: 'stake', record: stake(id('1')), expectedRev: 0 }])).rejects.toBeInstanceOf(IndexUnavailableError);
  });

  it('cursor, GSI lookups and node marks fail as IndexUnavailableError too: an outage is never a conflict, "already marked" or "no cursor"', async () => {
    const client = emulatorClient('http://127.0.0.1:9');
    client.config.maxAttempts = async () => 1;
    const repo = new DynamoIndexRepository({ tableName: 'missing', client });
    const cursor: IndexerCursor = { cursor: 'AAAAAAAAAAE=', checkpoint: 1n, eventsSeen: 1, updatedAt: 't' };
    await expect(repo.getCursor()).rejects.toBeInstanceOf(IndexUnavailableError);
    await expect(repo.putCursor(cursor, undefined)).rejects.toBeInstanceOf(IndexUnavailableError);
    await expect(repo.putCursor(cursor, cursor)).rejects.toBeInstanceOf(IndexUnavailableError);
    await expect(repo.markTerminationRequested('i-1', 't')).rejects.toBeInstanceOf(IndexUnavailableError);
    await expect(repo.claimEviction('i-1', 't', 't')).rejects.toBeInstanceOf(IndexUnavailableError);
    await expect(repo.releaseEviction('i-1', 't')).rejects.toBeInstanceOf(IndexUnavailableError);
    await expect(repo.tokensOfStake(id('1'))).rejects.toBeInstanceOf(IndexUnavailableError);
    await expect(repo.nodesOfStake(id('1'))).rejects.toBeInstanceOf(IndexUnavailableError);
    await expect(repo.tokensOfOwner(OWNER)).rejects.toBeInstanceOf(IndexUnavailableError);
  });

  it('a missing table is unavailable too', async () => {
    const repo = new DynamoIndexRepository({ tableName: 'no-such-table', client: emulatorClient(moto!.endpoint) });
    await expect(repo.getStake(id('1'))).rejects.toBeInstanceOf(IndexUnavailableError);
  });
});
