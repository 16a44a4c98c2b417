// The indexer at 10,000 evicted stakes, through the real indexer, repository and SDK against moto: a fake
// event source slashes 10,000 stakes in pages of 50 (the production page size). No item may grow with the
// number of stakes (the cursor once held the whole re-sweep list and hit the 400 KiB item limit near 5,500),
// and the next run must sweep every one of them a second time, then leave no re-sweep entry behind.
//
// moto answers a GSI Query by reading the whole table (about 150 ms a query at 20,000 items here), so
// 20,000 of them would take most of an hour: the stake-GSI lookups (`stakeMembers`, `nodesOfStake`) are
// answered from the membership this test seeded, and the records themselves are read from moto. Everything
// else (transactions, batch writes, re-sweep Query pages, claims, marks, the cursor) is the production code,
// against a moto server whose transactions do not deep-copy the whole table per action
// (test/support/moto-cheap-transactions.ts), which would otherwise take hours here.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, ScanCommand, type NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { Evictor } from '../../../lambdas/indexer/eviction';
import type { ChainHead, EventPage, EventSource, RawEvent } from '../../../lambdas/indexer/event-source';
import { runIndexer, type RunReport } from '../../../lambdas/indexer/indexer';
import { KEYS, type NodeRecord, type SealTokenRecord } from '../../../lambdas/shared/index/index-model';
import type { StakeMembers, Versioned } from '../../../lambdas/shared/index/index-repository';
import { DynamoIndexRepository } from '../../../lambdas/shared/index/index-repository-dynamodb';
import { encodeEvent } from '../../../lambdas/shared/sui/events';
import { FakeEc2, PACKAGE_ID, WORKER_GROUP } from '../../support/event-history';
import { countRequests } from '../../support/dynamodb-request-counter';
import { createIndexTable, emulatorClient } from '../../support/index-table';
import { FIXED_NOW, silentLog } from '../../support/indexer-harness';
import { describeWithMoto, motoSkipReason } from '../../support/moto';
import { startMotoWithCheapTransactions } from '../../support/moto-cheap-transactions';
import type { MotoServer } from '../../support/moto-server';

const STAKES = 10_000;
const PAGE = 50;
/** Every 50th stake backs a worker node; every 500th had a token the lagging GSI hid from the first sweep. */
const NODE_EVERY = 50;
const HIDDEN_TOKEN_EVERY = 500;
/** DynamoDB's item size limit. */
const ITEM_LIMIT_BYTES = 400 * 1024;

const stakeId = (i: number) => '0x' + i.toString(16).padStart(64, '0');
const instanceId = (i: number) => `i-${i.toString(16).padStart(17, '0')}`;
const tokenId = (i: number) => '0x' + 'f'.repeat(32) + i.toString(16).padStart(32, '0');

/** Slashes stake i at checkpoint 1000 + floor(i / PAGE); pages of PAGE events, cursor = page number. */
class SlashingSource implements EventSource {
  async readPage(after: string | undefined, limit: number): Promise<EventPage> {
    expect(limit).toBe(PAGE);
    const page = after === undefined ? 0 : Number(Buffer.from(after, 'base64').toString());
    const events: RawEvent[] = [];
    for (let i = page * PAGE; i < Math.min(STAKES, (page + 1) * PAGE); i++) {
      events.push({
        eventType: `${PACKAGE_ID}::staking::StakeSlashed`,
        bcs: encodeEvent('staking::StakeSlashed', { stake_id: stakeId(i), amount: 5n, remaining: 5n, reason: 'misbehaviour' }),
        checkpoint: BigInt(1000 + page), txDigest: `D${i}`, transactionIndex: i % PAGE, eventIndex: 0,
      });
    }
    const last = (page + 1) * PAGE >= STAKES;
    return { events, hasNextPage: !last, endCursor: Buffer.from(String(page + 1)).toString('base64'), coveredCheckpoint: BigInt(1000 + page) };
  }

  async head(): Promise<ChainHead> {
    return { checkpoint: BigInt(1000 + STAKES / PAGE), timestampMs: 1_780_000_000_000 };
  }

