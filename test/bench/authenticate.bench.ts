// The production token path (issue 16 item 1): the real `authenticate` handler as Lambda runs it — its
// own wiring from the environment (tokenCheckerFromEnv, the DynamoDB and Secrets Manager clients of the
// AWS SDK) — answering TokenReviews against DynamoDB in moto, through a proxy that adds 0 or 5 ms to every
// request (test/support/latency-proxy.ts) and counts them. Users, stakes and tokens are put into the table
// by the real event applier and DynamoIndexRepository (fixtures.ts).
//   authenticate_<kind>_dynamodb_requests_per_check   DynamoDB requests per check (kind: uncached | hot)
//   authenticate_<kind>_round_trips_per_check         of them, sequential round trips (exact at 5 ms)
//   authenticate_<kind>_p50_ms_<delay> / _p99_ms_     latency of one check at 0 or 5 ms per request; at 0 ms
//                                                     this is moto's own time (a Python emulator), not DynamoDB's
//   authenticate_uncached_cpu_us_<ed25519|mix>        CPU of this process per check (SDK, HTTP, handler)
//   authenticate_uncached_cpu_ratio_<ed25519|mix>     raw OpenSSL verify CPU / that (issue target ≥ 0.4 at 0 ms)
//   authenticate_hot_cpu_ratio                        the same for a hot credential (against the Ed25519 verify)
//   authenticate_idle_cpu_us_per_ms                   third baseline: CPU this process accrues per ms in which
//                                                     it only waits (timer wake-ups, the VM's accounting);
//                                                     moto answers in ~8 ms, so every check carries some
//   authenticate_uncached_busy_cpu_us_mix / _ratio_mix  the mix's CPU less that idle rate × its waiting time
//                                                     (wall − CPU): what the check itself runs
//   authenticate_sdk_getitem_busy_cpu_us              the bare GetItem's CPU less the idle rate, likewise
//   authenticate_sdk_getitem_instant_peer_cpu_us_<0|10>ms  the bare GetItem against a peer answering at once
//                                                     (a Node server, no emulator), through the proxy at 0
//                                                     or 10 ms: whether moto's own slowness is in the figures
//   authenticate_uncached_connections_per_check       client connections per check: ~0 while the SDK's agent
//                                                     reuses its connection, as it does with DynamoDB (moto
//                                                     closes each one; the proxy keeps the client's open)
//   authenticate_sdk_getitem_cpu_us                   second baseline: one bare GetItem through the SDK, the
//                                                     floor of what each DynamoDB round trip adds to a check
// Every check must answer authenticated:true, or the benchmark stops: a refused check is cheap and would flatter it.
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { DynamoIndexRepository } from '../../lambdas/shared/index/index-repository-dynamodb';
import { awsClientConfig } from '../../lambdas/shared/runtime/aws-clients';
import { createIndexTable, emulatorClient } from '../support/index-table';
import { requestsOf, startInstantPeer, startLatencyProxy, type LatencyProxy } from '../support/latency-proxy';
import { startMoto } from '../support/moto-server';
import { ensureTestTools } from '../support/test-tools';
import { postEvent } from '../support/token-fixtures';
import { BENCH_CLUSTER_ID, credentialsFor, eventsFor, makeUsers, rawVerifier, seedIndex, type BenchUser } from './fixtures';
import { bestOf, cpuMicros, percentile, report, wallMs, type BenchOptions } from './measure';

const TABLE = 'bench-index';
const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789abcdef';
const DELAYS_MS = [0, 5] as const;
const DYNAMODB = 'DynamoDB_';

type Handler = (event: APIGatewayProxyEventV2) => Promise<{ statusCode: number; body?: string }>;

function review(token: string): APIGatewayProxyEventV2 {
  return postEvent('/v1/authenticate', JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }), {
    authorization: `Bearer ${WEBHOOK_SECRET}`,
  });
}

async function mustAuthenticate(handler: Handler, credential: string): Promise<void> {
  const res = await handler(review(credential));
  const status = JSON.parse(res.body ?? '{}').status as { authenticated?: boolean; error?: string } | undefined;
  if (res.statusCode !== 200 || status?.authenticated !== true) throw new Error(`benchmark check not authenticated: HTTP ${res.statusCode} ${res.body}`);
}

interface Phase {
  checks: number;
  requests: number;
  roundTrips: number;
  connections: number;
  latenciesMs: number[];
  cpuUs: number;
}

/** CPU microseconds this process accrues per millisecond of only waiting on timers (about `totalMs` of it). */
async function idleCpuUsPerMs(totalMs: number): Promise<number> {
  const started = performance.now();
  const cpu = await cpuMicros(async () => {
    while (performance.now() - started < totalMs) await new Promise((resolve) => setTimeout(resolve, 10));
  });
  return cpu / (performance.now() - started);
}

