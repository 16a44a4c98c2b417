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
    await applyEventsToIndex(repo, batch(issued()));
    expect(await backingOf(repo)).toEqual({ adminApproved: false });
    await applyEventsToIndex(repo, batch(deposited()));
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
