// Keeps the benchmark harness from rotting: `npm run bench -- --smoke` runs every benchmark with a few
// iterations (figures meaningless, never compared with anything) and must print each headline figure.
// A benchmark whose workload stops passing (a refused check, a first call that fails, a harness that no
// longer fits the code) throws, and the run exits non-zero.
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describeWithMoto } from '../support/moto';
import { lambdaHandlerNames as lambdaNames } from '../support/lambda-bundles';
import { placeholders } from './capacity-figures';

const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const NUMBER = /^-?\d+(\.\d+)?$/;

const HEADLINES = {
  'token-check': ['token_check_uncached_ratio_mix', 'token_check_uncached_ratio_ed25519', 'token_check_hot_ratio', 'token_check_full_cache_cycle_ratio'],
  authenticate: [
    'authenticate_uncached_dynamodb_requests_per_check', 'authenticate_uncached_round_trips_per_check', 'authenticate_hot_round_trips_per_check',
    'authenticate_uncached_p99_ms_5ms', 'authenticate_uncached_cpu_ratio_ed25519', 'authenticate_uncached_cpu_ratio_mix',
    'authenticate_uncached_connections_per_check',
  ],
  coldstart: ['coldstart_empty_process_cpu_ms', 'coldstart_authenticate_bundle_kb', 'coldstart_authenticate_import_and_first_call_cpu_ms', 'coldstart_authenticate_ratio'],
  indexer: ['indexer_dynamodb_requests_per_event', 'indexer_dynamodb_round_trips_per_event', 'indexer_dynamodb_events_per_s_5ms', 'indexer_memory_vs_decode_only_ratio'],
} as const;

async function smoke(name: string): Promise<Map<string, string>> {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), 'test/bench/run.ts', name, '--smoke'], {
    cwd: REPO_ROOT, maxBuffer: 16 * 2 ** 20, env: { ...process.env, NODE_OPTIONS: '' },
  });
  return new Map(stdout.split('\n').flatMap((line) => {
    const match = /^([a-z0-9_-]+): (.+)$/.exec(line);
    return match ? [[match[1], match[2]] as [string, string]] : [];
  }));
}

describe('benchmark selection', () => {
  it('refuses a name that matches no benchmark, listing the ones there are', async () => {
    const failed = await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), 'test/bench/run.ts', 'no-such-bench'], {
      cwd: REPO_ROOT, env: { ...process.env, NODE_OPTIONS: '' },
    }).then(() => undefined, (error: { code?: number; stderr?: string }) => error);
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/no benchmark matches no-such-bench; there are: .*token-check\.bench\.ts/);
  });
});

describeWithMoto('benchmarks in smoke mode', () => {
  const everyPrinted = new Set<string>();
  for (const [name, figures] of Object.entries(HEADLINES)) {
    it(`${name} runs and prints its figures`, async () => {
      const printed = await smoke(name);
      for (const figure of figures) expect([figure, NUMBER.test(printed.get(figure) ?? '')]).toEqual([figure, true]);
      for (const figure of printed.keys()) everyPrinted.add(figure);
      // Not a speed, so it holds in smoke mode too: the benchmarked client reuses its connection (one per
      // phase of checks), as the SDK does with DynamoDB, instead of paying a connection per check.
      if (name === 'authenticate') expect(Number(printed.get('authenticate_uncached_connections_per_check'))).toBeLessThanOrEqual(0.5);
    });
  }

  it('prints every figure docs/capacity.md quotes', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'capacity.md'), 'utf8');
    // Smoke mode runs the cold start of authenticate only; every function prints the same figures.
    const functionPattern = new RegExp(`^coldstart_(${lambdaNames().join('|')})_`);
    const unprinted = placeholders(doc).filter((figure) => !everyPrinted.has(figure.replace(functionPattern, 'coldstart_authenticate_')));
    expect(unprinted).toEqual([]);
  });
});
