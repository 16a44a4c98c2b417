// Evicts the worker nodes admitted under an unstaked (unbonding), slashed or withdrawn node stake: asks EC2 to terminate them
// and records that on each node. Exactly once per node across crashes and replays: nodes already
// marked are skipped, and instances EC2 already reports as shutting down (a crash between the
// TerminateInstances call and the mark) are only marked, never asked again.
import type { NodeRecord } from '../shared/index/index-model';
import type { IndexRepository } from '../shared/index/index-repository';
import { forEachBounded } from '../shared/concurrency/bounded';

/** Conditional writes of one stake's nodes (claims, marks) in flight at once. */
const NODE_WRITE_CONCURRENCY = 8;

export interface InstanceTerminator {
  /** State name per instance id (`pending`, `running`, `shutting-down`, `terminated`, …); unknown ids are absent. */
  describeStates(instanceIds: readonly string[]): Promise<Map<string, string>>;
  terminate(instanceIds: readonly string[]): Promise<void>;
}

export interface EvictionResult {
  terminated: string[];
  /** Already shutting down or gone: recorded without another TerminateInstances call. */
  alreadyGone: string[];
  /** Nodes of a group this cluster does not own: never touched. */
  refused: string[];
  /** Claimed by another run that has not finished yet: left to it, and looked at again next run. */
  claimedElsewhere: string[];
}

/**
 * Auto Scaling could not be reached or refused a call. The indexer keeps the stake on its resweep list and goes
 * on indexing: a stalled index would stop revocations and slashes of everyone else from taking effect.
 */
export class InstanceApiError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InstanceApiError';
  }
}

const GONE_STATES = new Set(['shutting-down', 'terminated']);

/**
 * A claim older than this belongs to a run that is certainly over (an indexer run lasts at most 300 s,
 * its Lambda timeout), crashed between its claim and its mark: the next run may take the eviction over.
 */
export const EVICTION_CLAIM_STALE_MS = 10 * 60_000;

export class Evictor {
  constructor(
    private readonly repo: IndexRepository,
    private readonly ec2: InstanceTerminator,
    /** Auto Scaling group names of this cluster's workers; the IAM policy enforces the same set. */
    private readonly workerGroups: ReadonlySet<string>,
    private readonly now: () => Date = () => new Date(),
    private readonly claimStaleAfterMs = EVICTION_CLAIM_STALE_MS,
  ) {}

  /** `nodes`: the stake's nodes when the caller just read them (GSI2), to spare a second query. */
  async evictStake(stakeId: string, nodes?: readonly NodeRecord[]): Promise<EvictionResult> {
    const result: EvictionResult = { terminated: [], alreadyGone: [], refused: [], claimedElsewhere: [] };
    const pending: NodeRecord[] = [];
    for (const node of nodes ?? await this.repo.nodesOfStake(stakeId)) {
      if (node.terminationRequestedAt !== undefined || node.status !== 'joined') continue;
      if (!this.workerGroups.has(node.autoScalingGroup)) result.refused.push(node.instanceId);
      else pending.push(node);
    }
    if (pending.length === 0) return result;

    // Claim first (a conditional write per node): of two overlapping runs only one gets past this for a
    // node, so only one ever calls TerminateInstances for it.
    const nowMs = this.now().getTime();
    const at = new Date(nowMs).toISOString();
    const staleBefore = new Date(nowMs - this.claimStaleAfterMs).toISOString();
    const claimed = new Map<string, boolean>();
    await forEachBounded(pending, NODE_WRITE_CONCURRENCY, async (node) => {
      claimed.set(node.instanceId, await this.repo.claimEviction(node.instanceId, at, staleBefore));
    });
    const ids = pending.map((n) => n.instanceId).filter((id) => claimed.get(id));
    result.claimedElsewhere.push(...pending.map((n) => n.instanceId).filter((id) => !claimed.get(id)));
    if (ids.length === 0) return result;

    let toTerminate: string[];
    try {
      // A claim taken over from a crashed run may have been terminated already: describe before asking.
      const states = await this.ec2.describeStates(ids);
      toTerminate = ids.filter((id) => states.has(id) && !GONE_STATES.has(states.get(id)!));
      if (toTerminate.length > 0) await this.ec2.terminate(toTerminate);
    } catch (error) {
      // Auto Scaling refused or did not answer: give the claims back so the next run retries at once. A release
      // that fails too only delays that retry until the claim is stale.
      if (error instanceof InstanceApiError) {
        await forEachBounded(ids, NODE_WRITE_CONCURRENCY, (id) => this.repo.releaseEviction(id, at).catch(() => undefined));
      }
      throw error;
    }
    await forEachBounded(ids, NODE_WRITE_CONCURRENCY, async (id) => {
      await this.repo.markTerminationRequested(id, at);
    });
    for (const id of ids) (toTerminate.includes(id) ? result.terminated : result.alreadyGone).push(id);
    return result;
  }
}
