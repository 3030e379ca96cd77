#!/usr/bin/env node
/**
 * The `df2redis` binary: one sub-command per job, each defined in its own file. To add a command,
 * add its name and module loader to {@link COMMANDS}. Errors become exit codes here and only here.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describeError, EXIT_OK } from './exit-codes.js';

/** One sub-command: its name and how to load its module (only when it runs, or for the top-level help). */
interface CommandModule {
  readonly name: string;
  readonly load: () => Promise<() => Command>;
}

/**
 * Every command the binary offers, in `--help` order. Modules load lazily: `df2redis migrate …`
 * loads `migrate`'s graph only, not the replicator's metrics or the checker (Node 20 has no compile
 * cache, so each module loaded costs CPU at every start: issue 12, bench/README.md).
 */
const COMMANDS: ReadonlyArray<CommandModule> = [
  { name: 'replicate', load: async () => (await import('./replicate.js')).replicateCommand },
  { name: 'migrate', load: async () => (await import('./migrate.js')).migrateCommand },
  { name: 'check', load: async () => (await import('./check.js')).checkCommand },
  { name: 'cutover', load: async () => (await import('./cutover.js')).cutoverCommand },
  { name: 'status', load: async () => (await import('./status.js')).statusCommand },
  { name: 'reset', load: async () => (await import('./reset.js')).resetCommand },
  { name: 'demo', load: async () => (await import('./demo.js')).demoCommand },
  {
    name: 'config',
    load: async () => {
      const [{ configCommand }, { replicateCommand }, { migrateCommand }] = await Promise.all([
        import('./config-command.js'),
        import('./replicate.js'),
        import('./migrate.js'),
      ]);
      return () => configCommand({ replicate: replicateCommand, migrate: migrateCommand });
    },
  },
];

/**
 * The commands to register for `argv`: only the one named by the first word that is not an option,
 * or all of them (top-level help, `--version`, `help <command>`, an unknown word that commander
 * answers with suggestions).
 */
export function commandsFor(argv: readonly string[]): ReadonlyArray<CommandModule> {
  const word = argv.slice(2).find((a) => !a.startsWith('-'));
  const named = COMMANDS.find((c) => c.name === word);
  return named ? [named] : COMMANDS;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Parses `argv` (as `process.argv`), runs the command, and returns the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('df2redis')
    .description('Replicate Dragonfly (or an RDB file) into Redis.')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const makers = await Promise.all(commandsFor(argv).map((c) => c.load()));
  for (const make of makers) program.addCommand(make().copyInheritedSettings(program));
  try {
    await program.parseAsync(argv);
    return EXIT_OK;
  } catch (err) {
    const { exitCode, text } = describeError(err);
    process.stderr.write(text);
    return exitCode;
  }
}

// Exit explicitly: a failed job may leave sockets or timers behind, and the code must be ours.
process.exit(await main(process.argv));
