/**
 * `df2redis migrate` into a 3-master Redis Cluster versus into one `redis-server`, same data, same run
 * (DESIGN.md "benchmarks"; goal of issue 12, which tightened the earlier 1.1: cluster time ≤ 1.0 × the
 * standalone time on this 2-core machine, and on paper what it would be with a core per node).
 *
 * One dump of N × 100-byte strings (default 1 M, `BENCH_KEYS` overrides; made by the real
 * redis-server with `buildStringsDump`) is migrated, as a `df2redis migrate` child process timed by
 * wall clock like bench/migrate.ts, into a fresh standalone server and into a fresh 3-master cluster
 * (which df2redis detects itself and writes through one pipelined connection per master). The two
 * targets alternate over `BENCH_ROUNDS` rounds (default 4: S C, C S, S C, C S), with `FLUSHALL SYNC`
 * on every node before each migrate, and the best time per target is reported (every run is listed
 * too), so a burst of load from elsewhere on the shared machine spoils one round, not the result.
 * After every migrate the sum of `DBSIZE` over the target's masters must equal N, or the bench fails.
 * `redis-cli --pipe` loading the same N SETs into the standalone server (once per round, best kept)
 * gives the target's own ingest limit for context.
 *
 * Where the time goes: for every run the CPU seconds (user + sys) of the df2redis child
 * (`/usr/bin/time -f %U/%S`, else its last /proc sample), of each master (/proc/<pid>/stat utime +
 * stime, all threads, before and after) and of everything else on the host (/proc/stat busy time
 * minus those) are recorded, and reported for the best run of each target, with df2redis + servers
 * divided by wall time ("busy cores", out of 2). The cluster run has 4 busy processes on 2 cores,
 * so it is CPU-bound on their sum; with a core per node its floor is instead the busiest single
 * process (normally df2redis: decoding, slot hashing and RESP encoding for all masters). "With a
 * core per node (on paper)" is that floor of the best cluster run over the same floor of the best
 * standalone run (the larger of df2redis's and redis-server's CPU seconds).
 *
 * Every dump and server lives in a temporary directory and is removed at the end. About 30 s at
 * 1 M keys.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRedisServer, startCluster, redisCli, type RedisServer, type RedisCluster } from '../test/helpers/redis-server.js';
import { cliCommand } from './cli.js';
import { buildStringsDump, redisCliPipe } from '../test/helpers/rdb-factory.js';

const TIME = '/usr/bin/time';
/** Issue 12: cluster time ≤ 1.0 × standalone time. */
const GOAL_RATIO = 1.0;

