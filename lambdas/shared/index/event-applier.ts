// The rules that turn decoded `k3s_daas` events into index state (DESIGN §2 step 2). One copy, used by
// the indexer and by tests. Every rule is idempotent: an entity records the position of the last event
// applied to it and only a newer event changes its mutable state, so replaying any prefix of the event
// stream (after a crash, a retry or a re-delivered page) converges to the same index.
//
// Entities referred to before they are known (a revocation before the issuance was indexed, a slash
// before the deposit) get a fail-closed placeholder: never active, never valid. The late event later
// fills in the immutable identity fields (owner, role, node id, token contents) without undoing newer
// state. Inactive stakes' amounts are only informative, so placeholders do not try to reconstruct them.
//
// Each token also carries a copy of what a token check decides on (`backing`: its stake's status and
// amount, and for admin tokens the owner's approval), so one consistent read of the token decides. Every
// event that changes a stake or an approval rewrites the tokens of that stake or owner; a token issued
// later takes the current values at issue. The GSIs that find those tokens are eventually consistent, so
// the stakes concerned go on the indexer's re-sweep list (`ApplyResult.resweepStakes`, `resweepStakes`).
import type { AdminRecord, EventPosition, MinStakeRecord, SealTokenRecord, StakeRecord, TokenBacking } from './index-model';
import { comparePositions, IndexConflictError, type EntityWrite, type IndexRepository, type Versioned } from './index-repository';
import type { DecodedEvent } from '../sui/events';
import { roleFromU8, ROLES, type Role } from '../sui/roles';
import { forEachBounded } from '../concurrency/bounded';

/** GSI lookups of a re-sweep in flight at once. */
const RESWEEP_LOOKUP_CONCURRENCY = 8;

export interface PositionedEvent {
  event: DecodedEvent;
  position: EventPosition;
}

/** The entities a batch of events touches, loaded once, mutated in memory, then written back. */
export interface WorkingSet {
  stakes: Map<string, StakeRecord>;
  tokens: Map<string, SealTokenRecord>;
  changedStakes: Set<string>;
  changedTokens: Set<string>;
  /** Pool minimums per role (only roles whose minimum changed on chain). */
  minStakes: Map<Role, MinStakeRecord>;
  changedMinStakes: Set<Role>;
  /** Admin approvals by address (only addresses the pool announced). */
  admins: Map<string, AdminRecord>;
  changedAdmins: Set<string>;
  /**
   * Addresses whose approval was looked up (present in `admins` or known to be absent): only for these may
   * a token's `backing.adminApproved` be recomputed; others keep what the token holds.
   */
  loadedAdmins: Set<string>;
  /** Stakes unstaked, slashed or withdrawn in this batch: their worker nodes must be evicted. */
  evictStakes: Set<string>;
}

export type ApplyOutcome = 'applied' | 'stale' | 'ignored' | 'invalid';

export function emptyWorkingSet(): WorkingSet {
  return {
    stakes: new Map(), tokens: new Map(), changedStakes: new Set(), changedTokens: new Set(),
    minStakes: new Map(), changedMinStakes: new Set(), admins: new Map(), changedAdmins: new Set(), loadedAdmins: new Set(), evictStakes: new Set(),
  };
}

/**
 * Ids an event needs in the working set: whether that stake's tokens must be loaded too (`sweepStake`:
 * every stake change rewrites their `backing`), and whether an approval's owner's tokens must be
 * (`sweepOwner`).
 */
