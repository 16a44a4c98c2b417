// The copy of stake and approval state the indexer keeps on each token (`backing`, issue 16 item 2):
// every event that changes a stake or an approval rewrites the tokens concerned, a token issued later
// takes the current values, replays change nothing, and a token the eventually consistent GSIs hid from
// the first sweep is corrected by the re-sweep of the next run.
import { describe, expect, it } from '@jest/globals';
import { applyEventsToIndex, resweepStakes, type PositionedEvent } from '../../../../lambdas/shared/index/event-applier';
import type { EventPosition, SealTokenRecord, StakeRecord } from '../../../../lambdas/shared/index/index-model';
import { MemoryIndexRepository } from '../../../../lambdas/shared/index/index-repository-memory';
import type { Versioned } from '../../../../lambdas/shared/index/index-repository';
import type { DecodedEvent } from '../../../../lambdas/shared/sui/events';
import type { EntityWrite } from '../../../../lambdas/shared/index/index-repository';
import { ROLES } from '../../../../lambdas/shared/sui/roles';
import { generateHistory, PACKAGE_ID, type GeneratedHistory, type LedgerSlot } from '../../../support/event-history';
import { encodeEvent, type EventName } from '../../../../lambdas/shared/sui/events';
import { createHarness } from '../../../support/indexer-harness';

const A = '0x' + '1'.repeat(64);
const STAKE = '0x' + '2'.repeat(64);
const ADMIN_STAKE = '0x' + '5'.repeat(64);
const TOKEN = '0x' + '3'.repeat(64);
const ADMIN_TOKEN = '0x' + '4'.repeat(64);
const ADMIN_TOKEN2 = '0x' + '6'.repeat(64);

let checkpoint = 0;
const pos = (): EventPosition => ({ checkpoint: BigInt(++checkpoint), txOrdinal: 0, eventIndex: 0, txDigest: `D${checkpoint}` });
const batch = (...events: DecodedEvent[]): PositionedEvent[] => events.map((event) => ({ event, position: pos() }));

const deposited = (stakeId = STAKE, role = 1, amount = '5000000000') =>
  ({ name: 'staking::StakeDeposited', data: { stake_id: stakeId, owner: A, role, amount, node_id: '' } }) as DecodedEvent;
const issued = (tokenId = TOKEN, stakeId = STAKE, role = 1) =>
  ({ name: 'seal_token::SealTokenIssued', data: {
    token_id: tokenId, stake_id: stakeId, owner: A, role, permissions: ['read'], cluster_id: 'c1', expires_at_ms: '1900000000000',
  } }) as DecodedEvent;
const slashed = (remaining = '2000000000') => ({ name: 'staking::StakeSlashed', data: { stake_id: STAKE, amount: '1', remaining, reason: 'x' } }) as DecodedEvent;
const unstake = () => ({ name: 'staking::UnstakeRequested', data: { stake_id: STAKE, unlock_at_ms: '1800000000000' } }) as DecodedEvent;
const withdrawn = () => ({ name: 'staking::StakeWithdrawn', data: { stake_id: STAKE, amount: '5000000000' } }) as DecodedEvent;
const admin = (approved: boolean) => ({ name: approved ? 'staking::AdminApproved' : 'staking::AdminRevoked', data: { admin: A } }) as DecodedEvent;

/** A repository whose GSIs do not show `hidden` tokens or stakes yet (eventual consistency, the worst moment). */
class LaggingGsi extends MemoryIndexRepository {
  readonly hidden = new Set<string>();
  override async tokensOfStake(stakeId: string): Promise<Versioned<SealTokenRecord>[]> {
    return (await super.tokensOfStake(stakeId)).filter((t) => !this.hidden.has(t.record.tokenId));
  }
  override async tokensOfOwner(owner: string): Promise<SealTokenRecord[]> {
    return (await super.tokensOfOwner(owner)).filter((t) => !this.hidden.has(t.tokenId));
  }
  override async stakesOfOwner(owner: string): Promise<StakeRecord[]> {
    return (await super.stakesOfOwner(owner)).filter((s) => !this.hidden.has(s.stakeId));
  }
}

