/**
 * `replicate` benchmark (issue "replicate", goals: ≥ 300 K ops/s sustained, p99 ≤ 5 ms at 50 K ops/s,
 * flat memory; full sync within 1.15 × `redis-cli --pipe`). The Replicator (src/pipeline/replicate.ts)
 * is driven programmatically as test/replicate/replicate-faults.test.ts does, into a real redis-server.
 *
 * (1) Journal replay. The fake master (test/helpers/fake-master.ts) runs in a worker thread, so its
 *     writes do not share the replicator's event loop (the machine has 2 cores: replicator thread,
 *     master thread, redis-server). Per flow it writes journal COMMAND records `SET key:<f>:<i> <100 B>`
 *     (keys spread over 100 K names), paced every ~1 ms to an offered rate of 10 K / 50 K / 200 K
 *     ops/s on 1 flow, then as fast as the socket takes them on 1 flow and on 4 flows, ~4 s each.
 *     Every batch is stamped (its last LSN, `process.hrtime` at the `socket.write` call) in a
 *     SharedArrayBuffer; the main thread polls `replicator.status().flows[i].lsn` (the LSN the target
 *     acknowledged) every ~1 ms and, once it passes a batch's last LSN, records the lag.
 *     LAG = fake-master write call → Node/kernel socket buffers → loopback → replicator read + journal
 *     decode + translate + RESP encode → target → target reply parsed → LSN advanced, + the ≤ ~1 ms
 *     polling granularity (the lag is an upper bound per batch, measured on its last record).
 *     Sustained ops/s = records acknowledged / (last acknowledgement − first write).
 *     RSS = `process.memoryUsage().rss` of this process (replicator + the master thread) at the start
 *     and end of each rate; the 1-flow rates reuse one replicator, so growth across them shows leaks.
 * (2) Full sync of the recorded 4-flow `during` session (150 K keys, with journal blobs inside the
 *     snapshot stream) from the replay master (also in a worker thread), `isFullSyncOnly: true,
 *     unsupported: 'skip'`, timed from `run()` until it resolves; versus `redis-cli --pipe` loading the
 *     same final keys (read back from the df2redis target with SCAN + type-specific reads, written as
 *     SET/HSET/RPUSH/SADD/ZADD (+PEXPIRE) RESP) into a second fresh redis-server.
 * (3) Delivery (issue "Resume and reconnect" §6; goal: exactly-once costs ≤ 15 %): the replay of (1)
 *     with `delivery: 'exactly-once'` (one MULTI … HSET checkpoint EXEC per socket read of a flow)
 *     and `'at-least-once'` (HSET after the acknowledgement), and both on a fresh 3-master cluster
 *     (exactly-once there: one script per master per batch with per-slot checkpoints), each kind on a fresh target: 1 flow at 50 K/s
 *     then max, 4 flows at max, BENCH_DELIVERY_MS (2 s) each, BENCH_DELIVERY_ROUNDS (3) rounds in
 *     alternating order (BENCH_DELIVERY_CLUSTER=0: no cluster; BENCH_DELIVERY_KINDS: a subset).
 *     Ops/s on a shared 2-core host swing by ±50 % between runs, so next to best-of-rounds ops/s
 *     it reports CPU per record, which load elsewhere hardly moves: the replicator's main thread
 *     (/proc/self/task/<pid>/stat) and the target's (/proc/<pid>/stat), with INFO commandstats.
 * (4) Flow cut → stable sync again: fake master over a data model (MasterData, 2 flows) behind a
 *     FaultProxy, exactly-once into a real redis-server; the flow connection(s) of the live session
 *     are cut at the proxy (one of two, then both; BENCH_RECONNECT_REPS repetitions each) with 100
 *     writes made during the outage, timed until `status()` is in stable sync with one more partial
 *     resync; reported with and without the reconnect loop's first backoff (500 ms).
 * (5) Memory after a burst (issue 12: RSS back within 20 MB of the pre-burst level 10 s after a
 *     burst): `df2redis replicate` in a child process (its own RSS), 1 flow at 10 K ops/s, then max
 *     rate for PHASE_MS (the burst), then 10 s idle. It runs through the package's bin as users
 *     do (bench/cli.ts; BENCH_LAUNCHER=0: node directly). Diagnostics: BENCH_NODE_FLAGS (e.g.
 *     `--import <hook>`) go to that node (in NODE_OPTIONS), BENCH_CLI runs `node <BENCH_NODE_FLAGS>
 *     <BENCH_CLI>` instead (e.g. a wrapper calling `gc()` periodically).
 * BENCH_REPLICATE_PARTS=replay,delivery,reconnect,fullsync,burst (the default: all) runs a subset.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Replicator, REPLICATE_DEFAULTS } from '../src/pipeline/replicate.js';
import { RECONNECT_FIRST_DELAY_MS } from '../src/pipeline/reconnect-loop.js';
import { RedisConnection, type RespValue } from '../src/sink/redis-connection.js';
import { startRedisServer, startCluster, redisCli, type RedisServer, type RedisCluster } from '../test/helpers/redis-server.js';
import { redisCliPipe } from '../test/helpers/rdb-factory.js';
import { FakeMaster } from '../test/helpers/fake-master.js';
import { FaultProxy } from '../test/helpers/fault-proxy.js';
import { MasterData } from '../test/helpers/master-data.js';
import { cpuSeconds } from './cluster.js';
import { cliCommand } from './cli.js';

const MB = 1024 * 1024;
const KEYS = 100_000;
const VALUE_BYTES = 100;
const PHASE_MS = Number(process.env.BENCH_REPLICATE_MS ?? 4000);
/** Max batch stamps kept per flow per phase (a batch per ~1 ms: 4 s ≈ 4 K; max-rate batches are bigger). */
const STAMP_CAP = 1 << 18;

/** Monotonic ms, the same clock in every thread (uv_hrtime). */
function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Worker side: the masters

interface FakeWorkerData {
  bench: 'replicate';
  role: 'fake';
  numFlows: number;
}
interface ReplayWorkerData {
  bench: 'replicate';
  role: 'replay';
}
/** Main → fake-master worker: run one phase. `rate` 0 = as fast as the sockets take it. */
interface GoMessage {
  type: 'go';
  rate: number;
  durationMs: number;
  /** Per flow: Float64 pairs [last LSN of the batch, write time ms]. */
  stamps: SharedArrayBuffer[];
  /** Per flow: number of pairs written (Int32, Atomics). */
  counts: SharedArrayBuffer;
}
/** Fake-master worker → main, when a phase's writes are done. */
interface DoneMessage {
  type: 'done';
  /** Records written per flow in this phase. */
  written: number[];
  /** Last LSN written per flow (acknowledged LSN once the target has everything). */
  lastLsn: number[];
  elapsedMs: number;
}

