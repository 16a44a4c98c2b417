// Token-check CPU in this process (issue 16 item 1): the checker against raw OpenSSL signature verifies of
// the same credentials. 6,000 users with distinct keys (SCHEME_MIX of Ed25519, Secp256k1, Secp256r1), the
// checker with the production cache size (TOKEN_CACHE_SIZE's default), the index an in-memory repository
// seeded by the real event applier. The network and its latency are in authenticate.bench.ts; this file
// isolates CPU: the checker itself, then the checker through the production DynamoIndexRepository and the
// real AWS SDK client, whose request handler answers in this process (no socket, no emulator).
//   token_raw_verify_us_<scheme>          baseline: OpenSSL verify, key object ready (µs CPU per verify)
//   token_check_uncached_us_<scheme>      the first check of a user never seen before (nothing of it cached)
//   token_check_uncached_ratio_<scheme>   raw verify cost / uncached check cost (1 = as fast as a bare verify)
//   token_check_uncached_ratio_mix        the same over the whole mix
//   token_check_hot_ratio                 one credential checked again and again while the cache is full
//   token_check_full_cache_cycle_ratio    every cached credential in turn (each a hit, none CPU-cache hot)
//   token_check_sdk_uncached_us_<ed25519|mix>   the production wiring (tokenCheckerFromEnv, the authenticate
//                                               function's DynamoDB client settings) over the SDK with its
//                                               transport in memory (test/support/memory-dynamodb-handler.ts)
//   token_check_sdk_uncached_ratio[_ed25519]    raw verify / that (issue 16 target ≥ 0.4, mix)
//   token_check_sdk_requests_per_check          DynamoDB requests per uncached check (the view's included)
//   token_check_sdk_getitem_us                  second baseline: one GetItem of a token item, same client
// Dropped: the p99 of a check in this process — with no baseline it measured the machine's load.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TOKEN_CHECK_ENV, tokenCheckerFromEnv } from '../../lambdas/shared/credentials/token-check-env';
import { createTokenChecker, type TokenChecker } from '../../lambdas/shared/credentials/token-check';
import { DynamoIndexRepository } from '../../lambdas/shared/index/index-repository-dynamodb';
import { MemoryIndexRepository } from '../../lambdas/shared/index/index-repository-memory';
import { awsClientConfig } from '../../lambdas/shared/runtime/aws-clients';
import { readEnv } from '../../lambdas/shared/runtime/env';
import { MemoryDynamoDbHandler } from '../support/memory-dynamodb-handler';
import { BENCH_CLUSTER_ID, credentialsFor, eventsFor, makeUsers, rawVerifier, seedIndex, type BenchUser, type Scheme } from './fixtures';
import { bestOf, cpuMicros, report, type BenchOptions } from './measure';

const SCHEMES: readonly Scheme[] = ['ed25519', 'secp256k1', 'secp256r1'];
/** Signing fill credentials costs ~1 ms each: a production cache larger than this is filled only this far (and says so). */
const MAX_FILL = 20_000;

export async function run(options: BenchOptions): Promise<void> {
  await checkerPhase(options);
  await sdkPhase(options);
}