const backingOf = async (repo: MemoryIndexRepository, tokenId = TOKEN) => (await repo.getToken(tokenId))?.backing;

describe('token backing: kept current by the indexer', () => {
  it('a token issued on an active stake carries its status and amount', async () => {
    const repo = new MemoryIndexRepository();
    await applyEventsToIndex(repo, batch(deposited(), issued()));
    expect(await backingOf(repo)).toEqual({ stake: { status: 'active', amountMist: 5_000_000_000n }, adminApproved: false });
  });

  it.each([
    ['an unstake request', [unstake()], { status: 'unbonding', amountMist: 0n }],
    ['a slash', [slashed()], { status: 'slashed', amountMist: 0n }],
    ['a withdrawal', [unstake(), withdrawn()], { status: 'withdrawn', amountMist: 0n }],
  ] as const)('%s in a later batch rewrites the stake\'s tokens', async (_name, events, stake) => {
    const repo = new MemoryIndexRepository();
    await applyEventsToIndex(repo, batch(deposited(), issued()));
    await applyEventsToIndex(repo, batch(...events));
    expect(await backingOf(repo)).toEqual({ stake, adminApproved: false });
  });

  it('a token issued before its stake was indexed (out of order) gets the stake when the deposit arrives', async () => {
    const repo = new MemoryIndexRepository();
    const first = await applyEventsToIndex(repo, batch(issued()));
    expect(await backingOf(repo)).toEqual({ adminApproved: false });
    // The deposit creates the stake and looks no tokens up (none can exist on chain yet); the token's stake
    // went on the re-sweep list when it was applied, and the re-sweep fills the backing.
    expect(first.resweepStakes).toContain(STAKE);
    await applyEventsToIndex(repo, batch(deposited()));
    await resweepStakes(repo, first.resweepStakes);
    expect(await backingOf(repo)).toEqual({ stake: { status: 'active', amountMist: 5_000_000_000n }, adminApproved: false });
  });

  it('admin tokens carry the owner\'s approval: taken at issue, rewritten by AdminRevoked and AdminApproved', async () => {
    const repo = new MemoryIndexRepository();
    await applyEventsToIndex(repo, batch(admin(true), deposited(ADMIN_STAKE, 2), issued(ADMIN_TOKEN, ADMIN_STAKE, 2)));
    expect(await backingOf(repo, ADMIN_TOKEN)).toMatchObject({ adminApproved: true });
    await applyEventsToIndex(repo, batch(admin(false)));
    expect(await backingOf(repo, ADMIN_TOKEN)).toMatchObject({ adminApproved: false });
    await applyEventsToIndex(repo, batch(admin(true)));
    expect(await backingOf(repo, ADMIN_TOKEN)).toMatchObject({ adminApproved: true });
  });

  it('an admin token issued while its owner is not approved (as the index knows it) is not approved', async () => {
    const repo = new MemoryIndexRepository();
    await applyEventsToIndex(repo, batch(deposited(ADMIN_STAKE, 2), issued(ADMIN_TOKEN, ADMIN_STAKE, 2)));
    expect(await backingOf(repo, ADMIN_TOKEN)).toMatchObject({ adminApproved: false });
  });

  it('a replay of every batch writes nothing', async () => {
    const repo = new MemoryIndexRepository();
    const batches = [batch(admin(true), deposited(), issued()), batch(unstake()), batch(admin(false))];
    for (const b of batches) await applyEventsToIndex(repo, b);
    const before = repo.snapshot();
    for (const b of batches) {
      const replay = await applyEventsToIndex(repo, b);
      expect(replay.applied).toBe(0);
    }
    expect(repo.snapshot()).toEqual(before);
  });
});

