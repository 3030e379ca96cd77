/**
 * The options of df2redis jobs, documented once here (each with its `@default`), one
 * {@link DEFAULT_OPTIONS} object, and validation that names the option to change
 * (style: ioredis `lib/cluster/ClusterOptions.ts`).
 *
 * `src/cli/` turns argv into a raw record and calls {@link validateMigrateOptions}; library code only
 * ever sees validated {@link MigrateOptions}.
 */
import * as z from 'zod/mini';
import { ConfigError } from '../errors.js';
import type { ConnectionSettings } from './connection-settings.js';

/** What to do with a key that already exists on the target. */
export const ON_EXISTING_POLICIES = ['replace', 'skip', 'fail'] as const;
export type OnExistingPolicy = (typeof ON_EXISTING_POLICIES)[number];

/** What to do with a key whose type the target cannot hold (e.g. Dragonfly JSON without RedisJSON). */
export const UNSUPPORTED_POLICIES = ['fail', 'skip'] as const;
export type UnsupportedPolicy = (typeof UNSUPPORTED_POLICIES)[number];

/** How progress is shown while a job runs. */
export const PROGRESS_MODES = ['auto', 'bar', 'log', 'none'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

/** Log line format: `pretty` (pino-pretty, colours on a terminal), `json` (one JSON object a line), `auto` (pretty on a terminal). */
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** pino levels, most to least verbose, plus `silent`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options of `df2redis migrate` (full sync only, then exit). */
export interface MigrateOptions {
  /** Path of the RDB file to import: a Redis `dump.rdb` or a single-file Dragonfly RDB. Required. */
  source: string;
  /** Target URL, `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. Required. */
  target: string;
  /**
   * A key that already exists on the target: `replace` overwrites it, `skip` keeps the target's
   * value (counted as skipped), `fail` stops the job with an error naming the key.
   * @default 'replace'
   */
  onExisting: OnExistingPolicy;
  /**
   * A key whose type the target cannot hold: `fail` lists every such key and stops before anything
   * is written (the file is pre-scanned); `skip` migrates the rest and counts the skipped keys.
   * @default 'fail'
   */
  unsupported: UnsupportedPolicy;
  /**
   * Values whose RDB encoding is at most this many bytes are written with one `RESTORE … ABSTTL`
   * when the target understands their encoding; bigger ones are rewritten into bounded commands.
   * 0 disables RESTORE.
   * @default 524288 (512 KiB)
   */
  restoreMaxBytes: number;
  /** Accept any TLS certificate from a `rediss://` target (self-signed test setups only). @default false */
  isTlsInsecure: boolean;
  /**
   * Copy only the keys of these source databases (`--dbs 0` or `--dbs 0,3`); keys of other
   * databases are skipped and counted. Needed to migrate a source that uses several databases into
   * a Redis Cluster, which only has database 0: without it such a job is refused at start.
   * @default undefined (every database)
   */
  dbs: readonly number[] | undefined;
  /**
   * `bar`: a progress bar on stderr; `log`: one log line every {@link PROGRESS_LOG_INTERVAL_MS};
   * `none`: only the final summary; `auto`: `bar` when stderr is a terminal, else `log`.
   * @default 'auto'
   */
  progress: ProgressMode;
  /** Minimum level of the log lines written to stderr (progress lines show at `warn` and `error` too). @default 'info' */
  logLevel: LogLevel;
  /** Format of the log lines on stderr, see {@link LOG_FORMATS}. @default 'auto' */
  logFormat: LogFormat;
  /**
   * Dragonfly source only: longest wait in ms for the master's reply to one command (the
   * handshake, `DFLY FLOW`, `DFLY SYNC`, `DFLY STARTSTABLE`, and the `PING` sent every 10 s on the
   * main connection in stable sync, which is how a half-open or frozen master is noticed). 0 = no
   * limit.
   * @default 30000 (the master's own `--replication_timeout`)
   */
  sourceTimeoutMs: number;
  /**
   * Dragonfly source only: the full sync fails when no byte arrived from the master on any flow
   * for this many ms (while df2redis itself is not pausing a flow). 0 = no limit.
   * @default 60000
   */
  fullSyncStallTimeoutMs: number;
  /** Source credentials and TLS material given apart from its URL (`migrate --source redis://…`). @default undefined */
  sourceConnection?: ConnectionSettings;
  /** Target credentials and TLS material given apart from its URL. @default undefined */
  targetConnection?: ConnectionSettings;
}

/** The {@link MigrateOptions} fields that are one option each (the connection settings gather several). */
export type MigrateOptionName = Exclude<keyof MigrateOptions, 'sourceConnection' | 'targetConnection'>;

/** The defaults of every optional {@link MigrateOptions} field; the only place they are written. */
export const DEFAULT_OPTIONS: Readonly<Omit<MigrateOptions, 'source' | 'target' | 'sourceConnection' | 'targetConnection'>> = Object.freeze({
  onExisting: 'replace',
  unsupported: 'fail',
  restoreMaxBytes: 512 * 1024,
  isTlsInsecure: false,
  dbs: undefined,
  progress: 'auto',
  logLevel: 'info',
  logFormat: 'auto',
  sourceTimeoutMs: 30_000,
  fullSyncStallTimeoutMs: 60_000,
});

/** Interval of progress log lines in `log` mode. */
export const PROGRESS_LOG_INTERVAL_MS = 5_000;

/**
 * Raw option values as the CLI parsed them: strings from argv (or already-typed values from code),
 * missing or undefined when not given. Keys are the {@link MigrateOptions} field names.
 */
export type RawMigrateOptions = { [K in MigrateOptionName]?: unknown };

/** The command-line spelling of each option, used to name it in error messages. */
export const OPTION_FLAGS: Readonly<Record<MigrateOptionName, string>> = Object.freeze({
  source: '--source',
  target: '--target',
  onExisting: '--on-existing',
  unsupported: '--unsupported',
  restoreMaxBytes: '--restore-max-bytes',
  isTlsInsecure: '--tls-insecure',
  dbs: '--dbs',
  progress: '--progress',
  logLevel: '--log-level',
  logFormat: '--log-format',
  sourceTimeoutMs: '--source-timeout',
  fullSyncStallTimeoutMs: '--full-sync-stall-timeout',
});

/**
 * Where each raw value came from, as it should be named in an error: `--on-existing`,
 * `DF2REDIS_ON_EXISTING`, `df2redis.yaml:4: on-existing`. Fields not listed are named by their flag
 * ({@link OPTION_FLAGS}).
 */
export type OptionSources = Readonly<Partial<Record<string, string>>>;

/**
 * A schema field: `check` gets the raw value (undefined when not given) and returns the typed value
 * or throws an `Error` whose message follows the option's name (`must be …; got …`). Every option of
 * every command is one of these (zod/mini: the classic zod API costs ~40 ms more at each start).
 */
export function checkedField<T>(check: (v: unknown) => T): z.ZodMiniType<T> {
  return z.pipe(
    z.optional(z.unknown()),
    z.transform((v, ctx) => {
      try {
        return check(v);
      } catch (err) {
        ctx.issues.push({ code: 'custom', message: err instanceof Error ? err.message : String(err), input: v });
        return z.NEVER;
      }
    }),
  ) as unknown as z.ZodMiniType<T>;
}

/**
 * The one schema of the job options, whatever their source (flag, `DF2REDIS_*` variable, config
 * file, default): each field fills in its default and checks the value. Values may be strings (argv,
 * environment) or typed (YAML numbers, booleans, lists).
 */
export const MIGRATE_OPTIONS_SCHEMA = z.object({
  source: checkedField(requiredString),
  target: checkedField(requiredString),
  onExisting: checkedField(oneOf('onExisting', ON_EXISTING_POLICIES)),
  unsupported: checkedField(oneOf('unsupported', UNSUPPORTED_POLICIES)),
  restoreMaxBytes: checkedField(byteSize('restoreMaxBytes')),
  isTlsInsecure: checkedField(flag('isTlsInsecure')),
  dbs: checkedField(dbList),
  progress: checkedField(oneOf('progress', PROGRESS_MODES)),
  logLevel: checkedField(oneOf('logLevel', LOG_LEVELS)),
  logFormat: checkedField(oneOf('logFormat', LOG_FORMATS)),
  sourceTimeoutMs: checkedField(durationMs('sourceTimeoutMs')),
  fullSyncStallTimeoutMs: checkedField(durationMs('fullSyncStallTimeoutMs')),
});

/**
 * Parses `raw` with `schema`; the first bad field becomes a ConfigError that names it by its source
 * (`sources`, else `flags`), e.g. `DF2REDIS_ON_EXISTING must be one of replace, skip, fail; got "x"`.
 */
export function parseWithSchema<S extends z.ZodMiniType>(
  schema: S,
  raw: Record<string, unknown>,
  flags: Readonly<Partial<Record<string, string>>>,
  sources: OptionSources = {},
): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0] ?? '');
  const label = sources[name] ?? flags[name] ?? name;
  throw new ConfigError(`${label} ${issue.message}`);
}

