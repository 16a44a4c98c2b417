// Runs the `k3s_daas` Move unit tests with the WASM build of the Sui compiler and test runner
// (@zktx.io/sui-move-builder) when no `sui` binary is available. The builder normally downloads
// `move-stdlib` and `sui-framework` from GitHub; here they come from a local Sui checkout
// (SUI_FRAMEWORK_DIR, the directory holding `crates/sui-framework/packages/…`) so it runs offline.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { initMovePackageBuilder, MovePackageFetcher, testMovePackage } from '@zktx.io/sui-move-builder/full';

const PACKAGE_FILE = /(^Move\.(toml|lock)$|^Published\.toml$|\.move$)/;

async function snapshot(root: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        // Build output and scripts are not package sources; including `build/` duplicates modules.
        if (['build', 'scripts', 'node_modules', '.git'].includes(entry.name)) continue;
        await walk(path);
      } else if (PACKAGE_FILE.test(entry.name)) {
        files[relative(root, path)] = await readFile(path, 'utf8');
      }
    }
  }
  await walk(root);
  return files;
}

/** Serves the builder's git requests for the Sui repository from the local framework checkout. */
class LocalSuiFetcher extends MovePackageFetcher {
  constructor(private readonly suiRoot: string) {
    super();
  }

  private path(gitUrl: string, sub: string): string {
    if (!/github\.com\/MystenLabs\/sui(\.git)?$/i.test(gitUrl)) {
      throw new Error(`offline run: no local copy of ${gitUrl}; only the Sui framework is available`);
    }
    const full = resolve(this.suiRoot, sub);
    if (!full.startsWith(this.suiRoot)) throw new Error(`path ${sub} escapes ${this.suiRoot}`);
    return full;
  }

  override async fetch(gitUrl: string, _rev: string, subdir?: string): Promise<Record<string, string>> {
    return snapshot(this.path(gitUrl, subdir ?? '.'));
  }

  override async fetchFile(gitUrl: string, _rev: string, path: string): Promise<string | null> {
    try {
      return await readFile(this.path(gitUrl, path), 'utf8');
    } catch {
      return null;
    }
  }

  override getResolvedSha(_gitUrl: string, rev: string): string | undefined {
    return rev;
  }
}

async function main(): Promise<number> {
  const [packageDir = 'contracts'] = process.argv.slice(2);
  const frameworkDir = process.env.SUI_FRAMEWORK_DIR;
  if (!frameworkDir) {
    console.error('test-move: SUI_FRAMEWORK_DIR is not set (a Sui checkout with crates/sui-framework/packages/{move-stdlib,sui-framework})');
    return 2;
  }
  const suiRoot = resolve(frameworkDir);
  for (const pkg of ['move-stdlib', 'sui-framework']) {
    const dir = join(suiRoot, 'crates/sui-framework/packages', pkg);
    if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
      console.error(`test-move: ${dir} not found; SUI_FRAMEWORK_DIR must point at a Sui repository checkout`);
      return 2;
    }
  }
  await initMovePackageBuilder();
  const result = await testMovePackage({
    files: await snapshot(resolve(packageDir)),
    network: 'testnet',
    fetcher: new LocalSuiFetcher(suiRoot),
    ansiColor: process.stdout.isTTY === true,
  });
  if ('error' in result) {
    console.error(`test-move: ${result.category} failed:\n${result.error}`);
    return 1;
  }
  process.stdout.write(result.output.endsWith('\n') ? result.output : `${result.output}\n`);
  // The runner's verdict is the `passed` flag; also check the summary so a silent runner cannot pass.
  // eslint-disable-next-line no-control-regex
  const plain = result.output.replace(/\x1b\[[0-9;]*m/g, '');
  if (!result.passed || !/Test result: OK\./.test(plain)) {
    console.error('test-move: Move unit tests FAILED');
    return 1;
  }
  if (/Total tests: 0;/.test(plain)) {
    console.error('test-move: the runner found no Move unit tests');
    return 1;
  }
  return 0;
}

process.exitCode = await main();
