// The `k3s-daas` command tree (DESIGN §9). Each command group registers itself from its own module;
// this file owns what they share: --version, `help <command…>`, the one error style (commander's own
// usage errors included), JSON errors under --json, and the exit codes of cli/errors.ts.
import { Command, CommanderError } from 'commander';
import { register as registerAttestation } from './commands/attestation';
import { register as registerCredential } from './commands/credential';
import { register as registerKubeconfig } from './commands/kubeconfig';
import { register as registerNode } from './commands/node';
import { register as registerStake } from './commands/stake';
import { register as registerToken } from './commands/token';
import { register as registerCompletion } from './completion';
import type { CliContext } from './context';
import { CliError, ExitCode, UsageError } from './errors';
import { addHelpCommand, examples } from './help';
import { reportError } from './output';
import { VERSION } from './version';

type Registrar = (program: Command, ctx: CliContext) => void;

/** Command groups, in help order. Each module exports a `register(program, ctx)`. */
const REGISTRARS: Registrar[] = [registerStake, registerToken, registerCredential, registerKubeconfig, registerNode, registerAttestation, registerCompletion];

const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  other failure (a local file, an unexpected error)
  2  usage: unknown command or option, missing or malformed argument
  3  configuration: no Sui key, unreadable keystore or client.yaml, unknown network, missing package id
  4  network: endpoint refused, DNS, TLS, timeout or reset (the message names which)
  5  refused by the server or the chain: an HTTP error answer, a Move abort, insufficient balance
  6  verification failure: attestation, KMS signature, PCRs or CA do not check out
`;

export function buildProgram(ctx: CliContext, options: { json?: boolean } = {}): Command {
  const program = new Command('k3s-daas')
    .description('K3s-DaaS: stake SUI for seal tokens, use them with kubectl, verify the enclave that runs the cluster')
    .version(VERSION, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .exitOverride()
    // Commander's own messages ("error: unknown option …") are printed by runCli in the CLI's style.
    // Under --json nothing but the JSON error reaches stderr, so commander's help-on-error is dropped too.
    .configureOutput({ writeOut: ctx.out, writeErr: options.json ? () => undefined : ctx.err, outputError: () => undefined })
    .addHelpText(
      'after',
      examples(['k3s-daas stake 0.5', 'k3s-daas token issue --stake 0x5e1… --cluster prod-eu', 'k3s-daas help kubeconfig', 'sudo k3s-daas node join --api https://api.example.com/prod --trust-first-use', 'source <(k3s-daas completion bash)']) +
        EXIT_CODES_HELP,
    );
  for (const register of REGISTRARS) register(program, ctx);
  addHelpCommand(program);
  return program;
}

/** `--json` anywhere before a `--` asks for JSON errors, even when the arguments themselves do not parse. */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** Commander's "error: unknown option '--x'" → a UsageError in the CLI's words, pointing at the help. */
function usageFromCommander(error: CommanderError, argv: readonly string[], program: Command): UsageError {
  const message = error.message.replace(/^error: /, '').split('\n')[0];
  const words: string[] = [];
  let command = program;
  for (const arg of argv) {
    const next = command.commands.find((c) => c.name() === arg);
    if (!next) break;
    words.push(arg);
    command = next;
  }
  const hint = `see: k3s-daas help${words.length ? ` ${words.join(' ')}` : ''}`;
  return new UsageError(message === '(outputHelp)' ? `${words.length ? `'${words.join(' ')}' needs a subcommand` : 'no command given'} (${hint})` : `${message} (${hint})`);
}

/** Runs the CLI and returns the exit code; never lets a stack trace reach the user. */
export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  const json = wantsJson(argv);
  const program = buildProgram(ctx, { json });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0 (commander printed them); everything else it raises is a usage error.
      if (error.exitCode === 0) return ExitCode.Ok;
      // A group run without its subcommand gets its help (on stderr, from commander) and then this line.
      reportError(ctx, usageFromCommander(error, argv, program), json);
      return ExitCode.Usage;
    }
    if (error instanceof CliError) {
      reportError(ctx, error, json);
      return error.exitCode;
    }
    reportError(ctx, new CliError(`unexpected error: ${error instanceof Error ? error.message : String(error)}`), json);
    return ExitCode.Failure;
  }
}