export function referencedIds(event: DecodedEvent): {
  stakeId?: string; tokenId?: string; sweepStake?: boolean; minStakeRole?: Role; admin?: string; sweepOwner?: boolean;
} {
  switch (event.name) {
    case 'staking::StakeDeposited':
    case 'staking::UnstakeRequested':
    case 'staking::StakeWithdrawn':
    case 'staking::StakeSlashed':
      return { stakeId: event.data.stake_id, sweepStake: true };
    case 'seal_token::SealTokenIssued':
      // An admin token takes its owner's approval at issue.
      return {
        stakeId: event.data.stake_id, tokenId: event.data.token_id,
        ...(event.data.role === ADMIN_ROLE_U8 ? { admin: event.data.owner } : {}),
      };
    case 'seal_token::SealTokenRevoked':
      return { tokenId: event.data.token_id };
    case 'staking::MinStakeChanged':
      // An unknown role is refused by `applyEvent`; nothing to load for it.
      return event.data.role < ROLES.length ? { minStakeRole: roleFromU8(event.data.role) } : {};
    case 'staking::AdminApproved':
    case 'staking::AdminRevoked':
      return { admin: event.data.admin, sweepOwner: true };
    default:
      return {};
  }
}

const ADMIN_ROLE_U8 = ROLES.indexOf('admin');

const INACTIVE_FOREVER = new Set<StakeRecord['status']>(['slashed', 'withdrawn']);

// On chain a stake's status only moves forward: a slashed stake may still request unstake, be slashed
// again or be withdrawn, but it stays slashed for good (`staking::slash`). Taking the later of two
// statuses keeps a slash from being undone by a later unstake request, and makes the status the same
// whatever order the events arrive in.
const STATUS_RANK: Record<StakeRecord['status'], number> = { active: 0, unbonding: 1, slashed: 2, withdrawn: 3 };

function laterStatus(a: StakeRecord['status'], b: StakeRecord['status']): StakeRecord['status'] {
  return STATUS_RANK[a] >= STATUS_RANK[b] ? a : b;
}

