/**
 * The options of df2redis jobs, documented once here (each with its `@default`), one
 * {@link DEFAULT_OPTIONS} object, and validation that names the option to change
 * (style: ioredis `lib/cluster/ClusterOptions.ts`).
 *
 * `src/cli/` turns argv into a raw record and calls {@link validateMigrateOptions}; library code only
 * ever sees validated {@link MigrateOptions}.
 */
import { ConfigError } from '../errors.js';

/** What to do with a key that already exists on the target. */
export const ON_EXISTING_POLICIES = ['replace', 'skip', 'fail'] as const;
export type OnExistingPolicy = (typeof ON_EXISTING_POLICIES)[number];

/** What to do with a key whose type the target cannot hold (e.g. Dragonfly JSON without RedisJSON). */
export const UNSUPPORTED_POLICIES = ['fail', 'skip'] as const;
export type UnsupportedPolicy = (typeof UNSUPPORTED_POLICIES)[number];

/** How progress is shown while a job runs. */
export const PROGRESS_MODES = ['auto', 'bar', 'log', 'none'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

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
  /** Minimum level of the JSON log lines written to stderr. @default 'info' */
  logLevel: LogLevel;
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
}

/** The defaults of every optional {@link MigrateOptions} field; the only place they are written. */
export const DEFAULT_OPTIONS: Readonly<Omit<MigrateOptions, 'source' | 'target'>> = Object.freeze({
  onExisting: 'replace',
  unsupported: 'fail',
  restoreMaxBytes: 512 * 1024,
  isTlsInsecure: false,
  dbs: undefined,
  progress: 'auto',
  logLevel: 'info',
  sourceTimeoutMs: 30_000,
  fullSyncStallTimeoutMs: 60_000,
});

/** Interval of progress log lines in `log` mode. */
export const PROGRESS_LOG_INTERVAL_MS = 5_000;

/**
 * Raw option values as the CLI parsed them: strings from argv (or already-typed values from code),
 * missing or undefined when not given. Keys are the {@link MigrateOptions} field names.
 */
export type RawMigrateOptions = { [K in keyof MigrateOptions]?: unknown };

/** The command-line spelling of each option, used to name it in error messages. */
export const OPTION_FLAGS: Readonly<Record<keyof MigrateOptions, string>> = Object.freeze({
  source: '--source',
  target: '--target',
  onExisting: '--on-existing',
  unsupported: '--unsupported',
  restoreMaxBytes: '--restore-max-bytes',
  isTlsInsecure: '--tls-insecure',
  dbs: '--dbs',
  progress: '--progress',
  logLevel: '--log-level',
  sourceTimeoutMs: '--source-timeout',
  fullSyncStallTimeoutMs: '--full-sync-stall-timeout',
});

/**
 * Fills in defaults and checks every value.
 * @throws ConfigError naming the option (`--on-existing must be one of replace, skip, fail; got "x"`).
 */
export function validateMigrateOptions(raw: RawMigrateOptions): MigrateOptions {
  return {
    source: requiredString(raw, 'source'),
    target: requiredString(raw, 'target'),
    onExisting: oneOf(raw, 'onExisting', ON_EXISTING_POLICIES),
    unsupported: oneOf(raw, 'unsupported', UNSUPPORTED_POLICIES),
    restoreMaxBytes: byteSize(raw, 'restoreMaxBytes'),
    isTlsInsecure: flag(raw, 'isTlsInsecure'),
    dbs: dbList(raw),
    progress: oneOf(raw, 'progress', PROGRESS_MODES),
    logLevel: oneOf(raw, 'logLevel', LOG_LEVELS),
    sourceTimeoutMs: durationMs(raw, 'sourceTimeoutMs'),
    fullSyncStallTimeoutMs: durationMs(raw, 'fullSyncStallTimeoutMs'),
  };
}

const DURATION_UNITS: Readonly<Record<string, number>> = { '': 1, ms: 1, s: 1000, m: 60_000 };

/** A non-negative duration in ms: a number, or a string such as `30000`, `500ms`, `30s`, `2m`. */
function durationMs(raw: RawMigrateOptions, name: 'sourceTimeoutMs' | 'fullSyncStallTimeoutMs'): number {
  const v = raw[name] ?? DEFAULT_OPTIONS[name];
  let ms: number | undefined;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string') {
    const m = /^\s*(\d+)\s*(ms|s|m)?\s*$/i.exec(v);
    if (m) ms = Number(m[1]) * DURATION_UNITS[(m[2] ?? '').toLowerCase()]!;
  }
  if (ms === undefined || !Number.isSafeInteger(ms) || ms < 0) {
    throw new ConfigError(`${OPTION_FLAGS[name]} must be a duration in ms such as 30000, 30s or 2m (0 = no limit); got ${JSON.stringify(v)}`);
  }
  return ms;
}

function requiredString(raw: RawMigrateOptions, name: 'source' | 'target'): string {
  const v = raw[name];
  if (typeof v !== 'string' || v.trim() === '') {
    throw new ConfigError(`${OPTION_FLAGS[name]} is required`);
  }
  return v;
}

type DefaultedKey = keyof typeof DEFAULT_OPTIONS;

function oneOf<K extends DefaultedKey, T extends string>(raw: RawMigrateOptions, name: K, allowed: readonly T[]): T {
  const v = raw[name] ?? DEFAULT_OPTIONS[name];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(`${OPTION_FLAGS[name]} must be one of ${allowed.join(', ')}; got ${JSON.stringify(v)}`);
  }
  return v as T;
}

function flag(raw: RawMigrateOptions, name: 'isTlsInsecure'): boolean {
  const v = raw[name] ?? DEFAULT_OPTIONS[name];
  if (typeof v !== 'boolean') throw new ConfigError(`${OPTION_FLAGS[name]} takes no value; got ${JSON.stringify(v)}`);
  return v;
}

/** `--dbs`: comma-separated database indexes (0–65535), or an array of them. */
function dbList(raw: RawMigrateOptions): readonly number[] | undefined {
  const v = raw.dbs;
  if (v === undefined) return undefined;
  const items = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(',') : [String(v)];
  const dbs = items.map((s) => s.trim());
  if (dbs.length === 0 || dbs.some((d) => !/^\d{1,5}$/.test(d) || Number(d) > 65535)) {
    throw new ConfigError(`${OPTION_FLAGS.dbs} must be a comma-separated list of database numbers, e.g. 0 or 0,3; got ${JSON.stringify(v)}`);
  }
  return [...new Set(dbs.map(Number))].sort((a, b) => a - b);
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1 << 20, mb: 1 << 20, mib: 1 << 20 };

/** A non-negative integer byte count: a number, or a string such as `524288`, `512k`, `1MiB` (binary units). */
function byteSize(raw: RawMigrateOptions, name: 'restoreMaxBytes'): number {
  const v = raw[name] ?? DEFAULT_OPTIONS[name];
  let bytes: number | undefined;
  if (typeof v === 'number') {
    bytes = v;
  } else if (typeof v === 'string') {
    const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(v);
    const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (m && unit !== undefined) bytes = Number(m[1]) * unit;
  }
  if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes < 0) {
    throw new ConfigError(
      `${OPTION_FLAGS[name]} must be a byte count such as 524288, 512k or 1m; got ${JSON.stringify(v)}`,
    );
  }
  return bytes;
}
