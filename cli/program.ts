// The `k3s-daas` command tree (DESIGN §9). Each command group registers itself from its own module.
import { Command, CommanderError } from 'commander';
import { register as registerAttestation } from './commands/attestation';
import { register as registerCredential } from './commands/credential';
import { register as registerKubeconfig } from './commands/kubeconfig';
import { register as registerStake } from './commands/stake';
import { register as registerToken } from './commands/token';
import { CliError, type CliContext } from './context';

type Registrar = (program: Command, ctx: CliContext) => void;

/** Command groups, in help order. Each module exports a `register(program, ctx)`. */
const REGISTRARS: Registrar[] = [registerStake, registerToken, registerCredential, registerKubeconfig, registerAttestation];

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('k3s-daas')
    .description('K3s-DaaS: stake SUI for seal tokens, use them with kubectl, verify the enclave that runs the cluster')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: ctx.out, writeErr: ctx.err });
  for (const register of REGISTRARS) register(program, ctx);
  return program;
}

/** Runs the CLI and returns the exit code; never lets a stack trace reach the user. */
export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed usage errors and help; help/version exit 0.
      return error.exitCode;
    }
    if (error instanceof CliError) {
      ctx.err(`k3s-daas: ${error.message}\n`);
      return error.exitCode;
    }
    ctx.err(`k3s-daas: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