/** CPU (and waiting time) of `probes` bare GetItems, one after another, through a client with the handler's settings. */
async function bareGetItems(endpoint: string, probes: number): Promise<{ cpuUs: number; waitingMs: number }> {
  const client = new DynamoDBClient({ ...awsClientConfig('authenticate', { reuseCommandHandlers: true }), endpoint });
  const get = () => client.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'BENCH#absent' }, sk: { S: 'BENCH' } } }));
  try {
    for (let k = 0; k < 20; k++) await get();
    const started = performance.now();
    const cpuUs = await cpuMicros(async () => {
      for (let k = 0; k < probes; k++) await get();
    });
    return { cpuUs, waitingMs: Math.max(0, performance.now() - started - cpuUs / 1000) };
  } finally {
    client.destroy();
  }
}

async function phase(handler: Handler, proxy: LatencyProxy, credentials: readonly string[]): Promise<Phase> {
  await proxy.reset();
  const latenciesMs: number[] = [];
  const cpuUs = await cpuMicros(async () => {
    for (const c of credentials) latenciesMs.push(await wallMs(() => mustAuthenticate(handler, c)));
  });
  const stats = await proxy.stats();
  return { checks: credentials.length, requests: requestsOf(stats, DYNAMODB), roundTrips: stats.roundTrips, connections: stats.connections, latenciesMs, cpuUs };
}