/**
 * Fills in defaults and checks every value (with {@link MIGRATE_OPTIONS_SCHEMA}).
 * @throws ConfigError naming the option (`--on-existing must be one of replace, skip, fail; got "x"`),
 *   or its environment variable or config file line when `sources` says it came from there.
 */
export function validateMigrateOptions(raw: RawMigrateOptions, sources: OptionSources = {}): MigrateOptions {
  const options = parseWithSchema(MIGRATE_OPTIONS_SCHEMA, raw, OPTION_FLAGS, sources);
  return { ...options, dbs: options.dbs }; // zod drops a key whose value is undefined
}

const DURATION_UNITS: Readonly<Record<string, number>> = { '': 1, ms: 1, s: 1000, m: 60_000 };

/** A non-negative duration in ms: a number, or a string such as `30000`, `500ms`, `30s`, `2m`. */
export function parseDurationMs(v: unknown): number {
  let ms: number | undefined;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string') {
    const m = /^\s*(\d+)\s*(ms|s|m)?\s*$/i.exec(v);
    if (m) ms = Number(m[1]) * DURATION_UNITS[(m[2] ?? '').toLowerCase()]!;
  }
  if (ms === undefined || !Number.isSafeInteger(ms) || ms < 0) {
    throw new Error(`must be a duration in ms such as 30000, 30s or 2m (0 = no limit); got ${JSON.stringify(v)}`);
  }
  return ms;
}

