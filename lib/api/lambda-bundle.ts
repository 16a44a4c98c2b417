// How every Lambda handler is bundled: one esbuild call shared by the CDK functions (DomainFunction),
// the bundle-size test and the benchmarks, so what is measured is what is deployed.
//
// - The AWS SDK is bundled from its tree-shaken ESM build (`dist-es`) instead of loading the runtime's
//   copy, whose CommonJS packages bring every command of a client (all of EC2's) at cold start.
// - Code splitting: code reached only through `import()` (the zkLogin gRPC client, the indexer's Auto
//   Scaling and Secrets Manager clients) goes to chunks that load when first used, never on a cold
//   start. A lazy chunk still costs cold-start bytes when it shares a barrel module with the entry
//   (esbuild then places what the lazy side uses through that barrel in a chunk the entry imports), so
//   lazy SDK clients are few.
// - The SDK's default credential chain is narrowed to the environment, the only source Lambda offers
//   (lambdas/shared/runtime/lambda-credentials.ts): its SSO / INI / process / web-identity / metadata
//   links are not in any bundle.
// - `node:http` is aliased to a require() of it (lambdas/shared/runtime/node-http.ts): see there why.
// - `yaml` resolves to the package's own ES-module build (same version, same source): its Node build is
//   CommonJS, which esbuild cannot tree-shake, so a function that only stringifies loaded the parser too
//   (112 -> 48 KiB in kubeconfig). The bundle test renders the same bytes through both builds.
// - Source maps only where a readable stack trace is worth their cold-start cost (`--enable-source-maps`
//   parses the map when the module loads): not on the token-check path every kubectl call waits on.
import { buildSync, type BuildOptions, type Metafile } from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const REPO_ROOT = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..');

const NODE_HTTP_SHIM = path.join(REPO_ROOT, 'lambdas', 'shared', 'runtime', 'node-http.ts');
/** The credential chain of a Lambda function: its environment only (see there why). */
const LAMBDA_CREDENTIALS = path.join(REPO_ROOT, 'lambdas', 'shared', 'runtime', 'lambda-credentials.ts');
/** The yaml package's ES-module build; its `default` export condition, the one not for Node. */
const YAML_ESM = path.join(REPO_ROOT, 'node_modules', 'yaml', 'browser', 'index.js');

/** esbuild settings of every function. */
export const LAMBDA_BUNDLE = {
  format: 'esm',
  target: 'node24',
  mainFields: ['module', 'main'],
  minify: true,
  // ESM output still meets CommonJS dependencies (AWS SDK internals) that call require().
  banner: "import { createRequire as __k3sDaasCreateRequire } from 'node:module'; const require = __k3sDaasCreateRequire(import.meta.url);",
  // Nothing is left to the runtime: the bundle is all the code the function runs (SDK included).
  external: [] as string[],
  alias: { 'node:http': NODE_HTTP_SHIM, http: NODE_HTTP_SHIM, '@aws-sdk/credential-provider-node': LAMBDA_CREDENTIALS, yaml: YAML_ESM },
  splitting: true,
} as const;

/** Functions whose cold start a user waits on at every scale-out: they ship without source maps. */
export const NO_SOURCE_MAP_FUNCTIONS: ReadonlySet<string> = new Set(['authenticate', 'tokens-validate']);

/** The handler module inside the bundle (`index.handler` in the Lambda configuration). */
export const BUNDLE_ENTRY_FILE = 'index.mjs';

export function sourceMapsFor(handlerName: string): boolean {
  return !NO_SOURCE_MAP_FUNCTIONS.has(handlerName);
}

