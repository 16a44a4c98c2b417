// Generated Sui event histories for indexer tests and benchmarks, and a fake full node that serves them
// through `FakeSuiGrpcTransport` with the real ListEvents paging semantics: the request's `after`
// cursor and `limit` are honoured, each request scans a bounded number of ledger slots (so pages can be
// short or empty while `end.reason` says more remain), every frame carries a watermark cursor and the
// covered checkpoint, and slots of other packages are scanned but never returned.
//
// The history is simulated against a model of the Move package (stakes must be active to issue tokens,
// withdrawals follow unstake requests, slashes leave `remaining`, a slashed stake may still be unstaked,
// withdrawn or slashed again), so every history is one the chain could produce. Noise slots (foreign packages, unknown types, undecodable payloads) are mixed in.
import { RpcError } from '@protobuf-ts/runtime-rpc';
import type { NodeRecord } from '../../lambdas/shared/index/index-model';
import { encodeEvent, type EventName } from '../../lambdas/shared/sui/events';
import { FakeSuiGrpcTransport } from './fake-sui-grpc';

export const PACKAGE_ID = '0x' + 'ab'.repeat(32);
const FOREIGN_PACKAGE_ID = '0x' + 'cd'.repeat(32);
export const WORKER_GROUP = 'k3s-daas-test-workers-general';

export interface LedgerSlot {
  checkpoint: bigint;
  txDigest: string;
  transactionIndex: number;
  eventIndex: number;
  eventType: string;
  bcs: Uint8Array;
}

export interface GeneratedHistory {
  packageId: string;
  ledger: LedgerSlot[];
  /** Worker nodes admitted under node stakes (what the node-join function would have recorded). */
  nodes: NodeRecord[];
  /** Instances that must be terminated exactly once: nodes of stakes unstaked, slashed or withdrawn in the history. */
  expectedTerminations: string[];
  headCheckpoint: bigint;
  counts: Record<string, number>;
  /** The chain's final state per the simulation: what a correct index must say. */
  expected: {
    stakes: Map<string, { owner: string; role: number; amount: bigint; status: string }>;
    tokens: Map<string, { stakeId: string; owner: string; revoked: boolean; invalidated: boolean }>;
    /** Pool minimum per role (u8) after the last `MinStakeChanged`; roles never changed are absent. */
    minStakes: Map<number, bigint>;
    /** Admin approval per address after the last `AdminApproved`/`AdminRevoked`. */
    admins: Map<string, boolean>;
  };
}

/** Deterministic PRNG (mulberry32) so a failing seed reproduces. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SimStake {
  id: string;
  owner: string;
  role: number;
  amount: bigint;
  /** What the index must say: a slash is for good, so a slashed stake stays `slashed` until withdrawn. */
  status: 'active' | 'unbonding' | 'withdrawn' | 'slashed';
  /** The chain's own flag: a slashed stake may still request unstake (then withdraw) or be slashed again. */
  unbonding: boolean;
  nodes: string[];
}

export interface HistoryOptions {
  seed: number;
  transactions: number;
  /** Fraction of noise slots (foreign package, unknown type, undecodable payload). Default 0.06. */
  noise?: number;
}