async function checkerPhase({ smoke }: BenchOptions): Promise<void> {
  const userCount = smoke ? 30 : 6_000;
  const rounds = smoke ? 1 : 3;
  const cacheSize = TOKEN_CHECK_ENV.TOKEN_CACHE_SIZE.parse(undefined);
  const fill = Math.min(smoke ? 40 : cacheSize, MAX_FILL);
  report('token_bench_users', userCount);
  report('token_bench_cache_size', cacheSize);

  // One group of users per round: an "uncached" check then finds nothing of its user in any cache,
  // wherever the checker keeps one (signatures, index items), and no round warms the next.
  const perRound = Math.floor(userCount / rounds);
  const groupsOfUsers = Array.from({ length: rounds }, (_, r) => makeUsers(perRound, r * perRound));
  const users = groupsOfUsers.flat();
  const now = new Date();
  const repo = new MemoryIndexRepository();
  await seedIndex(repo, eventsFor(users), now.getTime());
  const firstCredentials = await Promise.all(groupsOfUsers.map((g) => credentialsFor(g, now)));
  // Second credentials of the same users until the cache is full.
  const extraUsers = Array.from({ length: Math.max(0, fill - users.length) }, (_, i) => users[i % users.length]);
  const extraCredentials = await credentialsFor(extraUsers, now);

  // One checker for the whole run, as in one container, with the production cache size.
  const checker: TokenChecker = createTokenChecker({ index: repo, clusterId: BENCH_CLUSTER_ID, freshness: { maxAgeMs: 3_600_000 }, cacheSize });
  const mustPass = async (credential: string) => {
    const result = await checker.check(credential);
    if (!result.ok) throw new Error(`benchmark credential refused: ${result.reason}`);
  };

  let round = 0;
  const uncachedBest = await bestOf(rounds, async () => {
    const group = groupsOfUsers[round];
    const credentials = firstCredentials[round++];
    const figures: Record<string, number> = {};
    for (const s of SCHEMES) {
      const idx = group.flatMap((u, i) => (u.scheme === s ? [i] : []));
      const raw = idx.map((i) => rawVerifier(credentials[i], s));
      figures[`raw_${s}`] = (await cpuMicros(() => raw.forEach((verify) => verify()))) / idx.length;
      figures[`uncached_${s}`] = (await cpuMicros(async () => {
        for (const i of idx) await mustPass(credentials[i]);
      })) / idx.length;
    }
    return figures;
  });

  for (const c of extraCredentials) await mustPass(c);
  const cached = [...firstCredentials.flat(), ...extraCredentials];
  if (checker.stats().size !== Math.min(cached.length, cacheSize)) throw new Error(`cache holds ${checker.stats().size}, expected ${cached.length}`);
  const hot = cached[cached.length - 1];
  const hotN = smoke ? 20 : 20_000;
  const hotLoop = async (n: number) => {
    for (let i = 0; i < n; i++) await mustPass(hot);
  };
  const cycleLoop = async () => {
    for (const c of cached) await mustPass(c);
  };
  // Each loop once unmeasured first: the collection of the fill's garbage must not land in a figure.
  await hotLoop(hotN / 10);
  await cycleLoop();
  const cachedBest = await bestOf(rounds, async () => ({
    hot: (await cpuMicros(() => hotLoop(hotN))) / hotN,
    cycle: (await cpuMicros(cycleLoop)) / cached.length,
  }));
  if (checker.stats().misses !== cached.length) throw new Error(`expected ${cached.length} misses, saw ${checker.stats().misses}`);
  const best: Record<string, number> = { ...uncachedBest, ...cachedBest };

  const weight = (s: Scheme) => users.filter((u) => u.scheme === s).length / users.length;
  const rawMix = SCHEMES.reduce((t, s) => t + weight(s) * best[`raw_${s}`], 0);
  const uncachedMix = SCHEMES.reduce((t, s) => t + weight(s) * best[`uncached_${s}`], 0);
  for (const s of SCHEMES) {
    report(`token_raw_verify_us_${s}`, best[`raw_${s}`], 1);
    report(`token_check_uncached_us_${s}`, best[`uncached_${s}`], 1);
    report(`token_check_uncached_ratio_${s}`, best[`raw_${s}`] / best[`uncached_${s}`], 2);
  }
  report('token_raw_verify_us_mix', rawMix, 1);
  report('token_check_uncached_ratio_mix', rawMix / uncachedMix, 2);
  // Cached figures against the Ed25519 verify: what a hit saves compared with the cheapest verify.
  report('token_check_hot_us', best.hot, 2);
  report('token_check_hot_ratio', best.raw_ed25519 / best.hot, 2);
  report('token_check_full_cache_cycle_us', best.cycle, 2);
  report('token_check_full_cache_cycle_ratio', best.raw_ed25519 / best.cycle, 2);
}

/** What Lambda gives the function (its role's session credentials, its region), for the SDK's default chain. */
const LAMBDA_AWS_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'ASIABENCHMARKEXAMPLE', AWS_SECRET_ACCESS_KEY: 'bench-secret-access-key', AWS_SESSION_TOKEN: 'bench-session-token',
};

