// Token-check CPU in this process (issue 16 item 1): the checker against raw OpenSSL signature verifies of
// the same credentials. 6,000 users with distinct keys (SCHEME_MIX of Ed25519, Secp256k1, Secp256r1), the
// checker with the production cache size (TOKEN_CACHE_SIZE's default), the index an in-memory repository
// seeded by the real event applier. The network and the SDK are in authenticate.bench.ts; this file
// isolates what the checker itself costs.
//   token_raw_verify_us_<scheme>          baseline: OpenSSL verify, key object ready (µs CPU per verify)
//   token_check_uncached_us_<scheme>      the first check of a user never seen before (nothing of it cached)
//   token_check_uncached_ratio_<scheme>   raw verify cost / uncached check cost (1 = as fast as a bare verify)
//   token_check_uncached_ratio_mix        the same over the whole mix
//   token_check_hot_ratio                 one credential checked again and again while the cache is full
//   token_check_full_cache_cycle_ratio    every cached credential in turn (each a hit, none CPU-cache hot)
// Dropped: the p99 of a check in this process — with no baseline it measured the machine's load.
import { TOKEN_CHECK_ENV } from '../../lambdas/shared/credentials/token-check-env';
import { createTokenChecker, type TokenChecker } from '../../lambdas/shared/credentials/token-check';
import { MemoryIndexRepository } from '../../lambdas/shared/index/index-repository-memory';
import { BENCH_CLUSTER_ID, credentialsFor, eventsFor, makeUsers, rawVerifier, seedIndex, type Scheme } from './fixtures';
import { bestOf, cpuMicros, report, type BenchOptions } from './measure';

const SCHEMES: readonly Scheme[] = ['ed25519', 'secp256k1', 'secp256r1'];
/** Signing fill credentials costs ~1 ms each: a production cache larger than this is filled only this far (and says so). */
const MAX_FILL = 20_000;

export async function run({ smoke }: BenchOptions): Promise<void> {
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
