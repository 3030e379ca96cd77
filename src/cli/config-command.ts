/**
 * `df2redis config [command] [options]`: the effective configuration of `replicate` (or
 * `migrate`) after flags, `DF2REDIS_*` variables, the `--config` file and defaults are merged,
 * as YAML that `--config` accepts, each line commented with where its value came from. Secrets
 * are masked. The values are then validated like the job would, so a bad one exits 2.
 */
import { Command } from 'commander';
import { stringify } from 'yaml';
import { maskUrlPasswords } from '../config/url-credentials.js';
import { ConfigError } from '../errors.js';
import { envVarName, optionSourcesOf, SECRET_ONLY_OPTIONS } from './config-layers.js';
import { helpEpilogue } from './exit-codes.js';
import { validateJobOptions } from './output-options.js';

/** Option names whose values are secrets: shown as `***`. Names of files holding them are not secret. */
const SECRET_NAME = /(password|token|secret)(?!-file)/i;

/** `sourceTlsCa` → `source-tls-ca`. */
function flagNameOf(attribute: string): string {
  return attribute.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * The configuration of `job` (its options after `applyConfigLayers`) as commented YAML lines:
 * `on-existing: skip  # DF2REDIS_ON_EXISTING`; call it after the job's `preAction` hook (see addConfigLayers). Secrets are `***`, URL passwords masked.
 */
export function describeConfiguration(job: Command): string {
  const raw = job.opts();
  const sources = optionSourcesOf(raw);
  const lines = [`# effective configuration of \`df2redis ${job.name()}\` (flags > DF2REDIS_* > --config file > defaults)`];
  const keys = [
    ...job.options.filter((o) => o.long !== undefined && !['--help', '--version'].includes(o.long)).map((o) => o.attributeName()),
    ...SECRET_ONLY_OPTIONS.map((s) => s.attribute),
  ];
  for (const attribute of keys) {
    const value = raw[attribute];
    const name = flagNameOf(attribute);
    if (value === undefined) continue;
    const shown = SECRET_NAME.test(name) ? '***' : typeof value === 'string' ? maskUrlPasswords(value) : value;
    const source = job.getOptionValueSource(attribute);
    const from = source === 'default' ? 'default' : (sources[attribute] ?? (source === 'env' ? envVarName(name) : source === 'cli' ? `--${name}` : String(source)));
    lines.push(`${stringify({ [name]: shown }).trimEnd()}  # ${from}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The `config` command. `jobs` are the commands it can describe (by name), built fresh for each
 * run so their options, defaults and environment variables are exactly the job's.
 */
export function configCommand(jobs: Readonly<Record<string, () => Command>>): Command {
  const names = Object.keys(jobs);
  return new Command('config')
    .summary('print the effective configuration (flags, DF2REDIS_* variables, --config file, defaults), secrets masked')
    .description(
      `Print the configuration a job would run with, as YAML usable with --config, each value commented with its ` +
        `source, secrets masked; then check it like the job does (exit 2 naming the bad value and where it came from). ` +
        `Takes the options of the job: df2redis config ${names[0]} --help lists them.`,
    )
    .argument('[command]', names.join(' | '), names[0])
    .argument('[options...]', 'the options of that command')
    .allowUnknownOption()
    .helpOption('-h, --help', 'display help for command')
    .addHelpText(
      'after',
      helpEpilogue([
        'df2redis config --config /etc/df2redis/df2redis.yaml',
        'DF2REDIS_ON_EXISTING=skip df2redis config migrate --source dump.rdb --target redis://127.0.0.1:6380',
      ]),
    )
    .action(async (given: string, options: string[]) => {
      // `df2redis config --source …`: no command named, the first word is already an option.
      const [name, rest] = given.startsWith('-') ? [names[0]!, [given, ...options]] : [given, options];
      if (jobs[name] === undefined) throw new ConfigError(`config: unknown command "${name}"; one of ${names.join(', ')}`);
      // Under one parent, like in the binary, so a config file shared by the jobs is accepted.
      const program = new Command('df2redis');
      for (const make of Object.values(jobs)) program.addCommand(make());
      const job = program.commands.find((c) => c.name() === name)!.exitOverride();
      job.action((raw: Record<string, unknown>) => {
        process.stdout.write(describeConfiguration(job));
        validateJobOptions(raw);
      });
      await job.parseAsync(rest, { from: 'user' });
    });
}
