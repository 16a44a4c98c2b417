// `k3s-daas completion bash|zsh`: the generated scripts run in the real shells and complete commands,
// subcommands, options (after values of other options), `--role` choices and file arguments.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../cli/program';
import { makeHarness } from './sui-cli-harness';
import { SKIP_MARK, TOOL_ENV } from '../support/test-tools';

async function script(shell: string): Promise<{ code: number; out: string; err: string }> {
  const h = await makeHarness();
  const code = await runCli(['completion', shell], h.ctx);
  return { code, out: h.stdout(), err: h.stderr() };
}

// bash is the machine's; zsh is the machine's or the one the Jest global setup unpacked (test-tools.ts).
const ZSH = process.env[TOOL_ENV.zsh] ?? 'zsh';
const ZSH_MODULES = process.env[TOOL_ENV.zshModules];
const binaryOf = (shell: string) => (shell === 'zsh' ? ZSH : shell);
const hasShell = (shell: string) => spawnSync(binaryOf(shell), ['-c', 'exit 0']).status === 0;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k3s-daas-completion-'));
  await writeFile(join(dir, 'att.b64'), 'x');
  await writeFile(join(dir, 'bash.sh'), (await script('bash')).out);
  await writeFile(join(dir, 'zsh.zsh'), (await script('zsh')).out);
});

/** What Tab offers after `line` (the last word is the one being completed). */
type Complete = (line: string) => string[];

const bashComplete: Complete = (line) => {
  const words = line.split(' ');
  const program = `source ./bash.sh
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=()
_k3s_daas
printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['--noprofile', '--norc', '-c', program], { cwd: dir, encoding: 'utf8' }).split('\n').filter(Boolean).sort();
};

// zsh's completion system is stood in for by functions that print what they are given, so the generated
// function's own logic (word walking, cases, what it offers) runs in real zsh.
const zshComplete: Complete = (line) => {
  const words = line.split(' ');
  const program = `${ZSH_MODULES ? `module_path=(${JSON.stringify(ZSH_MODULES)})\n` : ''}_describe() { local arr=$4; print -l -- \${\${(P)arr}%%:*} }
compadd() { [[ $1 == -- ]] && shift; print -l -- "$@" }
_files() { print -l -- *(N) }
compdef() { : }
source ./zsh.zsh
words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; PREFIX='${words.at(-1)}'
_k3s-daas | grep -- "^$PREFIX" || true`;
  return execFileSync(ZSH, ['-f', '-c', program], { cwd: dir, encoding: 'utf8' }).split('\n').filter(Boolean).sort();
};

const SHELLS: [string, Complete][] = [['bash', bashComplete], ['zsh', zshComplete]];

describe.each(SHELLS)('%s completion', (shell, complete) => {
  const available = hasShell(shell);
  // Without the shell there is nothing to run the script in; say so instead of passing silently.
  const test = available ? it : it.skip;
  const reason = (shell === 'zsh' && process.env[TOOL_ENV.zshSkip]) || `${shell} is not installed`;
  const note = available ? '' : ` (${SKIP_MARK}${reason})`;

  it(`prints a script and exits 0${note}`, async () => {
    const { code, out, err } = await script(shell);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toContain(shell === 'bash' ? 'complete -o default -F _k3s_daas k3s-daas' : '#compdef k3s-daas');
  });

  test(`is valid ${shell} syntax${note}`, () => {
    expect(spawnSync(binaryOf(shell), ['-n', join(dir, shell === 'bash' ? 'bash.sh' : 'zsh.zsh')]).status).toBe(0);
  });

  test(`completes the top-level commands${note}`, () => {
    expect(complete('k3s-daas ')).toEqual(['attestation', 'completion', 'credential', 'help', 'kubeconfig', 'node', 'stake', 'token', 'unstake']);
    expect(complete('k3s-daas tok')).toEqual(['token']);
  });

  test(`completes subcommands and argument choices${note}`, () => {
    expect(complete('k3s-daas token ')).toEqual(['issue', 'list', 'revoke']);
    expect(complete('k3s-daas completion ')).toEqual(['bash', 'zsh']);
  });

  test(`completes a command's options, skipping the values of earlier ones${note}`, () => {
    expect(complete('k3s-daas token issue --network testnet --t')).toEqual(['--timeout', '--ttl']);
    expect(complete('k3s-daas stake 1 --ro')).toEqual(['--role']);
    expect(complete('k3s-daas kubeconfig --')).toEqual(
      ['--address', '--api', '--cluster', '--force', '--help', '--json', '--output', '--pcrs', '--root', '--settings-sha256', '--timeout', '--token', '--trust-first-use'],
    );
  });

  test(`completes --role choices and file arguments${note}`, () => {
    expect(complete('k3s-daas stake 1 --role ')).toEqual(['admin', 'node', 'user']);
    expect(complete('k3s-daas attestation verify --document at')).toEqual(['att.b64']);
    // A free-form value gets no suggestions rather than commands.
    expect(complete('k3s-daas token issue --stake ')).toEqual([]);
  });
});

it('rejects an unknown shell as a usage error', async () => {
  const { code, out, err } = await script('fish');
  expect({ code, out }).toEqual({ code: 2, out: '' });
  expect(err).toBe("k3s-daas: command-argument value 'fish' is invalid for argument 'shell'. Allowed choices are bash, zsh. (see: k3s-daas help completion)\n");
});