/** Applies one event to the working set. Pure apart from mutating `ws`. */
export function applyEvent(ws: WorkingSet, { event, position }: PositionedEvent): ApplyOutcome {
  switch (event.name) {
    case 'staking::StakeDeposited': {
      const d = event.data;
      let role;
      try {
        role = roleFromU8(d.role);
      } catch {
        return 'invalid';
      }
      const identity = { owner: d.owner, role, nodeId: d.node_id };
      const current = ws.stakes.get(d.stake_id);
      if (!current || comparePositions(position, current.lastEvent) > 0) {
        return syncTokensOfStake(ws, d.stake_id, setStake(ws, {
          stakeId: d.stake_id, ...identity, amountMist: BigInt(d.amount), status: 'active', lastEvent: position,
        }));
      }
      // Older than what we hold: only the immutable identity may still be missing (placeholder).
      return syncTokensOfStake(ws, d.stake_id, setStake(ws, { ...current, ...identity }));
    }
    case 'staking::UnstakeRequested': {
      const d = event.data;
      const unlockAtMs = safeNumber(d.unlock_at_ms);
      const current = ws.stakes.get(d.stake_id);
      // DESIGN §2.7: unstaking evicts the operator's nodes. An unbonding stake backs no node (and no
      // token: token checks refuse it); its nodes go now, not at withdrawal after the lock-up.
      ws.evictStakes.add(d.stake_id);
      // Late (older) request: its unlock time is still a fact about the stake; the newer status stays.
      if (current && comparePositions(position, current.lastEvent) <= 0 && current.unlockAtMs === undefined) {
        return syncTokensOfStake(ws, d.stake_id, setStake(ws, { ...current, status: laterStatus(current.status, 'unbonding'), unlockAtMs }));
      }
      return syncTokensOfStake(ws, d.stake_id, updateStake(ws, d.stake_id, position, { status: 'unbonding', unlockAtMs }));
    }
    case 'staking::StakeWithdrawn': {
      const d = event.data;
      const outcome = updateStake(ws, d.stake_id, position, { status: 'withdrawn', amountMist: 0n });
      return sweep(ws, d.stake_id, outcome);
    }
    case 'staking::StakeSlashed': {
      const d = event.data;
      const outcome = updateStake(ws, d.stake_id, position, { status: 'slashed', amountMist: BigInt(d.remaining) });
      return sweep(ws, d.stake_id, outcome);
    }
    case 'seal_token::SealTokenIssued': {
      const d = event.data;
      let role;
      try {
        role = roleFromU8(d.role);
      } catch {
        return 'invalid';
      }
      const identity = {
        stakeId: d.stake_id, owner: d.owner, role, permissions: [...d.permissions], clusterId: d.cluster_id,
        expiresAtMs: safeNumber(d.expires_at_ms),
      };
      const current = ws.tokens.get(d.token_id);
      const stake = ws.stakes.get(d.stake_id);
      const invalidated = (current?.invalidated ?? false) || (stake !== undefined && INACTIVE_FOREVER.has(stake.status));
      if (!current || comparePositions(position, current.lastEvent) > 0) {
        return setToken(ws, withBacking(ws, { tokenId: d.token_id, ...identity, revoked: current?.revoked ?? false, invalidated, backing: current?.backing, lastEvent: position }));
      }
      return setToken(ws, withBacking(ws, { ...current, ...identity, invalidated }));
    }
    case 'seal_token::SealTokenRevoked': {
      const d = event.data;
      const current = ws.tokens.get(d.token_id);
      if (!current) {
        return setToken(ws, {
          tokenId: d.token_id, stakeId: '', owner: '', role: 'user', permissions: [], clusterId: '', expiresAtMs: 0,
          revoked: true, invalidated: false, backing: { adminApproved: false }, lastEvent: position,
        });
      }
      if (comparePositions(position, current.lastEvent) <= 0) return 'stale';
      return setToken(ws, { ...current, revoked: true, lastEvent: position });
    }
    case 'staking::MinStakeChanged': {
      const d = event.data;
      let role;
      try {
        role = roleFromU8(d.role);
      } catch {
        return 'invalid';
      }
      // Only the newest change counts: a replayed or late older one must not bring back an old minimum.
      const current = ws.minStakes.get(role);
      if (current && comparePositions(position, current.lastEvent) <= 0) return 'stale';
      ws.minStakes.set(role, { role, amountMist: BigInt(d.amount), lastEvent: position });
      ws.changedMinStakes.add(role);
      return 'applied';
    }
    case 'staking::AdminApproved':
    case 'staking::AdminRevoked': {
      // Only the newest announcement counts, whatever order they arrive in (approve, revoke, approve…).
      const address = event.data.admin;
      const current = ws.admins.get(address);
      // A replay still rewrites the owner's tokens: a crash may have come between the approval and them.
      if (current && comparePositions(position, current.lastEvent) <= 0) return syncTokensOfOwner(ws, address) ? 'applied' : 'stale';
      ws.admins.set(address, { address, approved: event.name === 'staking::AdminApproved', lastEvent: position });
      ws.changedAdmins.add(address);
      ws.loadedAdmins.add(address);
      syncTokensOfOwner(ws, address);
      return 'applied';
    }
    default:
      // The enclave registry's events and future events carry nothing the token index needs.
      return 'ignored';
  }
}

function updateStake(ws: WorkingSet, stakeId: string, position: EventPosition, patch: Partial<StakeRecord>): ApplyOutcome {
  const current = ws.stakes.get(stakeId);
  if (!current) {
    return setStake(ws, {
      stakeId, owner: '', role: 'user', amountMist: 0n, status: 'unbonding', nodeId: '', ...patch, lastEvent: position,
    });
  }
  const status = patch.status ? laterStatus(current.status, patch.status) : current.status;
  // Older than what we hold: only the status may still move forward (see laterStatus).
  if (comparePositions(position, current.lastEvent) <= 0) return setStake(ws, { ...current, status });
  return setStake(ws, { ...current, ...patch, status, lastEvent: position });
}

/** A slashed or withdrawn stake admits no one again: invalidate its tokens and evict its nodes. */
function sweep(ws: WorkingSet, stakeId: string, outcome: ApplyOutcome): ApplyOutcome {
  // Runs even for a stale (replayed) event: a crash may have interrupted the sweep after the stake write.
  ws.evictStakes.add(stakeId);
  let changed = false;
  for (const token of ws.tokens.values()) {
    if (token.stakeId === stakeId && !token.invalidated) {
      setToken(ws, { ...token, invalidated: true });
      changed = true;
    }
  }
  return syncTokensOfStake(ws, stakeId, changed ? 'applied' : outcome);
}

