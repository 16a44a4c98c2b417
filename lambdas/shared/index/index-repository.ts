// The index repository: what the indexer writes and what token checks, node joins and evictions read.
// Two implementations with identical semantics: DynamoDB (`index-repository-dynamodb.ts`) and in-memory
// (`index-repository-memory.ts`, for tests and benchmarks). Writes are optimistic: each entity carries a
// revision number and a write names the revision it was computed from, so a concurrent or replayed run
// can never overwrite newer state with older state.
import type { AdminRecord, EventPosition, MinStakeRecord, NodeRecord, SealTokenRecord, StakeRecord, TokenIndexReader } from './index-model';
import type { Role } from '../sui/roles';

/** A record together with the revision it was read at (0 = the entity does not exist yet). */
export interface Versioned<T> {
  record: T;
  rev: number;
}

export type EntityWrite =
  | { kind: 'stake'; record: StakeRecord; expectedRev: number }
  | { kind: 'token'; record: SealTokenRecord; expectedRev: number }
  | { kind: 'minStake'; record: MinStakeRecord; expectedRev: number }
  | { kind: 'admin'; record: AdminRecord; expectedRev: number };

/** The indexer's resume point: the provider's opaque cursor plus what the lag and ordering need. */
export interface IndexerCursor {
  /** Base64 of the provider's watermark cursor; `after` of the next ListEvents request. */
  cursor: string;
  /** Highest checkpoint the scan has fully covered (0 before the first full checkpoint). */
  checkpoint: bigint;
  /** Position of the last event handed to the applier; a cursor never moves behind it. */
  lastEvent?: EventPosition;
  /** Events applied over the cursor's whole life (monotonic; for operators). */
  eventsSeen: number;
  /**
   * Ledger time (ms) of `checkpoint` as the provider reported it: the index holds every event up to
   * then. Token checks and node joins refuse while it is older than their bound (`freshness.ts`).
   */
  coveredThroughMs?: number;
  updatedAt: string;
  /**
   * Legacy: cursors written before the re-sweep list had its own items (`addResweeps`) carried it here,
   * which grew the cursor item with the number of stakes. The indexer moves such a list into the
   * re-sweep items once and never writes this field again.
   */
  resweepStakes?: string[];
}

/**
 * A stake to sweep once more in a later run: its tokens (if slashed or withdrawn) and its nodes. The
 * stake GSI is eventually consistent, so a token or node written just before the first sweep may have
 * been invisible to it; an eviction EC2 refused or that was deferred is retried the same way.
 */
export interface ResweepEntry {
  stakeId: string;
  /** The indexer run that (last) added it: only an entry still of that run is removed by its sweep. */
  run: string;
  addedAt: string;
}

export interface StakeMembers {
  tokens: Versioned<SealTokenRecord>[];
  nodes: NodeRecord[];
}

export interface ResweepPage {
  entries: ResweepEntry[];
  nextStart?: string;
}

/** Someone else changed an entity or the cursor between our read and our write. */
export class IndexConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IndexConflictError';
  }
}

export interface IndexRepository extends TokenIndexReader {
  /** Current records with their revisions; ids that do not exist are absent from the map. */
  getStakes(stakeIds: readonly string[]): Promise<Map<string, Versioned<StakeRecord>>>;
  getTokens(tokenIds: readonly string[]): Promise<Map<string, Versioned<SealTokenRecord>>>;
  /** Pool minimums that were changed on chain, with their revisions; roles still at the default are absent. */
  getMinStakes(roles: readonly Role[]): Promise<Map<Role, Versioned<MinStakeRecord>>>;
  /** Admin approvals the pool announced, with their revisions; addresses never announced are absent. */
  getAdmins(addresses: readonly string[]): Promise<Map<string, Versioned<AdminRecord>>>;
  /** Tokens backed by a stake (GSI2). */
  tokensOfStake(stakeId: string): Promise<Versioned<SealTokenRecord>[]>;
  /** Tokens and nodes of a stake in one GSI2 query: a sweep and an eviction of the same stake share it. */
  stakeMembers(stakeId: string): Promise<StakeMembers>;
  /** Tokens owned by an address (GSI1). */
  tokensOfOwner(owner: string): Promise<SealTokenRecord[]>;
  /** Stakes owned by an address (GSI1): whose tokens an admin approval change must look at again. */
  stakesOfOwner(owner: string): Promise<StakeRecord[]>;
  /**
   * Writes every record whose stored revision still equals `expectedRev` (0 = must not exist) and
   * bumps it by one. Throws `IndexConflictError` when any revision moved; writes of other records
   * may already be durable then, which is safe because every write is idempotent on replay.
   */
  writeEntities(writes: readonly EntityWrite[]): Promise<void>;

  getNode(instanceId: string): Promise<NodeRecord | undefined>;
  /** Nodes admitted under a stake (GSI2). */
  nodesOfStake(stakeId: string): Promise<NodeRecord[]>;
  putNode(node: NodeRecord): Promise<void>;
  /** Sets `terminationRequestedAt` unless already set; false when it was (or the node is unknown). */
  markTerminationRequested(instanceId: string, at: string): Promise<boolean>;
  /**
   * Claims the node's eviction for the caller: sets `evictionClaimedAt = at` unless termination was
   * already requested or another claim newer than `staleBefore` holds (ISO times compare as strings).
   * False when not claimed (or the node is unknown).
   */
  claimEviction(instanceId: string, at: string, staleBefore: string): Promise<boolean>;
  /** Gives back the claim made at `at` when the eviction failed before TerminateInstances was sent. */
  releaseEviction(instanceId: string, at: string): Promise<void>;

  /** Records stakes to sweep again (one item each, replacing an older entry of the same stake). */
  addResweeps(stakeIds: readonly string[], run: string, addedAt: string): Promise<void>;
  /**
   * One page of pending re-sweep entries in stake id order, strongly consistent, starting after the
   * stake id `startAfter` (a page key, not an offset: removals meanwhile shift nothing). `nextStart` is
   * absent on the last page.
   */
  resweepPage(startAfter?: string, limit?: number): Promise<ResweepPage>;
  /** Removes entries that are still of the run named in them; entries added again since stay. */
  removeResweeps(entries: readonly ResweepEntry[]): Promise<void>;

  getCursor(): Promise<IndexerCursor | undefined>;
  /**
   * Replaces the cursor only if the stored one is still `previous` (compared by provider cursor;
   * undefined = none stored yet). Throws `IndexConflictError` otherwise, so a concurrent run can never
   * move it backwards.
   */
  putCursor(next: IndexerCursor, previous: IndexerCursor | undefined): Promise<void>;
}

/** Total order of ledger positions: checkpoint, then transaction within it, then event within that. */
export function comparePositions(a: EventPosition, b: EventPosition): number {
  if (a.checkpoint !== b.checkpoint) return a.checkpoint < b.checkpoint ? -1 : 1;
  if (a.txOrdinal !== b.txOrdinal) return a.txOrdinal - b.txOrdinal;
  return a.eventIndex - b.eventIndex;
}
