// Indexer throughput and memory. Every figure goes through the real pipeline: SuiGrpcClient over the
// in-process fake full node (protobuf frames, paging), BCS decoding, the event applier, eviction and
// the cursor. Baseline in the same run: BCS decoding alone over the same events.
//   indexer_events_per_s               decode+apply into the in-memory repository (target ≥ 10,000)
//   indexer_heap_growth_mb_per_100k    heap still held after indexing 100k events once the index store
//                                      itself is released (a leak in the indexer would show here)
//   indexer_dynamodb_events_per_s      the same pipeline against DynamoDB in moto: a single-threaded Python
//                                      emulator whose GSI queries scan the whole table, so this is a floor
//                                      that falls as the table grows, not a prediction for DynamoDB
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { DynamoIndexRepository } from '../../lambdas/shared/index/index-repository-dynamodb';
import { decodeEvent } from '../../lambdas/shared/sui/events';
import { generateHistory, type GeneratedHistory } from '../support/event-history';
import { createIndexTable, emulatorClient } from '../support/index-table';
import { createHarness } from '../support/indexer-harness';
import { startMoto } from '../support/moto-server';
import { ensureTestTools } from '../support/test-tools';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const PAGE = { pageLimit: 1000 };
const NODE = { maxLimit: 1000, scanLimit: 5000 };

function ownEvents(history: GeneratedHistory) {
  return history.ledger.filter((s) => s.eventType.startsWith(history.packageId));
}

async function indexOnce(history: GeneratedHistory): Promise<{ seconds: number; events: number }> {
  const h = await createHarness(history, { node: NODE });
  const start = process.hrtime.bigint();
  const reports = await h.runUntilCaughtUp(PAGE);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, events: reports.reduce((n, r) => n + r.events, 0) };
}

function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

export async function run(): Promise<void> {
  const history = generateHistory({ seed: 2026, transactions: 92_000, noise: 0.02 });
  const events = ownEvents(history);
  console.log(`indexer_bench_events: ${events.length}`);

  const decodeStart = process.hrtime.bigint();
  for (const e of events) {
    try {
      decodeEvent(e.eventType, e.bcs, history.packageId);
    } catch {
      // noise slots are part of the workload
    }
  }
  const decodeSeconds = Number(process.hrtime.bigint() - decodeStart) / 1e9;
  const decodeRate = events.length / decodeSeconds;
  console.log(`indexer_decode_only_events_per_s: ${Math.round(decodeRate)}`);

  await indexOnce(history); // warm-up: JIT, module state
  const before = heapMb();
  const { seconds, events: indexed } = await indexOnce(history);
  const after = heapMb();
  const rate = indexed / seconds;
  console.log(`indexer_events_per_s: ${Math.round(rate)}`);
  console.log(`indexer_vs_decode_only_ratio: ${(rate / decodeRate).toFixed(3)}`);
  console.log(`indexer_heap_growth_mb_per_100k: ${(((after - before) * 100_000) / indexed).toFixed(2)}`);

  const tools = await ensureTestTools((line) => console.error(line));
  if (!tools.moto.ok) {
    console.log(`indexer_dynamodb_events_per_s: unavailable (moto: ${tools.moto.reason})`);
    return;
  }
  const moto = await startMoto();
  try {
    const small = generateHistory({ seed: 7, transactions: 1_000, noise: 0.02 });
    const client = emulatorClient(moto.endpoint);
    await createIndexTable(client, 'bench-index');
    const repo = new DynamoIndexRepository({ tableName: 'bench-index', client });
    const h = await createHarness(small, { repo, node: NODE });
    const start = process.hrtime.bigint();
    const reports = await h.runUntilCaughtUp(PAGE);
    const secs = Number(process.hrtime.bigint() - start) / 1e9;
    const n = reports.reduce((sum, r) => sum + r.events, 0);
    console.log(`indexer_dynamodb_events_per_s: ${Math.round(n / secs)}`);
    console.log(`indexer_dynamodb_vs_memory_ratio: ${(n / secs / rate).toFixed(4)}`);
  } finally {
    await moto.stop();
  }
}
