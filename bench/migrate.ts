/**
 * `df2redis migrate` from an RDB file against the target's own ingest limit (DESIGN.md "benchmarks"):
 *
 * (a) throughput: a dump of 1 M × 100-byte strings (made by the real redis-server) migrated into a
 *     fresh redis-server, timed, versus `redis-cli --pipe` loading the same 1 M SETs into another
 *     fresh redis-server in the same run. Reports both times and their ratio.
 * (b) memory: peak RSS of the df2redis process migrating a ≥ 1 GB dump (goal ≤ 200 MB) and a dump
 *     holding one 500 MB string (goal ≤ 300 MB). About 30 s here, but ~3 GB of RAM and 1.5 GB of
 *     temporary disk: `BENCH_BIG=0` skips it.
 *
 * Every dump lives in a temporary directory and is removed at the end. `BENCH_KEYS` overrides the
 * key count of (a). Peak RSS is `/usr/bin/time -f %M` (kernel maxrss of the child) when available,
 * else VmHWM from /proc/<pid>/status sampled every 20 ms.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisServer, redisCli, type RedisServer } from '../test/helpers/redis-server.js';
import { buildStringsDump, buildBigDump, buildHugeStringDump, redisCliPipe } from '../test/helpers/rdb-factory.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const TIME = '/usr/bin/time';
const MB = 1024 * 1024;

/** What one `df2redis migrate` child did: wall time, peak RSS, output. */
interface MigrateRun {
  elapsedMs: number;
  peakRssBytes: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node dist/src/cli/main.js migrate --source <rdb> --target <url> --progress none` and measures
 * its wall time and peak RSS. @throws Error with the output on a non-zero exit.
 */
async function timedMigrate(rdb: string, target: RedisServer): Promise<MigrateRun> {
  const args = [CLI, 'migrate', '--source', rdb, '--target', target.url, '--progress', 'none', '--log-level', 'warn'];
  const dir = path.dirname(rdb);
  const rssFile = path.join(dir, 'maxrss.txt');
  const hasTime = existsSync(TIME);
  const started = performance.now();
  const child = hasTime
    ? spawn(TIME, ['-f', '%M', '-o', rssFile, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-16_384)));
  let hwmKb = 0;
  const sampler = hasTime
    ? undefined
    : setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'latin1'));
          if (m) hwmKb = Math.max(hwmKb, Number(m[1]));
        } catch {
          // exited between samples
        }
      }, 20);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const elapsedMs = performance.now() - started;
  if (sampler) clearInterval(sampler);
  if (code !== 0) throw new Error(`df2redis migrate ${rdb} exited ${code}:\n${stdout}\n${stderr}`);
  if (hasTime) hwmKb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
  return { elapsedMs, peakRssBytes: hwmKb * 1024, stdout, stderr };
}

/** Moves a server's dump.rdb into a new temp dir, then stops the server to free its memory. */
async function detachDump(dump: { path: string; server: RedisServer }): Promise<string> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'df2redis-bench-')), 'dump.rdb');
  renameSync(dump.path, file);
  await dump.server.stop();
  return file;
}

async function dbsize(server: RedisServer): Promise<number> {
  return Number((await redisCli(server.port, 'DBSIZE')).trim());
}

/** (a): migrate vs `redis-cli --pipe` on the same 1 M SETs. */
async function throughput(): Promise<Record<string, number | string>> {
  const count = Number(process.env.BENCH_KEYS ?? 1_000_000);
  const dump = await buildStringsDump({ count, valueBytes: 100 });
  const servers: RedisServer[] = [dump.server];
  try {
    const [viaMigrate, viaPipe] = await Promise.all([startRedisServer(), startRedisServer()]);
    servers.push(viaMigrate, viaPipe);
    // One after the other: the machine has 2 cores, running both at once would skew both.
    const run = await timedMigrate(dump.path, viaMigrate);
    const pipe = await redisCliPipe(viaPipe.port, dump.pipeFile);
    for (const s of [viaMigrate, viaPipe]) {
      const n = await dbsize(s);
      if (n !== count) throw new Error(`target ${s.port} holds ${n} keys, expected ${count}`);
    }
    return {
      'keys (100 B strings)': count,
      'rdb size (MB)': dump.sizeBytes / MB,
      'migrate time (s)': run.elapsedMs / 1000,
      'migrate keys/s': Math.round(count / (run.elapsedMs / 1000)),
      'redis-cli --pipe time (s)': pipe.elapsedMs / 1000,
      'redis-cli --pipe keys/s': Math.round(count / (pipe.elapsedMs / 1000)),
      'migrate / pipe time ratio': run.elapsedMs / pipe.elapsedMs,
      'migrate peak RSS (MB)': run.peakRssBytes / MB,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(path.dirname(dump.pipeFile), { recursive: true, force: true });
  }
}

/** (b): peak RSS on a ≥ 1 GB dump and on one 500 MB string. */
async function memory(): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {};
  {
    const dump = await buildBigDump(1 << 30);
    const keys = await dbsize(dump.server);
    const rdb = await detachDump(dump);
    const target = await startRedisServer();
    try {
      const run = await timedMigrate(rdb, target);
      const got = await dbsize(target);
      if (got !== keys) throw new Error(`big dump: target holds ${got} keys, expected ${keys}`);
      const peak = run.peakRssBytes / MB;
      out['1 GB dump: size (MB)'] = dump.sizeBytes / MB;
      out['1 GB dump: keys'] = keys;
      out['1 GB dump: migrate time (s)'] = run.elapsedMs / 1000;
      out['1 GB dump: peak RSS (MB)'] = peak;
      out['1 GB dump: goal ≤ 200 MB'] = peak <= 200 ? 'met' : 'MISSED';
    } finally {
      await target.stop();
      rmSync(path.dirname(rdb), { recursive: true, force: true });
    }
  }
  {
    const bytes = 500 * MB;
    const rdb = await detachDump(await buildHugeStringDump(bytes));
    const target = await startRedisServer({ config: { 'proto-max-bulk-len': String(1024 * MB) } });
    try {
      const run = await timedMigrate(rdb, target);
      const len = Number((await redisCli(target.port, 'STRLEN', 'huge:string')).trim());
      if (len !== bytes) throw new Error(`500 MB string: target holds ${len} bytes, expected ${bytes}`);
      const peak = run.peakRssBytes / MB;
      out['500 MB string: migrate time (s)'] = run.elapsedMs / 1000;
      out['500 MB string: peak RSS (MB)'] = peak;
      out['500 MB string: goal ≤ 300 MB'] = peak <= 300 ? 'met' : 'MISSED';
    } finally {
      await target.stop();
      rmSync(path.dirname(rdb), { recursive: true, force: true });
    }
  }
  return out;
}

/** Runs (a), and (b) unless `BENCH_BIG=0`. */
export async function run(): Promise<Record<string, number | string>> {
  const result = await throughput();
  if (process.env.BENCH_BIG !== '0') Object.assign(result, await memory());
  else result['memory (≥ 1 GB dump, 500 MB string)'] = 'skipped (BENCH_BIG=0)';
  return result;
}
