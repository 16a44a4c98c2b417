// In-memory index repository with the same semantics as the DynamoDB one (revisions, conditional
// cursor, GSI lookups), for tests and benchmarks. Records are copied in and out so callers can never
// mutate stored state by accident.
import type { AdminRecord, IndexReadRequest, IndexReadResult, IndexView, MinStakeRecord, NodeRecord, SealTokenRecord, StakeRecord } from './index-model';
import { ROLES, type Role } from '../sui/roles';
import { IndexConflictError, type EntityWrite, type IndexRepository, type IndexerCursor, type ResweepEntry, type ResweepPage, type StakeMembers, type Versioned } from './index-repository';

const copy = <T>(value: T): T => structuredClone(value);

export class MemoryIndexRepository implements IndexRepository {
  private readonly stakes = new Map<string, Versioned<StakeRecord>>();
  private readonly tokens = new Map<string, Versioned<SealTokenRecord>>();
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly minStakes = new Map<Role, Versioned<MinStakeRecord>>();
  private readonly admins = new Map<string, Versioned<AdminRecord>>();
  // Secondary indexes (the GSIs): lookups stay O(result), not O(table), as the index grows.
  private readonly tokensByStake = new Map<string, Set<string>>();
  private readonly tokensByOwner = new Map<string, Set<string>>();
  private readonly stakesByOwner = new Map<string, Set<string>>();
  private readonly nodesByStake = new Map<string, Set<string>>();
  private cursor: IndexerCursor | undefined;
  private readonly resweeps = new Map<string, ResweepEntry>();

  async getToken(tokenId: string): Promise<SealTokenRecord | undefined> {
    const found = this.tokens.get(tokenId);
    return found && copy(found.record);
  }

  async getStake(stakeId: string): Promise<StakeRecord | undefined> {
    const found = this.stakes.get(stakeId);
    return found && copy(found.record);
  }

  async getMinStake(role: Role): Promise<bigint | undefined> {
    return this.minStakes.get(role)?.record.amountMist;
  }

  async getMinStakes(roles: readonly Role[]): Promise<Map<Role, Versioned<MinStakeRecord>>> {
    return pick(this.minStakes, roles);
  }

  async getAdmins(addresses: readonly string[]): Promise<Map<string, Versioned<AdminRecord>>> {
    return pick(this.admins, addresses);
  }

  /** Point reads, one "round trip"; `reads` counts them so tests can hold the check to its budget. */
  async readItems(request: IndexReadRequest): Promise<IndexReadResult> {
    this.reads++;
    const out: IndexReadResult = {};
    if (request.tokenId !== undefined) {
      const token = this.tokens.get(request.tokenId);
      if (token) out.token = copy(token.record);
    }
    if (request.stakeId !== undefined) {
      const stake = this.stakes.get(request.stakeId);
      if (stake) out.stake = copy(stake.record);
    }
    if (request.minStakeRole !== undefined) {
      const min = this.minStakes.get(request.minStakeRole);
      if (min) out.minStakeMist = min.record.amountMist;
    }
    if (request.admin !== undefined) {
      const admin = this.admins.get(request.admin);
      if (admin) out.admin = copy(admin.record);
    }
    if (request.freshness) out.freshness = this.cursor?.coveredThroughMs !== undefined ? { coveredThroughMs: this.cursor.coveredThroughMs } : {};
    return out;
  }

  /** Round trips served by `readItems`, `readTokenForCheck` and `readIndexView`. */
  reads = 0;

  async readTokenForCheck(tokenId: string): Promise<SealTokenRecord | undefined> {
    this.reads++;
    return this.getToken(tokenId);
  }

  async readIndexView(): Promise<IndexView> {
    this.reads++;
    const minStakeMist: IndexView['minStakeMist'] = {};
    for (const role of ROLES) {
      const min = this.minStakes.get(role);
      if (min) minStakeMist[role] = min.record.amountMist;
    }
    return { freshness: this.cursor?.coveredThroughMs !== undefined ? { coveredThroughMs: this.cursor.coveredThroughMs } : {}, minStakeMist };
  }

  async getStakes(stakeIds: readonly string[]): Promise<Map<string, Versioned<StakeRecord>>> {
    return pick(this.stakes, stakeIds);
  }

  async getTokens(tokenIds: readonly string[]): Promise<Map<string, Versioned<SealTokenRecord>>> {
    return pick(this.tokens, tokenIds);
  }

  async tokensOfStake(stakeId: string): Promise<Versioned<SealTokenRecord>[]> {
    return [...(this.tokensByStake.get(stakeId) ?? [])].map((id) => copy(this.tokens.get(id)!));
  }

  async stakeMembers(stakeId: string): Promise<StakeMembers> {
    return { tokens: await this.tokensOfStake(stakeId), nodes: await this.nodesOfStake(stakeId) };
  }

  async tokensOfOwner(owner: string): Promise<SealTokenRecord[]> {
    return [...(this.tokensByOwner.get(owner) ?? [])].map((id) => copy(this.tokens.get(id)!.record));
  }

  async stakesOfOwner(owner: string): Promise<StakeRecord[]> {
    return [...(this.stakesByOwner.get(owner) ?? [])].map((id) => copy(this.stakes.get(id)!.record));
  }