/** One flow's record pool: `count` journal SET records back to back, `offsets[i]` = start of record i. */
interface Pool {
  bytes: Buffer;
  offsets: Uint32Array;
  count: number;
}

async function fakeMasterWorker(data: FakeWorkerData): Promise<void> {
  const { FakeMaster, journalCommand } = await import('../test/helpers/fake-master.js');
  const port = parentPort!;
  const m = await FakeMaster.start({ numFlows: data.numFlows });
  const value = Buffer.alloc(VALUE_BYTES);
  for (let i = 0; i < VALUE_BYTES; i++) value[i] = 97 + ((i * 7) % 26);
  const pools: Pool[] = [];
  const perFlow = Math.ceil(KEYS / data.numFlows);
  for (let f = 0; f < data.numFlows; f++) {
    const recs: Buffer[] = [];
    for (let i = 0; i < perFlow; i++) recs.push(journalCommand(['SET', `key:${f}:${i}`, value]));
    const offsets = new Uint32Array(perFlow + 1);
    for (let i = 0; i < perFlow; i++) offsets[i + 1] = offsets[i]! + recs[i]!.length;
    pools.push({ bytes: Buffer.concat(recs), offsets, count: perFlow });
  }
  const cursor = new Array<number>(data.numFlows).fill(0);
  const lsn = new Array<number>(data.numFlows).fill(1); // JOURNAL_OFFSET 1: the first record is LSN 2
  const noDelay = process.env.BENCH_NODELAY !== '0';

  port.on('message', (msg: GoMessage | { type: 'close' }) => {
    if (msg.type === 'close') {
      void m.close().then(() => port.close());
      return;
    }
    const flows = m.flows.filter((f) => f !== undefined);
    // Dragonfly's sockets are TCP_NODELAY (helio); without it, Nagle + delayed ACKs add tens of ms.
    if (noDelay) for (const f of flows) f.socket.setNoDelay(true);
    const stamps = msg.stamps.map((s) => new Float64Array(s));
    const counts = new Int32Array(msg.counts);
    const written = new Array<number>(flows.length).fill(0);
    /** Writes `k` records on flow `f` (zero-copy slices of its pool), stamps the batch; false if the socket is full. */
    const writeBatch = (f: number, k: number): boolean => {
      const pool = pools[f]!;
      const flow = flows[f]!;
      let ok = true;
      let left = k;
      while (left > 0) {
        const c = cursor[f]!;
        const n = Math.min(left, pool.count - c);
        ok = flow.write(pool.bytes.subarray(pool.offsets[c]!, pool.offsets[c + n]!));
        cursor[f] = (c + n) % pool.count;
        left -= n;
      }
      lsn[f]! += k;
      written[f]! += k;
      const i = counts[f]!;
      if (i < STAMP_CAP) {
        stamps[f]![2 * i] = lsn[f]!;
        stamps[f]![2 * i + 1] = nowMs();
        Atomics.store(counts, f, i + 1);
      }
      return ok;
    };
    const t0 = nowMs();
    const finish = (): void => {
      const done: DoneMessage = { type: 'done', written, lastLsn: [...lsn], elapsedMs: nowMs() - t0 };
      port.postMessage(done);
    };
    if (msg.rate > 0) {
      // Paced: every ~1 ms, write what is due by now. A flow whose socket holds > 1 MiB unsent
      // skips the tick (the replicator is not reading): the achieved rate is reported.
      let due = 0;
      let sent = 0;
      const tick = (): void => {
        const el = nowMs() - t0;
        if (el >= msg.durationMs) return finish();
        due = Math.floor((msg.rate * el) / 1000);
        const n = due - sent;
        if (n > 0) {
          const share = Math.floor(n / flows.length);
          let extra = n - share * flows.length;
          for (let f = 0; f < flows.length; f++) {
            const k = share + (extra-- > 0 ? 1 : 0);
            if (k === 0 || flows[f]!.socket.writableLength > MB) continue;
            writeBatch(f, k);
            sent += k;
          }
        }
        setTimeout(tick, 1);
      };
      setTimeout(tick, 1);
    } else {
      // As fast as possible: batches of 256 records per flow while the socket takes them.
      let pending = flows.length;
      const pump = (f: number): void => {
        while (nowMs() - t0 < msg.durationMs) {
          if (!writeBatch(f, 256)) return void flows[f]!.socket.once('drain', () => pump(f));
        }
        if (--pending === 0) finish();
      };
      for (let f = 0; f < flows.length; f++) pump(f);
    }
  });
  port.postMessage({ type: 'url', url: m.url });
}

async function replayMasterWorker(): Promise<void> {
  const { ReplayMaster } = await import('../test/helpers/replay-master.js');
  const port = parentPort!;
  const m = await ReplayMaster.start('during');
  port.on('message', (msg: { type: 'close' }) => {
    if (msg.type === 'close') void m.close().then(() => port.close());
  });
  port.postMessage({ type: 'url', url: m.url });
}

if (!isMainThread && (workerData as { bench?: string } | null)?.bench === 'replicate') {
  const data = workerData as FakeWorkerData | ReplayWorkerData;
  await (data.role === 'fake' ? fakeMasterWorker(data) : replayMasterWorker());
}

// ---------------------------------------------------------------------------------------------
// Main side

const silent = pino({ level: 'silent' });

/** A master in a worker thread: its URL, messages, and a close that ends the thread. */
interface MasterThread {
  url: string;
  worker: Worker;
  close(): Promise<void>;
}