/** A duration command-line option in ms (`30000`, `30s`, `2m`). @throws ConfigError `<flag> must be a duration …`. */
export function durationOption(v: unknown, flag: string): number {
  try {
    return parseDurationMs(v);
  } catch (err) {
    throw new ConfigError(`${flag} ${(err as Error).message}`);
  }
}

function durationMs(name: 'sourceTimeoutMs' | 'fullSyncStallTimeoutMs'): (v: unknown) => number {
  return (v) => parseDurationMs(v ?? DEFAULT_OPTIONS[name]);
}

function requiredString(v: unknown): string {
  if (typeof v !== 'string' || v.trim() === '') throw new Error('is required');
  return v;
}

type DefaultedKey = keyof typeof DEFAULT_OPTIONS;

function oneOf<T extends string>(name: DefaultedKey, allowed: readonly T[]): (v: unknown) => T {
  return (given) => {
    const v = given ?? DEFAULT_OPTIONS[name];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      throw new Error(`must be one of ${allowed.join(', ')}; got ${JSON.stringify(v)}`);
    }
    return v as T;
  };
}

function flag(name: 'isTlsInsecure'): (v: unknown) => boolean {
  return (given) => {
    const v = given ?? DEFAULT_OPTIONS[name];
    if (typeof v !== 'boolean') throw new Error(`takes no value (true or false in a config file); got ${JSON.stringify(v)}`);
    return v;
  };
}

/** `--dbs` of a command outside the job schema (check, cutover). @throws ConfigError `--dbs must be …`. */
export function dbsOption(v: unknown): readonly number[] | undefined {
  try {
    return dbList(v);
  } catch (err) {
    throw new ConfigError(`--dbs ${(err as Error).message}`);
  }
}

/** `--dbs`: comma-separated database indexes (0–65535), or an array of them. */
function dbList(v: unknown): readonly number[] | undefined {
  if (v === undefined) return undefined;
  const items = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(',') : [String(v)];
  const dbs = items.map((s) => s.trim());
  if (dbs.length === 0 || dbs.some((d) => !/^\d{1,5}$/.test(d) || Number(d) > 65535)) {
    throw new Error(`must be a comma-separated list of database numbers, e.g. 0 or 0,3; got ${JSON.stringify(v)}`);
  }
  return [...new Set(dbs.map(Number))].sort((a, b) => a - b);
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1 << 20, mb: 1 << 20, mib: 1 << 20 };

/** A non-negative integer byte count: a number, or a string such as `524288`, `512k`, `1MiB` (binary units). */
function byteSize(name: 'restoreMaxBytes'): (v: unknown) => number {
  return (given) => {
    const v = given ?? DEFAULT_OPTIONS[name];
    let bytes: number | undefined;
    if (typeof v === 'number') {
      bytes = v;
    } else if (typeof v === 'string') {
      const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(v);
      const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
      if (m && unit !== undefined) bytes = Number(m[1]) * unit;
    }
    if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes < 0) {
      throw new Error(`must be a byte count such as 524288, 512k or 1m; got ${JSON.stringify(v)}`);
    }
    return bytes;
  };
}