  async checkpointTimestampMs(checkpoint: bigint): Promise<number> {
    return 1_770_000_000_000 + Number(checkpoint);
  }
}

/** The production repository with the stake-GSI lookups answered from seeded membership (see the header). */
class SeededGsiRepository extends DynamoIndexRepository {
  gsiLagging = false;
  readonly memberLookups = new Set<string>();

  constructor(options: ConstructorParameters<typeof DynamoIndexRepository>[0], private readonly members: { nodes: Map<string, string[]>; tokens: Map<string, string[]> }) {
    super(options);
  }

  override async nodesOfStake(id: string): Promise<NodeRecord[]> {
    const found = await Promise.all((this.members.nodes.get(id) ?? []).map((n) => this.getNode(n)));
    return found.filter((n): n is NodeRecord => n !== undefined);
  }

  override async tokensOfStake(id: string): Promise<Versioned<SealTokenRecord>[]> {
    // A GSI that has not caught up yet sees none of them.
    const ids = this.gsiLagging ? [] : this.members.tokens.get(id) ?? [];
    return ids.length > 0 ? [...(await this.getTokens(ids)).values()] : [];
  }

  override async stakeMembers(id: string): Promise<StakeMembers> {
    this.memberLookups.add(id);
    return { tokens: await this.tokensOfStake(id), nodes: await this.nodesOfStake(id) };
  }
}

type Item = Record<string, NativeAttributeValue>;

/** DynamoDB's item size: attribute names plus values (strings and binary by length, numbers ~ digits). */
function itemBytes(item: Item): number {
  const size = (v: NativeAttributeValue): number => {
    if (typeof v === 'string') return Buffer.byteLength(v);
    if (typeof v === 'number' || typeof v === 'bigint') return 1 + Math.ceil(String(v).length / 2);
    if (typeof v === 'boolean' || v === null || v === undefined) return 1;
    if (Array.isArray(v)) return 3 + v.reduce((n: number, x: NativeAttributeValue) => n + 1 + size(x), 0);
    if (v instanceof Set) return [...v].reduce((n: number, x: NativeAttributeValue) => n + size(x), 0);
    if (v instanceof Uint8Array) return v.length;
    return 3 + Object.entries(v as Item).reduce((n, [k, x]) => n + 1 + Buffer.byteLength(k) + size(x), 0);
  };
  return Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + size(v), 0);
}

let moto: MotoServer | undefined;
beforeAll(async () => {
  if (!motoSkipReason()) moto = await startMotoWithCheapTransactions();
});
afterAll(async () => {
  await moto?.stop();
});

