/**
 * Sink hot path: N × `SET key <100-byte value>` into a fresh redis-server through one pipelined
 * {@link RedisConnection}, against the target's own ingest limit, `redis-cli --pipe` fed the same
 * RESP bytes from a file. Best of ROUNDS for each, `FLUSHALL` between runs.
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

const COMMANDS = Number(process.env.BENCH_SINK_COMMANDS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_SINK_ROUNDS ?? 2);
const VALUE = Buffer.alloc(100, 'v');

async function viaConnection(server: RedisServer, keys: Buffer[]): Promise<number> {
  const conn = await RedisConnection.connect(parseRedisUrl(server.url));
  const start = performance.now();
  let i = 0;
  while (i < keys.length) {
    while (i < keys.length && !conn.isBackpressured) {
      conn.send(['SET', keys[i]!, VALUE], keys[i]);
      i++;
    }
    if (i < keys.length) await new Promise<void>((r) => conn.once('drain', r));
  }
  await conn.flush();
  const ms = performance.now() - start;
  await conn.close();
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
    let ourMs = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      cliMs = Math.min(cliMs, await viaRedisCliPipe(server, file));
      await redisCli(server.port, 'FLUSHALL');
      ourMs = Math.min(ourMs, await viaConnection(server, keys));
      const dbsize = Number((await redisCli(server.port, 'DBSIZE')).trim());
      if (dbsize !== COMMANDS) throw new Error(`expected ${COMMANDS} keys, found ${dbsize}`);
      await redisCli(server.port, 'FLUSHALL');
    }
    return {
      commands: COMMANDS,
      'payload MiB': bytes / 1048576,
      'redis-cli --pipe s': cliMs / 1000,
      'RedisConnection s': ourMs / 1000,
      'RedisConnection commands/s': Math.round(COMMANDS / (ourMs / 1000)),
      'ratio (ours / redis-cli)': ourMs / cliMs,
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
