/**
 * `df2redis demo`: the main job on a built-in example, on a fresh machine. Starts a throw-away
 * local `redis-server`, serves the bundled recording of a real Dragonfly v1.40.1 replication session
 * (`assets/dragonfly-types/`, see assets/README.md) with the replay master, runs `replicate`
 * against it (full sync over 4 flows, then the journal), checks every key against the master's
 * recorded final state, prints the summary, and stops everything it started.
 *
 * `--rdb` instead migrates the bundled `assets/demo.rdb` (a Redis 7.0 dump) into the local server.
 */
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import type { Logger } from 'pino';
import { validateMigrateOptions, type MigrateOptions } from '../config/options.js';
import { Df2RedisError } from '../errors.js';
import { ReplayMaster } from '../demo/replay-master.js';
import { MODULE_TYPES, verifyState } from '../demo/verify-state.js';
import { migrateFile } from '../pipeline/migrate-file.js';
import { REPLICATE_DEFAULTS, Replicator } from '../pipeline/replicate.js';
import { createProgressReporter } from '../progress/progress-reporter.js';
import { RedisConnection } from '../sink/redis-connection.js';
import { parseRedisUrl } from '../sink/target-url.js';
import { startLocalRedisServer } from './local-redis-server.js';
import { helpEpilogue } from './exit-codes.js';
import { createLogger } from './logger.js';
import { formatSummary } from './migrate.js';
import { addOutputOptions } from './output-options.js';
import { formatReplicateSummary } from './replicate.js';

/** The bundled example files (package root `assets/`, from `dist/src/cli/`). */
const DEMO_RDB = fileURLToPath(new URL('../../../assets/demo.rdb', import.meta.url));
const DEMO_SESSION = fileURLToPath(new URL('../../../assets/dragonfly-types', import.meta.url));

/** Objects with per-field / per-member TTLs in the recorded seed: no Redis ≤ 8 can hold them. */
const MEMBER_TTL_KEY = /^d\d:(hash:fieldttl|set:memberttl)$/;

/** The `demo` command. */
export function demoCommand(): Command {
  const cmd = new Command('demo')
    .summary('replicate a recorded Dragonfly session into a throw-away local redis-server')
    .description(
      'Start redis-server on a free port of 127.0.0.1 (temporary directory, no persistence), serve the bundled ' +
        'recording of a real Dragonfly v1.40.1 replication session (4 flows, every type, then ~140 journal writes), ' +
        'replicate it, check every key against the master\'s recorded final state, print the summary, and stop ' +
        'everything. With --rdb, migrate the bundled assets/demo.rdb instead.',
    )
    .option('--rdb', 'migrate the bundled Redis RDB file instead of replicating the recorded Dragonfly session', false)
    .option('--redis-server <path>', 'redis-server binary to start', 'redis-server');
  // The demo's stdout tells the story; info logs on the same terminal would only interleave with it.
  addOutputOptions(cmd, { logLevel: 'error' });
  cmd.addHelpText('after', helpEpilogue(['df2redis demo', 'df2redis demo --rdb', 'df2redis demo --log-level info --log-format json']));
  return cmd.action(async (raw: Record<string, unknown>) => {
    const server = await startLocalRedisServer(String(raw.redisServer));
    process.stdout.write(`demo: started redis-server on ${server.url} (pid ${server.pid})\n`);
    try {
      const options = validateMigrateOptions({ source: DEMO_RDB, target: server.url, progress: raw.progress, logLevel: raw.logLevel, logFormat: raw.logFormat });
      const logger = createLogger(options.logLevel, options.logFormat);
      if (raw.rdb === true) await migrateDemo(server.url, logger, options);
      else await replicateDemo(server.url, logger);
    } finally {
      await server.stop();
      process.stdout.write(`demo: stopped redis-server (pid ${server.pid})\n`);
    }
  });
}

/** Replicates the recorded session until every flow's bytes were served and acknowledged, then checks. */
async function replicateDemo(target: string, logger: Logger): Promise<void> {
  // Every absolute time of the recording moves by its age, so it replays as on the day it was made.
  const master = await ReplayMaster.start(DEMO_SESSION, { timeShift: 'now' });
  process.stdout.write(
    `demo: serving the recorded Dragonfly session (${master.phases[0]!.flows.size} flows) on ${master.url}, ` +
      `its times moved ${formatShift(master.timeShiftMs)} to today\n`,
  );
  try {
    const replicator = new Replicator({ ...REPLICATE_DEFAULTS, source: master.url, target, unsupported: 'skip' }, logger);
    const running = replicator.run();
    let flowsDone = 0;
    master.on('flow-done', () => flowsDone++);
    const caughtUp = (): boolean => {
      const s = replicator.status();
      return s.phase === 'stable-sync' && flowsDone === s.flows.length && s.flows.every((f) => f.lsn === f.receivedLsn);
    };
    await Promise.race([
      running.then(() => undefined),
      (async () => {
        const deadline = Date.now() + 60_000;
        while (!caughtUp()) {
          if (Date.now() > deadline) throw new Df2RedisError('demo: the replication did not catch up within 60 s');
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
    ]);
    await replicator.stop();
    const summary = await running;
    process.stdout.write(formatReplicateSummary(summary));
    const s = replicator.status();
    process.stdout.write(
      `skipped snapshot keys: ${s.skipped.unsupported} the target cannot hold (JSON, bloom, cuckoo, CMS, top-k, member/field TTLs), ${s.skipped.expired} expired\n`,
    );

    const conn = await RedisConnection.connect(parseRedisUrl(target), { role: 'demo check' });
    try {
      const result = await verifyState(conn, master.expected(), (key, type) => MODULE_TYPES.has(type) || MEMBER_TTL_KEY.test(key));
      if (result.differences.length > 0) {
        throw new Df2RedisError(`demo: the target differs from the master in ${result.differences.length} key(s):\n  ${result.differences.slice(0, 20).join('\n  ')}`);
      }
      process.stdout.write(
        `demo: verified, ${result.matched} keys equal the master's final state (type, value and expiry); ` +
          `${result.notRepresentable} keys of types this Redis cannot hold are absent, as expected\n`,
      );
    } finally {
      await conn.close();
    }
  } finally {
    await master.close();
  }
}

/** A time shift for humans: `+9 days 4 h` (days and hours of `ms`). */
function formatShift(ms: number): string {
  const h = Math.round(Math.abs(ms) / 3_600_000);
  const text = h >= 24 ? `${Math.floor(h / 24)} days ${h % 24} h` : `${h} h`;
  return `${ms < 0 ? '-' : '+'}${text}`;
}

/** `--rdb`: migrates the bundled RDB file and checks the key count. */
async function migrateDemo(target: string, logger: Logger, options: MigrateOptions): Promise<void> {
  const summary = await migrateFile(options, { logger, progress: createProgressReporter(options.progress, { logger }) });
  process.stdout.write(formatSummary(summary));
  const conn = await RedisConnection.connect(parseRedisUrl(target), { role: 'demo check' });
  try {
    const info = String(await conn.call(['INFO', 'keyspace']));
    let onTarget = 0;
    for (const m of info.matchAll(/^db\d+:keys=(\d+)/gm)) onTarget += Number(m[1]);
    if (onTarget !== summary.totalKeys) throw new Df2RedisError(`demo: the target holds ${onTarget} keys, but ${DEMO_RDB} has ${summary.totalKeys}`);
    process.stdout.write(`demo: verified, the target holds all ${onTarget} keys of ${DEMO_RDB}\n`);
  } finally {
    await conn.close();
  }
}