export function generateHistory(options: HistoryOptions): GeneratedHistory {
  const rnd = prng(options.seed);
  const noise = options.noise ?? 0.06;
  const hex = (bytes: number) => Array.from({ length: bytes }, () => Math.floor(rnd() * 256).toString(16).padStart(2, '0')).join('');
  const id = () => '0x' + hex(32);
  const pick = <T>(xs: T[]): T | undefined => (xs.length === 0 ? undefined : xs[Math.floor(rnd() * xs.length)]);
  const owners = Array.from({ length: 12 }, id);
  const stakes: SimStake[] = [];
  const tokens: { id: string; stakeId: string; owner: string; revoked: boolean }[] = [];
  const nodes: NodeRecord[] = [];
  const evicted = new Set<string>();
  const minStakes = new Map<number, bigint>();
  const admins = new Map<string, boolean>();
  const counts: Record<string, number> = {};
  const ledger: LedgerSlot[] = [];

  let checkpoint = 100n;
  let txInCheckpoint = 0;
  let instanceSeq = 0;
  for (let t = 0; t < options.transactions; t++) {
    if (txInCheckpoint > 0 && rnd() < 0.4) {
      checkpoint += 1n + BigInt(Math.floor(rnd() * 3));
      txInCheckpoint = 0;
    }
    // Other packages' transactions share the checkpoint, so our transaction indexes have gaps.
    const transactionIndex = txInCheckpoint + Math.floor(rnd() * 3);
    txInCheckpoint = transactionIndex + 1;
    const txDigest = 'D' + hex(16);
    const events: { type: string; bcs: Uint8Array }[] = [];
    const emit = <N extends EventName>(name: N, data: Parameters<typeof encodeEvent<N>>[1]) => {
      counts[name] = (counts[name] ?? 0) + 1;
      events.push({ type: `${PACKAGE_ID}::${name}`, bcs: encodeEvent(name, data) });
    };

    const r = rnd();
    const active = stakes.filter((s) => s.status === 'active');
    if (r < noise) {
      const kind = Math.floor(rnd() * 3);
      counts[`noise${kind}`] = (counts[`noise${kind}`] ?? 0) + 1;
      // A busy foreign transaction: a run of slots the package filter scans but never returns.
      if (kind === 0) for (let i = 4 + Math.floor(rnd() * 5); i > 0; i--) events.push({ type: `${FOREIGN_PACKAGE_ID}::staking::StakeDeposited`, bcs: new Uint8Array([1, 2, 3]) });
      else if (kind === 1) events.push({ type: `${PACKAGE_ID}::staking::PoolParamsChanged`, bcs: new Uint8Array([7]) });
      else events.push({ type: `${PACKAGE_ID}::seal_token::SealTokenIssued`, bcs: new Uint8Array([0xff, 0x01]) });
    } else if (r < 0.35 || active.length === 0) {
      const role = rnd() < 0.5 ? 0 : rnd() < 0.8 ? 1 : 2;
      const stake: SimStake = { id: id(), owner: pick(owners)!, role, amount: BigInt(1 + Math.floor(rnd() * 50)) * 1_000_000_000n, status: 'active', unbonding: false, nodes: [] };
      stakes.push(stake);
      emit('staking::StakeDeposited', { stake_id: stake.id, owner: stake.owner, role, amount: stake.amount, node_id: role === 1 ? `node-${stakes.length}` : '' });
      if (role === 1) {
        for (let n = Math.floor(rnd() * 3); n > 0; n--) {
          const instanceId = `i-${(++instanceSeq).toString(16).padStart(17, '0')}`;
          stake.nodes.push(instanceId);
          nodes.push({ instanceId, stakeId: stake.id, autoScalingGroup: WORKER_GROUP, status: 'joined', joinedAt: '2026-01-01T00:00:00.000Z' });
        }
      }
      // Stake and token in one transaction: the token must not depend on the stake being indexed first.
      if (rnd() < 0.3) issueToken(stake);
    } else if (r < 0.6) {
      issueToken(pick(active)!);
    } else if (r < 0.7) {
      const token = pick(tokens.filter((x) => !x.revoked));
      if (token) {
        token.revoked = true;
        emit('seal_token::SealTokenRevoked', { token_id: token.id });
      } else issueToken(pick(active)!);
    } else if (r < 0.8) {
      const stake = pick(stakes.filter((s) => !s.unbonding && s.status !== 'withdrawn'))!;
      stake.unbonding = true;
      if (stake.status === 'active') stake.status = 'unbonding';
      else counts.unstakeAfterSlash = (counts.unstakeAfterSlash ?? 0) + 1;
      emit('staking::UnstakeRequested', { stake_id: stake.id, unlock_at_ms: BigInt(1_800_000_000_000 + t) });
      stake.nodes.forEach((n) => evicted.add(n));
    } else if (r < 0.88) {
      const stake = pick(stakes.filter((s) => s.unbonding && s.status !== 'withdrawn'));
      if (stake) {
        stake.status = 'withdrawn';
        emit('staking::StakeWithdrawn', { stake_id: stake.id, amount: stake.amount });
        stake.amount = 0n;
        stake.nodes.forEach((n) => evicted.add(n));
      } else issueToken(pick(active)!);
    } else if (r < 0.97) {
      const stake = pick(stakes.filter((s) => s.status !== 'withdrawn' && s.amount >= 2n))!;
      if (stake.status === 'slashed') counts.slashAgain = (counts.slashAgain ?? 0) + 1;
      const slashed = stake.amount / 2n;
      stake.amount -= slashed;
      stake.status = 'slashed';
      emit('staking::StakeSlashed', { stake_id: stake.id, amount: slashed, remaining: stake.amount, reason: 'misbehaviour' });
      stake.nodes.forEach((n) => evicted.add(n));
    } else {
      emit('enclave_registry::EnclaveRegistered', { cluster_id: 'k3s-daas-test', public_key: [1, 2, 3], pcrs: [[0], [1]] });
    }

    // Now and then the admin retunes a role's minimum in the same transaction (a PTB may do both). Derived
    // from `t`, not the PRNG, so every other slot of a seed's history stays what it was.
    if (events.length > 0 && t % 9 === 4) {
      const role = Math.floor(t / 9) % 3;
      const amount = BigInt(1 + (t % 5)) * 500_000_000n;
      minStakes.set(role, amount);
      emit('staking::MinStakeChanged', { role, amount });
    }
    // And approves or revokes one of a few admins (again derived from `t`): approvals flip back and forth.
    if (events.length > 0 && t % 11 === 7) {
      const admin = `0x${(['a1', 'b2', 'c3'] as const)[Math.floor(t / 11) % 3].repeat(32)}`;
      const approve = !(admins.get(admin) ?? false);
      admins.set(admin, approve);
      if (approve) emit('staking::AdminApproved', { admin });
      else emit('staking::AdminRevoked', { admin });
    }

    events.forEach((e, eventIndex) =>
      ledger.push({ checkpoint, txDigest, transactionIndex, eventIndex, eventType: e.type, bcs: e.bcs }),
    );

    function issueToken(stake: SimStake) {
      const tokenId = id();
      tokens.push({ id: tokenId, stakeId: stake.id, owner: stake.owner, revoked: false });
      const permissions = [['read'], ['read', 'node:write'], ['read', 'write', 'node:write', 'admin']][stake.role];
      emit('seal_token::SealTokenIssued', {
        token_id: tokenId, stake_id: stake.id, owner: stake.owner, role: stake.role, permissions,
        cluster_id: 'k3s-daas-test', expires_at_ms: BigInt(1_900_000_000_000 + t),
      });
    }
  }
  const finalStakes = new Map(stakes.map((s) => [s.id, { owner: s.owner, role: s.role, amount: s.amount, status: s.status }]));
  const expected = {
    stakes: finalStakes,
    tokens: new Map(tokens.map((t) => {
      const status = finalStakes.get(t.stakeId)!.status;
      return [t.id, { stakeId: t.stakeId, owner: t.owner, revoked: t.revoked, invalidated: status === 'slashed' || status === 'withdrawn' }];
    })),
    minStakes,
    admins,
  };
  return { packageId: PACKAGE_ID, ledger, nodes, expectedTerminations: [...evicted].sort(), headCheckpoint: checkpoint + 5n, counts, expected };
}

