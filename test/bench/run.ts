// `npm run bench`: runs every test/bench/*.bench.ts in turn. Each prints `name: value` lines, with
// ratios against a baseline measured in the same run (never absolute numbers checked by unit tests).
import * as fs from 'node:fs';
import * as path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const only = process.argv[2];
const files = fs
  .readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts') && (!only || f.includes(only)))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${only ?? '*'}`);
  process.exit(1);
}
for (const file of files) {
  console.log(`# ${file}`);
  const mod = (await import(path.join(here, file))) as { run: () => Promise<void> };
  await mod.run();
}
