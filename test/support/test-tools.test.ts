// ensureZsh's paths without the network or the machine's zsh: PATH holds only a stand-in apt-get (which
// "downloads" a package built here with the real dpkg-deb) and the real dpkg-deb and tar, and the cache
// is a temporary directory. What apt-get itself does is Debian's; what is ours is covered here: the
// refusals with their reasons, the unpacking, the module path and the reuse of the cached copy.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureZsh } from './test-tools';

const hasDpkgDeb = (() => {
  try {
    execFileSync('dpkg-deb', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let root: string;
let saved: { PATH?: string; XDG_CACHE_HOME?: string };

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-daas-ensure-zsh-'));
  saved = { PATH: process.env.PATH, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
});

afterEach(() => {
  process.env.PATH = saved.PATH;
  if (saved.XDG_CACHE_HOME === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = saved.XDG_CACHE_HOME;
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A fresh case: its own cache and a PATH of exactly the named real tools plus the stand-ins given. */
function scene(name: string, standIns: Record<string, string>, realTools: readonly string[] = []): { bin: string; cache: string } {
  const bin = path.join(root, name, 'bin');
  const cache = path.join(root, name, 'cache');
  fs.mkdirSync(bin, { recursive: true });
  for (const tool of realTools) fs.symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), path.join(bin, tool));
  for (const [tool, script] of Object.entries(standIns)) fs.writeFileSync(path.join(bin, tool), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  process.env.PATH = bin;
  process.env.XDG_CACHE_HOME = cache;
  return { bin, cache };
}

/** A .deb named like Debian's, holding `bin/zsh` (a shell script exiting with `zshExit`) and a module. */
function buildDeb(name: string, zshExit: number): string {
  const tree = path.join(root, `${name}-tree`);
  fs.mkdirSync(path.join(tree, 'DEBIAN'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'DEBIAN', 'control'), 'Package: zsh\nVersion: 5.9-test\nArchitecture: all\nMaintainer: test <test@example.invalid>\nDescription: stand-in\n');
  fs.mkdirSync(path.join(tree, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'bin', 'zsh'), `#!/bin/sh\nexit ${zshExit}\n`, { mode: 0o755 });
  const modules = path.join(tree, 'usr', 'lib', 'x86_64-linux-gnu', 'zsh', '5.9', 'zsh');
  fs.mkdirSync(modules, { recursive: true });
  fs.writeFileSync(path.join(modules, 'parameter.so'), '');
  const deb = path.join(root, `zsh_5.9-test_${name}.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-b', tree, deb], { stdio: 'ignore' });
  return deb;
}

/** An apt-get that answers --version and, for `download zsh`, copies `deb` into its working directory and logs the call. */
function aptGetServing(deb: string, log: string): string {
  return `case "$1" in
  --version) echo 'apt 2.6.1 (stand-in)'; exit 0 ;;
  download) echo download >> '${log}'; /bin/cp '${deb}' . ;;
  *) exit 100 ;;
esac`;
}

describe('ensureZsh without the machine\'s zsh', () => {
  it('says there is no apt-get when neither zsh nor apt-get can be found', async () => {
    scene('no-apt', {});
    expect(await ensureZsh()).toEqual({ ok: false, reason: 'zsh is not installed and there is no apt-get to fetch and unpack Debian\'s zsh package' });
  });

  (hasDpkgDeb ? it : it.skip)('reports apt-get\'s own last line when the download fails, and caches nothing', async () => {
    const { cache } = scene('apt-fails', {
      'apt-get': `[ "$1" = --version ] && exit 0; echo 'E: Unable to locate package zsh' >&2; exit 100`,
    }, ['dpkg-deb']);
    expect(await ensureZsh()).toEqual({ ok: false, reason: 'apt-get download zsh failed: E: Unable to locate package zsh' });
    expect(fs.readdirSync(path.join(cache, 'k3s-daas'))).toEqual([]);
  });

  (hasDpkgDeb ? it : it.skip)('unpacks the package into the cache, finds its modules, and reuses it without fetching again', async () => {
    const log = path.join(root, 'fetches.log');
    const deb = buildDeb('good', 0);
    const { cache } = scene('unpacks', { 'apt-get': aptGetServing(deb, log) }, ['dpkg-deb', 'tar']);
    const dir = path.join(cache, 'k3s-daas', 'zsh-debian');
    const expected = { ok: true, path: path.join(dir, 'bin', 'zsh'), modulePath: path.join(dir, 'usr', 'lib', 'x86_64-linux-gnu', 'zsh', '5.9') };
    expect(await ensureZsh()).toEqual(expected);
    expect(fs.readFileSync(path.join(dir, '.complete'), 'utf8')).toBe(`${path.basename(deb)}\n`);
    expect(fs.existsSync(path.join(dir, path.basename(deb)))).toBe(false); // the package itself is not kept
    expect(await ensureZsh()).toEqual(expected);
    expect(fs.readFileSync(log, 'utf8')).toBe('download\n');
    // Only the finished copy is left: no scratch directories.
    expect(fs.readdirSync(path.join(cache, 'k3s-daas'))).toEqual(['zsh-debian']);
  });

  (hasDpkgDeb ? it : it.skip)('fetches again when the cached copy no longer runs (the machine changed)', async () => {
    const log = path.join(root, 'stale.log');
    const deb = buildDeb('fresh', 0);
    const { cache } = scene('stale', { 'apt-get': aptGetServing(deb, log) }, ['dpkg-deb', 'tar']);
    const dir = path.join(cache, 'k3s-daas', 'zsh-debian');
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'bin', 'zsh'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    fs.writeFileSync(path.join(dir, '.complete'), 'zsh_old.deb\n');
    expect(await ensureZsh()).toMatchObject({ ok: true, path: path.join(dir, 'bin', 'zsh') });
    expect(fs.readFileSync(log, 'utf8')).toBe('download\n');
    expect(fs.readFileSync(path.join(dir, '.complete'), 'utf8')).toBe(`${path.basename(deb)}\n`);
  });

  (hasDpkgDeb ? it : it.skip)('refuses a package whose zsh does not run, and keeps no copy of it', async () => {
    const deb = buildDeb('broken', 1);
    const { cache } = scene('broken', { 'apt-get': aptGetServing(deb, path.join(root, 'broken.log')) }, ['dpkg-deb', 'tar']);
    expect(await ensureZsh()).toEqual({ ok: false, reason: `the zsh of ${path.basename(deb)} does not run on this machine` });
    expect(fs.readdirSync(path.join(cache, 'k3s-daas'))).toEqual([]);
  });
});
