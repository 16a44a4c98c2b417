// The node roster (issue 15): which nodes the index admits NOW. The in-enclave reconciler writes it into the
// cluster's allow-list and deletes every Node outside it, so this one rule decides who stays a worker:
//
//   a node is allowed while its record is `joined`, its stake is `active`, the stake still covers it (the
//   stake's joined nodes ordered by joinedAt, then name: the first floor(amount / node minimum) stay), and —
//   for an external node — the node-tier token it was admitted with is not revoked, invalidated or expired.
//
// Computed at read time from node records, stakes, tokens and the pool's node minimum, so a slash, an unstake,
// a raised minimum, a revocation or a token's expiry takes effect at the next read without any indexer change.
// A stale index refuses (IndexStaleError): the reconciler must never act on state it cannot trust.
import type { NodeKind, NodeRecord, SealTokenRecord, StakeRecord } from '../index/index-model';
import { assertIndexFresh, type FreshnessPolicy } from '../index/freshness';
import type { IndexRepository } from '../index/index-repository';
import { DEFAULT_MIN_STAKE_MIST } from '../sui/roles';

export interface RosterEntry {
  /** The Node name (an EC2 instance id, or the name assigned to an external node). */
  name: string;
  kind: NodeKind;
  stakeId: string;
}

/** Why a joined node is left out (for logs and tests; the roster itself only lists who stays). */
export type RosterExclusion = 'not_joined' | 'stake_inactive' | 'stake_insufficient' | 'token_missing' | 'token_revoked' | 'token_invalidated' | 'token_expired';

export interface RosterFacts {
  stakes: ReadonlyMap<string, StakeRecord>;
  tokens: ReadonlyMap<string, SealTokenRecord>;
  /** Every joined node of each stake the candidates belong to, statuses read consistently (their rank decides who the stake covers). */
  nodesOfStake: ReadonlyMap<string, readonly NodeRecord[]>;
  /** The pool's node minimum (indexed, or the publish-time default). */
  nodeMinimumMist: bigint;
  nowMs: number;
}

export const kindOf = (node: Pick<NodeRecord, 'kind'>): NodeKind => node.kind ?? 'asg';

/** Joined nodes in the order a stake's capacity covers them: earliest joinedAt first, then by name. */
function coverageOrder(a: NodeRecord, b: NodeRecord): number {
  if (a.joinedAt !== b.joinedAt) return a.joinedAt < b.joinedAt ? -1 : 1;
  return a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0;
}

/** 'allowed', or the first rule the node fails. */
export function rosterVerdict(node: NodeRecord, facts: RosterFacts): 'allowed' | RosterExclusion {
  if (node.status !== 'joined') return 'not_joined';
  const stake = facts.stakes.get(node.stakeId);
  if (!stake || stake.status !== 'active') return 'stake_inactive';
  const minimum = facts.nodeMinimumMist > 0n ? facts.nodeMinimumMist : 1n;
  const covered = stake.amountMist / minimum;
  // The stake's nodes are found through an eventually consistent GSI: a node just admitted may be missing, so it is added.
  const joined = [...(facts.nodesOfStake.get(node.stakeId) ?? []).filter((n) => n.status === 'joined' && n.instanceId !== node.instanceId), node].sort(coverageOrder);
  if (BigInt(joined.findIndex((n) => n.instanceId === node.instanceId)) >= covered) return 'stake_insufficient';
  if (kindOf(node) === 'external') {
    const token = node.tokenId === undefined ? undefined : facts.tokens.get(node.tokenId);
    if (!token || token.stakeId !== node.stakeId) return 'token_missing';
    if (token.revoked) return 'token_revoked';
    if (token.invalidated) return 'token_invalidated';
    if (token.expiresAtMs <= facts.nowMs) return 'token_expired';
  }
  return 'allowed';
}

/** Where a page of the node scan starts: the table key the previous page stopped at. */
export interface NodePageKey {
  pk: string;
  sk: string;
}

export interface NodePage {
  nodes: NodeRecord[];
  /** Absent on the last page. */
  next?: NodePageKey;
}

