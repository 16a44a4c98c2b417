// What every command shares: --version, `help <command…>`, examples in every help, one error style for
// commander's usage errors too, JSON errors under --json, and one exit code per class of failure.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { normalizeSuiAddress } from '@mysten/sui/utils';
import { classifyAs, CliError, ERROR_KIND, ExitCode, NetworkError, UsageError } from '../../cli/errors';
import { buildProgram, runCli } from '../../cli/program';
import { FakeSuiNode } from './fake-sui-node';
import { closedPort, makeHarness } from './sui-cli-harness';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const PKG = normalizeSuiAddress('0x' + 'a1'.repeat(32));
const POOL = normalizeSuiAddress('0x' + 'b2'.repeat(32));
const STAKE = normalizeSuiAddress('0x' + 'd4'.repeat(32));

async function run(argv: string[], env: NodeJS.ProcessEnv = {}, extra: Parameters<typeof makeHarness>[1] = {}) {
  const h = await makeHarness(env, extra);
  const code = await runCli(argv, h.ctx);
  return { code, out: h.stdout(), err: h.stderr() };
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

describe('--version and help', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) expect(await run([flag])).toEqual({ code: 0, out: `${version}\n`, err: '' });
  });

  it('help <command> <subcommand> shows that command’s help, on stdout, exit 0', async () => {
    const { code, out, err } = await run(['help', 'token', 'issue']);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(/^Usage: k3s-daas token issue \[options\]/);
    expect(out).toContain('--stake <stake-id>');
    expect((await run(['token', 'issue', '--help'])).out).toBe(out);
  });

  it('help with no command shows the program help with the exit-code table', async () => {
    const { code, out } = await run(['help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: k3s-daas \[options\] \[command\]/);
    for (const line of ['0  success', '1  other failure', '2  usage', '3  configuration', '4  network', '5  refused', '6  verification failure']) expect(out).toContain(`\n  ${line}`);
  });

  it('help for an unknown command is a usage error in the CLI style', async () => {
    expect(await run(['help', 'token', 'mint'])).toEqual({ code: 2, out: '', err: "k3s-daas: unknown command 'token mint' (commands: issue, revoke, list)\n" });
  });

  it('every command’s help has examples', async () => {
    const { ctx } = await makeHarness();
    const program = buildProgram(ctx);
    const commands = allCommands(program);
    expect(commands.length).toBeGreaterThan(10);
    for (const command of commands) {
      let help = '';
      command.configureOutput({ writeOut: (t) => { help += t; } });
      command.outputHelp();
      expect({ command: command.name(), hasExamples: /\nExamples:\n {2}\$ k3s-daas|\nExamples:\n {2}\$ (source|kubectl)/.test(help) }).toEqual({ command: command.name(), hasExamples: true });
    }
  });
});

describe('usage errors (commander’s own included)', () => {
  it.each([
    [['stake', '1', '--bogus'], "unknown option '--bogus' (see: k3s-daas help stake)"],
    [['token', 'issue'], "required option '--stake <stake-id>' not specified (see: k3s-daas help token issue)"],
    [['stake'], "missing required argument 'amount' (see: k3s-daas help stake)"],
    [['frobnicate'], "unknown command 'frobnicate' (see: k3s-daas help)"],
    [['stake', '1', '--role', 'king'], "option '--role <role>' argument 'king' is invalid. Allowed choices are user, node, admin. (see: k3s-daas help stake)"],
  ])('%j → exit 2 and one k3s-daas line', async (argv, message) => {
    expect(await run(argv)).toEqual({ code: 2, out: '', err: `k3s-daas: ${message}\n` });
  });

  it('a group without its subcommand shows the group help and one error line', async () => {
    const { code, out, err } = await run(['token']);
    expect({ code, out }).toEqual({ code: 2, out: '' });
    expect(err).toMatch(/^Usage: k3s-daas token \[options\] \[command\]/);
    expect(err.endsWith("k3s-daas: 'token' needs a subcommand (see: k3s-daas help token)\n")).toBe(true);
  });

  it('with --json a usage error is JSON, and nothing else reaches stderr', async () => {
    expect(JSON.parse((await run(['token', 'list', '--bogus', '--json'])).err)).toEqual({
      error: { kind: 'usage', exitCode: 2, message: "unknown option '--bogus' (see: k3s-daas help token list)" },
    });
    const group = await run(['token', '--json']);
    expect(group.code).toBe(2);
    expect(JSON.parse(group.err)).toMatchObject({ error: { kind: 'usage', exitCode: 2 } });
  });
});