async function startMasterThread(data: FakeWorkerData | ReplayWorkerData): Promise<MasterThread> {
  const worker = new Worker(new URL(import.meta.url), { workerData: data });
  const url = await new Promise<string>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`master worker exited ${code}`)));
    worker.on('message', (msg: { type: string; url?: string }) => {
      if (msg.type === 'url') resolve(msg.url!);
    });
  });
  let isClosed = false;
  return {
    url,
    worker,
    close: async () => {
      if (isClosed) return;
      isClosed = true;
      worker.removeAllListeners('exit');
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ type: 'close' });
      const timer = setTimeout(() => void worker.terminate(), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** What one replay phase measured. */
interface PhaseResult {
  offeredOpsPerSec: number;
  sustainedOpsPerSec: number;
  lagP50: number;
  lagP99: number;
  lagMax: number;
  batches: number;
  rssStartMb: number;
  rssEndMb: number;
  /** At the end: V8 heap used and ArrayBuffer/Buffer memory (both threads' share is in RSS; these are this thread's). */
  heapUsedMb: number;
  arrayBuffersMb: number;
  /** Records written (and acknowledged) in the phase, all flows. */
  records: number;
  /**
   * CPU µs per record of this process's main thread (the replicator, and the ~1 ms status polling;
   * not the master thread): /proc/self/task/<pid>/stat. Robust to load from elsewhere, unlike ops/s.
   */
  replicatorCpuUsPerRecord: number;
}

/**
 * One phase: tells the master thread to write at `rate` (0 = max) for PHASE_MS, samples the
 * acknowledged LSNs every ~1 ms, and waits until the target acknowledged every record written.
 */
async function phase(master: MasterThread, r: Replicator, numFlows: number, rate: number, durationMs = PHASE_MS): Promise<PhaseResult> {
  const rssStart = process.memoryUsage().rss;
  const cpuStart = mainThreadCpuSeconds();
  const stampBufs = Array.from({ length: numFlows }, () => new SharedArrayBuffer(STAMP_CAP * 16));
  const stamps = stampBufs.map((s) => new Float64Array(s));
  const countsBuf = new SharedArrayBuffer(4 * numFlows);
  const counts = new Int32Array(countsBuf);
  const next = new Array<number>(numFlows).fill(0);
  const lags = new Float64Array(STAMP_CAP * numFlows);
  let nLags = 0;
  const lsn0 = r.status().flows.map((f) => Number(f.lsn));
  let done: DoneMessage | undefined;
  const onMessage = (msg: { type: string }): void => {
    if (msg.type === 'done') done = msg as DoneMessage;
  };
  master.worker.on('message', onMessage);
  const go: GoMessage = { type: 'go', rate, durationMs, stamps: stampBufs, counts: countsBuf };
  const t0 = nowMs();
  master.worker.postMessage(go);
  let lastAckAt = t0;
  const deadline = t0 + durationMs + 60_000;
  for (;;) {
    await delay(1);
    const flows = r.status().flows;
    const t = nowMs();
    for (let f = 0; f < numFlows; f++) {
      const acked = Number(flows[f]!.lsn);
      const n = Atomics.load(counts, f);
      const s = stamps[f]!;
      while (next[f]! < n && s[2 * next[f]!]! <= acked) {
        lags[nLags++] = t - s[2 * next[f]! + 1]!;
        next[f]!++;
        lastAckAt = t;
      }
    }
    if (done !== undefined && flows.every((f, i) => Number(f.lsn) >= done!.lastLsn[i]!)) break;
    if (r.status().phase === 'stopped') throw new Error('replicator stopped during the benchmark');
    if (t > deadline) throw new Error(`rate ${rate}: the target did not acknowledge everything within 60 s`);
  }
  master.worker.off('message', onMessage);
  const cpuS = mainThreadCpuSeconds() - cpuStart;
  const total = done!.lastLsn.reduce((s, l, i) => s + (l - lsn0[i]!), 0);
  const sorted = lags.slice(0, nLags).sort();
  const mem = process.memoryUsage();
  return {
    offeredOpsPerSec: Math.round(total / (done!.elapsedMs / 1000)),
    sustainedOpsPerSec: Math.round(total / ((lastAckAt - t0) / 1000)),
    lagP50: percentile(sorted, 50),
    lagP99: percentile(sorted, 99),
    lagMax: sorted[sorted.length - 1] ?? NaN,
    batches: nLags,
    rssStartMb: rssStart / MB,
    rssEndMb: mem.rss / MB,
    heapUsedMb: mem.heapUsed / MB,
    arrayBuffersMb: mem.arrayBuffers / MB,
    records: total,
    replicatorCpuUsPerRecord: (cpuS * 1e6) / total,
  };
}

/** How {@link replay} runs: delivery, target kind, phase length, whether it writes rows. */
interface ReplayOptions {
  /** @default REPLICATE_DEFAULTS.delivery ('exactly-once') */
  delivery?: 'exactly-once' | 'at-least-once';
  /** A fresh 3-master cluster instead of one redis-server. */
  isCluster?: boolean;
  /** Cluster: replicas per master. @default 0 */
  replicas?: number;
  /** `--wait-replicas`. @default 0 */
  waitReplicas?: number;
  /** @default PHASE_MS */
  durationMs?: number;
  /** Rows for the table; undefined: none (the caller reports). */
  out?: Record<string, number | string>;
}

/** What {@link replay} returns: the phases, the delivery the replicator reported, the target's INFO commandstats. */
interface ReplayResult {
  phases: PhaseResult[];
  delivery: string;
  /** Standalone only: calls per command (lower case; `<name>_usec`: its INFO commandstats usec) on the target over the whole replay. Target CPU seconds: all masters. */
  calls: Record<string, number>;
  targetCpuS: number;
}

/** CPU seconds of this process's main thread (its task id is the pid). */
function mainThreadCpuSeconds(): number {
  return cpuSeconds(process.pid, process.pid);
}

/** Fake master thread + fresh target + replicator in stable sync; runs `rates` in order. */
async function replay(numFlows: number, rates: number[], opts: ReplayOptions = {}): Promise<ReplayResult> {
  const out = opts.out;
  const master = await startMasterThread({ bench: 'replicate', role: 'fake', numFlows });
  let redis: RedisServer | undefined;
  let cluster: RedisCluster | undefined;
  let r: Replicator | undefined;
  try {
    if (opts.isCluster) {
      cluster = await startCluster({ masters: 3, replicasPerMaster: opts.replicas ?? 0, config: { 'repl-diskless-sync-delay': '0' } });
      if ((opts.replicas ?? 0) > 0) {
        // Replicas still in their first sync would make every WAIT wait for its timeout.
        for (const m of cluster.nodes.slice(0, 3)) {
          await until(async () => /slave0:.*state=online/.test(await redisCli(m.port, 'INFO', 'replication')), `the replica of ${m.port} online`);
        }
      }
    }
    else redis = await startRedisServer();
    const targetUrl = cluster?.seedUrl ?? redis!.url;
    const masters = cluster?.nodes.slice(0, 3) ?? [redis!];
    const cpu0 = masters.reduce((s, m) => s + cpuSeconds(m.pid), 0);
    r = new Replicator(
      { ...REPLICATE_DEFAULTS, source: master.url, target: targetUrl, ...(opts.delivery ? { delivery: opts.delivery } : {}), ...(opts.waitReplicas ? { waitReplicas: opts.waitReplicas } : {}) },
      silent,
    );
    const replicator = r;
    const running = r.run();
    let failure: unknown;
    running.catch((err: unknown) => (failure = err));
    await until(() => failure !== undefined || (replicator.status().phase === 'stable-sync' && replicator.status().flows.length === numFlows && replicator.status().flows.every((f) => f.phase === 'stable-sync')), 'stable sync');
    if (failure !== undefined) throw failure;
    const results: PhaseResult[] = [];
    for (const rate of rates) {
      const res = await phase(master, r, numFlows, rate, opts.durationMs);
      if (failure !== undefined) throw failure;
      results.push(res);
      if (out === undefined) continue;
      const seen = results.slice(0, -1).some((_, i) => rates[i] === rate);
      const label = `${seen ? 'again: ' : ''}${rate > 0 ? `${rate / 1000} K/s offered` : 'max rate'}, ${numFlows} flow${numFlows > 1 ? 's' : ''}`;
      out[`${label}: offered (achieved) ops/s`] = res.offeredOpsPerSec;
      out[`${label}: sustained ops/s (acked)`] = res.sustainedOpsPerSec;
      out[`${label}: lag p50 / p99 / max (ms)`] = `${res.lagP50.toFixed(2)} / ${res.lagP99.toFixed(2)} / ${res.lagMax.toFixed(1)}`;
      out[`${label}: RSS start → end (heap, buffers at end) (MB)`] = `${res.rssStartMb.toFixed(0)} → ${res.rssEndMb.toFixed(0)} (${res.heapUsedMb.toFixed(0)}, ${res.arrayBuffersMb.toFixed(0)})`;
    }
    const targetCpuS = masters.reduce((s, m) => s + cpuSeconds(m.pid), 0) - cpu0;
    const delivery = r.status().delivery;
    let keys = 0;
    for (const m of masters) keys += Number((await redisCli(m.port, 'DBSIZE')).trim());
    if (keys === 0) throw new Error('the target holds no keys after the replay');
    const calls: Record<string, number> = {};
    if (redis !== undefined) {
      for (const m of (await redisCli(redis.port, 'INFO', 'commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)) {
        calls[m[1]!] = Number(m[2]);
        calls[`${m[1]!}_usec`] = Number(m[3]);
      }
    }
    return { phases: results, delivery, calls, targetCpuS };
  } finally {
    await r?.stop().catch(() => undefined);
    await master.close();
    await redis?.stop();
    await cluster?.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// (3) exactly-once against at-least-once (issue "Resume and reconnect" §6)

/** Phase length of the delivery comparison (ms); shorter than PHASE_MS, there are many phases. */
const DELIVERY_MS = Number(process.env.BENCH_DELIVERY_MS ?? 2000);
/** Rounds of the delivery comparison; each runs every kind once, the order alternating per round. */
const DELIVERY_ROUNDS = Number(process.env.BENCH_DELIVERY_ROUNDS ?? 3);

type DeliveryKind = 'exactly-once' | 'at-least-once' | 'cluster-exactly-once' | 'cluster-at-least-once' | 'cluster-replicas' | 'cluster-replicas-wait';

/** One kind's figures in one round. */
interface DeliveryFigures {
  max1: number;
  max4: number;
  p50at50k: number;
  p99at50k: number;
  /** 4 flows at max rate: target commands per batch (standalone), target CPU µs per record (all three masters on a cluster). */
  perBatch: string;
  /** Target CPU µs per record (all masters), 4 flows at max rate. */
  cpuUsPerRecord: number;
  /** Replicator main-thread CPU µs per record at max rate, 1 flow and 4 flows. */
  replCpu1: number;
  replCpu4: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** 1 flow: 50 K ops/s then max rate; 4 flows: max rate; each on a fresh target. */
async function deliveryRun(kind: DeliveryKind): Promise<DeliveryFigures> {
  const isCluster = kind.startsWith('cluster-');
  const withReplicas = kind.startsWith('cluster-replicas');
  const delivery = withReplicas ? 'exactly-once' : (kind.replace('cluster-', '') as 'exactly-once' | 'at-least-once');
  const opts: ReplayOptions = { isCluster, delivery, durationMs: DELIVERY_MS, replicas: withReplicas ? 1 : 0, waitReplicas: kind === 'cluster-replicas-wait' ? 1 : 0 };
  const one = await replay(1, [50_000, 0], opts);
  const four = await replay(4, [0], opts);
  const expected = delivery;
  for (const r of [one, four]) if (r.delivery !== expected) throw new Error(`${kind}: the replicator reports delivery ${r.delivery}`);
  const c = four.calls;
  const exec = c.exec ?? 0;
  const hset = c.hset ?? 0;
  const set = c.set ?? 0;
  const mset = c.mset ?? 0;
  // Journal SETs reach a standalone target merged into MSETs (flow-applier.ts #stageSet).
  const records = four.phases[0]!.records;
  const writes = `${mset} MSET + ${set} SET for ${records} records`;
  const writeUs = ((c.set_usec ?? 0) + (c.mset_usec ?? 0)) / Math.max(1, records);
  const perBatch =
    isCluster
      ? '-'
      : exec > 0
        ? `${writes}, ${(records / exec).toFixed(1)} records + MULTI + EXEC + ${(hset / exec).toFixed(2)} HSET per EXEC (${exec} EXECs); commandstats µs per record: SET/MSET ${writeUs.toFixed(2)}, EXEC beyond its commands ${(((c.exec_usec ?? 0) - (c.set_usec ?? 0) - (c.mset_usec ?? 0) - (c.hset_usec ?? 0)) / Math.max(1, records)).toFixed(2)}`
        : `${writes}, ${(records / Math.max(1, hset)).toFixed(1)} records per HSET (${hset} HSETs, no MULTI/EXEC); commandstats µs per record: SET/MSET ${writeUs.toFixed(2)}`;
  return {
    p50at50k: one.phases[0]!.lagP50,
    p99at50k: one.phases[0]!.lagP99,
    max1: one.phases[1]!.sustainedOpsPerSec,
    max4: four.phases[0]!.sustainedOpsPerSec,
    perBatch,
    cpuUsPerRecord: (four.targetCpuS * 1e6) / four.phases[0]!.records,
    replCpu1: one.phases[1]!.replicatorCpuUsPerRecord,
    replCpu4: four.phases[0]!.replicatorCpuUsPerRecord,
  };
}

async function deliveryCompare(out: Record<string, number | string>, withCluster: boolean): Promise<void> {
  // BENCH_DELIVERY_KINDS=exactly-once (say) runs one kind alone, e.g. under `node --cpu-prof`.
  const only = process.env.BENCH_DELIVERY_KINDS?.split(',').map((k) => k.trim());
  const kinds = (['exactly-once', 'at-least-once', ...(withCluster ? (['cluster-exactly-once', 'cluster-at-least-once', 'cluster-replicas', 'cluster-replicas-wait'] as const) : [])] as DeliveryKind[]).filter(
    (k) => only === undefined || only.includes(k),
  );
  const has = (k: DeliveryKind): boolean => kinds.includes(k);
  const runs: Record<DeliveryKind, DeliveryFigures[]> = { 'exactly-once': [], 'at-least-once': [], 'cluster-exactly-once': [], 'cluster-at-least-once': [], 'cluster-replicas': [], 'cluster-replicas-wait': [] };
  for (let round = 0; round < DELIVERY_ROUNDS; round++) {
    const order = round % 2 === 0 ? kinds : [...kinds].reverse();
    for (const kind of order) runs[kind].push(await deliveryRun(kind));
  }
  out['delivery: what'] =
    `${DELIVERY_ROUNDS} round(s) × {1 flow: 50 K/s then max; 4 flows: max} × ${DELIVERY_MS} ms per kind, fresh target each, order alternating per round`;
  out['delivery: figures'] =
    'ops/s: best (median; every round) — on a shared 2-core host the best run is the least disturbed; lag: median (every round); CPU µs/record: median (every round)';
  const list = (xs: number[], digits: number): string => xs.map((x) => x.toFixed(digits)).join(' / ');
  const fmt = (xs: number[], digits = 0): string => `${median(xs).toFixed(digits)} (${list(xs, digits)})`;
  const fmtBest = (xs: number[]): string => `${Math.max(...xs).toFixed(0)} (${median(xs).toFixed(0)}; ${list(xs, 0)})`;
  for (const kind of kinds) {
    const r = runs[kind];
    const isCluster = kind.startsWith('cluster-');
    const label =
      kind === 'cluster-replicas' ? 'cluster 3 masters + 3 replicas exactly-once' : kind === 'cluster-replicas-wait' ? 'cluster 3 masters + 3 replicas exactly-once --wait-replicas 1' : isCluster ? `cluster 3 masters ${kind.replace('cluster-', '')}` : `standalone ${kind}`;
    out[`${label}: max 1 flow ops/s`] = fmtBest(r.map((f) => f.max1));
    out[`${label}: max 4 flows ops/s`] = fmtBest(r.map((f) => f.max4));
    out[`${label}: 50 K/s 1 flow lag p50 / p99 (ms)`] = `${median(r.map((f) => f.p50at50k)).toFixed(2)} / ${fmt(r.map((f) => f.p99at50k), 2)}`;
    out[`${label}: replicator CPU µs per record, max 1 flow`] = fmt(r.map((f) => f.replCpu1), 2);
    out[`${label}: replicator CPU µs per record, max 4 flows`] = fmt(r.map((f) => f.replCpu4), 2);
    out[`${label}: target CPU µs per record (4 flows max${isCluster ? ', Σ masters' : ''})`] = fmt(r.map((f) => f.cpuUsPerRecord), 2);
    if (!isCluster) out[`${label}: target commands (4 flows max, last round)`] = r[r.length - 1]!.perBatch;
  }
  /** Per-round ratios a / b of `pick` (paired: same round, adjacent in time). */
  const ratio = (a: DeliveryKind, b: DeliveryKind, pick: (f: DeliveryFigures) => number): number[] => runs[a].map((f, i) => pick(f) / pick(runs[b][i]!));
  /** Ratio of the best runs of a and b. */
  const bestRatio = (a: DeliveryKind, b: DeliveryKind, pick: (f: DeliveryFigures) => number): number => Math.max(...runs[a].map(pick)) / Math.max(...runs[b].map(pick));
  const both = (a: DeliveryKind, b: DeliveryKind, pick: (f: DeliveryFigures) => number): string => `${bestRatio(a, b, pick).toFixed(3)} (paired per round: ${fmt(ratio(a, b, pick), 3)})`;
  const CEO = 'cluster-exactly-once';
  const CALO = 'cluster-at-least-once';
  if (has(CEO) && has(CALO)) {
    out['cluster exactly-once / at-least-once, max 1 flow ops/s: best/best'] = both(CEO, CALO, (f) => f.max1);
    out['cluster exactly-once / at-least-once, max 4 flows ops/s: best/best'] = both(CEO, CALO, (f) => f.max4);
    out['cluster exactly-once / at-least-once, p99 at 50 K/s (per round)'] = fmt(ratio(CEO, CALO, (f) => f.p99at50k), 2);
    out['cluster exactly-once / at-least-once, target CPU per record Σ masters (median)'] = (median(runs[CEO].map((f) => f.cpuUsPerRecord)) / median(runs[CALO].map((f) => f.cpuUsPerRecord))).toFixed(3);
    out['cluster exactly-once / at-least-once, replicator CPU per record, 4 flows (median)'] = (median(runs[CEO].map((f) => f.replCpu4)) / median(runs[CALO].map((f) => f.replCpu4))).toFixed(3);
    const cCost = 1 - Math.min(bestRatio(CEO, CALO, (f) => f.max1), bestRatio(CEO, CALO, (f) => f.max4));
    out['goal cluster exactly-once costs ≤ 15 % (max-rate throughput, best/best)'] = `${cCost <= 0.15 ? 'met' : 'MISSED'} (worst ${(cCost * 100).toFixed(1)} %)`;
  }
  if (has('cluster-replicas') && has('cluster-replicas-wait')) {
    // WAIT gates only the resume point (lsn:<i>); each WAIT holds its connection until the replicas caught up.
    out['cluster --wait-replicas 1 / no WAIT (both with replicas), max 1 flow ops/s: best/best'] = both('cluster-replicas-wait', 'cluster-replicas', (f) => f.max1);
    out['cluster --wait-replicas 1 / no WAIT (both with replicas), max 4 flows ops/s: best/best'] = both('cluster-replicas-wait', 'cluster-replicas', (f) => f.max4);
    out['cluster --wait-replicas 1 / no WAIT, p99 at 50 K/s (per round)'] = fmt(ratio('cluster-replicas-wait', 'cluster-replicas', (f) => f.p99at50k), 2);
  }
  if (has(CALO) && has('at-least-once')) out['cluster / standalone at-least-once, max 4 flows ops/s'] = both(CALO, 'at-least-once', (f) => f.max4);
  if (!has('exactly-once') || !has('at-least-once')) return;
  const EO = 'exactly-once';
  const ALO = 'at-least-once';
  out['exactly-once / at-least-once, max 1 flow ops/s: best/best'] = both(EO, ALO, (f) => f.max1);
  out['exactly-once / at-least-once, max 4 flows ops/s: best/best'] = both(EO, ALO, (f) => f.max4);
  out['exactly-once / at-least-once, p99 at 50 K/s (per round)'] = fmt(ratio(EO, ALO, (f) => f.p99at50k), 2);
  out['exactly-once / at-least-once, replicator CPU per record, 1 flow / 4 flows (median)'] =
    `${(median(runs[EO].map((f) => f.replCpu1)) / median(runs[ALO].map((f) => f.replCpu1))).toFixed(3)} / ${(median(runs[EO].map((f) => f.replCpu4)) / median(runs[ALO].map((f) => f.replCpu4))).toFixed(3)}`;
  out['exactly-once / at-least-once, target CPU per record (median)'] = (median(runs[EO].map((f) => f.cpuUsPerRecord)) / median(runs[ALO].map((f) => f.cpuUsPerRecord))).toFixed(3);
  // On a CPU-bound 2-core host, throughput follows the CPU per record of replicator + target (the master thread is the same for both).
  const cpuRatio = median(ratio(EO, ALO, (f) => f.replCpu4 + f.cpuUsPerRecord));
  out['exactly-once / at-least-once, CPU per record replicator + target, 4 flows (median of rounds)'] = fmt(ratio(EO, ALO, (f) => f.replCpu4 + f.cpuUsPerRecord), 3);
  const cost = 1 - Math.min(bestRatio(EO, ALO, (f) => f.max1), bestRatio(EO, ALO, (f) => f.max4));
  out['goal exactly-once costs ≤ 15 % (max-rate throughput, best/best; noisy on a shared host)'] = `${cost <= 0.15 ? 'met' : 'MISSED'} (worst ${(cost * 100).toFixed(1)} %)`;
  out['goal exactly-once costs ≤ 15 % (CPU per record, replicator + target)'] = `${cpuRatio <= 1.15 ? 'met' : 'MISSED'} (+${((cpuRatio - 1) * 100).toFixed(1)} %)`;
}

// ---------------------------------------------------------------------------------------------
// (4) flow cut → stable sync again (partial)

const RECONNECT_REPS = Number(process.env.BENCH_RECONNECT_REPS ?? 8);
const RECONNECT_FLOWS = 2;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/**
 * Fake master over a data model (2 flows, backlog 8192) behind a FaultProxy, a real redis-server
 * target, the replicator (exactly-once) in this thread. Per repetition: 50 writes, caught up, then
 * the flow connection(s) of the live session are cut at the proxy (`one`: flow 0 only, `all`: every
 * flow; the main connection is left alone) and 100 more writes are made during the outage. Timed
 * from the cut: the replicator leaves stable sync (detect), is back in stable sync with
 * `resyncs.partial` incremented (stable), has acknowledged every record written (caught up).
 */
async function reconnectBench(out: Record<string, number | string>): Promise<void> {
  const data = await MasterData.start(RECONNECT_FLOWS, 1n, 8192);
  const m = await FakeMaster.start({ numFlows: RECONNECT_FLOWS, data });
  data.attach(m);
  const proxy = await FaultProxy.start({ port: Number(m.url.split(':').pop()) });
  const target = await startRedisServer();
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: proxy.url, target: target.url }, silent);
  const running = r.run();
  let failure: unknown;
  running.catch((err: unknown) => (failure = err));
  let seq = 0;
  const write = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const s = seq++;
      const args = ['SET', `rk:${s % 500}`, `v${s}`];
      await data.exec(0, args, [{ flow: s % RECONNECT_FLOWS, args }]);
    }
  };
  const isCaughtUp = (): boolean => {
    const st = r.status();
    return st.phase === 'stable-sync' && st.flows.length === RECONNECT_FLOWS && st.flows.every((f) => f.lsn === data.lsns[f.id]);
  };
  try {
    await write(50);
    await until(() => failure !== undefined || isCaughtUp(), 'the first full sync caught up');
    if (failure !== undefined) throw failure;
    for (const which of ['one', 'all'] as const) {
      const detect: number[] = [];
      const stable: number[] = [];
      const caught: number[] = [];
      for (let rep = 0; rep < RECONNECT_REPS; rep++) {
        await write(50);
        await until(() => failure !== undefined || isCaughtUp(), 'caught up before the cut');
        if (failure !== undefined) throw failure;
        await delay(20);
        const before = r.status().resyncs;
        const flowPorts = new Set(m.flows.filter((f) => f !== undefined).map((f) => f.socket.remotePort));
        const flowConns = proxy.connections.filter((c) => !c.client.destroyed && flowPorts.has(c.upstream.localPort));
        if (flowConns.length !== RECONNECT_FLOWS) throw new Error(`found ${flowConns.length} live flow connections at the proxy, expected ${RECONNECT_FLOWS}`);
        const t0 = nowMs();
        for (const c of which === 'one' ? flowConns.slice(0, 1) : flowConns) c.cut();
        const writes = write(100);
        let tDetect = NaN;
        for (;;) {
          const st = r.status();
          if (Number.isNaN(tDetect) && st.phase !== 'stable-sync') tDetect = nowMs();
          if (st.phase === 'stable-sync' && st.resyncs.partial > before.partial) break;
          if (failure !== undefined) throw failure;
          if (nowMs() - t0 > 30_000) throw new Error(`no partial resync within 30 s of the cut (phase ${st.phase})`);
          await delay(1);
        }
        const tStable = nowMs();
        await writes;
        await until(() => failure !== undefined || isCaughtUp(), 'caught up after the cut', 30_000);
        const tCaught = nowMs();
        if (r.status().resyncs.full !== before.full) throw new Error('a full resync happened after the cut');
        detect.push(tDetect - t0);
        stable.push(tStable - t0);
        caught.push(tCaught - t0);
      }
      const label = which === 'one' ? 'cut 1 of 2 flows' : 'cut both flows';
      const f = (xs: number[]): string => `${median(xs).toFixed(0)} / ${pct(xs, 90).toFixed(0)}`;
      const minus = (xs: number[]): number[] => xs.map((x) => x - RECONNECT_FIRST_DELAY_MS);
      out[`reconnect, ${label}: left stable sync after, median / p90 (ms)`] = `${median(detect).toFixed(1)} / ${pct(detect, 90).toFixed(1)}`;
      out[`reconnect, ${label}: stable sync again (partial), median / p90 (ms)`] = f(stable);
      out[`reconnect, ${label}: same minus the ${RECONNECT_FIRST_DELAY_MS} ms first backoff (ms)`] = f(minus(stable));
      out[`reconnect, ${label}: caught up (100 writes made during the outage), median / p90 (ms)`] = f(caught);
      out[`reconnect, ${label}: every repetition, stable again (ms)`] = stable.map((x) => x.toFixed(0)).join(' ');
    }
    const st = r.status();
    out['reconnect: repetitions per case; resyncs full / partial; reconnects'] = `${RECONNECT_REPS}; ${st.resyncs.full} / ${st.resyncs.partial}; ${st.reconnects}`;
  } finally {
    await r.stop().catch(() => undefined);
    await running.catch(() => undefined);
    await proxy.close();
    await m.close();
    await data.stop();
    await target.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// (2) full sync vs redis-cli --pipe

/** RESP multibulk of `args`. */
function resp(args: ReadonlyArray<Buffer | string>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

function asBuf(v: RespValue): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(String(v));
}

/**
 * Reads every key of `port` (all databases in INFO keyspace) and returns the RESP commands that
 * recreate it: SET / HSET / RPUSH / SADD / ZADD, PEXPIRE when it has a TTL, SELECT per database.
 */
async function dumpAsResp(port: number): Promise<{ resp: Buffer; keys: number }> {
  const keyspace = await redisCli(port, 'INFO', 'keyspace');
  const dbs = [...keyspace.matchAll(/^db(\d+):keys=(\d+)/gm)].map((m) => Number(m[1]));
  const out: Buffer[] = [];
  let keys = 0;
  for (const db of dbs) {
    out.push(resp(['SELECT', String(db)]));
    const conn = await RedisConnection.connect({ host: '127.0.0.1', port, tls: false, db }, { role: 'bench read-back' });
    try {
      let cursor = '0';
      do {
        const [next, batch] = (await conn.call(['SCAN', cursor, 'COUNT', 1000])) as [Buffer, Buffer[]];
        cursor = next.toString();
        const meta = await Promise.all(batch.map((k) => Promise.all([conn.call(['TYPE', k]), conn.call(['PTTL', k])])));
        const values = await Promise.all(
          batch.map((k, i) => {
            const type = String(meta[i]![0]);
            if (type === 'string') return conn.call(['GET', k]);
            if (type === 'hash') return conn.call(['HGETALL', k]);
            if (type === 'list') return conn.call(['LRANGE', k, 0, -1]);
            if (type === 'set') return conn.call(['SMEMBERS', k]);
            if (type === 'zset') return conn.call(['ZRANGE', k, 0, -1, 'WITHSCORES']);
            throw new Error(`bench: key ${k.toString()} of type ${type} not handled by the pipe baseline`);
          }),
        );
        batch.forEach((k, i) => {
          const type = String(meta[i]![0]);
          const v = values[i]!;
          if (v === null) return; // expired between SCAN and the read
          keys++;
          if (type === 'string') out.push(resp(['SET', k, asBuf(v)]));
          else if (type === 'zset') {
            const flat = (v as RespValue[]).map(asBuf);
            const args: Buffer[] = [];
            for (let j = 0; j < flat.length; j += 2) args.push(flat[j + 1]!, flat[j]!);
            out.push(resp([Buffer.from('ZADD'), k, ...args]));
          } else {
            const cmd = type === 'hash' ? 'HSET' : type === 'list' ? 'RPUSH' : 'SADD';
            out.push(resp([cmd, k, ...(v as RespValue[]).map(asBuf)]));
          }
          const pttl = Number(meta[i]![1]);
          if (pttl > 0) out.push(resp(['PEXPIRE', k, String(pttl)]));
        });
      } while (cursor !== '0');
    } finally {
      await conn.close();
    }
  }
  return { resp: Buffer.concat(out), keys };
}

async function fullSync(out: Record<string, number | string>): Promise<void> {
  const master = await startMasterThread({ bench: 'replicate', role: 'replay' });
  const servers: RedisServer[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'df2redis-bench-'));
  try {
    const [viaReplicate, viaPipe] = await Promise.all([startRedisServer(), startRedisServer()]);
    servers.push(viaReplicate, viaPipe);
    const r = new Replicator({ ...REPLICATE_DEFAULTS, source: master.url, target: viaReplicate.url, isFullSyncOnly: true, unsupported: 'skip' }, silent);
    const rssStart = process.memoryUsage().rss;
    const t0 = nowMs();
    const running = r.run();
    // Setup share (target INFO, source handshake, DFLY FLOW ×4, DFLY SYNC): until the first snapshot key is acknowledged-counted.
    let firstKeyAt = NaN;
    let isRunning = true;
    running.then(() => (isRunning = false), () => (isRunning = false));
    while (isRunning && Number.isNaN(firstKeyAt)) {
      await delay(1);
      if (r.status().flows.some((f) => f.snapshotKeys > 0)) firstKeyAt = nowMs();
    }
    const summary = await running;
    const replicateMs = nowMs() - t0;
    const rssEnd = process.memoryUsage().rss;
    await master.close();

    const dump = await dumpAsResp(viaReplicate.port);
    const file = path.join(dir, 'during.resp');
    writeFileSync(file, dump.resp);
    const pipe = await redisCliPipe(viaPipe.port, file);
    const size = async (s: RedisServer): Promise<number> => {
      const info = await redisCli(s.port, 'INFO', 'keyspace');
      return [...info.matchAll(/^db\d+:keys=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const [a, b] = [await size(viaReplicate), await size(viaPipe)];
    if (a !== b || b !== dump.keys) throw new Error(`full sync: df2redis target holds ${a} keys, pipe target ${b}, dumped ${dump.keys}`);
    const ratio = replicateMs / pipe.elapsedMs;
    out['full sync `during` (4 flows): snapshot keys'] = summary.snapshotKeys;
    out['full sync: keys on target'] = a;
    out['full sync: df2redis time (s)'] = replicateMs / 1000;
    out['full sync: df2redis first snapshot key written after (s)'] = (firstKeyAt - t0) / 1000;
    out['full sync: df2redis keys/s'] = Math.round(a / (replicateMs / 1000));
    out['full sync: redis-cli --pipe time (s)'] = pipe.elapsedMs / 1000;
    out['full sync: redis-cli --pipe keys/s'] = Math.round(b / (pipe.elapsedMs / 1000));
    out['full sync: RESP baseline size (MB)'] = dump.resp.length / MB;
    out['full sync: df2redis / pipe time ratio'] = ratio;
    out['full sync: goal ratio ≤ 1.15'] = ratio <= 1.15 ? 'met' : 'MISSED';
    out['full sync: RSS start → end (MB)'] = `${(rssStart / MB).toFixed(0)} → ${(rssEnd / MB).toFixed(0)}`;
  } finally {
    await master.close().catch(() => undefined);
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs (1) journal replay at 10 K / 50 K / 200 K / max ops/s on 1 flow and max on 4 flows, (3) the
 * delivery comparison (with a cluster unless BENCH_DELIVERY_CLUSTER=0), (4) the reconnect timing,
 * then (2). `BENCH_REPLICATE_PARTS` (comma-separated of replay, delivery, reconnect, fullsync) runs a subset.
 */
export async function run(): Promise<Record<string, number | string>> {
  const parts = new Set((process.env.BENCH_REPLICATE_PARTS ?? 'replay,delivery,reconnect,fullsync,burst').split(',').map((p) => p.trim()));
  const out: Record<string, number | string> = {};
  if (parts.has('replay')) await replayRates(out);
  if (parts.has('delivery')) await deliveryCompare(out, process.env.BENCH_DELIVERY_CLUSTER !== '0');
  if (parts.has('reconnect')) await reconnectBench(out);
  if (parts.has('fullsync')) await fullSync(out);
  if (parts.has('burst')) await burstMemory(out);
  return out;
}

/** Seconds of idle after the burst at which RSS is judged (issue 12). */
const AFTER_BURST_S = 10;

/** VmRSS / VmHWM of a process, MB (/proc/<pid>/status). */
function procMemMb(pid: number): { rss: number; hwm: number } {
  const st = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kb = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(st)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/**
 * Resident MB of a process by kind of mapping (/proc/<pid>/smaps): `heap` is glibc's main arena
 * (freed 64 KiB read chunks and 1 MiB slabs it keeps), `anon` V8's heap pages and other arenas,
 * `node` the binary's pages.
 */
function residentByKind(pid: number): string {
  const kinds: Record<string, number> = {};
  let kind = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'latin1').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      kind = line.includes('[heap]') ? 'heap' : line.includes(process.execPath) ? 'node' : /\s\/\S/.test(line) ? 'files' : 'anon';
    } else if (line.startsWith('Rss:')) {
      kinds[kind] = (kinds[kind] ?? 0) + Number(line.split(/\s+/)[1]) / 1024;
    }
  }
  return ['heap', 'anon', 'node', 'files'].map((k) => `${k} ${(kinds[k] ?? 0).toFixed(0)}`).join(', ');
}

/**
 * (5): `df2redis replicate` as a child process (its RSS alone: the fake master stays in this
 * process's worker thread), 1 flow: 10 K ops/s for 2 s (pre-burst level: RSS once acknowledged),
 * max rate for PHASE_MS (the burst), then {@link AFTER_BURST_S} s idle. Acknowledged LSNs are read
 * from the child's `GET /status`.
 */
async function burstMemory(out: Record<string, number | string>): Promise<void> {
  const master = await startMasterThread({ bench: 'replicate', role: 'fake', numFlows: 1 });
  const redis = await startRedisServer();
  const statusPort = await freePort();
  const cliArgs = ['replicate', '--source', master.url, '--target', redis.url, '--status-port', String(statusPort), '--log-level', 'warn'];
  const flags = process.env.BENCH_NODE_FLAGS?.split(' ') ?? [];
  // As users run it (the bin), with BENCH_NODE_FLAGS in NODE_OPTIONS; BENCH_CLI: node <flags> <that script>.
  const [file, args] = process.env.BENCH_CLI !== undefined ? [process.execPath, [...flags, process.env.BENCH_CLI, ...cliArgs]] : cliCommand(cliArgs);
  const env = process.env.BENCH_CLI === undefined && flags.length > 0 ? { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS, ...flags].filter(Boolean).join(' ') } : process.env;
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4096)));
  let exitCode: number | null | undefined;
  child.once('exit', (code) => (exitCode = code));
  const status = async (): Promise<{ phase: string; flows: Array<{ lsn: string | number }> } | undefined> => {
    try {
      const res = await fetch(`http://127.0.0.1:${statusPort}/status`);
      return res.ok ? ((await res.json()) as { phase: string; flows: Array<{ lsn: string | number }> }) : undefined;
    } catch {
      return undefined;
    }
  };
  const alive = (): void => {
    if (exitCode !== undefined) throw new Error(`df2redis replicate exited ${exitCode}: ${stderr}`);
  };
  /** Writes at `rate` (0 = max) for `durationMs`, then waits until the child acknowledged it all. */
  const writePhase = async (rate: number, durationMs: number): Promise<number> => {
    const go: GoMessage = { type: 'go', rate, durationMs, stamps: [new SharedArrayBuffer(STAMP_CAP * 16)], counts: new SharedArrayBuffer(4) };
    const done = new Promise<DoneMessage>((resolve) => {
      const onMessage = (msg: { type: string }): void => {
        if (msg.type !== 'done') return;
        master.worker.off('message', onMessage);
        resolve(msg as DoneMessage);
      };
      master.worker.on('message', onMessage);
    });
    const t0 = nowMs();
    master.worker.postMessage(go);
    const d = await done;
    for (;;) {
      alive();
      const st = await status();
      if (st !== undefined && Number(st.flows[0]?.lsn ?? 0) >= d.lastLsn[0]!) break;
      await delay(20);
    }
    return Math.round(d.written[0]! / ((nowMs() - t0) / 1000));
  };
  try {
    for (;;) {
      alive();
      const st = await status();
      if (st?.phase === 'stable-sync' && st.flows.length === 1) break;
      await delay(50);
    }
    await writePhase(10_000, 2000);
    const before = procMemMb(child.pid!).rss;
    const beforeKinds = residentByKind(child.pid!);
    const opsPerSec = await writePhase(0, PHASE_MS);
    const end = procMemMb(child.pid!);
    await delay(AFTER_BURST_S * 1000);
    alive();
    const after = procMemMb(child.pid!);
    out[`burst: resident by mapping, before → ${AFTER_BURST_S} s after (MB)`] = `${beforeKinds} → ${residentByKind(child.pid!)}`;
    out['burst (df2redis replicate child, 1 flow, max rate): ops/s'] = opsPerSec;
    out[`burst: RSS before → end of burst → ${AFTER_BURST_S} s after (peak) (MB)`] =
      `${before.toFixed(0)} → ${end.rss.toFixed(0)} → ${after.rss.toFixed(0)} (${after.hwm.toFixed(0)})`;
    out[`burst: goal ≤ 20 MB above the pre-burst level ${AFTER_BURST_S} s after`] =
      after.rss - before <= 20 ? `met (+${(after.rss - before).toFixed(0)} MB)` : `MISSED (+${(after.rss - before).toFixed(0)} MB)`;
  } finally {
    if (exitCode === undefined) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
    }
    await master.close();
    await redis.stop();
  }
}

async function replayRates(out: Record<string, number | string>): Promise<void> {
  Object.assign(out, {
    'lag measures': 'fake-master write call → loopback → read + decode + translate → target → reply → acked LSN (+ ≤ 1 ms polling), per ~1 ms batch',
    'master sockets': process.env.BENCH_NODELAY === '0' ? 'Nagle on (BENCH_NODELAY=0)' : 'TCP_NODELAY (as Dragonfly --tcp_nodelay)',
    'max-rate lag': 'saturated: time spent queued in the replicator in-flight window (64 MiB/flow), not a latency',
  });
  // The last 10 K phase runs after the saturating one on the same replicator: memory should settle back.
  const one = (await replay(1, [10_000, 50_000, 200_000, 0, 10_000], { out })).phases;
  const four = (await replay(4, [0], { out })).phases;
  const best = Math.max(one[3]!.sustainedOpsPerSec, four[0]!.sustainedOpsPerSec);
  out['goal ≥ 300 K ops/s sustained'] = best >= 300_000 ? `met (${best})` : `MISSED (best ${best})`;
  // Issue 12: journal replay unthrottled into one redis-server (the fake master shares the 2 cores).
  out['goal (issue 12) ≥ 1 M ops/s unthrottled'] = best >= 1_000_000 ? `met (${best})` : `MISSED (best ${best})`;
  out['goal p99 ≤ 5 ms at 50 K ops/s'] = one[1]!.lagP99 <= 5 ? 'met' : `MISSED (${one[1]!.lagP99.toFixed(1)} ms)`;
  out['RSS 1 flow: start of 10 K → end of 200 K → end of max → end of 10 K again (MB)'] = [one[0]!.rssStartMb, one[2]!.rssEndMb, one[3]!.rssEndMb, one[4]!.rssEndMb].map((v) => v.toFixed(0)).join(' → ');
}

/** A TCP port free on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}
