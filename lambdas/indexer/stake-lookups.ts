// The sweep of a stake's tokens and the eviction of its nodes read the same GSI2 partition
// (`gsi2pk = STAKE#<id>`), so one query answers both: the applier and the re-sweep ask for a stake's
// tokens first, and the nodes of that same answer are kept for the eviction that follows, handed out
// once. Cleared after every page, so an eviction never works from an answer older than its page.
import type { NodeRecord, SealTokenRecord } from '../shared/index/index-model';
import type { IndexRepository, Versioned } from '../shared/index/index-repository';

export class SharedStakeLookups {
  private readonly nodes = new Map<string, NodeRecord[]>();
  /** `base` whose `tokensOfStake` is one `stakeMembers` query that also keeps the stake's nodes. */
  readonly repo: IndexRepository;

  constructor(base: IndexRepository) {
    const tokensOfStake = async (stakeId: string): Promise<Versioned<SealTokenRecord>[]> => {
      const members = await base.stakeMembers(stakeId);
      this.nodes.set(stakeId, members.nodes);
      return members.tokens;
    };
    this.repo = new Proxy(base, {
      get(target, prop) {
        if (prop === 'tokensOfStake') return tokensOfStake;
        const value: unknown = Reflect.get(target, prop);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** The nodes read with the stake's tokens in this page, once; undefined when there is no such answer. */
  takeNodes(stakeId: string): NodeRecord[] | undefined {
    const nodes = this.nodes.get(stakeId);
    this.nodes.delete(stakeId);
    return nodes;
  }

  clear(): void {
    this.nodes.clear();
  }
}
