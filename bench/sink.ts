/**
 * Sink hot path: N × `SET key <100-byte value>` into a fresh redis-server through one pipelined
 * {@link RedisConnection}, against the target's own ingest limit, `redis-cli --pipe` fed the same
 * RESP bytes from a file. Best of ROUNDS for each, `FLUSHALL` between runs.
 *
 * Two producer shapes: `chunked` yields to the event loop every 500 commands (≈ 64 KiB of RESP,
 * what the file pipeline does per input chunk); `burst` sends until backpressured before yielding.
 * Timings on a shared 2-core machine are noisy: compare runs made back to back.
 *
 * Environment: `BENCH_SINK_COMMANDS` (default 1 000 000), `BENCH_SINK_ROUNDS` (default 2).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { redisCli, startRedisServer, type RedisServer } from '../test/helpers/redis-server.js';
import { RedisConnection } from '../src/sink/redis-connection.js';
import { RespEncoder } from '../src/sink/resp-encoder.js';
import { parseRedisUrl } from '../src/sink/target-url.js';
import { setImmediate as tick } from 'node:timers/promises';
import { StandaloneRouter } from '../src/sink/router.js';
import { SnapshotWriter } from '../src/sink/snapshot-writer.js';
import { readTargetInfo } from '../src/sink/target-info.js';
import { RDB_TYPE_STRING, type SnapshotEntry } from '../src/entry/entry.js';

const COMMANDS = Number(process.env.BENCH_SINK_COMMANDS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_SINK_ROUNDS ?? 2);
const VALUE = Buffer.alloc(100, 'v');

/** Commands per producer slice in `chunked` mode. */
const SLICE = 500;

async function viaConnection(server: RedisServer, keys: Buffer[], isChunked: boolean): Promise<number> {
  const conn = await RedisConnection.connect(parseRedisUrl(server.url));
  const start = performance.now();
  let i = 0;
  while (i < keys.length) {
    const end = isChunked ? Math.min(keys.length, i + SLICE) : keys.length;
    while (i < end && !conn.isBackpressured) {
      conn.send(['SET', keys[i]!, VALUE], keys[i]);
      i++;
    }
    if (conn.isBackpressured) await new Promise<void>((r) => conn.once('drain', r));
    else if (i < keys.length) await tick();
  }
  await conn.flush();
  const ms = performance.now() - start;
  await conn.close();
  return ms;
}

/**
 * The same keys as one-piece string entries through {@link SnapshotWriter}: rewritten to SET, or
 * (with `rdbValue` and onExisting skip, the mode in which strings are restored) sent as RESTORE
 * without REPLACE, with a CRC64 computed per key.
 */
async function viaSnapshotWriter(server: RedisServer, keys: Buffer[], isRestore: boolean): Promise<number> {
  const router = await StandaloneRouter.connect(parseRedisUrl(server.url));
  const info = await readTargetInfo(router.all()[0]!);
  const writer = new SnapshotWriter(router, info, { onExisting: isRestore ? 'skip' : 'replace', unsupported: 'fail', restoreMaxBytes: 512 * 1024 });
  // RDB string: 14-bit length prefix (0x40 | len >> 8, len & 0xff), then the bytes.
  const rdbValue = Buffer.concat([Buffer.from([0x40 | (VALUE.length >> 8), VALUE.length & 0xff]), VALUE]);
  // One entry object reused (the writer keeps only the key); the decoder would make a new one.
  const entry = {
    kind: 'snapshot', db: 0, key: keys[0]!, rdbType: RDB_TYPE_STRING, expireAtMs: -1, isFirst: true, isLast: true,
    rdbVersion: 9, valueKind: 'string', value: VALUE, rdbValue: isRestore ? rdbValue : undefined,
  } as SnapshotEntry;
  const start = performance.now();
  let i = 0;
  while (i < keys.length) {
    const end = Math.min(keys.length, i + SLICE);
    while (i < end && !writer.isBackpressured) {
      entry.key = keys[i]!;
      writer.write(entry);
      i++;
    }
    if (writer.isBackpressured) await new Promise<void>((r) => writer.onceDrained(r));
    else if (i < keys.length) await tick();
  }
  await writer.flush();
  const ms = performance.now() - start;
  await router.close();
  return ms;
}

function viaRedisCliPipe(server: RedisServer, file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const fd = openSync(file, 'r');
    const start = performance.now();
    const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(server.port), '--pipe'], { stdio: [fd, 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - start;
      closeSync(fd);
      if (code !== 0 || !/errors: 0, replies: \d+/.test(out)) reject(new Error(`redis-cli --pipe failed: ${out}`));
      else resolve(ms);
    });
  });
}

export async function run(): Promise<Record<string, number | string>> {
  const keys = Array.from({ length: COMMANDS }, (_, i) => Buffer.from(`key:${i}`));
  const dir = mkdtempSync(path.join(tmpdir(), 'df2redis-bench-sink-'));
  const file = path.join(dir, 'commands.resp');
  const enc = new RespEncoder();
  const parts: Buffer[] = [];
  for (const k of keys) {
    enc.encode(['SET', k, VALUE]);
    if (enc.pendingBytes > 1 << 20) parts.push(...enc.take().map((b) => Buffer.from(b)));
  }
  parts.push(...enc.take().map((b) => Buffer.from(b)));
  const bytes = parts.reduce((n, b) => n + b.length, 0);
  writeFileSync(file, Buffer.concat(parts));
  parts.length = 0;

  const server = await startRedisServer();
  try {
    let cliMs = Infinity;
    let chunkedMs = Infinity;
    let burstMs = Infinity;
    let writerSetMs = Infinity;
    let writerRestoreMs = Infinity;
    const check = async (): Promise<void> => {
      const dbsize = Number((await redisCli(server.port, 'DBSIZE')).trim());
      if (dbsize !== COMMANDS) throw new Error(`expected ${COMMANDS} keys, found ${dbsize}`);
      await redisCli(server.port, 'FLUSHALL');
    };
    for (let r = 0; r < ROUNDS; r++) {
      cliMs = Math.min(cliMs, await viaRedisCliPipe(server, file));
      await check();
      chunkedMs = Math.min(chunkedMs, await viaConnection(server, keys, true));
      await check();
      burstMs = Math.min(burstMs, await viaConnection(server, keys, false));
      await check();
      writerSetMs = Math.min(writerSetMs, await viaSnapshotWriter(server, keys, false));
      await check();
      writerRestoreMs = Math.min(writerRestoreMs, await viaSnapshotWriter(server, keys, true));
      await check();
    }
    return {
      commands: COMMANDS,
      'payload MiB': bytes / 1048576,
      'redis-cli --pipe s': cliMs / 1000,
      'RedisConnection chunked s': chunkedMs / 1000,
      'RedisConnection burst s': burstMs / 1000,
      'RedisConnection commands/s': Math.round(COMMANDS / (Math.min(chunkedMs, burstMs) / 1000)),
      'ratio chunked / redis-cli': chunkedMs / cliMs,
      'ratio burst / redis-cli': burstMs / cliMs,
      'SnapshotWriter SET s': writerSetMs / 1000,
      'SnapshotWriter RESTORE (skip mode) s': writerRestoreMs / 1000,
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
