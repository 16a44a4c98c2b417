// esbuild settings of the two enclave programs, in one place: `npm run enclave:bundle` (for the
// image) and the CDK host-agent asset (lib/control-plane/host-agent-asset.ts) both call these.
import { buildSync, type BuildOptions } from 'esbuild';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..');

const COMMON: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  legalComments: 'none',
  // Some dependencies still `require()` Node built-ins; give the ESM bundle a require.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
};

/** The in-enclave supervisor; koffi (native) is shipped beside it in the image. */
export function bundleSupervisor(outfile = path.join(REPO_ROOT, 'enclave/dist/supervisor.mjs')): string {
  buildSync({ ...COMMON, entryPoints: [path.join(REPO_ROOT, 'enclave/src/supervisor/main.ts')], target: 'node24', external: ['koffi'], outfile });
  return outfile;
}

/** The parent-host agent; self-contained, runs on the master's Node.js 22. */
export function bundleHostAgent(outfile = path.join(REPO_ROOT, 'enclave/dist/host-agent.mjs')): string {
  buildSync({ ...COMMON, entryPoints: [path.join(REPO_ROOT, 'enclave/src/host-agent/main.ts')], target: 'node22', outfile });
  return outfile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const file of [bundleSupervisor(), bundleHostAgent()]) process.stdout.write(`bundled ${path.relative(REPO_ROOT, file)}\n`);
}
