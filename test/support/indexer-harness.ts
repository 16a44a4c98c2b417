// Wires a real indexer (SuiGrpcClient over the fake node, GrpcEventSource, event applier, Evictor) to an
// in-memory or any other index repository, plus fault injection at every dependency call boundary.
import { SuiGrpcClient } from '@mysten/sui/grpc';
import type { RpcTransport } from '@protobuf-ts/runtime-rpc';
import { Evictor, type InstanceTerminator } from '../../lambdas/indexer/eviction';
import { GrpcEventSource, type EventSource } from '../../lambdas/indexer/event-source';
import { runIndexer, type IndexerDeps, type IndexerLog, type RunOptions, type RunReport } from '../../lambdas/indexer/indexer';
import type { IndexRepository } from '../../lambdas/shared/index/index-repository';
import { MemoryIndexRepository } from '../../lambdas/shared/index/index-repository-memory';
import { FakeEc2, FakeSuiNode, WORKER_GROUP, type FakeNodeOptions, type GeneratedHistory } from './event-history';

export const FIXED_NOW = new Date('2026-06-01T00:00:00.000Z');

export const silentLog: IndexerLog & { warnings: string[] } = {
  warnings: [],
  info() {},
  warn(message) {
    silentLog.warnings.push(message);
  },
  error() {},
};

export class InjectedFault extends Error {
  constructor(at: number) {
    super(`injected fault at point ${at}`);
    this.name = 'InjectedFault';
  }
}

/** Counts call boundaries (before and after every async dependency call) and throws at one of them. */
export class FaultPlan {
  points = 0;
  constructor(readonly failAt = Infinity) {}
  tick(): void {
    if (++this.points === this.failAt) throw new InjectedFault(this.points);
  }
}

export function withFaults<T extends object>(target: T, plan: FaultPlan): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function' || prop === 'constructor') return value;
      return async (...args: unknown[]) => {
        plan.tick();
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
        plan.tick();
        return result;
      };
    },
  });
}

export interface Harness {
  node: FakeSuiNode;
  repo: IndexRepository;
  ec2: FakeEc2;
  source: EventSource;
  sleeps: number[];
  deps(plan?: FaultPlan): IndexerDeps;
  /** One run with generous time. */
  run(options?: Partial<RunOptions>, plan?: FaultPlan): Promise<RunReport>;
  /** Runs until caught up with no second sweep pending (at most `maxRuns`). */
  runUntilCaughtUp(options?: Partial<RunOptions>, maxRuns?: number): Promise<RunReport[]>;
}

export async function createHarness(
  history: GeneratedHistory,
  opts: {
    repo?: IndexRepository; node?: FakeNodeOptions; callTimeoutMs?: number; claimStaleAfterMs?: number;
    /** Wraps the fake node's transport (the benchmarks put protobuf encoding in between: protobufWire). */
    transport?: (fake: RpcTransport) => RpcTransport;
  } = {},
): Promise<Harness> {
  const node = new FakeSuiNode(history, opts.node);
  const client = new SuiGrpcClient({ network: 'testnet', transport: opts.transport ? opts.transport(node.transport) : node.transport });
  const repo = opts.repo ?? new MemoryIndexRepository();
  for (const n of history.nodes) await repo.putNode(n);
  const ec2 = new FakeEc2(history.nodes.map((n) => n.instanceId));
  const source = new GrpcEventSource(client, history.packageId, opts.callTimeoutMs ?? 2_000);
  const sleeps: number[] = [];
  const deps = (plan?: FaultPlan): IndexerDeps => {
    const r = plan ? withFaults(repo, plan) : repo;
    const e: InstanceTerminator = plan ? withFaults(ec2, plan) : ec2;
    return {
      repo: r,
      source: plan ? withFaults(source, plan) : source,
      // The clock stands still here, so a claim left by a crashed run is stale at once (staleness 0).
      evictor: new Evictor(r, e, new Set([WORKER_GROUP]), () => FIXED_NOW, opts.claimStaleAfterMs ?? 0),
      packageId: history.packageId,
      log: silentLog,
      now: () => FIXED_NOW,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    };
  };
  const run = (options: Partial<RunOptions> = {}, plan?: FaultPlan) =>
    runIndexer(deps(plan), { remainingMs: () => 600_000, ...options });
  return {
    node, repo, ec2, source, sleeps, deps, run,
    async runUntilCaughtUp(options = {}, maxRuns = 1000) {
      const reports: RunReport[] = [];
      for (let i = 0; i < maxRuns; i++) {
        const report = await run(options);
        reports.push(report);
        if (report.stoppedBecause === 'caught_up' && report.resweepPending === 0) return reports;
      }
      throw new Error(`indexer did not catch up within ${maxRuns} runs`);
    },
  };
}
