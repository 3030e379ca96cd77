/**
 * `df2redis migrate` from an RDB file against the target's own ingest limit (DESIGN.md "benchmarks"):
 *
 * (a) throughput, each measure the best of `BENCH_ROUNDS` (default 3) interleaved rounds, each into a fresh
 *     redis-server, one process at a time (2 cores), baselines in the same run:
 *     - `migrate` of a dump of 1 M × 100-byte strings (made by the real redis-server), of one
 *       where every 10th key has an absolute expiry, and of one holding DEBUG POPULATE's values
 *       (`value:<n>` padded with NULs: LZF-compressed in the dump, as compressible values are);
 *     - `migrate --source redis://…` of the recorded Dragonfly session `bulk-1m` (1 M × 100-byte
 *       strings over 4 flows, LZ4 blobs) served by the replay master in this process;
 *     each against `redis-cli --pipe` of the same keys as SETs (what users compare with) and as
 *     MSETs of 100 keys (the target's cheapest ingest path). Reported: times, ratios, df2redis CPU
 *     seconds (user + sys) per million keys, redis-server CPU seconds of each load, peak RSS;
 *     - `migrate` of a dump of 100 K hashes / sets / zsets / lists of 100 elements against
 *       `redis-cli --pipe` of one multi-element HSET / SADD / ZADD / RPUSH per key.
 * (b) memory: peak RSS of the df2redis process migrating a ≥ 1 GB dump (goal ≤ 200 MB) and a dump
 *     holding one 500 MB string (goal ≤ 300 MB), and one of 10 M keys made by `DEBUG POPULATE`
 *     (goal ≤ 200 MB). About 2 min here, but ~3 GB of RAM and 1.5 GB of temporary disk:
 *     `BENCH_BIG=0` skips them.
 *
 * Every dump lives in a temporary directory and is removed at the end. `BENCH_KEYS` overrides the
 * key count of (a), `BENCH_COLLECTIONS` that of its collections; `BENCH_MIGRATE` picks measures
 * (see {@link run}). Peak RSS is `/usr/bin/time -f %M` (kernel maxrss of the child) when available,
 * else VmHWM from /proc/<pid>/status sampled every 20 ms.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRedisServer, redisCli, type RedisServer } from '../test/helpers/redis-server.js';
import {
  buildStringsDump,
  buildBigDump,
  buildHugeStringDump,
  redisCliPipe,
  saveDump,
  writeMsetCommands,
  writeSetCommandsFile,
} from '../test/helpers/rdb-factory.js';
import { ReplayMaster } from '../test/helpers/replay-master.js';
import { cliCommand } from './cli.js';

const TIME = '/usr/bin/time';
const MB = 1024 * 1024;

/** What one `df2redis migrate` child did: wall time, CPU seconds, peak RSS, output. */
interface MigrateRun {
  elapsedMs: number;
  /** user + sys seconds of the df2redis process (NaN without /usr/bin/time). */
  cpuS: number;
  peakRssBytes: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `df2redis migrate --source <source> --target <url> --progress none` (bench/cli.ts) and
 * measures its wall time, CPU time and peak RSS. `source` is an RDB path or a Dragonfly URL; `dir`
 * holds the `/usr/bin/time` output. @throws Error with the output on a non-zero exit.
 */
async function timedMigrate(source: string, target: RedisServer, dir: string): Promise<MigrateRun> {
  const [file, args] = cliCommand(['migrate', '--source', source, '--target', target.url, '--progress', 'none', '--log-level', 'warn']);
  const rssFile = path.join(dir, 'time.txt');
  const hasTime = existsSync(TIME);
  const started = performance.now();
  const child = hasTime
    ? spawn(TIME, ['-f', '%U %S %M', '-o', rssFile, file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
  if (code !== 0) throw new Error(`df2redis migrate ${source} exited ${code}:\n${stdout}\n${stderr}`);
  let cpuS = NaN;
  if (hasTime) {
    const [user, sys, kb] = readFileSync(rssFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    cpuS = user! + sys!;
    hwmKb = kb!;
  }
  return { elapsedMs, cpuS, peakRssBytes: hwmKb * 1024, stdout, stderr };
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

/** Rounds of each measure in (a); the best (shortest) round of each is reported. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Keys per MSET of the cheapest-commands baseline. */
const MSET_KEYS = 100;

/** One load into a fresh redis-server: wall time, CPU of the loader (df2redis only) and of the server. */
interface Load {
  elapsedMs: number;
  /** df2redis user + sys seconds; NaN for redis-cli. */
  cpuS: number;
  serverCpuS: number;
  peakRssBytes: number;
}

/** `used_cpu_user + used_cpu_sys` of a redis-server, seconds. */
async function serverCpuS(server: RedisServer): Promise<number> {
  const info = await redisCli(server.port, 'INFO', 'cpu');
  const field = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

type LoadFn = (target: RedisServer) => Promise<{ elapsedMs: number; cpuS?: number; peakRssBytes?: number }>;

/**
 * Runs every load ROUNDS times, interleaved (A B C A B C …: a burst of load from elsewhere on the
 * shared machine hits every contender alike), each into a fresh redis-server that must end with
 * `keys` keys; returns the round with the shortest wall time of each load.
 */
async function bestOf(keys: number, loads: LoadFn[]): Promise<Load[]> {
  const best: Array<Load | undefined> = loads.map(() => undefined);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < loads.length; i++) {
      const target = await startRedisServer();
      try {
        const before = await serverCpuS(target);
        const r = await loads[i]!(target);
        const serverCpu = (await serverCpuS(target)) - before;
        const n = await dbsize(target);
        if (n !== keys) throw new Error(`target ${target.port} holds ${n} keys, expected ${keys}`);
        if (best[i] === undefined || r.elapsedMs < best[i]!.elapsedMs) {
          best[i] = { elapsedMs: r.elapsedMs, cpuS: r.cpuS ?? NaN, serverCpuS: serverCpu, peakRssBytes: r.peakRssBytes ?? NaN };
        }
      } finally {
        await target.stop();
      }
    }
  }
  return best as Load[];
}

/** Rows of one df2redis measure against its two `redis-cli --pipe` baselines. */
function report(out: Record<string, number | string>, label: string, keys: number, ours: Load, set: Load, mset: Load): void {
  out[`${label}: df2redis time (s)`] = ours.elapsedMs / 1000;
  out[`${label}: redis-cli --pipe SET time (s)`] = set.elapsedMs / 1000;
  out[`${label}: redis-cli --pipe MSET×${MSET_KEYS} time (s)`] = mset.elapsedMs / 1000;
  out[`${label}: df2redis / pipe SET`] = ours.elapsedMs / set.elapsedMs;
  out[`${label}: df2redis / pipe MSET`] = ours.elapsedMs / mset.elapsedMs;
  out[`${label}: df2redis keys/s`] = Math.round(keys / (ours.elapsedMs / 1000));
  out[`${label}: df2redis CPU s per 1 M keys`] = ours.cpuS / (keys / 1e6);
  out[`${label}: redis-server CPU s (df2redis / pipe SET / pipe MSET)`] =
    `${ours.serverCpuS.toFixed(2)} / ${set.serverCpuS.toFixed(2)} / ${mset.serverCpuS.toFixed(2)}`;
  out[`${label}: df2redis peak RSS (MB)`] = ours.peakRssBytes / MB;
}

/**
 * (a1): `migrate` of an RDB of 1 M × 100-byte strings (every `ttlEvery`-th with an absolute expiry,
 * 0 = none) vs `redis-cli --pipe` of the same keys as SETs (`SET … PXAT` for those with an expiry)
 * and as MSETs (the target's cheapest ingest path; the keys with an expiry still as `SET … PXAT`),
 * each into a fresh redis-server, one at a time (2 cores: running two at once would skew both).
 */
async function fromFile(out: Record<string, number | string>, label: string, ttlEvery: number, values: 'random' | 'padded' = 'random'): Promise<void> {
  const count = Number(process.env.BENCH_KEYS ?? 1_000_000);
  const dump = await buildStringsDump({ count, valueBytes: 100, ttlEvery, values });
  const dir = path.dirname(dump.pipeFile);
  const rdb = path.join(dir, 'dump.rdb');
  renameSync(dump.path, rdb);
  await dump.server.stop();
  try {
    const msetFile = await writeSetCommandsFile({ count, valueBytes: 100, keysPerCommand: MSET_KEYS, ttlEvery, values }, dir);
    const [ours, set, mset] = await bestOf(count, [
      (t) => timedMigrate(rdb, t, dir),
      (t) => redisCliPipe(t.port, dump.pipeFile),
      (t) => redisCliPipe(t.port, msetFile),
    ]);
    out[`${label}: keys`] = count;
    out[`${label}: size (MB)`] = dump.sizeBytes / MB;
    report(out, label, count, ours, set, mset);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * (a2): full sync of the recorded `bulk-1m` session (a real Dragonfly v1.40.1 master: 1 M × 100-byte
 * strings `key:0` … `key:999999`, value 100 × `x`, over 4 flows in LZ4 blobs), served by the replay
 * master in this process, through `df2redis migrate --source redis://…`; versus `redis-cli --pipe`
 * of the same keys as SETs and as MSETs.
 */
async function fromDragonfly(out: Record<string, number | string>): Promise<void> {
  const count = 1_000_000;
  const dir = mkdtempSync(path.join(tmpdir(), 'df2redis-bench-bulk-'));
  try {
    const value = 'x'.repeat(100);
    const pair = (i: number, chunk: Buffer, pos: number): number => {
      const key = `key:${i}`;
      return pos + chunk.write(`$${key.length}\r\n${key}\r\n$100\r\n${value}\r\n`, pos, 'latin1');
    };
    const setFile = path.join(dir, 'set.resp');
    const msetFile = path.join(dir, 'mset.resp');
    for (const [file, perCommand] of [[setFile, 1], [msetFile, MSET_KEYS]] as const) {
      const stream = createWriteStream(file);
      if (perCommand === 1) {
        for (let i = 0; i < count; i += 10_000) {
          const chunk = Buffer.allocUnsafe(10_000 * 160);
          let pos = 0;
          for (let j = i; j < i + 10_000; j++) pos = pair(j, chunk, pos + chunk.write('*3\r\n$3\r\nSET\r\n', pos, 'latin1'));
          if (!stream.write(chunk.subarray(0, pos))) await once(stream, 'drain');
        }
      } else {
        await writeMsetCommands(stream, count, perCommand, pair, 140);
      }
      stream.end();
      await once(stream, 'finish');
    }
    const [ours, set, mset] = await bestOf(count, [
      async (t) => {
        const master = await ReplayMaster.start('bulk-1m');
        try {
          return await timedMigrate(`redis://127.0.0.1:${master.port}`, t, dir);
        } finally {
          await master.close();
        }
      },
      (t) => redisCliPipe(t.port, setFile),
      (t) => redisCliPipe(t.port, msetFile),
    ]);
    report(out, 'dragonfly bulk-1m', count, ours, set, mset);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Elements of each collection in (a3). */
const COLLECTION_ELEMENTS = 100;
/** Collection types of (a3), one key of each in turn. */
const COLLECTION_TYPES = ['hash', 'set', 'zset', 'list'] as const;

/**
 * Writes (a3)'s data as `redis-cli --pipe` input in the cheapest commands: per key, ONE `HSET` /
 * `SADD` / `ZADD` / `RPUSH` with all its {@link COLLECTION_ELEMENTS} elements. Key i is
 * `coll:<type>:<i, 8 digits>` of type `COLLECTION_TYPES[i % 4]`; hash fields `field:NN` with 16-byte
 * values, set / zset members and list elements 16 bytes of text (never integers: no intset), zset
 * scores the element index. With Redis 7.0 defaults that makes hashes and zsets listpacks, sets hash
 * tables, lists quicklists of one listpack node.
 */
export async function writeCollectionCommands(file: string, keys: number): Promise<void> {
  const stream = createWriteStream(file);
  const text = (i: number, j: number): string => `e${String(j).padStart(2, '0')}-${String(i * 7 + j).padStart(12, '0')}`;
  let parts: string[] = [];
  const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  for (let i = 0; i < keys; i++) {
    const type = COLLECTION_TYPES[i % COLLECTION_TYPES.length]!;
    const key = `coll:${type}:${String(i).padStart(8, '0')}`;
    const args: string[] = [];
    for (let j = 0; j < COLLECTION_ELEMENTS; j++) {
      if (type === 'hash') args.push(bulk(`field:${String(j).padStart(2, '0')}`), bulk(text(i, j)));
      else if (type === 'zset') args.push(bulk(String(j)), bulk(text(i, j)));
      else args.push(bulk(text(i, j)));
    }
    const name = { hash: 'HSET', set: 'SADD', zset: 'ZADD', list: 'RPUSH' }[type];
    parts.push(`*${2 + args.length}\r\n${bulk(name)}${bulk(key)}${args.join('')}`);
    if (parts.length === 1000) {
      if (!stream.write(parts.join(''))) await once(stream, 'drain');
      parts = [];
    }
  }
  stream.end(parts.join(''));
  await once(stream, 'finish');
}

/**
 * (a3): `migrate` of an RDB of `BENCH_COLLECTIONS` (default 100 K) collections of 100 elements,
 * hashes, sets, zsets and lists in turn (made by the real redis-server from the baseline's own
 * commands, then `SAVE`d), against `redis-cli --pipe` of those commands: one multi-element command
 * per key, the target's cheapest ingest path for commands.
 */
async function collections(out: Record<string, number | string>): Promise<void> {
  const keys = Number(process.env.BENCH_COLLECTIONS ?? 100_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'df2redis-bench-coll-'));
  try {
    const pipeFile = path.join(dir, 'collections.resp');
    await writeCollectionCommands(pipeFile, keys);
    const source = await startRedisServer();
    const rdb = path.join(dir, 'dump.rdb');
    let sizeBytes: number;
    try {
      await redisCliPipe(source.port, pipeFile);
      const saved = await saveDump(source);
      sizeBytes = saved.sizeBytes;
      renameSync(saved.path, rdb);
    } finally {
      await source.stop();
    }
    const [ours, cmds] = await bestOf(keys, [(t) => timedMigrate(rdb, t, dir), (t) => redisCliPipe(t.port, pipeFile)]);
    const label = `${keys / 1000} K collections × ${COLLECTION_ELEMENTS}`;
    out[`${label}: size (MB)`] = sizeBytes / MB;
    out[`${label}: df2redis time (s)`] = ours!.elapsedMs / 1000;
    out[`${label}: redis-cli --pipe HSET/SADD/ZADD/RPUSH time (s)`] = cmds!.elapsedMs / 1000;
    out[`${label}: df2redis / pipe`] = ours!.elapsedMs / cmds!.elapsedMs;
    out[`${label}: df2redis CPU s`] = ours!.cpuS;
    out[`${label}: redis-server CPU s (df2redis / pipe)`] = `${ours!.serverCpuS.toFixed(2)} / ${cmds!.serverCpuS.toFixed(2)}`;
    out[`${label}: df2redis peak RSS (MB)`] = ours!.peakRssBytes / MB;
  } finally {
    rmSync(dir, { recursive: true, force: true });
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
      const run = await timedMigrate(rdb, target, path.dirname(rdb));
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
      const run = await timedMigrate(rdb, target, path.dirname(rdb));
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

/**
 * (b2): peak RSS migrating a dump of `BENCH_POPULATE_KEYS` (default 10 M) × 100-byte strings made by
 * `DEBUG POPULATE` in a redis-server and `SAVE`d (goal ≤ 200 MB whatever the key count). About
 * 2 × 1.3 GB of RAM (source while saving, then target) and 1.2 GB of temporary disk.
 */
async function populated(out: Record<string, number | string>): Promise<void> {
  const keys = Number(process.env.BENCH_POPULATE_KEYS ?? 10_000_000);
  const source = await startRedisServer({ config: { 'enable-debug-command': 'yes' } });
  let rdb: string;
  let sizeBytes: number;
  try {
    await redisCli(source.port, 'DEBUG', 'POPULATE', String(keys), 'key', '100');
    const saved = await saveDump(source);
    sizeBytes = saved.sizeBytes;
    rdb = await detachDump({ path: saved.path, server: source });
  } catch (err) {
    await source.stop();
    throw err;
  }
  const target = await startRedisServer();
  try {
    const run = await timedMigrate(rdb, target, path.dirname(rdb));
    const got = await dbsize(target);
    if (got !== keys) throw new Error(`populated dump: target holds ${got} keys, expected ${keys}`);
    const label = `${keys / 1e6} M keys (DEBUG POPULATE, 100 B)`;
    out[`${label}: size (MB)`] = sizeBytes / MB;
    out[`${label}: migrate time (s)`] = run.elapsedMs / 1000;
    out[`${label}: df2redis CPU s per 1 M keys`] = run.cpuS / (keys / 1e6);
    out[`${label}: peak RSS (MB)`] = run.peakRssBytes / MB;
    out[`${label}: goal ≤ 200 MB`] = run.peakRssBytes / MB <= 200 ? 'met' : 'MISSED';
  } finally {
    await target.stop();
    rmSync(path.dirname(rdb), { recursive: true, force: true });
  }
}

/** The measures of this module, in order; `BENCH_MIGRATE=collections,ttl` runs some. */
const MEASURES: Record<string, (out: Record<string, number | string>) => Promise<void>> = {
  file: (out) => fromFile(out, 'rdb file', 0),
  ttl: (out) => fromFile(out, 'rdb file, 10 % with TTL', 10),
  lzf: (out) => fromFile(out, 'rdb file, DEBUG POPULATE values (LZF)', 0, 'padded'),
  collections,
  bulk: fromDragonfly,
  memory: async (out) => {
    if (process.env.BENCH_BIG !== '0') Object.assign(out, await memory());
    else out['memory (≥ 1 GB dump, 500 MB string)'] = 'skipped (BENCH_BIG=0)';
  },
  populate: async (out) => {
    if (process.env.BENCH_BIG !== '0') await populated(out);
    else out['memory (10 M keys)'] = 'skipped (BENCH_BIG=0)';
  },
};

/**
 * Runs (a) and (b) (b unless `BENCH_BIG=0`); `BENCH_MIGRATE` = a comma-separated subset of
 * `file,ttl,lzf,collections,bulk,memory,populate`. @throws Error naming an unknown measure.
 */
export async function run(): Promise<Record<string, number | string>> {
  const result: Record<string, number | string> = {};
  const names = process.env.BENCH_MIGRATE?.split(',') ?? Object.keys(MEASURES);
  for (const name of names) {
    const measure = MEASURES[name];
    if (measure === undefined) throw new Error(`BENCH_MIGRATE: unknown measure ${name}; known: ${Object.keys(MEASURES).join(', ')}`);
    await measure(result);
  }
  return result;
}