describe('token backing: the GSIs are eventually consistent, the re-sweep corrects', () => {
  it('a token the stake GSI hid from an unstake is corrected by re-sweeping the stake', async () => {
    const repo = new LaggingGsi();
    await applyEventsToIndex(repo, batch(deposited(), issued()));
    repo.hidden.add(TOKEN);
    const result = await applyEventsToIndex(repo, batch(unstake()));
    expect(await backingOf(repo)).toMatchObject({ stake: { status: 'active' } }); // missed, as the GSI hid it
    expect(result.resweepStakes).toEqual([STAKE]);
    repo.hidden.clear();
    expect(await resweepStakes(repo, result.resweepStakes)).toBe(1);
    expect(await backingOf(repo)).toEqual({ stake: { status: 'unbonding', amountMist: 0n }, adminApproved: false });
    expect(await resweepStakes(repo, result.resweepStakes)).toBe(0);
  });

  it('a token the owner GSI hid from an AdminRevoked is corrected by re-sweeping the owner\'s admin stakes', async () => {
    const repo = new LaggingGsi();
    await applyEventsToIndex(repo, batch(admin(true), deposited(ADMIN_STAKE, 2), issued(ADMIN_TOKEN, ADMIN_STAKE, 2), issued(ADMIN_TOKEN2, ADMIN_STAKE, 2)));
    repo.hidden.add(ADMIN_TOKEN2);
    const result = await applyEventsToIndex(repo, batch(admin(false)));
    expect(await backingOf(repo, ADMIN_TOKEN)).toMatchObject({ adminApproved: false });
    expect(await backingOf(repo, ADMIN_TOKEN2)).toMatchObject({ adminApproved: true }); // hidden from the first sweep
    expect(result.resweepStakes).toEqual([ADMIN_STAKE]);
    expect(result.evictStakes).toEqual([]);
    repo.hidden.clear();
    expect(await resweepStakes(repo, result.resweepStakes)).toBe(1);
    expect(await backingOf(repo, ADMIN_TOKEN2)).toMatchObject({ adminApproved: false });
  });

  it('an approval change finds the owner\'s admin stakes even when the owner GSI hides every token', async () => {
    const repo = new LaggingGsi();
    await applyEventsToIndex(repo, batch(admin(true), deposited(ADMIN_STAKE, 2), issued(ADMIN_TOKEN, ADMIN_STAKE, 2)));
    repo.hidden.add(ADMIN_TOKEN);
    const result = await applyEventsToIndex(repo, batch(admin(false)));
    expect(result.resweepStakes).toEqual([ADMIN_STAKE]);
    repo.hidden.clear();
    await resweepStakes(repo, result.resweepStakes);
    expect(await backingOf(repo, ADMIN_TOKEN)).toMatchObject({ adminApproved: false });
  });

  it('the re-sweep still invalidates a missed token of a slashed stake', async () => {
    const repo = new LaggingGsi();
    await applyEventsToIndex(repo, batch(deposited(), issued()));
    repo.hidden.add(TOKEN);
    const result = await applyEventsToIndex(repo, batch(slashed()));
    repo.hidden.clear();
    await resweepStakes(repo, result.resweepStakes);
    expect(await repo.getToken(TOKEN)).toMatchObject({ invalidated: true, backing: { stake: { status: 'slashed' } } });
  });
});

/**
 * GSIs that lag by a whole indexer run: nothing written during the current run is visible to the
 * owner and stake GSIs until the next one starts (the bound the re-sweep design assumes: lag < run interval).
 */
class RunLaggingGsi extends LaggingGsi {
  override async writeEntities(writes: readonly EntityWrite[]): Promise<void> {
    await super.writeEntities(writes);
    for (const w of writes) {
      if (w.kind === 'token') this.hidden.add(w.record.tokenId);
      if (w.kind === 'stake') this.hidden.add(w.record.stakeId);
    }
  }
}