export const CHECKPOINT_TIME_BASE_MS = 1_760_000_000_000;
export const checkpointTimeMs = (checkpoint: bigint) => CHECKPOINT_TIME_BASE_MS + Number(checkpoint) * 250;

function cursorBytes(slot: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(slot));
  return out;
}

function cursorSlot(bytes: Uint8Array | undefined): number {
  if (!bytes || bytes.length === 0) return 0;
  if (bytes.length !== 8) throw new RpcError('invalid cursor', 'INVALID_ARGUMENT');
  return Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0));
}

export interface FakeNodeOptions {
  /** Server maximum page size; larger `limit`s are silently coerced down (as real servers do). */
  maxLimit?: number;
  /** Ledger slots one request may scan before ending with SCAN_LIMIT. */
  scanLimit?: number;
  /** Omit `transactionIndex` from events (older servers), exercising the stream-order fallback. */
  withoutTransactionIndex?: boolean;
}

/** A fake full node: ListEvents, GetServiceInfo and GetCheckpoint over the generated ledger. */
export class FakeSuiNode {
  readonly transport = new FakeSuiGrpcTransport();
  /** Called before each ListEvents answer; throw to simulate provider failures. */
  beforeListEvents: (request: ListEventsRequestLike) => void | Promise<void> = () => {};
  listEventsCalls = 0;

