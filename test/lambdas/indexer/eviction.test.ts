// Eviction claims: an indexer run claims each node in the index (a conditional write) before calling
// TerminateInstances, so two overlapping runs never both terminate it; a claim left by a crashed run is
// taken over once stale, and one whose EC2 call failed is given back at once.
import { describe, expect, it } from '@jest/globals';
import { EVICTION_CLAIM_STALE_MS, Evictor, InstanceApiError } from '../../../lambdas/indexer/eviction';
import type { NodeRecord } from '../../../lambdas/shared/index/index-model';
import { MemoryIndexRepository } from '../../../lambdas/shared/index/index-repository-memory';
import { FakeEc2, generateHistory } from '../../support/event-history';
import { createHarness } from '../../support/indexer-harness';

const GROUP = 'k3s-daas-test-workers-general';
const STAKE = '0x' + 'c'.repeat(64);
const T0 = new Date('2026-06-01T00:00:00.000Z');
const node = (instanceId: string): NodeRecord => ({ instanceId, stakeId: STAKE, autoScalingGroup: GROUP, status: 'joined', joinedAt: '2026-05-01T00:00:00.000Z' });
const IDS = ['i-00000000000000001', 'i-00000000000000002'];

async function fixture() {
  const repo = new MemoryIndexRepository();
  for (const id of IDS) await repo.putNode(node(id));
  const ec2 = new FakeEc2(IDS);
  return { repo, ec2 };
}

/** A FakeEc2 whose describe waits until released, so two runs are both past their reads before either terminates. */
function gatedDescribe(ec2: FakeEc2) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const describe = ec2.describeStates.bind(ec2);
  ec2.describeStates = async (ids) => {
    const states = await describe(ids);
    await gate;
    return states;
  };
  return release;
}

describe('eviction claims', () => {
  it('two overlapping evictions of the same stake call TerminateInstances once per node', async () => {
    const { repo, ec2 } = await fixture();
    const release = gatedDescribe(ec2);
    const a = new Evictor(repo, ec2, new Set([GROUP]), () => T0);
    const b = new Evictor(repo, ec2, new Set([GROUP]), () => new Date(T0.getTime() + 1_000));
    const both = Promise.all([a.evictStake(STAKE), b.evictStake(STAKE)]);
    release();
    const [first, second] = await both;
    expect([...ec2.terminationCounts().entries()].sort()).toEqual(IDS.map((id) => [id, 1]));
    expect(first.terminated.sort()).toEqual(IDS);
    expect(second).toMatchObject({ terminated: [], claimedElsewhere: IDS });
    for (const id of IDS) expect((await repo.getNode(id))?.terminationRequestedAt).toBe(T0.toISOString());
  });

  it('two overlapping indexer runs evict every node of the generated history exactly once', async () => {
    const history = generateHistory({ seed: 42, transactions: 400 });
    expect(history.expectedTerminations.length).toBeGreaterThan(0);
    const h = await createHarness(history, { claimStaleAfterMs: EVICTION_CLAIM_STALE_MS });
    const release = gatedDescribe(h.ec2);
    // The runs race for the cursor too: the loser fails its conditional cursor write, as designed.
    const runs = Promise.allSettled([h.run(), h.run()]);
    setImmediate(release);
    await runs;
    await h.runUntilCaughtUp();
    const counts = h.ec2.terminationCounts();
    expect([...counts.keys()].sort()).toEqual(history.expectedTerminations);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
  });

  it('a fresh claim of a crashed run is left alone (and looked at again); a stale one is taken over', async () => {
    const { repo, ec2 } = await fixture();
    // A run claimed both nodes, then died before calling EC2.
    for (const id of IDS) expect(await repo.claimEviction(id, T0.toISOString(), new Date(0).toISOString())).toBe(true);

    const soon = await new Evictor(repo, ec2, new Set([GROUP]), () => new Date(T0.getTime() + 60_000)).evictStake(STAKE);
    expect(soon).toMatchObject({ terminated: [], claimedElsewhere: IDS });
    expect(ec2.terminateCalls).toEqual([]);

    const late = new Date(T0.getTime() + EVICTION_CLAIM_STALE_MS + 1);
    const taken = await new Evictor(repo, ec2, new Set([GROUP]), () => late).evictStake(STAKE);
    expect(taken.terminated.sort()).toEqual(IDS);
    expect(ec2.terminateCalls).toHaveLength(1);
  });

  it('a stale claim whose instance EC2 already shuts down is only marked, never terminated again', async () => {
    const { repo, ec2 } = await fixture();
    for (const id of IDS) await repo.claimEviction(id, T0.toISOString(), new Date(0).toISOString());
    ec2.states.set(IDS[0], 'shutting-down'); // the crashed run's TerminateInstances did reach EC2
    const late = new Date(T0.getTime() + EVICTION_CLAIM_STALE_MS + 1);
    const result = await new Evictor(repo, ec2, new Set([GROUP]), () => late).evictStake(STAKE);
    expect(result).toMatchObject({ terminated: [IDS[1]], alreadyGone: [IDS[0]] });
    expect(ec2.terminateCalls).toEqual([[IDS[1]]]);
  });

  it('an EC2 failure gives the claims back, so the next run retries at once', async () => {
    const { repo, ec2 } = await fixture();
    const terminate = ec2.terminate.bind(ec2);
    ec2.terminate = async () => {
      throw new InstanceApiError('TerminateInstances failed (RequestLimitExceeded)');
    };
    const evictor = new Evictor(repo, ec2, new Set([GROUP]), () => T0);
    await expect(evictor.evictStake(STAKE)).rejects.toBeInstanceOf(InstanceApiError);
    for (const id of IDS) expect((await repo.getNode(id))?.evictionClaimedAt).toBeUndefined();
    ec2.terminate = terminate;
    expect((await evictor.evictStake(STAKE)).terminated.sort()).toEqual(IDS);
  });
});
