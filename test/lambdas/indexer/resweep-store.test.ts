// The re-sweep entries (one item per stake, RESWEEP partition) in both repositories, and the migration of
// a cursor that still carries the old `resweepStakes` list: honoured once, then gone from the cursor.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { Evictor, InstanceApiError } from '../../../lambdas/indexer/eviction';
import type { EventSource } from '../../../lambdas/indexer/event-source';
import { runIndexer } from '../../../lambdas/indexer/indexer';
import { KEYS, type NodeRecord, type SealTokenRecord, type StakeRecord } from '../../../lambdas/shared/index/index-model';
import type { IndexRepository, ResweepEntry } from '../../../lambdas/shared/index/index-repository';
import { DynamoIndexRepository } from '../../../lambdas/shared/index/index-repository-dynamodb';
import { MemoryIndexRepository } from '../../../lambdas/shared/index/index-repository-memory';
import { FakeEc2, PACKAGE_ID, WORKER_GROUP } from '../../support/event-history';
import { createIndexTable, emulatorClient } from '../../support/index-table';
import { FIXED_NOW, silentLog } from '../../support/indexer-harness';
import { describeWithMoto, motoSkipReason, startMoto, type Moto } from '../../support/moto';

let moto: Moto | undefined;
let seq = 0;
beforeAll(async () => {
  if (!motoSkipReason()) moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

async function dynamo(): Promise<DynamoIndexRepository> {
  const client = emulatorClient(moto!.endpoint);
  const tableName = `resweep-${++seq}`;
  await createIndexTable(client, tableName);
  return new DynamoIndexRepository({ tableName, client });
}

const stakeId = (i: number) => '0x' + i.toString(16).padStart(64, '0');
const AT = '2026-06-01T00:00:00.000Z';

async function allEntries(repo: IndexRepository, limit?: number): Promise<{ pages: ResweepEntry[][]; entries: ResweepEntry[] }> {
  const pages: ResweepEntry[][] = [];
  let startAfter: string | undefined;
  do {
    const page = await repo.resweepPage(startAfter, limit);
    pages.push(page.entries);
    startAfter = page.nextStart;
  } while (startAfter !== undefined);
  return { pages, entries: pages.flat() };
}

const implementations: [string, () => Promise<IndexRepository>][] = [
  ['memory', async () => new MemoryIndexRepository()],
  ['dynamodb', dynamo],
];

for (const [name, create] of implementations) (name === 'memory' ? describe : describeWithMoto)(`re-sweep entries: ${name}`, () => {
  it('pages through every entry in stake order, one item per stake (a second add replaces the first)', async () => {
    const repo = await create();
    const ids = Array.from({ length: 250 }, (_, i) => stakeId(249 - i));
    await repo.addResweeps(ids, 'run-a', AT);
    await repo.addResweeps([stakeId(7), stakeId(7)], 'run-b', AT);
    const { pages, entries } = await allEntries(repo, 100);
    expect(pages.filter((p) => p.length > 0).map((p) => p.length)).toEqual([100, 100, 50]);
    expect(entries.map((e) => e.stakeId)).toEqual([...ids].sort());
    expect(entries.find((e) => e.stakeId === stakeId(7))).toEqual({ stakeId: stakeId(7), run: 'run-b', addedAt: AT });
    expect(entries.filter((e) => e.run === 'run-a')).toHaveLength(249);
  });

  it('removes only entries still of the run named, in batches past one request, without shifting pages', async () => {
    const repo = await create();
    await repo.addResweeps(Array.from({ length: 230 }, (_, i) => stakeId(i)), 'run-a', AT);
    const first = await repo.resweepPage(undefined, 100);
    // Meanwhile a later run slashes stake 3 again: its new entry is not the one read.
    await repo.addResweeps([stakeId(3)], 'run-b', AT);
    await repo.removeResweeps(first.entries);
    const rest = await allEntries(repo, 100);
    expect(rest.entries.map((e) => e.stakeId)).toEqual([stakeId(3), ...Array.from({ length: 130 }, (_, i) => stakeId(100 + i))]);
    // Paging on from where the first page ended sees exactly what came after it.
    const second = await repo.resweepPage(first.nextStart, 100);
    expect(second.entries.map((e) => e.stakeId)).toEqual(Array.from({ length: 100 }, (_, i) => stakeId(100 + i)));
    await repo.removeResweeps(rest.entries);
    expect((await allEntries(repo)).entries).toEqual([]);
    await repo.removeResweeps([{ stakeId: stakeId(1), run: 'run-a', addedAt: AT }]); // already gone: nothing to do
  });

  describe('a legacy cursor that still lists the stakes to re-sweep', () => {
    const slashed = stakeId(1);
    const unbonding = stakeId(2);
    const position = { checkpoint: 50n, txOrdinal: 0, eventIndex: 0, txDigest: 'D' };
    const stake = (id: string, status: StakeRecord['status']): StakeRecord => ({ stakeId: id, owner: '0x' + 'e'.repeat(64), role: 'node', amountMist: 1n, status, nodeId: 'n', lastEvent: position });
    const token: SealTokenRecord = {
      tokenId: '0x' + 'a'.repeat(64), stakeId: slashed, owner: '0x' + 'e'.repeat(64), role: 'node', permissions: ['read'], clusterId: 'c',
      expiresAtMs: 1_900_000_000_000, revoked: false, invalidated: false, lastEvent: position,
    };
    const node = (instanceId: string, of: string): NodeRecord => ({ instanceId, stakeId: of, autoScalingGroup: WORKER_GROUP, status: 'joined', joinedAt: AT });
    const idle: EventSource = {
      readPage: async () => ({ events: [], hasNextPage: false, endCursor: null, coveredCheckpoint: 60n }),
      head: async () => ({ checkpoint: 60n, timestampMs: 1_780_000_000_000 }),
      checkpointTimestampMs: async () => 1_780_000_000_000,
    };

    async function legacyFixture() {
      const repo = await create();
      // The state a run before the change left: the slash's first sweep missed the token and a node.
      await repo.writeEntities([
        { kind: 'stake', record: stake(slashed, 'slashed'), expectedRev: 0 },
        { kind: 'stake', record: stake(unbonding, 'unbonding'), expectedRev: 0 },
        { kind: 'token', record: token, expectedRev: 0 },
      ]);
      await repo.putNode(node('i-00000000000000001', slashed));
      await repo.putNode(node('i-00000000000000002', unbonding));
      await repo.putCursor({ cursor: 'AAAAAAAAAAE=', checkpoint: 60n, eventsSeen: 9, updatedAt: 't', resweepStakes: [slashed, unbonding] }, undefined);
      const ec2 = new FakeEc2(['i-00000000000000001', 'i-00000000000000002']);
      const deps = { repo, source: idle, packageId: PACKAGE_ID, log: silentLog, now: () => FIXED_NOW, evictor: new Evictor(repo, ec2, new Set([WORKER_GROUP]), () => FIXED_NOW, 0) };
      return { repo, ec2, run: () => runIndexer(deps, { remainingMs: () => 600_000 }) };
    }

    it('is swept once and dropped from the cursor', async () => {
      const { repo, ec2, run } = await legacyFixture();
      const report = await run();
      expect(report).toMatchObject({ resweptStakes: 2, resweepPending: 0, terminated: 2 });
      expect((await repo.getToken(token.tokenId))?.invalidated).toBe(true);
      expect((await repo.getCursor())?.resweepStakes).toBeUndefined();
      expect((await allEntries(repo)).entries).toEqual([]);
      expect([...ec2.terminationCounts().values()]).toEqual([1, 1]);
      if (repo instanceof DynamoIndexRepository) {
        // The stored item itself no longer carries the list.
        const doc = DynamoDBDocumentClient.from(emulatorClient(moto!.endpoint));
        const stored = await doc.send(new GetCommand({ TableName: `resweep-${seq}`, Key: KEYS.cursor(), ConsistentRead: true }));
        expect(stored.Item?.resweepStakes).toBeUndefined();
        expect(stored.Item?.cursor).toBe('AAAAAAAAAAE=');
      }
      const again = await run();
      expect(again).toMatchObject({ resweptStakes: 0, terminated: 0 });
    });

    it('an eviction EC2 refuses during the migration keeps its entry; a later run finishes it', async () => {
      const { repo, ec2, run } = await legacyFixture();
      const terminate = ec2.terminate.bind(ec2);
      ec2.terminate = async () => {
        throw new InstanceApiError('TerminateInstances failed (RequestLimitExceeded)');
      };
      const failed = await run();
      expect(failed).toMatchObject({ resweptStakes: 2, resweepPending: 2, evictionErrors: 2, terminated: 0 });
      expect((await repo.getCursor())?.resweepStakes).toBeUndefined();
      expect((await allEntries(repo)).entries.map((e) => e.stakeId)).toEqual([slashed, unbonding]);
      ec2.terminate = terminate;
      const done = await run();
      expect(done).toMatchObject({ resweptStakes: 2, resweepPending: 0, terminated: 2 });
      expect((await allEntries(repo)).entries).toEqual([]);
    });

    it('an entry naming an active stake (a backing re-check, not an eviction) is swept and removed, its nodes left running', async () => {
      const { repo, ec2, run } = await legacyFixture();
      const active = stakeId(3);
      await repo.writeEntities([{ kind: 'stake', record: stake(active, 'active'), expectedRev: 0 }]);
      await repo.putNode(node('i-00000000000000003', active));
      ec2.states.set('i-00000000000000003', 'running');
      await repo.addResweeps([active], 'run-earlier', AT);
      const report = await run();
      expect(report).toMatchObject({ resweptStakes: 3, resweepPending: 0, terminated: 2 });
      expect(ec2.terminationCounts().get('i-00000000000000003')).toBeUndefined();
      expect((await repo.getNode('i-00000000000000003'))?.terminationRequestedAt).toBeUndefined();
      expect((await allEntries(repo)).entries).toEqual([]);
    });
  });
});