  async writeEntities(writes: readonly EntityWrite[]): Promise<void> {
    for (const write of writes) {
      if (write.kind === 'admin') {
        const currentRev = this.admins.get(write.record.address)?.rev ?? 0;
        if (currentRev !== write.expectedRev) {
          throw new IndexConflictError(`admin ${write.record.address} is at revision ${currentRev}, expected ${write.expectedRev}`);
        }
        this.admins.set(write.record.address, { record: copy(write.record), rev: currentRev + 1 });
        continue;
      }
      if (write.kind === 'minStake') {
        const currentRev = this.minStakes.get(write.record.role)?.rev ?? 0;
        if (currentRev !== write.expectedRev) {
          throw new IndexConflictError(`minStake ${write.record.role} is at revision ${currentRev}, expected ${write.expectedRev}`);
        }
        this.minStakes.set(write.record.role, { record: copy(write.record), rev: currentRev + 1 });
        continue;
      }
      const store: Map<string, Versioned<StakeRecord | SealTokenRecord>> = write.kind === 'stake' ? this.stakes : this.tokens;
      const id = write.kind === 'stake' ? write.record.stakeId : write.record.tokenId;
      const currentRev = store.get(id)?.rev ?? 0;
      if (currentRev !== write.expectedRev) {
        throw new IndexConflictError(`${write.kind} ${id} is at revision ${currentRev}, expected ${write.expectedRev}`);
      }
      if (write.kind === 'token') {
        const previous = this.tokens.get(id)?.record;
        reindex(this.tokensByStake, id, previous?.stakeId, write.record.stakeId);
        reindex(this.tokensByOwner, id, previous?.owner, write.record.owner);
      } else {
        reindex(this.stakesByOwner, id, this.stakes.get(id)?.record.owner, write.record.owner);
      }
      store.set(id, { record: copy(write.record), rev: currentRev + 1 });
    }
  }

  async getNode(instanceId: string): Promise<NodeRecord | undefined> {
    const node = this.nodes.get(instanceId);
    return node && copy(node);
  }

  async nodesOfStake(stakeId: string): Promise<NodeRecord[]> {
    return [...(this.nodesByStake.get(stakeId) ?? [])].map((id) => copy(this.nodes.get(id)!));
  }

  async putNode(node: NodeRecord): Promise<void> {
    reindex(this.nodesByStake, node.instanceId, this.nodes.get(node.instanceId)?.stakeId, node.stakeId);
    this.nodes.set(node.instanceId, copy(node));
  }

  async markTerminationRequested(instanceId: string, at: string): Promise<boolean> {
    const node = this.nodes.get(instanceId);
    if (!node || node.terminationRequestedAt !== undefined) return false;
    node.terminationRequestedAt = at;
    return true;
  }

  async claimEviction(instanceId: string, at: string, staleBefore: string): Promise<boolean> {
    const node = this.nodes.get(instanceId);
    if (!node || node.terminationRequestedAt !== undefined) return false;
    if (node.evictionClaimedAt !== undefined && node.evictionClaimedAt > staleBefore) return false;
    node.evictionClaimedAt = at;
    return true;
  }

  async releaseEviction(instanceId: string, at: string): Promise<void> {
    const node = this.nodes.get(instanceId);
    if (node && node.terminationRequestedAt === undefined && node.evictionClaimedAt === at) delete node.evictionClaimedAt;
  }

  async addResweeps(stakeIds: readonly string[], run: string, addedAt: string): Promise<void> {
    for (const stakeId of stakeIds) this.resweeps.set(stakeId, { stakeId, run, addedAt });
  }

  async resweepPage(startAfter?: string, limit = 100): Promise<ResweepPage> {
    const ids = [...this.resweeps.keys()].filter((id) => startAfter === undefined || id > startAfter).sort();
    const entries = ids.slice(0, limit).map((id) => copy(this.resweeps.get(id)!));
    return ids.length > limit ? { entries, nextStart: entries.at(-1)!.stakeId } : { entries };
  }

  async removeResweeps(entries: readonly ResweepEntry[]): Promise<void> {
    for (const e of entries) if (this.resweeps.get(e.stakeId)?.run === e.run) this.resweeps.delete(e.stakeId);
  }

  async getCursor(): Promise<IndexerCursor | undefined> {
    return this.cursor && copy(this.cursor);
  }

  async putCursor(next: IndexerCursor, previous: IndexerCursor | undefined): Promise<void> {
    if (this.cursor?.cursor !== previous?.cursor) {
      throw new IndexConflictError('indexer cursor moved since it was read');
    }
    this.cursor = copy(next);
  }

  /** Everything stored, in a stable order: lets tests compare two indexes for equality. */
  snapshot(): {
    stakes: StakeRecord[];
    tokens: SealTokenRecord[];
    nodes: NodeRecord[];
    minStakes: MinStakeRecord[];
    admins: AdminRecord[];
    cursor: IndexerCursor | undefined;
    /** Stakes with a pending re-sweep entry. */
    resweep: string[];
  } {
    const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => copy(v));
    return {
      stakes: sorted(this.stakes).map((v) => v.record),
      tokens: sorted(this.tokens).map((v) => v.record),
      nodes: sorted(this.nodes),
      minStakes: sorted(this.minStakes).map((v) => v.record),
      admins: sorted(this.admins).map((v) => v.record),
      cursor: this.cursor && copy(this.cursor),
      resweep: [...this.resweeps.keys()].sort(),
    };
  }
}

function reindex(index: Map<string, Set<string>>, id: string, from: string | undefined, to: string): void {
  if (from === to) return;
  if (from) index.get(from)?.delete(id);
  if (!to) return;
  let ids = index.get(to);
  if (!ids) index.set(to, (ids = new Set()));
  ids.add(id);
}

function pick<K, T>(store: Map<K, Versioned<T>>, ids: readonly K[]): Map<K, Versioned<T>> {
  const out = new Map<K, Versioned<T>>();
  for (const id of ids) {
    const found = store.get(id);
    if (found) out.set(id, copy(found));
  }
  return out;
}