describe('exit codes: one per class of failure, as text and as JSON', () => {
  const key = new Ed25519Keypair();
  const ids = { K3S_DAAS_PACKAGE_ID: PKG, K3S_DAAS_STAKING_POOL_ID: POOL };

  /** One scenario per exit code; each runs with and without --json. */
  const scenarios: { code: number; name: string; start: () => Promise<{ argv: string[]; env?: NodeJS.ProcessEnv; extra?: Parameters<typeof makeHarness>[1] }>; message: RegExp }[] = [
    { code: ExitCode.Failure, name: 'failure: a document file that cannot be read', start: async () => ({ argv: ['attestation', 'verify', '--document', '/nonexistent/att.b64'] }), message: /^cannot read document \/nonexistent\/att\.b64: ENOENT$/ },
    { code: ExitCode.Usage, name: 'usage: a malformed amount', start: async () => ({ argv: ['stake', '1.2.3'] }), message: /^amount "1\.2\.3" is not a SUI amount/ },
    { code: ExitCode.Config, name: 'config: no Sui key anywhere', start: async () => ({ argv: ['stake', '1'], env: ids }), message: /^no Sui key: set SUI_PRIVATE_KEY/ },
    {
      code: ExitCode.Network, name: 'network: the Sui node refuses connections',
      start: async () => ({ argv: ['token', 'list', '--grpc-url', `http://127.0.0.1:${await closedPort()}`], env: { ...ids, SUI_PRIVATE_KEY: key.getSecretKey() }, extra: { fetch: globalThis.fetch } }),
      message: /^cannot reach the Sui gRPC endpoint http:\/\/127\.0\.0\.1:\d+: connection refused \(ECONNREFUSED\)$/,
    },
    {
      code: ExitCode.Refused, name: 'refused: the contract aborts the transaction',
      start: async () => {
        const node = new FakeSuiNode(PKG);
        node.addObject(POOL, { kind: 'shared', version: 5n });
        node.addObject(STAKE, { kind: 'owned', version: 8n });
        node.abort = { module: 'staking', code: 8 };
        return { argv: ['unstake', STAKE, '--withdraw'], env: { ...ids, SUI_PRIVATE_KEY: key.getSecretKey() }, extra: { suiClient: node.client } };
      },
      message: /^transaction aborted: staking::ELockupNotOver/,
    },
    {
      code: ExitCode.Verification, name: 'verification: a document that is not an attestation',
      start: async () => {
        const { writeFile, mkdtemp } = await import('node:fs/promises');
        const { tmpdir } = await import('node:os');
        const file = join(await mkdtemp(join(tmpdir(), 'k3s-daas-exit-')), 'junk.b64');
        await writeFile(file, Buffer.from([0xff, 0, 0x13, 0x37]).toString('base64'));
        return { argv: ['attestation', 'verify', '--document', file] };
      },
      message: /^attestation rejected: malformed: /,
    },
  ];

  it('covers every exit code but 0 (success is covered by every command test)', () => {
    expect(scenarios.map((s) => s.code).sort()).toEqual(Object.values(ExitCode).filter((c) => c !== 0).sort());
  });

  it.each(scenarios.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
    const text = await scenario.start();
    const plain = await run(text.argv, text.env, text.extra);
    expect({ code: plain.code, out: plain.out }).toEqual({ code: scenario.code, out: '' });
    expect(plain.err).toMatch(/^k3s-daas: [^\n]+\n$/);
    expect(plain.err.slice('k3s-daas: '.length, -1)).toMatch(scenario.message);

    const again = await scenario.start();
    const json = await run([...again.argv, '--json'], again.env, again.extra);
    expect({ code: json.code, out: json.out }).toEqual({ code: scenario.code, out: '' });
    const { error } = JSON.parse(json.err) as { error: { kind: string; exitCode: number; message: string } };
    expect(error).toMatchObject({ kind: ERROR_KIND[scenario.code as keyof typeof ERROR_KIND], exitCode: scenario.code });
    expect(error.message).toMatch(scenario.message);
  });

  it('an unexpected error is exit 1 in one line, never a stack trace', async () => {
    const { code, err } = await run(['token', 'list', '--address', '0x1'], ids, {
      suiClient: () => {
        throw new TypeError('boom');
      },
    });
    expect(code).toBe(1);
    expect(err).toBe('k3s-daas: unexpected error: boom\n');
  });

  it('classifyAs gives unclassified failures a class and leaves classified ones alone', () => {
    expect(classifyAs(new Error('bad bytes'), ExitCode.Verification)).toMatchObject({ exitCode: 6, message: 'bad bytes' });
    expect(classifyAs(new CliError('generic'), ExitCode.Refused)).toMatchObject({ exitCode: 5, message: 'generic' });
    const usage = new UsageError('--x is bad');
    expect(classifyAs(usage, ExitCode.Verification)).toBe(usage);
    const network = new NetworkError('down', 'dns');
    expect(classifyAs(network, ExitCode.Refused)).toBe(network);
    expect(classifyAs('a string', ExitCode.Refused)).toBe('a string');
  });
});
