#!/usr/bin/env node
/**
 * The `df2redis` binary: one sub-command per job, each defined in its own file. To add a command,
 * import its factory and add it to {@link COMMANDS}. Errors become exit codes here and only here.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describeError, EXIT_OK } from './exit-codes.js';
import { configCommand } from './config-command.js';
import { checkCommand } from './check.js';
import { cutoverCommand } from './cutover.js';
import { demoCommand } from './demo.js';
import { migrateCommand } from './migrate.js';
import { replicateCommand } from './replicate.js';
import { resetCommand } from './reset.js';
import { statusCommand } from './status.js';

/** Every command the binary offers, in `--help` order. */
const COMMANDS: ReadonlyArray<() => Command> = [
  replicateCommand,
  migrateCommand,
  checkCommand,
  cutoverCommand,
  statusCommand,
  resetCommand,
  demoCommand,
  () => configCommand({ replicate: replicateCommand, migrate: migrateCommand }),
];

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
  for (const make of COMMANDS) program.addCommand(make().copyInheritedSettings(program));
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