  constructor(
    readonly history: GeneratedHistory,
    private readonly options: FakeNodeOptions = {},
  ) {
    this.transport
      .on('sui.rpc.v2.LedgerService/ListEvents', async (request: ListEventsRequestLike) => {
        this.listEventsCalls++;
        await this.beforeListEvents(request);
        return this.listEvents(request);
      })
      .on('sui.rpc.v2.LedgerService/GetServiceInfo', () => ({
        checkpointHeight: history.headCheckpoint,
        timestamp: toTimestamp(checkpointTimeMs(history.headCheckpoint)),
      }))
      .on('sui.rpc.v2.LedgerService/GetCheckpoint', (request: { checkpointId?: { sequenceNumber?: bigint } }) => {
        const seq = request.checkpointId?.sequenceNumber ?? 0n;
        return { checkpoint: { sequenceNumber: seq, summary: { timestamp: toTimestamp(checkpointTimeMs(seq)) } } };
      });
  }

  listEvents(request: ListEventsRequestLike): unknown[] {
    const ledger = this.history.ledger;
    const literal = request.filter?.terms?.[0]?.literals?.[0]?.predicate;
    const prefix = literal?.oneofKind === 'eventType' ? `${literal.eventType?.eventType}::` : '';
    const limit = Math.min(request.options?.limit || 50, this.options.maxLimit ?? 50);
    const scanLimit = this.options.scanLimit ?? 40;
    let slot = cursorSlot(request.options?.after);
    const frames: Record<string, unknown>[] = [];
    const covered = (next: number) => (next < ledger.length ? ledger[next].checkpoint - 1n : this.history.headCheckpoint);
    let items = 0;
    let scanned = 0;
    while (slot < ledger.length) {
      if (scanned >= scanLimit) {
        frames.push({ watermark: { cursor: cursorBytes(slot), checkpoint: covered(slot) }, end: { reason: 2 } });
        return frames;
      }
      const entry = ledger[slot++];
      scanned++;
      if (!entry.eventType.startsWith(prefix)) continue;
      items++;
      frames.push({
        event: {
          eventType: entry.eventType, contents: { name: entry.eventType, value: entry.bcs }, checkpoint: entry.checkpoint,
          transactionDigest: entry.txDigest, eventIndex: entry.eventIndex,
          ...(this.options.withoutTransactionIndex ? {} : { transactionIndex: BigInt(entry.transactionIndex) }),
        },
        watermark: { cursor: cursorBytes(slot), checkpoint: covered(slot) },
      });
      if (items >= limit && slot < ledger.length) {
        frames[frames.length - 1].end = { reason: 1 };
        return frames;
      }
    }
    // QUERY_END_REASON_LEDGER_TIP: an unbounded ascending scan ends at the tip, not at a checkpoint bound.
    frames.push({ watermark: { cursor: cursorBytes(slot), checkpoint: this.history.headCheckpoint }, end: { reason: 5 } });
    return frames;
  }
}

export interface ListEventsRequestLike {
  filter?: { terms?: { literals?: { predicate?: { oneofKind?: string; eventType?: { eventType?: string } } }[] }[] };
  options?: { limit?: number; after?: Uint8Array };
}

function toTimestamp(ms: number) {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/** A fake EC2 for eviction: instance states and every TerminateInstances call, to count terminations. */
export class FakeEc2 {
  readonly states = new Map<string, string>();
  readonly terminateCalls: string[][] = [];

  constructor(instanceIds: readonly string[] = []) {
    for (const id of instanceIds) this.states.set(id, 'running');
  }

  async describeStates(ids: readonly string[]): Promise<Map<string, string>> {
    return new Map(ids.filter((id) => this.states.has(id)).map((id) => [id, this.states.get(id)!]));
  }

  async terminate(ids: readonly string[]): Promise<void> {
    this.terminateCalls.push([...ids]);
    for (const id of ids) this.states.set(id, 'shutting-down');
  }

  /** How many TerminateInstances calls named each instance. */
  terminationCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const call of this.terminateCalls) for (const id of call) counts.set(id, (counts.get(id) ?? 0) + 1);
    return counts;
  }
}