describe('token backing: the real indexer over a generated history', () => {
  it.each([
    ['consistent GSIs', () => new MemoryIndexRepository()],
    ['GSIs a whole run behind', () => new RunLaggingGsi()],
  ] as const)('with %s, once caught up every token carries its stake\'s final state and its admin owner\'s final approval', async (_name, makeRepo) => {
    const history = generateHistory({ seed: 7, transactions: 400 });
    const repo = makeRepo();
    const h = await createHarness(history, { repo });
    for (let run = 0; ; run++) {
      if (repo instanceof LaggingGsi) repo.hidden.clear(); // a new run: what the last one wrote is visible now
      const report = await h.run({ pageLimit: 10 });
      // Caught up, and no stake left waiting for its second sweep (the re-sweep entries, docs/indexer.md).
      if (report.stoppedBecause === 'caught_up' && report.resweepPending === 0) break;
      expect(run).toBeLessThan(50);
    }
    const { expected } = history;
    const adminTokens = [...expected.tokens.values()].filter((t) => expected.stakes.get(t.stakeId)!.role === ROLES.indexOf('admin'));
    expect(adminTokens.length).toBeGreaterThan(0);
    expect(expected.admins.size).toBeGreaterThan(0);
    for (const [tokenId, want] of expected.tokens) {
      const stake = expected.stakes.get(want.stakeId)!;
      const record = await repo.getToken(tokenId);
      expect([tokenId, record?.backing]).toEqual([tokenId, {
        stake: { status: stake.status, amountMist: stake.status === 'active' ? stake.amount : 0n },
        adminApproved: stake.role === ROLES.indexOf('admin') && expected.admins.get(want.owner) === true,
      }]);
    }
  });
});

/** A hand-written ledger (one event per transaction and checkpoint) the fake node serves to the real indexer. */
function ledgerOf(events: { name: EventName; data: Record<string, unknown> }[]): GeneratedHistory {
  const ledger: LedgerSlot[] = events.map((e, i) => ({
    checkpoint: 101n + BigInt(i), txDigest: `T${i}`, transactionIndex: 0, eventIndex: 0, eventType: `${PACKAGE_ID}::${e.name}`,
    bcs: encodeEvent(e.name, e.data as never),
  }));
  return {
    packageId: PACKAGE_ID, ledger, nodes: [], expectedTerminations: [], headCheckpoint: 101n + BigInt(events.length) + 5n, counts: {},
    expected: { stakes: new Map(), tokens: new Map(), minStakes: new Map(), admins: new Map() },
  };
}

describe('token backing: an approval revoked while the GSIs still hide a new admin token (real indexer)', () => {
  it('the next run\'s re-sweep refuses the token: approve, deposit, issue, revoke, one event per page, GSIs a run behind', async () => {
    const history = ledgerOf([
      { name: 'staking::AdminApproved', data: { admin: A } },
      { name: 'staking::StakeDeposited', data: { stake_id: ADMIN_STAKE, owner: A, role: 2, amount: 10_000_000_000n, node_id: '' } },
      { name: 'seal_token::SealTokenIssued', data: {
        token_id: ADMIN_TOKEN, stake_id: ADMIN_STAKE, owner: A, role: 2, permissions: ['admin'], cluster_id: 'c1', expires_at_ms: 1_900_000_000_000n,
      } },
      { name: 'staking::AdminRevoked', data: { admin: A } },
    ]);
    const repo = new RunLaggingGsi();
    const h = await createHarness(history, { repo });
    const first = await h.run({ pageLimit: 1 });
    expect(first.stoppedBecause).toBe('caught_up');
    // The revocation could not see the token or its stake through the GSIs…
    expect(await backingOf(repo, ADMIN_TOKEN)).toMatchObject({ adminApproved: true });
    // …so the stake waits on the re-sweep list, and the next run corrects the token.
    expect((await repo.resweepPage()).entries.map((e) => e.stakeId)).toContain(ADMIN_STAKE);
    repo.hidden.clear();
    await h.run({ pageLimit: 1 });
    expect(await backingOf(repo, ADMIN_TOKEN)).toEqual({ stake: { status: 'active', amountMist: 10_000_000_000n }, adminApproved: false });
  });
});
