// Indexer throughput (issue 16 item 1). Every figure goes through the real pipeline: SuiGrpcClient over
// the in-process fake full node with every message protobuf-encoded and decoded as on the wire
// (protobufWire), BCS decoding, the event applier, eviction and the cursor, at the production page size
// (INDEXER_PAGE_LIMIT's default). Baseline in the same run: BCS decoding alone over the same events.
//   indexer_decode_only_events_per_s           baseline: BCS decoding of every event, nothing else
//   indexer_memory_vs_decode_only_ratio        the pipeline into the in-memory repository: the indexer's own
//                                              work with storage free (an upper bound, not a prediction)
//   indexer_heap_growth_mb_per_100k            heap still held after indexing 100k events once the index
//                                              store is released: a leak shows as a steady positive figure;
//                                              near zero or negative (the GC freed warm-up state) is none
//   indexer_dynamodb_requests_per_event        DynamoDB requests per event, DynamoIndexRepository in moto
//   indexer_dynamodb_round_trips_per_event     of them, awaited one after another (exact at 5 ms)
//   indexer_dynamodb_events_per_s_<0|5>ms      events/s with 0 or 5 ms added to each request; moto is a
//                                              single-threaded Python emulator, so this is a floor
//   indexer_latency_bound_events_per_s_5ms     1 / (round trips per event × 5 ms): the most a run bounded
//                                              by its awaited round trips can reach at 5 ms per request
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { INDEXER_ENV } from '../../lambdas/indexer/handler';
import { DynamoIndexRepository } from '../../lambdas/shared/index/index-repository-dynamodb';
import { decodeEvent } from '../../lambdas/shared/sui/events';
import { generateHistory, type GeneratedHistory } from '../support/event-history';
import { createIndexTable, emulatorClient } from '../support/index-table';
import { createHarness } from '../support/indexer-harness';
import { requestsOf, startLatencyProxy } from '../support/latency-proxy';
import { startMoto } from '../support/moto-server';
import { protobufWire } from '../support/protobuf-wire-transport';
import { ensureTestTools } from '../support/test-tools';
import { report, type BenchOptions } from './measure';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const PAGE = { pageLimit: INDEXER_ENV.INDEXER_PAGE_LIMIT.parse(undefined) };
// The server would allow more; the indexer's own page limit is what bounds each page.
const NODE = { maxLimit: 1000, scanLimit: 5000 };

function ownEvents(history: GeneratedHistory) {
  return history.ledger.filter((s) => s.eventType.startsWith(history.packageId));
}

async function indexOnce(history: GeneratedHistory): Promise<{ seconds: number; events: number }> {
  const h = await createHarness(history, { node: NODE, transport: protobufWire });
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

export async function run({ smoke }: BenchOptions): Promise<void> {
  report('indexer_page_limit', PAGE.pageLimit);
  // 30,000 transactions (~39,000 events): the generator's cost grows with the square of the history, and
  // the rate and the heap growth per event are already steady at this size.
  const history = generateHistory({ seed: 2026, transactions: smoke ? 200 : 30_000, noise: 0.02 });
  const events = ownEvents(history);
  report('indexer_bench_events', events.length);

  const decodeStart = process.hrtime.bigint();
  for (const e of events) {
    try {
      decodeEvent(e.eventType, e.bcs, history.packageId);
    } catch {
      // noise slots are part of the workload
    }
  }
  const decodeRate = events.length / (Number(process.hrtime.bigint() - decodeStart) / 1e9);
  report('indexer_decode_only_events_per_s', decodeRate);

  await indexOnce(history); // warm-up: JIT, module state
  const before = heapMb();
  const { seconds, events: indexed } = await indexOnce(history);
  const after = heapMb();
  const rate = indexed / seconds;
  report('indexer_memory_events_per_s', rate);
  report('indexer_memory_vs_decode_only_ratio', rate / decodeRate, 3);
  report('indexer_heap_growth_mb_per_100k', ((after - before) * 100_000) / indexed, 2);

  const tools = await ensureTestTools((line) => console.error(line));
  if (!tools.moto.ok) {
    report('indexer_dynamodb', `unavailable (moto: ${tools.moto.reason})`);
    return;
  }
  const moto = await startMoto();
  const proxy = await startLatencyProxy(moto.endpoint);
  try {
    const small = generateHistory({ seed: 7, transactions: smoke ? 60 : 400, noise: 0.02 });
    for (const delay of [0, 5]) {
      const table = `bench-index-${delay}ms`;
      await createIndexTable(emulatorClient(moto.endpoint), table);
      const repo = new DynamoIndexRepository({ tableName: table, client: emulatorClient(proxy.endpoint) });
      const h = await createHarness(small, { repo, node: NODE, transport: protobufWire });
      await proxy.setDelay(delay);
      await proxy.reset(); // the harness's node records are setup, not indexing
      const start = process.hrtime.bigint();
      const reports = await h.runUntilCaughtUp(PAGE);
      const secs = Number(process.hrtime.bigint() - start) / 1e9;
      const stats = await proxy.stats();
      const n = reports.reduce((sum, r) => sum + r.events, 0);
      if (delay === 5) {
        report('indexer_dynamodb_events', n);
        report('indexer_dynamodb_requests_per_event', requestsOf(stats, 'DynamoDB_') / n, 2);
        report('indexer_dynamodb_round_trips_per_event', stats.roundTrips / n, 2);
        report('indexer_latency_bound_events_per_s_5ms', n / (stats.roundTrips * 0.005));
      }
      report(`indexer_dynamodb_events_per_s_${delay}ms`, n / secs);
    }
  } finally {
    await proxy.stop();
    await moto.stop();
  }
}
