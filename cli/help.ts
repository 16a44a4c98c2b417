// Help the way `aws` and `sui` users expect it: `k3s-daas help <command> [<subcommand>]` for any depth,
// and an Examples section under every command.
import type { Command } from 'commander';
import { UsageError } from './errors';

/** The text of an Examples section, for `.addHelpText('after', …)`. */
export function examples(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

/** The command that `path` (e.g. ['token', 'issue']) names, or a usage error naming the first unknown word. */
export function findCommand(program: Command, path: readonly string[]): Command {
  let current = program;
  for (const name of path) {
    const next = current.commands.find((c) => c.name() === name || c.aliases().includes(name));
    if (!next) {
      const known = current.commands.map((c) => c.name()).join(', ');
      throw new UsageError(`unknown command '${[...commandPath(current), name].join(' ')}' (commands: ${known})`);
    }
    current = next;
  }
  return current;
}

/** ['k3s-daas', 'token', 'issue'] → ['token', 'issue']: the words after the program name. */
export function commandPath(command: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names;
}

/** Replaces commander's `help [command]` (one level only) with one that follows a whole path. */
export function addHelpCommand(program: Command): void {
  const hide = (c: Command) => {
    c.helpCommand(false);
    c.commands.forEach(hide);
  };
  hide(program);
  program
    .command('help')
    .description('Show help for a command, e.g. `k3s-daas help token issue`')
    .argument('[command...]', 'the command, and its subcommand')
    .addHelpText('after', examples(['k3s-daas help', 'k3s-daas help token issue']))
    .action((path: string[]) => {
      findCommand(program, path).outputHelp();
    });
}