describeWithMoto('indexer at 10,000 evicted stakes (moto, real SDK, pages of 50)', () => {
  it('keeps every item small, sweeps each stake a second time and leaves no re-sweep entry behind', async () => {
    const client = emulatorClient(moto!.endpoint);
    const doc = DynamoDBDocumentClient.from(client);
    await createIndexTable(client, 'scale');
    const members = { nodes: new Map<string, string[]>(), tokens: new Map<string, string[]>() };
    const seeded: Item[] = [];
    const nodeIds: string[] = [];
    for (let i = 0; i < STAKES; i++) {
      if (i % NODE_EVERY === 0) {
        const node: NodeRecord = { instanceId: instanceId(i), stakeId: stakeId(i), autoScalingGroup: WORKER_GROUP, status: 'joined', joinedAt: '2026-01-01T00:00:00.000Z' };
        seeded.push({ ...KEYS.node(node.instanceId), ...KEYS.stakeIndex(node.stakeId), entity: 'node', ...node });
        members.nodes.set(stakeId(i), [node.instanceId]);
        nodeIds.push(node.instanceId);
      }
      if (i % HIDDEN_TOKEN_EVERY === 0) members.tokens.set(stakeId(i), [tokenId(i)]);
    }
    for (let i = 0; i < seeded.length; i += 25) {
      await doc.send(new BatchWriteCommand({ RequestItems: { scale: seeded.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
    }
    const repo = new SeededGsiRepository({ tableName: 'scale', client }, members);
    // The tokens the first sweep will miss: issued under the stakes before the slashes, seen by nothing but a consistent read.
    await repo.writeEntities([...members.tokens].map(([stake, [token]]) => ({
      kind: 'token' as const, expectedRev: 0,
      record: {
        tokenId: token, stakeId: stake, owner: '0x' + 'e'.repeat(64), role: 'user' as const, permissions: ['read'], clusterId: 'k3s-daas-test',
        expiresAtMs: 1_900_000_000_000, revoked: false, invalidated: false, lastEvent: { checkpoint: 10n, txOrdinal: 0, eventIndex: 0, txDigest: 'T' },
      },
    })));

    const ec2 = new FakeEc2(nodeIds);
    const deps = {
      repo, source: new SlashingSource(), packageId: PACKAGE_ID, log: silentLog, now: () => FIXED_NOW,
      evictor: new Evictor(repo, ec2, new Set([WORKER_GROUP]), () => FIXED_NOW, 0),
    };
    const counter = countRequests(client);
    const run = (): Promise<RunReport> => runIndexer(deps, { remainingMs: () => 600_000, pageLimit: PAGE });

    repo.gsiLagging = true;
    const first = await run();
    repo.gsiLagging = false;
    expect(first).toMatchObject({ stoppedBecause: 'caught_up', pages: STAKES / PAGE, events: STAKES, resweptStakes: 0, resweepPending: STAKES, evictionErrors: 0 });
    expect(first.terminated).toBe(nodeIds.length);
    const firstRequests = counter.total();

    const cursorItem = async () => (await doc.send(new GetCommand({ TableName: 'scale', Key: KEYS.cursor(), ConsistentRead: true }))).Item!;
    const cursorAfterFirst = await cursorItem();
    expect(cursorAfterFirst.resweepStakes).toBeUndefined();
    // Every item the run wrote, cursor and 10,000 re-sweep entries included, stays tiny.
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const res = await doc.send(new ScanCommand({ TableName: 'scale', ExclusiveStartKey: start }));
      items.push(...(res.Items ?? []));
      start = res.LastEvaluatedKey;
    } while (start);
    expect(items.filter((i) => i.pk === 'RESWEEP')).toHaveLength(STAKES);
    const largest = Math.max(...items.map(itemBytes));
    expect(itemBytes(cursorAfterFirst)).toBeLessThan(1024);
    expect(largest).toBeLessThan(1024);
    expect(largest * 100).toBeLessThan(ITEM_LIMIT_BYTES);

    repo.memberLookups.clear();
    counter.reset();
    const second = await run();
    expect(second).toMatchObject({ stoppedBecause: 'caught_up', pages: 1, events: 0, resweptStakes: STAKES, resweepPending: 0, evictionErrors: 0, terminated: 0 });
    // The second look reached every stake: each one's tokens and nodes were looked up again, the hidden tokens invalidated.
    expect(repo.memberLookups.size).toBe(STAKES);
    const tokens = await repo.getTokens([...members.tokens.values()].flat());
    expect([...tokens.values()].every((t) => t.record.invalidated)).toBe(true);
    expect(tokens.size).toBe(STAKES / HIDDEN_TOKEN_EVERY);
    expect((await repo.resweepPage()).entries).toEqual([]);
    expect(itemBytes(await cursorItem())).toBeLessThan(1024);
    // Each node terminated exactly once over both runs.
    const counts = ec2.terminationCounts();
    expect(counts.size).toBe(nodeIds.length);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    const stakes = await repo.getStakes(Array.from({ length: STAKES }, (_, i) => stakeId(i)));
    expect([...stakes.values()].filter((s) => s.record.status === 'slashed')).toHaveLength(STAKES);

    // Not the figure to cite (the GSI lookups here are seeded point reads): indexer-requests.test.ts is.
    console.log(`indexer_scale_requests: first run ${firstRequests} for ${STAKES} slash events, second run ${counter.total()} to re-sweep them (${JSON.stringify(Object.fromEntries(counter.byOperation))})`);
  });
});
