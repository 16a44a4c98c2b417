// The sandbox's local ledger: the project's fake Sui full node (test/support/event-history.ts) holding a
// ledger that grows. No Move code runs here (there is no Sui node): `record` appends the event a
// transaction of the `k3s_daas` package would emit, BCS-encoded with the package's own event schemas, in
// its own checkpoint. The real indexer reads it over the real gRPC client (ListEvents paging, cursors,
// watermarks) and applies it to the index exactly as it would on testnet.
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

  constructor(packageId = `0x${randomBytes(32).toString('hex')}`) {
    this.packageId = packageId;
    this.history = {
      packageId, ledger: [], nodes: [], expectedTerminations: [], headCheckpoint: 1n, counts: {},
      expected: { stakes: new Map(), tokens: new Map(), minStakes: new Map(), admins: new Map() },
    };
    this.node = new FakeSuiNode(this.history);
    this.client = new SuiGrpcClient({ network: 'localnet', transport: this.node.transport });
  }

  /** Appends one transaction emitting these events (in order) as the next checkpoint. */
  record(events: LedgerEvent[]): string {
    const checkpoint = this.history.headCheckpoint + 1n;
    const txDigest = `L${randomBytes(16).toString('hex')}`;
    events.forEach((event, eventIndex) => {
      this.history.ledger.push({
        checkpoint, txDigest, transactionIndex: 0, eventIndex,
        eventType: `${this.packageId}::${event.name}`,
        bcs: encodeEvent(event.name as EventName, event.data as never),
      });
    });
    this.history.headCheckpoint = checkpoint;
    return txDigest;
  }

  /** One run of the real indexer (what the EventBridge schedule starts) from this ledger into `repo`. */
  index(repo: IndexRepository, log: IndexerLog = { info() {}, warn() {}, error() {} }): Promise<RunReport> {
    return runIndexer({
      repo, source: new GrpcEventSource(this.client, this.packageId), evictor: new Evictor(repo, noInstances, new Set()), packageId: this.packageId, log,
    }, { remainingMs: () => 60_000 });
  }
}