/** Clock ticks per second of /proc/<pid>/stat times. */
const CLK_TCK = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + sys, all threads; only thread `tid` if given) a live process has used so far; 0 if it is gone. (bench/replicate.ts uses it too.) */
export function cpuSeconds(pid: number, tid?: number): number {
  try {
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'latin1');
    // Fields after "(comm)": state is field 3, utime field 14, stime field 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** CPU seconds the whole machine has spent busy (all cores, /proc/stat: everything but idle and iowait). */
function machineBusySeconds(): number {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!.trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number);
    return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** One timed `df2redis migrate` into one target. */
interface Run {
  elapsedMs: number;
  /** CPU seconds of the df2redis process. */
  clientCpu: number;
  /** CPU seconds of each master, in the target's order. */
  serverCpu: number[];
  /** CPU seconds the rest of the machine used meanwhile (other work on the shared host, the bench itself). */
  otherCpu: number;
  /** DBSIZE of each master afterwards. */
  keys: number[];
}

/** A migration target: one standalone server or a cluster's masters. */
interface Target {
  name: string;
  url: string;
  masters: RedisServer[];
}

/**
 * Runs `node dist/src/cli/main.js migrate --source <rdb> --target <url> --progress none --log-level warn`
 * (under `/usr/bin/time` when present, for the child's own CPU time), timing its wall time and the
 * CPU used meanwhile by the target's masters. @throws Error with the output on a non-zero exit.
 */
async function timedMigrate(rdb: string, target: Target, dir: string): Promise<Omit<Run, 'keys'>> {
  const [file, args] = cliCommand(['migrate', '--source', rdb, '--target', target.url, '--progress', 'none', '--log-level', 'warn']);
  const timeFile = path.join(dir, 'time.txt');
  const hasTime = existsSync(TIME);
  const serverBefore = target.masters.map((m) => cpuSeconds(m.pid));
  const machineBefore = machineBusySeconds();
  const started = performance.now();
  const child = hasTime
    ? spawn(TIME, ['-f', '%U %S', '-o', timeFile, file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer): void => {
    output = (output + d.toString()).slice(-16_384);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  // Without /usr/bin/time: the child's CPU as last seen in /proc before it exited.
  let sampledCpu = 0;
  const sampler = hasTime ? undefined : setInterval(() => (sampledCpu = Math.max(sampledCpu, cpuSeconds(child.pid!))), 50);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const elapsedMs = performance.now() - started;
  const serverCpu = target.masters.map((m, i) => cpuSeconds(m.pid) - serverBefore[i]!);
  const machineCpu = machineBusySeconds() - machineBefore;
  if (sampler) clearInterval(sampler);
  if (code !== 0) throw new Error(`df2redis migrate into ${target.name} (${target.url}) exited ${code}:\n${output}`);
  let clientCpu = sampledCpu;
  if (hasTime) {
    const [user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    clientCpu = user! + sys!;
  }
  const otherCpu = Math.max(0, machineCpu - clientCpu - serverCpu.reduce((a, b) => a + b, 0));
  return { elapsedMs, clientCpu, serverCpu, otherCpu };
}

async function dbsizes(target: Target): Promise<number[]> {
  return Promise.all(target.masters.map(async (m) => Number((await redisCli(m.port, 'DBSIZE')).trim())));
}

/** Empties every master (synchronously, so no background free runs during the next timing). */
async function flush(target: Target): Promise<void> {
  await Promise.all(
    target.masters.map(async (m) => {
      const reply = (await redisCli(m.port, 'FLUSHALL', 'SYNC')).trim();
      if (reply !== 'OK') throw new Error(`FLUSHALL on ${m.port}: ${reply}`);
    }),
  );
}

/** Flushes, migrates, and checks that the masters hold `count` keys in total. */
async function migrateInto(rdb: string, target: Target, count: number, dir: string): Promise<Run> {
  await flush(target);
  const run = await timedMigrate(rdb, target, dir);
  const keys = await dbsizes(target);
  const total = keys.reduce((a, b) => a + b, 0);
  if (total !== count) throw new Error(`${target.name}: masters hold ${total} keys (${keys.join('/')}), expected ${count}`);
  return { ...run, keys };
}

const best = <T extends { elapsedMs: number }>(runs: T[]): T => runs.reduce((a, b) => (b.elapsedMs < a.elapsedMs ? b : a));
/** Median wall time of `runs` (ms; the mean of the middle two for an even count). */
function median(runs: readonly { elapsedMs: number }[]): number {
  const ms = runs.map((r) => r.elapsedMs).sort((a, b) => a - b);
  const mid = ms.length >> 1;
  return ms.length % 2 === 1 ? ms[mid]! : (ms[mid - 1]! + ms[mid]!) / 2;
}
const seconds = (runs: { elapsedMs: number }[]): string => runs.map((r) => (r.elapsedMs / 1000).toFixed(2)).join(' / ');
const cpu = (s: number): string => s.toFixed(2);

/** Per-run CPU rows: df2redis, each master, and the busy cores (total CPU / wall). */
function cpuRows(label: string, run: Run): Record<string, number | string> {
  const servers = run.serverCpu.reduce((a, b) => a + b, 0);
  return {
    [`${label}: df2redis CPU s`]: run.clientCpu,
    [`${label}: redis-server CPU s`]: run.serverCpu.length > 1 ? `${run.serverCpu.map(cpu).join('/')} (Σ ${cpu(servers)})` : cpu(servers),
    [`${label}: busy cores (CPU / wall)`]: (run.clientCpu + servers) / (run.elapsedMs / 1000),
    [`${label}: other processes CPU s`]: run.otherCpu,
  };
}

export async function run(): Promise<Record<string, number | string>> {
  const count = Number(process.env.BENCH_KEYS ?? 1_000_000);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
  if (!Number.isInteger(count) || count <= 0) throw new Error(`BENCH_KEYS must be a positive integer, got ${process.env.BENCH_KEYS}`);
  if (!Number.isInteger(rounds) || rounds <= 0) throw new Error(`BENCH_ROUNDS must be a positive integer, got ${process.env.BENCH_ROUNDS}`);

  const dump = await buildStringsDump({ count, valueBytes: 100 });
  const dir = mkdtempSync(path.join(tmpdir(), 'df2redis-bench-cluster-'));
  let standalone: RedisServer | undefined;
  let cluster: RedisCluster | undefined;
  try {
    // Move the dump out of its source server's directory (removed by stop()), then stop that server
    // to free its memory and keep it off the CPU.
    const rdb = path.join(dir, 'dump.rdb');
    renameSync(dump.path, rdb);
    await dump.server.stop();
    [standalone, cluster] = await Promise.all([startRedisServer(), startCluster({ masters: 3 })]);
    const masters = cluster.nodes.slice(0, 3);
    const targets: Record<'standalone' | 'cluster', Target> = {
      standalone: { name: 'standalone', url: standalone.url, masters: [standalone] },
      cluster: { name: 'cluster', url: cluster.seedUrl, masters },
    };

    const runs: Record<'standalone' | 'cluster', Run[]> = { standalone: [], cluster: [] };
    const pipes: { elapsedMs: number }[] = [];
    // One at a time (2 cores), the order alternating per round so neither target always goes first.
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['standalone', 'cluster'] as const) : (['cluster', 'standalone'] as const);
      for (const name of order) runs[name].push(await migrateInto(rdb, targets[name], count, dir));
      await flush(targets.standalone);
      pipes.push(await redisCliPipe(standalone.port, dump.pipeFile));
      const n = (await dbsizes(targets.standalone))[0];
      if (n !== count) throw new Error(`redis-cli --pipe: standalone holds ${n} keys, expected ${count}`);
    }

    const s = best(runs.standalone);
    const c = best(runs.cluster);
    const p = best(pipes);
    const ratio = c.elapsedMs / s.elapsedMs;
    // With a core per process, a run cannot be faster than its busiest process's CPU time.
    const floor = (r: Run): number => Math.max(r.clientCpu, ...r.serverCpu);
    const fmtKeys = (n: number): string => (n >= 10_000 ? `${Math.round(n / 1000)}k` : String(n));
    return {
      keys: count,
      rounds,
      'standalone s': s.elapsedMs / 1000,
      'cluster s': c.elapsedMs / 1000,
      'cluster / standalone': ratio,
      goal: `≤ ${GOAL_RATIO.toFixed(1)} (best against best): ${ratio <= GOAL_RATIO ? 'met' : 'MISSED'}`,
      'cluster / standalone, medians': median(runs.cluster) / median(runs.standalone),
      'with a core per node (on paper): busiest process CPU s, cluster / standalone': `${cpu(floor(c))} / ${cpu(floor(s))} = ${(floor(c) / floor(s)).toFixed(2)}`,
      'keys per master': c.keys.map(fmtKeys).join('/'),
      'standalone runs (s)': seconds(runs.standalone),
      'cluster runs (s)': seconds(runs.cluster),
      ...cpuRows('standalone', s),
      ...cpuRows('cluster', c),
      'redis-cli --pipe s (standalone)': p.elapsedMs / 1000,
      'standalone / pipe': s.elapsedMs / p.elapsedMs,
    };
  } finally {
    await Promise.all([standalone?.stop(), cluster?.stop(), dump.server.stop()]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(path.dirname(dump.pipeFile), { recursive: true, force: true });
  }
}