/** What the roster reads: a page of joined node records, then the index items that judge them. */
export interface RosterIndex {
  listJoinedNodes(page: { start?: NodePageKey; limit: number }): Promise<NodePage>;
  readItems: IndexRepository['readItems'];
  /** The stake's joined nodes, their status read consistently (a gone node must never count against the others). */
  joinedNodesOfStake(stakeId: string): Promise<NodeRecord[]>;
  getStakes: IndexRepository['getStakes'];
  getTokens: IndexRepository['getTokens'];
}

export interface RosterPage {
  nodes: RosterEntry[];
  next: NodePageKey | undefined;
  coveredThroughMs: number;
  /** Joined nodes of this page that were left out, with the reason (logged by the route). */
  excluded: { name: string; reason: RosterExclusion }[];
}

/** Table items a scan page looks at (DynamoDB evaluates at most this many per page). */
export const ROSTER_PAGE_ITEMS = 1000;

/**
 * One page of the roster. Freshness is checked first (with the node minimum, one round trip), then the page
 * of joined nodes, then — batched — their stakes, the external nodes' tokens and each stake's joined nodes.
 */
export async function readRosterPage(index: RosterIndex, options: { start?: NodePageKey; nowMs: number; freshness: FreshnessPolicy; limit?: number }): Promise<RosterPage> {
  const { freshness, minStakeMist } = await index.readItems({ freshness: true, minStakeRole: 'node' });
  assertIndexFresh(freshness, options.nowMs, options.freshness);
  const page = await index.listJoinedNodes({ start: options.start, limit: options.limit ?? ROSTER_PAGE_ITEMS });
  const stakeIds = [...new Set(page.nodes.map((n) => n.stakeId))];
  const tokenIds = [...new Set(page.nodes.filter((n) => kindOf(n) === 'external' && n.tokenId !== undefined).map((n) => n.tokenId!))];
  const [stakes, tokens, nodesOfStake] = await Promise.all([
    stakeIds.length ? index.getStakes(stakeIds) : new Map(),
    tokenIds.length ? index.getTokens(tokenIds) : new Map(),
    Promise.all(stakeIds.map(async (id) => [id, await index.joinedNodesOfStake(id)] as const)).then((pairs) => new Map(pairs)),
  ]);
  const facts: RosterFacts = {
    stakes: new Map([...stakes].map(([id, v]) => [id, (v as { record: StakeRecord }).record])),
    tokens: new Map([...tokens].map(([id, v]) => [id, (v as { record: SealTokenRecord }).record])),
    nodesOfStake,
    nodeMinimumMist: minStakeMist ?? DEFAULT_MIN_STAKE_MIST.node,
    nowMs: options.nowMs,
  };
  const nodes: RosterEntry[] = [];
  const excluded: RosterPage['excluded'] = [];
  for (const node of page.nodes) {
    const verdict = rosterVerdict(node, facts);
    if (verdict === 'allowed') nodes.push({ name: node.instanceId, kind: kindOf(node), stakeId: node.stakeId });
    else excluded.push({ name: node.instanceId, reason: verdict });
  }
  return { nodes, next: page.next, coveredThroughMs: freshness!.coveredThroughMs!, excluded };
}

const PAGE_KEY_PART = /^[\x21-\x7e]{1,1024}$/;

/** The `after` cursor of the roster route: base64url of the table key, opaque to callers. */
export function encodeRosterCursor(key: NodePageKey): string {
  return Buffer.from(JSON.stringify({ pk: key.pk, sk: key.sk }), 'utf8').toString('base64url');
}

/** Undefined when `after` is not a cursor this route handed out (the route answers 400). */
export function decodeRosterCursor(after: string): NodePageKey | undefined {
  if (!/^[A-Za-z0-9_-]{1,3000}$/.test(after)) return undefined;
  try {
    const value = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const { pk, sk } = value as Record<string, unknown>;
    if (typeof pk !== 'string' || typeof sk !== 'string' || !PAGE_KEY_PART.test(pk) || !PAGE_KEY_PART.test(sk)) return undefined;
    return { pk, sk };
  } catch {
    return undefined;
  }
}
