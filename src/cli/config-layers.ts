/**
 * Where option values come from besides argv: `DF2REDIS_*` environment variables and a YAML file
 * (`--config df2redis.yaml`). Precedence: flags > environment > file > defaults.
 *
 * Generic over commander: every long option a command declares is read from
 * `DF2REDIS_<FLAG_NAME>` (`--on-existing` → `DF2REDIS_ON_EXISTING`) and from the file key equal to
 * the flag name without its leading dashes (`on-existing: skip`), so an option added with
 * `cmd.option(…)` is picked up with no code here. An empty variable counts as unset. Values are set
 * with commander's value sources (`env`, `config`); the validation then names a bad value by where
 * it came from ({@link optionSourcesOf}).
 */
import { readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';
import { createRequire } from 'node:module';
import type { OptionSources } from '../config/options.js';
import { ConfigError } from '../errors.js';

/** yaml, loaded only when a `--config` file is read (start-up CPU of every other run). */
const requireLazily = createRequire(import.meta.url);

/** Prefix of every environment variable df2redis reads. */
export const ENV_PREFIX = 'DF2REDIS_';

/**
 * Values that have no flag on purpose (a secret on argv would show in `ps`): environment variable
 * or file key → option attribute.
 */
export const SECRET_ONLY_OPTIONS: ReadonlyArray<{ key: string; attribute: string }> = [
  { key: 'source-password', attribute: 'sourcePassword' },
  { key: 'target-password', attribute: 'targetPassword' },
];

/** Key under which the record given to a command's action carries its {@link OptionSources}. */
const SOURCES = Symbol('df2redis option sources');

/** Where each value of `raw` (a command's parsed options) came from; empty for a record not built here. */
export function optionSourcesOf(raw: Record<string, unknown>): OptionSources {
  return ((raw as Record<symbol, unknown>)[SOURCES] as OptionSources | undefined) ?? {};
}

/** `--on-existing` → `DF2REDIS_ON_EXISTING`. */
export function envVarName(flagName: string): string {
  return ENV_PREFIX + flagName.replace(/^--/, '').replace(/-/g, '_').toUpperCase();
}

/** One value of the config file, with its line (1-based) for messages. */
interface FileValue {
  value: unknown;
  line: number;
}

/**
 * Reads a YAML config file: a map of option names (flag names without `--`) to values.
 * @throws ConfigError unreadable file, YAML syntax error (with its line), not a map.
 */
export function readConfigFile(file: string): Map<string, FileValue> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--config ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const { isMap, isScalar, LineCounter, parseDocument } = requireLazily('yaml') as typeof import('yaml');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    const line = firstError.linePos?.[0]?.line ?? lineCounter.linePos(firstError.pos[0]).line;
    throw new ConfigError(`${file}:${line}: ${firstError.message.split('\n')[0]}`);
  }
  const out = new Map<string, FileValue>();
  if (doc.contents === null) return out;
  if (!isMap(doc.contents)) throw new ConfigError(`${file}: expected a map of options (on-existing: skip), one per line`);
  for (const pair of doc.contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const at = (pair.key as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
    const value = pair.value === null ? null : (pair.value as { toJSON(): unknown }).toJSON();
    out.set(key, { value, line: lineCounter.linePos(at).line });
  }
  return out;
}

/** The long options of `cmd` a file or variable may set (not `--config`, `--help`, `--version`, negations). */
function settableOptions(cmd: Command): Option[] {
  return cmd.options.filter((o) => o.long !== undefined && !o.negate && !['--config', '--help', '--version'].includes(o.long));
}

/**
 * A value from the environment or the file as commander would have parsed it from argv: a switch
 * becomes a boolean, anything else a string (lists joined with commas, numbers in decimal) passed
 * through the option's own argument parser if it has one.
 * @throws ConfigError naming `label` for a value of the wrong shape.
 */
