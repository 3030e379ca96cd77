/**
 * `df2redis demo`: the main job on a built-in example, on a fresh machine. Starts a throw-away
 * local `redis-server`, migrates the bundled `assets/demo.rdb` (see assets/README.md) into it,
 * checks the target holds every key of the file, prints the summary, and stops the server.
 */
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { validateMigrateOptions } from '../config/options.js';
import { Df2RedisError } from '../errors.js';
import { migrateFile } from '../pipeline/migrate-file.js';
import { createProgressReporter } from '../progress/progress-reporter.js';
import { RedisConnection } from '../sink/redis-connection.js';
import { parseRedisUrl } from '../sink/target-url.js';
import { startLocalRedisServer } from './local-redis-server.js';
import { createLogger } from './logger.js';
import { formatSummary } from './migrate.js';
import { addOutputOptions } from './output-options.js';

/** The bundled example file (package root `assets/`, from `dist/src/cli/`). */
const DEMO_RDB = fileURLToPath(new URL('../../../assets/demo.rdb', import.meta.url));

/** The `demo` command. */
export function demoCommand(): Command {
  const cmd = new Command('demo')
    .summary('migrate a bundled example RDB into a throw-away local redis-server')
    .description(
      'Start redis-server on a free port of 127.0.0.1 (temporary directory, no persistence), migrate the ' +
        'bundled assets/demo.rdb into it, check the key count, print the summary, and stop the server.',
    )
    .option('--redis-server <path>', 'redis-server binary to start', 'redis-server');
  // The demo's stdout tells the story; info logs on the same terminal would only interleave with it.
  addOutputOptions(cmd, { logLevel: 'warn' });
  return cmd.action(async (raw: Record<string, unknown>) => {
    const server = await startLocalRedisServer(String(raw.redisServer));
    process.stdout.write(`demo: started redis-server on ${server.url} (pid ${server.pid})\n`);
    try {
      const options = validateMigrateOptions({ source: DEMO_RDB, target: server.url, progress: raw.progress, logLevel: raw.logLevel });
      const logger = createLogger(options.logLevel);
      const summary = await migrateFile(options, { logger, progress: createProgressReporter(options.progress, { logger }) });
      process.stdout.write(formatSummary(summary));
      const onTarget = await countKeys(server.url);
      if (onTarget !== summary.totalKeys) {
        throw new Df2RedisError(`demo: the target holds ${onTarget} keys, but ${DEMO_RDB} has ${summary.totalKeys}`);
      }
      process.stdout.write(`demo: verified, the target holds all ${onTarget} keys of ${DEMO_RDB}\n`);
    } finally {
      await server.stop();
      process.stdout.write(`demo: stopped redis-server (pid ${server.pid})\n`);
    }
  });
}

/** Sum of `keys=` over every database in `INFO keyspace`. */
async function countKeys(url: string): Promise<number> {
  const conn = await RedisConnection.connect(parseRedisUrl(url), { role: 'demo check' });
  try {
    const info = String(await conn.call(['INFO', 'keyspace']));
    let keys = 0;
    for (const m of info.matchAll(/^db\d+:keys=(\d+)/gm)) keys += Number(m[1]);
    return keys;
  } finally {
    await conn.close();
  }
}
