// Measuring helpers of the benchmarks. Costs are CPU time of this process (process.cpuUsage), not wall
// time: on a shared machine another process's load stretches wall time but not the instructions we run,
// and an emulator in another process (moto) never counts against the code under test. Every cost is
// reported beside a baseline measured in the same run, in interleaved rounds, best round kept.

export interface BenchOptions {
  /** A few iterations of everything, so a unit test can prove the harness still runs (figures meaningless). */
  readonly smoke: boolean;
}

/** CPU microseconds (user + system) `fn` took in this process. */
export async function cpuMicros(fn: () => unknown): Promise<number> {
  const before = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

/** Runs `measure` `rounds` times and keeps the lowest figure per key (the round least disturbed by others). */
export async function bestOf<K extends string>(rounds: number, measure: () => Promise<Record<K, number>>): Promise<Record<K, number>> {
  let best: Record<K, number> | undefined;
  for (let i = 0; i < rounds; i++) {
    const figures = await measure();
    if (!best) best = { ...figures };
    else for (const k of Object.keys(figures) as K[]) best[k] = Math.min(best[k], figures[k]);
  }
  return best!;
}

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((sorted.length * p) / 100) - 1)];
}

/** Prints one `name: value` line, the format docs/capacity.md quotes (`<<bench:name>>`). */
export function report(name: string, value: number | string, digits = 0): void {
  console.log(`${name}: ${typeof value === 'number' ? value.toFixed(digits) : value}`);
}

/** Wall-clock milliseconds of `fn` (for latencies, which are what a caller waits). */
export async function wallMs(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}
