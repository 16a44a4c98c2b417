// Puts the figures of an `npm run bench` run into docs/capacity.md: every `<<bench:name>> (value)` gets
// the value that run printed for `name` (the placeholder stays, so the next run can update it again).
//   npm run bench > bench.txt && npx tsx test/bench/capacity-figures.ts bench.txt
// Placeholders the run did not print are listed and left as they were (exit code 1).
import * as fs from 'node:fs';
import * as path from 'node:path';

const PLACEHOLDER = /<<bench:([a-z0-9_-]+)>>(?: \(([^)]*)\))?/g;

/** `name: value` lines of a bench run (comments and other output ignored). */
export function parseFigures(output: string): Map<string, string> {
  const figures = new Map<string, string>();
  for (const line of output.split('\n')) {
    const match = /^([a-z0-9_-]+): (\S.*)$/.exec(line.trim());
    if (match) figures.set(match[1], match[2]);
  }
  return figures;
}

/** The placeholder names a document quotes (the explanatory `<<bench:name>>` excluded). */
export function placeholders(doc: string): string[] {
  return [...new Set([...doc.matchAll(PLACEHOLDER)].map((m) => m[1]).filter((n) => n !== 'name'))];
}

export function fillFigures(doc: string, figures: ReadonlyMap<string, string>): { doc: string; missing: string[] } {
  const missing = new Set<string>();
  const filled = doc.replace(PLACEHOLDER, (whole, name: string) => {
    if (name === 'name') return whole;
    const value = figures.get(name);
    if (value === undefined) {
      missing.add(name);
      return whole;
    }
    return `<<bench:${name}>> (${value})`;
  });
  return { doc: filled, missing: [...missing] };
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const [input] = process.argv.slice(2);
  if (!input) {
    console.error('usage: tsx test/bench/capacity-figures.ts <output of npm run bench>');
    process.exit(2);
  }
  const docPath = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'docs', 'capacity.md');
  const { doc, missing } = fillFigures(fs.readFileSync(docPath, 'utf8'), parseFigures(fs.readFileSync(input, 'utf8')));
  fs.writeFileSync(docPath, doc);
  if (missing.length > 0) {
    console.error(`not in ${input}, left as they were: ${missing.join(', ')}`);
    process.exit(1);
  }
}