/**
 * The token with `backing` recomputed from what the working set knows: the stake's status and amount if
 * the stake is loaded, the owner's approval (admin tokens) if it was looked up. What is not loaded keeps
 * the token's previous value; an unknown stake stays absent, which token checks refuse.
 */
function withBacking(ws: WorkingSet, token: SealTokenRecord): SealTokenRecord {
  const stake = ws.stakes.get(token.stakeId);
  const previous = token.backing;
  const backing: TokenBacking = {
    // An inactive stake admits no one whatever it holds, and its amount is only informative (see above):
    // 0 keeps every delivery order converging to the same token.
    ...(stake ? { stake: { status: stake.status, amountMist: stake.status === 'active' ? stake.amountMist : 0n } } : previous?.stake ? { stake: previous.stake } : {}),
    adminApproved: token.role !== 'admin' ? false
      : ws.loadedAdmins.has(token.owner) ? ws.admins.get(token.owner)?.approved === true
        : previous?.adminApproved ?? false,
  };
  return { ...token, backing };
}

/** Rewrites `backing` on the loaded tokens of a stake (replays included: a crash may have come between). */
function syncTokensOfStake(ws: WorkingSet, stakeId: string, outcome: ApplyOutcome): ApplyOutcome {
  let changed = false;
  for (const token of ws.tokens.values()) {
    if (token.stakeId === stakeId && setToken(ws, withBacking(ws, token)) === 'applied') changed = true;
  }
  return changed ? 'applied' : outcome;
}

/** Rewrites `backing.adminApproved` on the loaded admin tokens of an owner; true when any changed. */
function syncTokensOfOwner(ws: WorkingSet, owner: string): boolean {
  let changed = false;
  for (const token of ws.tokens.values()) {
    if (token.owner === owner && token.role === 'admin' && setToken(ws, withBacking(ws, token)) === 'applied') changed = true;
  }
  return changed;
}

function setStake(ws: WorkingSet, next: StakeRecord): ApplyOutcome {
  if (next.unlockAtMs === undefined) delete next.unlockAtMs;
  const current = ws.stakes.get(next.stakeId);
  if (current && sameRecord(current, next)) return 'stale';
  ws.stakes.set(next.stakeId, next);
  ws.changedStakes.add(next.stakeId);
  return 'applied';
}

function setToken(ws: WorkingSet, next: SealTokenRecord): ApplyOutcome {
  const current = ws.tokens.get(next.tokenId);
  if (current && sameRecord(current, next)) return 'stale';
  ws.tokens.set(next.tokenId, next);
  ws.changedTokens.add(next.tokenId);
  return 'applied';
}

function sameRecord(a: object, b: object): boolean {
  return stableJson(a) === stableJson(b);
}

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });
}