export interface LambdaBundleReport {
  readonly handlerName: string;
  /** Bytes of JavaScript a cold start loads: the entry file and every chunk it imports statically. */
  readonly coldStartBytes: number;
  /** Bytes in chunks loaded only through `import()` on the paths that need them. */
  readonly lazyBytes: number;
  /** The AWS SDK is part of these bytes (always: nothing is external). */
  readonly sdkInside: true;
  readonly sourceMap: boolean;
  /** Packages by their bytes in the cold-start set, largest first (for reports). */
  readonly coldStartPackages: ReadonlyArray<{ readonly name: string; readonly bytes: number }>;
  /** Input files (repo-relative) that end up in the cold-start set. */
  readonly coldStartInputs: readonly string[];
  /** Input files found only in lazy chunks. */
  readonly lazyInputs: readonly string[];
}

export function bundleOptions(handlerName: string, outDir: string): BuildOptions {
  const entry = path.join(REPO_ROOT, 'lambdas', handlerName, 'handler.ts');
  if (!fs.existsSync(entry)) throw new Error(`no handler at lambdas/${handlerName}/handler.ts`);
  return {
    entryPoints: { index: entry },
    absWorkingDir: REPO_ROOT,
    bundle: true,
    platform: 'node',
    format: LAMBDA_BUNDLE.format,
    target: LAMBDA_BUNDLE.target,
    mainFields: [...LAMBDA_BUNDLE.mainFields],
    minify: LAMBDA_BUNDLE.minify,
    banner: { js: LAMBDA_BUNDLE.banner },
    external: [...LAMBDA_BUNDLE.external],
    alias: { ...LAMBDA_BUNDLE.alias },
    splitting: LAMBDA_BUNDLE.splitting,
    sourcemap: sourceMapsFor(handlerName),
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    metafile: true,
    logLevel: 'warning',
  };
}

/** Builds `lambdas/<handlerName>/handler.ts` into `outDir` (entry `index.mjs`) exactly as deployed. */
export function bundleLambda(handlerName: string, outDir: string): LambdaBundleReport {
  const result = buildSync(bundleOptions(handlerName, outDir));
  if (result.errors.length > 0) throw new Error(`bundling ${handlerName} failed: ${result.errors.map((e) => e.text).join('; ')}`);
  if (!result.metafile) throw new Error(`bundling ${handlerName} produced no metafile`);
  return bundleReport(handlerName, result.metafile, outDir);
}

function packageOf(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return match ? match[1] : '(project)';
}

export function bundleReport(handlerName: string, metafile: Metafile, outDir: string): LambdaBundleReport {
  const outputs = metafile.outputs;
  const relativeOut = path.relative(REPO_ROOT, outDir);
  const entryKey = Object.keys(outputs).find((key) => key === path.join(relativeOut, BUNDLE_ENTRY_FILE) || key.endsWith(`/${BUNDLE_ENTRY_FILE}`));
  if (!entryKey) throw new Error(`bundle of ${handlerName} has no ${BUNDLE_ENTRY_FILE}`);
  const eager = new Set<string>();
  const visit = (key: string) => {
    if (eager.has(key)) return;
    eager.add(key);
    for (const imported of outputs[key].imports) {
      if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
    }
  };
  visit(entryKey);
  let coldStartBytes = 0;
  let lazyBytes = 0;
  const packages = new Map<string, number>();
  const inputs = new Set<string>();
  const lazyInputs = new Set<string>();
  for (const [key, output] of Object.entries(outputs)) {
    if (key.endsWith('.map')) continue;
    if (!eager.has(key)) {
      lazyBytes += output.bytes;
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) if (bytesInOutput > 0) lazyInputs.add(input);
      continue;
    }
    coldStartBytes += output.bytes;
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      if (bytesInOutput === 0) continue;
      inputs.add(input);
      packages.set(packageOf(input), (packages.get(packageOf(input)) ?? 0) + bytesInOutput);
    }
  }
  return {
    handlerName,
    coldStartBytes,
    lazyBytes,
    sdkInside: true,
    sourceMap: sourceMapsFor(handlerName),
    coldStartPackages: [...packages].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes),
    coldStartInputs: [...inputs].sort(),
    lazyInputs: [...lazyInputs].filter((input) => !inputs.has(input)).sort(),
  };
}
