// The sandbox's local ledger: the project's fake Sui full node (test/support/event-history.ts) holding a
// ledger that grows. No Move code runs here (there is no Sui node): `record` appends the event a
// transaction of the `k3s_daas` package would emit, BCS-encoded with the package's own event schemas, in
// its own checkpoint. The real indexer reads it over the real gRPC client (ListEvents paging, cursors,
// watermarks) and applies it to the index exactly as it would on testnet.
// Checkpoints carry the wall-clock time they were made, and the tip moves on with time as a live chain's
// does (an empty checkpoint before each indexer run): token checks refuse unless the index covers the
// chain up to INDEX_MAX_AGE_SECONDS before now (lambdas/shared/index/freshness.ts), and that covered time
// is the ledger time of the checkpoints the indexer read.
import { randomBytes } from 'node:crypto';
import { SuiGrpcClient } from '@mysten/sui/grpc';
import { GrpcEventSource } from '../../../lambdas/indexer/event-source';
import { Evictor, type InstanceTerminator } from '../../../lambdas/indexer/eviction';
import { runIndexer, type IndexerLog, type RunReport } from '../../../lambdas/indexer/indexer';
import type { IndexRepository } from '../../../lambdas/shared/index/index-repository';
import { encodeEvent, type EventName } from '../../../lambdas/shared/sui/events';
import { FakeSuiNode, type GeneratedHistory } from '../../support/event-history';

// No EC2 here: a node stake's eviction has no instance to terminate.
const noInstances: InstanceTerminator = { describeStates: async () => new Map(), terminate: async () => {} };

export type LedgerEvent = { [N in EventName]: { name: N; data: Parameters<typeof encodeEvent<N>>[1] } }[EventName];

export class LocalLedger {
  readonly packageId: string;
  private readonly history: GeneratedHistory;
  readonly node: FakeSuiNode;
  readonly client: SuiGrpcClient;
  private readonly times = new Map<bigint, number>();
  /** Indexer runs one at a time, as the schedule's single concurrency does on AWS. */
  private running: Promise<unknown> = Promise.resolve();

  constructor(packageId = `0x${randomBytes(32).toString('hex')}`) {
    this.packageId = packageId;
    this.history = {
      packageId, ledger: [], nodes: [], expectedTerminations: [], headCheckpoint: 1n, counts: {},
      expected: { stakes: new Map(), tokens: new Map(), minStakes: new Map(), admins: new Map() },
    };
    this.times.set(1n, Date.now());
    this.node = new FakeSuiNode(this.history, { checkpointTimeMs: (seq) => this.timeOf(seq) });
    this.client = new SuiGrpcClient({ network: 'localnet', transport: this.node.transport });
  }

  /** A checkpoint's time: when it was made; before the first one, the first one's. */
  private timeOf(seq: bigint): number {
    for (let s = seq; s >= 1n; s--) {
      const at = this.times.get(s);
      if (at !== undefined) return at;
    }
    return this.times.get(1n)!;
  }

  /** The next checkpoint, stamped now (never before the previous one). */
  private nextCheckpoint(): bigint {
    const checkpoint = this.history.headCheckpoint + 1n;
    this.times.set(checkpoint, Math.max(Date.now(), this.timeOf(this.history.headCheckpoint)));
    this.history.headCheckpoint = checkpoint;
    return checkpoint;
  }

  /** Appends one transaction emitting these events (in order) as the next checkpoint. */
  record(events: LedgerEvent[]): string {
    const checkpoint = this.nextCheckpoint();
    const txDigest = `L${randomBytes(16).toString('hex')}`;
    events.forEach((event, eventIndex) => {
      this.history.ledger.push({
        checkpoint, txDigest, transactionIndex: 0, eventIndex,
        eventType: `${this.packageId}::${event.name}`,
        bcs: encodeEvent(event.name as EventName, event.data as never),
      });
    });
    return txDigest;
  }

  /**
   * One run of the real indexer (what the EventBridge schedule starts) from this ledger into `repo`, after
   * the chain has made a checkpoint without events of the package (a live chain's tip is always recent).
   * Runs queue behind each other.
   */
  index(repo: IndexRepository, log: IndexerLog = { info() {}, warn() {}, error() {} }): Promise<RunReport> {
    const run = this.running.then(() => {
      this.nextCheckpoint();
      return runIndexer({
        repo, source: new GrpcEventSource(this.client, this.packageId), evictor: new Evictor(repo, noInstances, new Set()), packageId: this.packageId, log,
      }, { remainingMs: () => 60_000 });
    });
    this.running = run.catch(() => {});
    return run;
  }

  /** Resolves when the runs queued so far have ended. */
  async settled(): Promise<void> {
    await this.running;
  }
}