export async function run({ smoke }: BenchOptions): Promise<void> {
  const tools = await ensureTestTools((line) => console.error(line));
  if (!tools.moto.ok) {
    report('authenticate_bench', `unavailable (moto: ${tools.moto.reason})`);
    return;
  }
  const perPhase = smoke ? 6 : 600;
  const hotChecks = smoke ? 5 : 1_000;
  const moto = await startMoto();
  const proxy = await startLatencyProxy(moto.endpoint);
  const savedEnv: Record<string, string | undefined> = {};
  try {
    // Setup talks to moto directly: only the handler's requests pass (and are counted by) the proxy.
    const direct = emulatorClient(moto.endpoint);
    await createIndexTable(direct, TABLE);
    const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const { ARN } = await secrets.send(new CreateSecretCommand({ Name: 'bench-webhook', SecretString: WEBHOOK_SECRET }));

    // Disjoint users per delay, plus some for the warm-up: an "uncached" check then finds nothing of
    // its user in any per-container cache, whatever the checker keeps.
    const warmCount = smoke ? 1 : 100;
    const warmUsers = makeUsers(warmCount, 0);
    const phaseUsers = DELAYS_MS.map((_, i) => makeUsers(perPhase, warmCount + i * perPhase));
    const all: BenchUser[] = [...warmUsers, ...phaseUsers.flat()];
    const now = new Date();
    await seedIndex(new DynamoIndexRepository({ tableName: TABLE, client: direct }), eventsFor(all), now.getTime());

    // The handler reads its settings from the environment, as in Lambda; restored when the benchmark ends.
    const lambdaEnv: Record<string, string> = {
      AWS_ENDPOINT_URL: proxy.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing',
      TABLE_NAME: TABLE, CLUSTER_ID: BENCH_CLUSTER_ID, SUI_NETWORK: 'testnet', INDEX_MAX_AGE_SECONDS: '3600', WEBHOOK_SECRET_ARN: ARN!,
      POWERTOOLS_SERVICE_NAME: 'authenticate', POWERTOOLS_METRICS_NAMESPACE: 'K3sDaasBench',
    };
    for (const name of Object.keys(lambdaEnv)) savedEnv[name] = process.env[name];
    Object.assign(process.env, lambdaEnv);
    const { handler } = (await import('../../lambdas/authenticate/handler')) as { handler: Handler };
    // The cold start (clients, secret, connections) and the JIT's warm-up stay out of the figures.
    for (const c of await credentialsFor(warmUsers, now)) await mustAuthenticate(handler, c);

    for (const [i, delay] of DELAYS_MS.entries()) {
      await proxy.setDelay(delay);
      const users = phaseUsers[i];
      const credentials = await credentialsFor(users, now);
      // Grouped by scheme so the Ed25519-only CPU figure is measured, not apportioned.
      const ed = credentials.filter((_, j) => users[j].scheme === 'ed25519');
      const other = credentials.filter((_, j) => users[j].scheme !== 'ed25519');
      const uncachedEd = await phase(handler, proxy, ed);
      const uncachedOther = await phase(handler, proxy, other);
      const uncached: Phase = {
        checks: uncachedEd.checks + uncachedOther.checks,
        requests: uncachedEd.requests + uncachedOther.requests,
        roundTrips: uncachedEd.roundTrips + uncachedOther.roundTrips,
        connections: uncachedEd.connections + uncachedOther.connections,
        latenciesMs: [...uncachedEd.latenciesMs, ...uncachedOther.latenciesMs],
        cpuUs: uncachedEd.cpuUs + uncachedOther.cpuUs,
      };
      // The hot credential was just checked above: the apiserver re-asks for it after its own cache expires.
      const hot = await phase(handler, proxy, Array.from({ length: delay === 0 ? hotChecks : Math.ceil(hotChecks / 4) }, () => ed[0] ?? credentials[0]));

      for (const [kind, p] of [['uncached', uncached], ['hot', hot]] as const) {
        if (delay === DELAYS_MS.at(-1)) {
          report(`authenticate_${kind}_dynamodb_requests_per_check`, p.requests / p.checks, 2);
          report(`authenticate_${kind}_round_trips_per_check`, p.roundTrips / p.checks, 2);
        }
        report(`authenticate_${kind}_p50_ms_${delay}ms`, percentile(p.latenciesMs, 50), 2);
        report(`authenticate_${kind}_p99_ms_${delay}ms`, percentile(p.latenciesMs, 99), 2);
      }
      if (delay === 0) {
        // The baseline, measured now over the same credentials: OpenSSL verify with the key object ready.
        const rawEd = ed.map((c) => rawVerifier(c, 'ed25519'));
        const rawAll = credentials.map((c, j) => rawVerifier(c, users[j].scheme));
        const cpuBaseline = await bestOf(3, async () => ({
          ed25519: (await cpuMicros(() => rawEd.forEach((v) => v()))) / rawEd.length,
          mix: (await cpuMicros(() => rawAll.forEach((v) => v()))) / rawAll.length,
        }));
        const edCheck = uncachedEd.cpuUs / uncachedEd.checks;
        const mixCheck = uncached.cpuUs / uncached.checks;
        report('authenticate_raw_verify_us_ed25519', cpuBaseline.ed25519, 1);
        report('authenticate_raw_verify_us_mix', cpuBaseline.mix, 1);
        report('authenticate_uncached_cpu_us_ed25519', edCheck, 1);
        report('authenticate_uncached_cpu_us_mix', mixCheck, 1);
        report('authenticate_uncached_cpu_ratio_ed25519', cpuBaseline.ed25519 / edCheck, 2);
        report('authenticate_uncached_cpu_ratio_mix', cpuBaseline.mix / mixCheck, 2);
        report('authenticate_uncached_connections_per_check', uncached.connections / uncached.checks, 3);
        const idlePerMs = await idleCpuUsPerMs(smoke ? 50 : 2_000);
        const waitingMs = uncached.latenciesMs.reduce((a, b) => a + b, 0) - uncached.cpuUs / 1000;
        const busyMix = (uncached.cpuUs - idlePerMs * Math.max(0, waitingMs)) / uncached.checks;
        report('authenticate_idle_cpu_us_per_ms', idlePerMs, 1);
        report('authenticate_uncached_busy_cpu_us_mix', busyMix, 1);
        report('authenticate_uncached_busy_cpu_ratio_mix', cpuBaseline.mix / busyMix, 2);
        // A second baseline explaining the first: one bare GetItem through the SDK (same client settings, same
        // proxy, the handler's client settings), which no check through DynamoDB can avoid paying once per round trip.
        const probes = smoke ? 5 : 300;
        const probe = await bareGetItems(proxy.endpoint, probes);
        const sdkRequestUs = probe.cpuUs / probes;
        report('authenticate_sdk_getitem_cpu_us', sdkRequestUs, 1);
        report('authenticate_sdk_getitem_busy_cpu_us', (probe.cpuUs - idlePerMs * probe.waitingMs) / probes, 1);
        // The same GetItem against a peer that answers at once (no emulator), then held 10 ms by the
        // proxy: whether moto's slowness, rather than the SDK's socket path, is what the figures above carry.
        const peer = await startInstantPeer('{}');
        const peerProxy = await startLatencyProxy(peer.endpoint);
        try {
          for (const delay of [0, 10]) {
            await peerProxy.setDelay(delay);
            report(`authenticate_sdk_getitem_instant_peer_cpu_us_${delay}ms`, (await bareGetItems(peerProxy.endpoint, probes)).cpuUs / probes, 1);
          }
        } finally {
          await peerProxy.stop();
          await peer.stop();
        }
        report('authenticate_sdk_getitem_vs_raw_verify_ed25519', sdkRequestUs / cpuBaseline.ed25519, 1);
        report('authenticate_hot_cpu_us', hot.cpuUs / hot.checks, 1);
        report('authenticate_hot_cpu_ratio', cpuBaseline.ed25519 / (hot.cpuUs / hot.checks), 2);
      }
    }
  } finally {
    for (const [name, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await proxy.stop();
    await moto.stop();
  }
}
