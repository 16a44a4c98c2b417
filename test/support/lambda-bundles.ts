// Builds every Lambda handler with the deployed bundle settings (lib/api/lambda-bundle.ts) and reports
// what each cold start loads. For the bundle-size test and the benchmarks (`npm run bench`).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleLambda, REPO_ROOT, type LambdaBundleReport } from '../../lib/api/lambda-bundle';

/** Every folder under lambdas/ with a handler.ts (the deployed functions). */
export function lambdaHandlerNames(): string[] {
  return fs
    .readdirSync(path.join(REPO_ROOT, 'lambdas'))
    .filter((name) => fs.existsSync(path.join(REPO_ROOT, 'lambdas', name, 'handler.ts')))
    .sort();
}

export interface BuiltBundle extends LambdaBundleReport {
  /** The handler module to import (`<dir>/index.mjs`). */
  readonly entryFile: string;
  readonly dir: string;
}

/** Builds each named handler (default: all) under `outRoot/<name>/`; a fresh temp dir when none is given. */
export function buildLambdaBundles(names: readonly string[] = lambdaHandlerNames(), outRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-daas-bundles-'))): BuiltBundle[] {
  return names.map((name) => {
    const dir = path.join(outRoot, name);
    fs.rmSync(dir, { recursive: true, force: true });
    const report = bundleLambda(name, dir);
    return { ...report, dir, entryFile: path.join(dir, 'index.mjs') };
  });
}

export const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

// `npx tsx test/support/lambda-bundles.ts [name…]`: prints each bundle's cold-start size.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const names = process.argv.slice(2);
  for (const bundle of buildLambdaBundles(names.length > 0 ? names : undefined)) {
    const top = bundle.coldStartPackages.slice(0, 6).map((p) => `${p.name} ${kib(p.bytes)}`).join(', ');
    console.log(`${bundle.handlerName}: cold start ${kib(bundle.coldStartBytes)} (AWS SDK inside), lazy ${kib(bundle.lazyBytes)}, source map ${bundle.sourceMap ? 'on' : 'off'} — ${top}`);
  }
}
