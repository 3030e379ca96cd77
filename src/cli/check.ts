/**
 * `df2redis check`: argv → {@link CheckOptions} → {@link Checker} → summary on stdout (and the
 * JSON report with `--report`). Exits 0 when equal, 1 (a {@link CheckDifferencesError}) when keys
 * differ, 2 on a usage error.
 */
import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { CHECK_CLASSES, CHECK_DEFAULTS, Checker, DIFFERENCE_CLASSES, type CheckOptions, type CheckResult } from '../check/checker.js';
import { dbsOption, durationOption, LOG_LEVELS, PROGRESS_MODES, type LogLevel, type ProgressMode } from '../config/options.js';
import { maskUrlPasswords } from '../config/url-credentials.js';
import { CheckDifferencesError, ConfigError } from '../errors.js';
import { formatDuration } from '../progress/human-units.js';
import { createProgressReporter } from '../progress/progress-reporter.js';
import { CHECK_EXIT_CODES_HELP, helpEpilogue } from './exit-codes.js';
import { addOutputOptions } from './output-options.js';
import { createLogger } from './logger.js';

function integer(v: unknown, flag: string, min: number): number {
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new ConfigError(`${flag} must be an integer ≥ ${min}; got ${JSON.stringify(v)}`);
  return n;
}

/**
 * Validates commander's record into {@link CheckOptions}.
 * @throws ConfigError naming the option.
 */