export async function sdkPhase({ smoke }: BenchOptions): Promise<void> {
  const rounds = smoke ? 1 : 3;
  const perRound = smoke ? 10 : 600;
  const warmCount = smoke ? 2 : 200;
  // Users of their own: none of them is in any cache of the checker phase (signatures, keys, index items).
  const offset = 1_000_000;
  const warmUsers = makeUsers(warmCount, offset);
  const groups = Array.from({ length: rounds }, (_, r) => makeUsers(perRound, offset + warmCount + r * perRound));
  const all: BenchUser[] = [...warmUsers, ...groups.flat()];
  const table = 'bench-index';
  const transport = new MemoryDynamoDbHandler();
  const saved = Object.fromEntries(Object.keys(LAMBDA_AWS_ENV).map((k) => [k, process.env[k]]));
  Object.assign(process.env, LAMBDA_AWS_ENV);
  const clients: DynamoDBClient[] = [];
  try {
    const now = new Date();
    // Seeded through the real repository and event applier, on a client of its own (not counted, not warmed).
    const seeder = new DynamoDBClient({ ...awsClientConfig('indexer'), requestHandler: transport });
    clients.push(seeder);
    await seedIndex(new DynamoIndexRepository({ tableName: table, client: seeder }), eventsFor(all), now.getTime());
    const warmCredentials = await credentialsFor(warmUsers, now);
    const groupCredentials = await Promise.all(groups.map((g) => credentialsFor(g, now)));

    // The authenticate function's wiring: its environment parsed as in Lambda, its client settings.
    const env = readEnv(TOKEN_CHECK_ENV, { TABLE_NAME: table, CLUSTER_ID: BENCH_CLUSTER_ID, SUI_NETWORK: 'testnet', INDEX_MAX_AGE_SECONDS: '3600' });
    const client = new DynamoDBClient({ ...awsClientConfig('authenticate', { reuseCommandHandlers: true }), requestHandler: transport });
    clients.push(client);
    const checker = tokenCheckerFromEnv(env, client);
    const mustPass = async (credential: string) => {
      const result = await checker.check(credential);
      if (!result.ok) throw new Error(`benchmark credential refused: ${result.reason}`);
    };
    // The cold start (credentials, endpoint, the first view) and the JIT's warm-up stay out of the figures.
    for (const c of warmCredentials) await mustPass(c);

    let round = 0;
    let checks = 0;
    let requests = 0;
    const best = await bestOf(rounds, async () => {
      const users = groups[round];
      const credentials = groupCredentials[round++];
      const ed = credentials.filter((_, i) => users[i].scheme === 'ed25519');
      const rawEd = ed.map((c) => rawVerifier(c, 'ed25519'));
      const rawAll = credentials.map((c, i) => rawVerifier(c, users[i].scheme));
      const figures: Record<string, number> = {};
      figures.raw_ed25519 = (await cpuMicros(() => rawEd.forEach((verify) => verify()))) / rawEd.length;
      figures.raw_mix = (await cpuMicros(() => rawAll.forEach((verify) => verify()))) / rawAll.length;
      transport.resetCounts();
      // Ed25519 first, measured on its own; then the rest, so the mix is the whole group.
      const edUs = await cpuMicros(async () => {
        for (const c of ed) await mustPass(c);
      });
      const otherUs = await cpuMicros(async () => {
        for (const [i, c] of credentials.entries()) if (users[i].scheme !== 'ed25519') await mustPass(c);
      });
      checks += credentials.length;
      requests += transport.requests;
      figures.ed25519 = edUs / ed.length;
      figures.mix = (edUs + otherUs) / credentials.length;
      return figures;
    });

    // The floor each round trip adds: one GetItem of a token item through the same client.
    const probe = new DynamoIndexRepository({ tableName: table, client });
    const tokenIds = all.map((u) => u.tokenId);
    const probes = smoke ? 5 : 2_000;
    const getItemUs = (await bestOf(rounds, async () => ({
      us: (await cpuMicros(async () => {
        for (let k = 0; k < probes; k++) await probe.readTokenForCheck(tokenIds[k % tokenIds.length]);
      })) / probes,
    }))).us;

    report('token_check_sdk_raw_verify_us_ed25519', best.raw_ed25519, 1);
    report('token_check_sdk_raw_verify_us_mix', best.raw_mix, 1);
    report('token_check_sdk_uncached_us_ed25519', best.ed25519, 1);
    report('token_check_sdk_uncached_us_mix', best.mix, 1);
    report('token_check_sdk_uncached_ratio_ed25519', best.raw_ed25519 / best.ed25519, 2);
    report('token_check_sdk_uncached_ratio', best.raw_mix / best.mix, 2);
    report('token_check_sdk_requests_per_check', requests / checks, 3);
    report('token_check_sdk_getitem_us', getItemUs, 1);
  } finally {
    for (const c of clients) c.destroy();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