function asOptionValue(option: Option, value: unknown, label: string): unknown {
  if (option.isBoolean()) {
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string' && /^(1|true|yes|on)$/i.test(value.trim())) return true;
    if (typeof value === 'string' && /^(0|false|no|off|)$/i.test(value.trim())) return false;
    throw new ConfigError(`${label} is a switch: true or false; got ${JSON.stringify(value)}`);
  }
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'bigint') text = String(value);
  else if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number')) text = value.join(',');
  else throw new ConfigError(`${label} must be a string, a number or a list; got ${JSON.stringify(value)}`);
  if (option.parseArg === undefined) return text;
  // An option with its own argument parser (`.argParser(…)`) gets it here as from argv.
  try {
    return option.parseArg(text, option.defaultValue as unknown);
  } catch (err) {
    throw new ConfigError(`${label}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * Applies the environment and the config file to `cmd`'s parsed options, under the flags given on
 * the command line, and records where each value came from. Call before the action runs.
 * @param env the environment (process.env).
 * @throws ConfigError unreadable or invalid file, unknown key in the file (with its line), a value
 *   of the wrong shape.
 */
export function applyConfigLayers(cmd: Command, env: NodeJS.ProcessEnv = process.env): void {
  const cliConfig = cmd.getOptionValueSource('config') === 'cli' ? (cmd.getOptionValue('config') as string) : undefined;
  const configFile = cliConfig ?? env[envVarName('config')];
  if (configFile !== undefined && configFile !== '') cmd.setOptionValueWithSource('config', configFile, cliConfig !== undefined ? 'cli' : 'env');
  const file = configFile !== undefined && configFile !== '' ? readConfigFile(configFile) : new Map<string, FileValue>();
  const options = settableOptions(cmd);
  // A file may be shared by several commands: a key is known if any sibling command has the option.
  const known = new Set([...SECRET_ONLY_OPTIONS.map((s) => s.key), ...(cmd.parent?.commands ?? [cmd]).flatMap((c) => settableOptions(c).map((o) => o.name()))]);
  for (const [key, { line }] of file) {
    if (!known.has(key)) {
      const hint = known.has(key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)) ? ` (write it as the flag: ${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)})` : '';
      throw new ConfigError(`${configFile}:${line}: unknown option "${key}"${hint}; keys are the flag names without --, e.g. on-existing`);
    }
  }
  const sources: Record<string, string> = {};
  const fromLayers = (key: string, attribute: string, option: Option | undefined): void => {
    const envName = envVarName(key);
    // An empty variable counts as unset (an `EnvironmentFile=` line left blank).
    const envValue = env[envName] === '' ? undefined : env[envName];
    const fileValue = file.get(key);
    if (envValue !== undefined) {
      sources[attribute] = envName;
      cmd.setOptionValueWithSource(attribute, option ? asOptionValue(option, envValue, envName) : envValue, 'env');
    } else if (fileValue !== undefined) {
      const label = `${configFile}:${fileValue.line}: ${key}`;
      sources[attribute] = label;
      const value = option ? asOptionValue(option, fileValue.value, label) : fileValue.value;
      cmd.setOptionValueWithSource(attribute, value, 'config');
    }
  };
  for (const option of options) {
    const attribute = option.attributeName();
    if (cmd.getOptionValueSource(attribute) === 'cli') sources[attribute] = option.long!;
    else fromLayers(option.name(), attribute, option);
  }
  for (const { key, attribute } of SECRET_ONLY_OPTIONS) fromLayers(key, attribute, undefined);
  (cmd.opts() as Record<symbol, unknown>)[SOURCES] = sources;
}

/**
 * Adds `--config <file>` to a job command and applies {@link applyConfigLayers} before its action.
 */
export function addConfigLayers(cmd: Command): Command {
  return cmd
    .option('--config <file>', `YAML file of options (keys are the flag names without --); also ${envVarName('config')}. Every option can also be set as DF2REDIS_<FLAG_NAME>; flags > environment > file > defaults`)
    .hook('preAction', (thisCommand) => applyConfigLayers(thisCommand));
}