export function checkOptionsFrom(raw: Record<string, unknown>): CheckOptions & { report: string | undefined; progress: ProgressMode; logLevel: LogLevel } {
  for (const name of ['source', 'target'] as const) {
    if (typeof raw[name] !== 'string' || (raw[name] as string).trim() === '') throw new ConfigError(`--${name} is required`);
  }
  const dbs = dbsOption(raw.dbs);
  const sample = sampleOption(raw.sample);
  const progress = String(raw.progress) as ProgressMode;
  if (!PROGRESS_MODES.includes(progress)) throw new ConfigError(`--progress must be one of ${PROGRESS_MODES.join(', ')}`);
  const logLevel = String(raw.logLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  let statusUrl: string | undefined;
  if (raw.statusUrl !== undefined) {
    try {
      statusUrl = new URL(String(raw.statusUrl)).toString();
    } catch {
      throw new ConfigError(`--status-url must be an http:// URL such as http://127.0.0.1:9121/status; got ${JSON.stringify(raw.statusUrl)}`);
    }
  }
  return {
    source: raw.source as string,
    target: raw.target as string,
    dbs,
    ttlToleranceMs: durationOption(raw.ttlTolerance, '--ttl-tolerance'),
    sample,
    rounds: integer(raw.rounds, '--rounds', 0),
    roundPauseMs: durationOption(raw.roundPause, '--round-pause'),
    statusUrl,
    fenceTimeoutMs: durationOption(raw.fenceTimeout, '--fence-timeout'),
    maxKeys: integer(raw.maxKeys, '--max-keys', 0),
    skipPrefix: String(raw.skipPrefix),
    windowAboveBytes: CHECK_DEFAULTS.windowAboveBytes,
    isTlsInsecure: raw.tlsInsecure === true,
    report: raw.report === undefined ? undefined : String(raw.report),
    progress,
    logLevel,
  };
}

/** `--sample`: a fraction in (0, 1]; 1 when absent. @throws ConfigError naming the option. */
export function sampleOption(v: unknown): number {
  const sample = v === undefined ? 1 : Number(v);
  if (!(sample > 0 && sample <= 1)) throw new ConfigError(`--sample must be a fraction in (0, 1], e.g. 0.01; got ${JSON.stringify(v)}`);
  return sample;
}

/** The human summary: one line per class with keys, per db, and the verdict. */
export function formatCheckSummary(r: CheckResult): string {
  const lines: string[] = [];
  const diff = [...DIFFERENCE_CLASSES].reduce((n, c) => n + r.counts[c], 0);
  lines.push(`${r.isEqual ? 'equal' : 'DIFFERENT'}: ${r.compared.toLocaleString('en-US')} keys compared in ${formatDuration(r.elapsedMs)}, ${diff} differ`);
  for (const c of CHECK_CLASSES) if (r.counts[c] > 0) lines.push(`  ${c}: ${r.counts[c]}${DIFFERENCE_CLASSES.has(c) ? '' : ' (not a difference)'}`);
  for (const [db, d] of Object.entries(r.byDb)) {
    const parts = CHECK_CLASSES.filter((c) => (d[c] ?? 0) > 0).map((c) => `${d[c]} ${c}`);
    lines.push(`db ${db}: ${d.compared} compared${parts.length > 0 ? `, ${parts.join(', ')}` : ''}`);
  }
  for (const c of CHECK_CLASSES) {
    for (const ex of r.examples[c] ?? []) lines.push(`  ${c} db ${ex.db} ${JSON.stringify(ex.key)}: ${ex.detail}`);
  }
  if (r.sample) lines.push(r.sample.statement);
  const fence = r.fence === 'status' ? ", fenced by the replicator's /status" : r.fence === 'checkpoint' ? ", fenced by the replicator's checkpoint on the target" : '';
  if (r.expiryNote !== undefined) lines.push(`note: ${r.expiryNote.trim()}`);
  if (r.rechecked > 0) lines.push(`re-checked ${r.rechecked} key reads${fence}${r.fenceTimedOut ? ' (a fence wait timed out: re-read anyway)' : ''}`);
  return `${lines.join('\n')}\n`;
}

/** The `check` command. */
export function checkCommand(): Command {
  const cmd = new Command('check')
    .summary('compare the target with the source, key by key')
    .description(
      'Compare every key of the source (a Dragonfly master, any Redis, or an RDB file) with the target: missing, extra, ' +
        'type, value and absolute expiry. Exit 0 when equal, 1 when keys differ, 2 on a usage error.',
    )
    .option('--source <file.rdb|url>', 'RDB file, or a live source redis://[user:password@]host:port (rediss:// for TLS) (required)')
    .option('--target <url[,url…]>', 'target Redis as for replicate: redis://…[/db], cluster seeds comma-separated (required)')
    .option('--dbs <list>', 'compare only these source databases, e.g. 0 or 0,3 (default: every database)')
    .option('--ttl-tolerance <ms>', 'largest accepted difference of absolute expiries (e.g. 1s)', String(CHECK_DEFAULTS.ttlToleranceMs))
    .option('--sample <fraction>', 'check this share of the keys (the same keys on both sides), e.g. 0.01, and state the bound it proves')
    .option('--rounds <n>', 'live source: re-check a differing key this many times before reporting it', String(CHECK_DEFAULTS.rounds))
    .option('--round-pause <ms>', 'pause before a re-check when no --status-url fence applies', String(CHECK_DEFAULTS.roundPauseMs))
    .option(
      '--status-url <url>',
      "Dragonfly source: the replicator's GET /status; a re-check waits until every flow acknowledged the master offset taken at the read " +
        "(default: the replicator's checkpoint on the target, when it holds one)",
    )
    .option('--fence-timeout <ms>', 'longest wait for the --status-url fence', String(CHECK_DEFAULTS.fenceTimeoutMs))
    .option('--report <file.json>', 'write counts and examples as JSON')
    .option('--max-keys <n>', 'examples kept per class (summary and report)', String(CHECK_DEFAULTS.maxKeys))
    .option('--skip-prefix <prefix>', "keys never compared (df2redis's own checkpoint keys); empty = none", CHECK_DEFAULTS.skipPrefix)
    .option('--tls-insecure', 'accept any TLS certificate', false);
  addOutputOptions(cmd);
  cmd.addHelpText(
    'after',
    helpEpilogue(
      [
        'df2redis check --source dump.rdb --target redis://127.0.0.1:6379 --report check.json',
        'df2redis check --source redis://dragonfly:6379 --target redis://127.0.0.1:6379 --status-url http://127.0.0.1:9121',
        'df2redis check --source redis://old-redis:6379 --target redis://a:7000,redis://b:7000 --sample 0.01 --rounds 3',
      ],
      CHECK_EXIT_CODES_HELP,
    ),
  );
  return cmd.action(async (raw: Record<string, unknown>) => {
    const o = checkOptionsFrom(raw);
    const logger = createLogger(o.logLevel);
    const checker = new Checker(o);
    const progress = createProgressReporter(o.progress, { logger, label: 'checking' });
    const p = checker.progress;
    progress.start(p, () => ({ bytesRead: p.bytesRead, keysWritten: p.keys }));
    let result: CheckResult;
    try {
      result = await checker.run();
    } finally {
      progress.stop();
    }
    if (o.report !== undefined) await writeFile(o.report, `${JSON.stringify({ source: maskUrlPasswords(o.source), target: maskUrlPasswords(o.target), ...result }, null, 2)}\n`);
    process.stdout.write(formatCheckSummary(result));
    if (!result.isEqual) {
      const n = [...DIFFERENCE_CLASSES].reduce((s, c) => s + result.counts[c], 0);
      throw new CheckDifferencesError(n, `${n} key(s) differ between the source and the target`);
    }
  });
}