function safeNumber(u64: string): number {
  const n = BigInt(u64);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/**
 * The second look at these stakes' tokens, for tokens the eventually consistent GSIs hid from the first
 * sweep: a token of a slashed or withdrawn stake still valid is invalidated, and every token's `backing`
 * is brought to its stake's current status and amount and, for admin tokens, the owner's current
 * approval. Returns how many tokens it changed.
 */
export async function resweepStakes(repo: IndexRepository, stakeIds: readonly string[], maxAttempts = 3): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      const stakes = await repo.getStakes(stakeIds);
      // One GSI query per stake, a few at a time: a long list must not cost one round trip after another.
      const tokens: Versioned<SealTokenRecord>[] = [];
      await forEachBounded([...stakes.keys()], RESWEEP_LOOKUP_CONCURRENCY, async (stakeId) => {
        tokens.push(...await repo.tokensOfStake(stakeId));
      });
      // The GSI copies may be behind: decide on consistent reads of the tokens themselves.
      const current = await repo.getTokens(tokens.map((t) => t.record.tokenId));
      const owners = [...new Set([...current.values()].filter((t) => t.record.role === 'admin').map((t) => t.record.owner))];
      const ws = emptyWorkingSet();
      for (const [id, v] of stakes) ws.stakes.set(id, v.record);
      for (const [address, v] of owners.length > 0 ? await repo.getAdmins(owners) : new Map<string, Versioned<AdminRecord>>()) ws.admins.set(address, v.record);
      for (const owner of owners) ws.loadedAdmins.add(owner);
      const writes: EntityWrite[] = [];
      for (const { record, rev } of current.values()) {
        const stake = ws.stakes.get(record.stakeId);
        const invalidated = record.invalidated || (stake !== undefined && INACTIVE_FOREVER.has(stake.status));
        const next = withBacking(ws, { ...record, invalidated });
        if (!sameRecord(next, record)) writes.push({ kind: 'token', record: next, expectedRev: rev });
      }
      if (writes.length > 0) await repo.writeEntities(writes);
      return writes.length;
    } catch (error) {
      if (!(error instanceof IndexConflictError) || attempt >= maxAttempts) throw error;
    }
  }
}

export interface ApplyResult {
  applied: number;
  stale: number;
  ignored: number;
  invalid: number;
  /** Stakes whose worker nodes must be evicted (unstaked, slashed or withdrawn in this batch, replays included). */
  evictStakes: string[];
  /**
   * Stakes whose tokens the next run must look at again (`resweepStakes`), because the GSI that found
   * their tokens may have hidden one written just before: `evictStakes`, the admin stakes of every owner
   * whose approval changed in this batch, and the stakes of admin tokens issued in it.
   */
  resweepStakes: string[];
}

/**
 * Loads what `events` touch, applies them in order and writes the changed entities back with revision
 * checks. A concurrent change (revision moved) reloads and re-applies, which is safe because the rules
 * are idempotent.
 */
export async function applyEventsToIndex(repo: IndexRepository, events: readonly PositionedEvent[], maxAttempts = 3): Promise<ApplyResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await applyOnce(repo, events);
    } catch (error) {
      if (!(error instanceof IndexConflictError) || attempt >= maxAttempts) throw error;
    }
  }
}

