// `npm run bench [-- <name>…] [--smoke]`: runs every test/bench/*.bench.ts (or those whose file name
// contains one of the names) in turn. Each prints `name: value` lines, costs as ratios against a baseline
// measured in the same run; nothing here passes or fails on a speed. `--smoke` runs a few iterations of
// each (test/bench/bench-smoke.test.ts uses it so the harness cannot rot); its figures mean nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchOptions } from './measure';

const here = path.dirname(new URL(import.meta.url).pathname);
const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const names = args.filter((a) => a !== '--smoke');
const files = fs
  .readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts') && (names.length === 0 || names.some((n) => f.includes(n))))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${names.join(', ')}; there are: ${fs.readdirSync(here).filter((f) => f.endsWith('.bench.ts')).join(', ')}`);
  process.exit(1);
}
for (const file of files) {
  console.log(`# ${file}`);
  const started = Date.now();
  const mod = (await import(path.join(here, file))) as { run: (options: BenchOptions) => Promise<void> };
  await mod.run({ smoke });
  console.log(`# ${file} took ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