async function applyOnce(repo: IndexRepository, events: readonly PositionedEvent[]): Promise<ApplyResult> {
  const stakeIds = new Set<string>();
  const tokenIds = new Set<string>();
  const sweepStakes = new Set<string>();
  // A deposit creates its stake: on chain no token can exist for it yet, so its tokens are looked up only
  // when the index already holds the stake (a replay, or a placeholder an earlier page left).
  const depositStakes = new Set<string>();
  const sweepOwners = new Set<string>();
  const minStakeRoles = new Set<Role>();
  const adminAddresses = new Set<string>();
  for (const { event } of events) {
    const ids = referencedIds(event);
    if (ids.minStakeRole) minStakeRoles.add(ids.minStakeRole);
    if (ids.admin) adminAddresses.add(ids.admin);
    if (ids.stakeId) stakeIds.add(ids.stakeId);
    if (ids.tokenId) tokenIds.add(ids.tokenId);
    if (ids.sweepStake && ids.stakeId) (event.name === 'staking::StakeDeposited' ? depositStakes : sweepStakes).add(ids.stakeId);
    if (ids.sweepOwner && ids.admin) sweepOwners.add(ids.admin);
  }
  // The GSIs are only eventually consistent: use them to find ids, then read the items consistently.
  const [swept, ownerTokens, ownerStakes] = await Promise.all([
    Promise.all([...sweepStakes].map((s) => repo.tokensOfStake(s))),
    Promise.all([...sweepOwners].map((o) => repo.tokensOfOwner(o))),
    Promise.all([...sweepOwners].map((o) => repo.stakesOfOwner(o))),
  ]);
  for (const list of swept) for (const t of list) tokenIds.add(t.record.tokenId);
  for (const list of ownerTokens) for (const t of list) if (t.role === 'admin') tokenIds.add(t.tokenId);
  // Stakes whose tokens the next run looks at again after an approval change (GSI lag).
  const approvalStakes = new Set<string>();
  for (const list of ownerTokens) for (const t of list) if (t.role === 'admin' && t.stakeId) approvalStakes.add(t.stakeId);
  for (const list of ownerStakes) for (const s of list) if (s.role === 'admin') approvalStakes.add(s.stakeId);
  // A new admin token gets a second look next run too: an approval change applied before the owner GSI
  // showed it (or its stake) would otherwise never reach it.
  for (const { event } of events) {
    if (event.name === 'seal_token::SealTokenIssued' && event.data.role === ADMIN_ROLE_U8) approvalStakes.add(event.data.stake_id);
  }

  const [stakes, tokens, minStakes, admins] = await Promise.all([
    repo.getStakes([...stakeIds]),
    repo.getTokens([...tokenIds]),
    minStakeRoles.size > 0 ? repo.getMinStakes([...minStakeRoles]) : new Map<Role, Versioned<MinStakeRecord>>(),
    adminAddresses.size > 0 ? repo.getAdmins([...adminAddresses]) : new Map<string, Versioned<AdminRecord>>(),
  ]);
  // A token whose stake the index does not hold yet (only out of ledger order) gets its backing from the
  // next run's re-sweep, since the deposit that creates the stake looks no tokens up.
  for (const { event } of events) {
    if (event.name === 'seal_token::SealTokenIssued' && !stakes.has(event.data.stake_id) && !depositStakes.has(event.data.stake_id)) approvalStakes.add(event.data.stake_id);
  }
  const knownDeposits = [...depositStakes].filter((id) => !sweepStakes.has(id) && stakes.has(id));
  if (knownDeposits.length > 0) {
    const late = (await Promise.all(knownDeposits.map((id) => repo.tokensOfStake(id)))).flat();
    const missing = late.map((t) => t.record.tokenId).filter((id) => !tokens.has(id));
    if (missing.length > 0) for (const [id, v] of await repo.getTokens(missing)) tokens.set(id, v);
  }
  const ws = emptyWorkingSet();
  const stakeRevs = new Map<string, number>();
  const tokenRevs = new Map<string, number>();
  for (const [id, v] of stakes) {
    ws.stakes.set(id, v.record);
    stakeRevs.set(id, v.rev);
  }
  for (const [id, v] of tokens) {
    ws.tokens.set(id, v.record);
    tokenRevs.set(id, v.rev);
  }
  for (const [role, v] of minStakes) ws.minStakes.set(role, v.record);
  for (const [address, v] of admins) ws.admins.set(address, v.record);
  for (const address of adminAddresses) ws.loadedAdmins.add(address);

  const result: ApplyResult = { applied: 0, stale: 0, ignored: 0, invalid: 0, evictStakes: [], resweepStakes: [] };
  for (const event of events) result[applyEvent(ws, event)]++;

  const writes: EntityWrite[] = [
    ...[...ws.changedStakes].map((id): EntityWrite => ({ kind: 'stake', record: ws.stakes.get(id)!, expectedRev: stakeRevs.get(id) ?? 0 })),
    ...[...ws.changedTokens].map((id): EntityWrite => ({ kind: 'token', record: ws.tokens.get(id)!, expectedRev: tokenRevs.get(id) ?? 0 })),
    ...[...ws.changedMinStakes].map((role): EntityWrite => ({
      kind: 'minStake', record: ws.minStakes.get(role)!, expectedRev: minStakes.get(role)?.rev ?? 0,
    })),
    ...[...ws.changedAdmins].map((address): EntityWrite => ({
      kind: 'admin', record: ws.admins.get(address)!, expectedRev: admins.get(address)?.rev ?? 0,
    })),
  ];
  if (writes.length > 0) await repo.writeEntities(writes);
  result.evictStakes = [...ws.evictStakes];
  result.resweepStakes = [...new Set([...ws.evictStakes, ...approvalStakes])];
  return result;
}
