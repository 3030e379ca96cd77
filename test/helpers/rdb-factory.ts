/**
 * Real `dump.rdb` files made by the real `redis-server` (DESIGN.md "Tests, from cheap to real"): a
 * source server configured to force one family of encodings is filled with data of every type, then
 * `SAVE`d. The server is kept running so a test can compare a migration's target with it.
 *
 * Also generators for benchmarks: N SET commands as a RESP file for `redis-cli --pipe`, a ≥ 1 GB dump
 * and a dump holding one 500 MB string. Everything lives in temporary directories, never in git.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, createReadStream, statSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { createClient, RESP_TYPES } from 'redis';
import { startRedisServer, redisCli, type RedisServer } from './redis-server.js';

/** A named server configuration that forces one family of RDB encodings. */
export interface EncodingProfile {
  name: string;
  /** Given at start-up (before any data is written); directives this server does not know are skipped. */
  config: Record<string, string>;
}

/**
 * The configurations each integration run covers. Redis 7.0 notes: small lists are always quicklists
 * (plain listpack lists are 7.2+), and `set-max-listpack-entries` (set listpack) is 7.2+ only, so it
 * is skipped there (see {@link RdbDump.skippedConfig}).
 */
export const ENCODING_PROFILES: readonly EncodingProfile[] = [
  // Redis defaults: small collections as listpack/intset, 8 KB quicklist nodes, LZF on.
  { name: 'default', config: { rdbcompression: 'yes' } },
  // Everything that can be a listpack/intset is one, including 5000-element collections.
  {
    name: 'listpack',
    config: {
      'hash-max-listpack-entries': '10000',
      'hash-max-listpack-value': '4096',
      'zset-max-listpack-entries': '10000',
      'zset-max-listpack-value': '4096',
      'set-max-intset-entries': '100000',
      'set-max-listpack-entries': '10000',
      'set-max-listpack-value': '4096',
      'list-max-listpack-size': '100000',
      'stream-node-max-entries': '1000',
      rdbcompression: 'yes',
    },
  },
  // Nothing compact: hash tables, skiplists, one-element quicklist nodes, one-entry stream nodes; no
  // LZF and no checksum (an RDB with CRC 0 must be accepted).
  {
    name: 'hashtable',
    config: {
      'hash-max-listpack-entries': '0',
      'zset-max-listpack-entries': '0',
      'set-max-intset-entries': '0',
      'set-max-listpack-entries': '0',
      'list-max-listpack-size': '1',
      'stream-node-max-entries': '1',
      rdbcompression: 'no',
      rdbchecksum: 'no',
    },
  },
  // Quicklist nodes LZF-compressed in memory (and so in the RDB), 4 KB nodes.
  { name: 'compressed-lists', config: { 'list-compress-depth': '1', 'list-max-listpack-size': '-1', rdbcompression: 'yes' } },
];

/** Options of {@link buildDump}. */
export interface BuildDumpOptions {
  /** Elements of each big collection (list, set, zset, hash). 0 = no big collections. @default 300_000 */
  bigElements?: number;
  /** Bytes of the big string. 0 = none. @default 10 MiB */
  bigStringBytes?: number;
}

/** A saved dump and the server that produced it (still running, holding the same data). */
export interface RdbDump {
  /** `<server.dir>/dump.rdb` */
  path: string;
  sizeBytes: number;
  server: RedisServer;
  profile: EncodingProfile;
  /** Config directives of the profile this server does not support (e.g. `set-max-listpack-entries` on 7.0). */
  skippedConfig: string[];
  /** Databases holding data. */
  dbs: number[];
  /** A key whose value is the biggest list (for corruption tests), or undefined without big collections. */
  bigListKey: string | undefined;
}

/** Fixed absolute expiry (Unix ms) used for some keys, far in the future (2030). */
export const FIXED_PEXPIREAT = 1_900_000_001_000;

interface Client {
  sendCommand(args: Array<string | Buffer>): Promise<unknown>;
  quit(): Promise<unknown>;
}

async function connect(port: number): Promise<Client> {
  const client = createClient({ url: `redis://127.0.0.1:${port}`, RESP: 2 }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  await client.connect();
  return client as unknown as Client;
}

/** Deterministic pseudo-random bytes (xorshift32), so dumps are reproducible. */
export function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed | 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Fills a key with `n` elements server-side (Lua, batches of 1000 arguments): fast, no client traffic. */
const FILL_SCRIPT = `
local kind, n = ARGV[1], tonumber(ARGV[2])
local i = 1
while i <= n do
  local args = {}
  local last = math.min(i + 999, n)
  for j = i, last do
    if kind == 'list' then
      if j % 3 == 0 then args[#args + 1] = tostring(j) else args[#args + 1] = 'elem:' .. j .. ':' .. string.rep('x', j % 50) end
    elseif kind == 'set' then
      args[#args + 1] = 'member:' .. j
    elseif kind == 'intset' then
      args[#args + 1] = tostring(j * 7 - 100000)
    elseif kind == 'zset' then
      args[#args + 1] = tostring(j * 1.25 - 1000.5); args[#args + 1] = 'm:' .. j
    elseif kind == 'hash' then
      args[#args + 1] = 'field:' .. j
      if j % 4 == 0 then args[#args + 1] = tostring(j) else args[#args + 1] = 'value:' .. string.rep('v', j % 64) end
    end
  end
  if kind == 'list' then redis.call('RPUSH', KEYS[1], unpack(args))
  elseif kind == 'set' or kind == 'intset' then redis.call('SADD', KEYS[1], unpack(args))
  elseif kind == 'zset' then redis.call('ZADD', KEYS[1], unpack(args))
  elseif kind == 'hash' then redis.call('HSET', KEYS[1], unpack(args)) end
  i = last + 1
end
return n
`;

async function fill(c: Client, key: string, kind: 'list' | 'set' | 'intset' | 'zset' | 'hash', n: number): Promise<void> {
  await c.sendCommand(['EVAL', FILL_SCRIPT, '1', key, kind, String(n)]);
}

/** A stream with deleted entries, two groups, three consumers, pending entries (some claimed). */
async function seedStream(c: Client, key: string, entries: number): Promise<void> {
  for (let i = 1; i <= entries; i++) {
    // Same fields most of the time (the "same fields" listpack flag), different fields sometimes.
    const fields = i % 10 === 0 ? ['other', `o${i}`, 'bin', Buffer.from([0, 255, i & 0xff])] : ['n', String(i), 'payload', `p${i}`];
    await c.sendCommand(['XADD', key, `1700000000000-${i}`, ...(fields as string[])]);
  }
  for (let i = 3; i <= entries; i += 7) await c.sendCommand(['XDEL', key, `1700000000000-${i}`]);
  await c.sendCommand(['XGROUP', 'CREATE', key, 'g1', '0']);
  await c.sendCommand(['XREADGROUP', 'GROUP', 'g1', 'alice', 'COUNT', '10', 'STREAMS', key, '>']);
  await c.sendCommand(['XREADGROUP', 'GROUP', 'g1', 'bob', 'COUNT', '5', 'STREAMS', key, '>']);
  await c.sendCommand(['XACK', key, 'g1', '1700000000000-1', '1700000000000-2']);
  await c.sendCommand(['XCLAIM', key, 'g1', 'carol', '0', '1700000000000-4', '1700000000000-5', 'RETRYCOUNT', '7']);
  await c.sendCommand(['XGROUP', 'CREATE', key, 'g2', '$']);
  await c.sendCommand(['XGROUP', 'CREATECONSUMER', key, 'g2', 'idle-consumer']);
}

async function seedDb0(c: Client, opts: Required<BuildDumpOptions>): Promise<string | undefined> {
  const cmds: Array<Array<string | Buffer>> = [
    ['SET', 'str:int:small', '42'],
    ['SET', 'str:int:neg', '-7'],
    ['SET', 'str:int:16', '30000'],
    ['SET', 'str:int:32', '2000000000'],
    ['SET', 'str:int:64', '9007199254740993'],
    ['SET', 'str:not-int:leading-zero', '007'],
    ['SET', 'str:float', '3.14'],
    ['SET', 'str:empty', ''],
    ['SET', 'str:utf8', 'héllo ☃ 你好'],
    ['SET', 'str:20', 'a'.repeat(20)], // LZF needs > 20 bytes
    ['SET', 'str:21', 'a'.repeat(21)],
    ['SET', 'str:lzf', 'abcdefgh'.repeat(5000)],
    ['SET', 'str:random-64k', pseudoRandomBytes(65_536, 7)],
    ['SET', 'str:binary', Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
    ['SET', Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0d, 0x0a]), Buffer.from([0xde, 0xad, 0xbe, 0xef, 0, 0])],
    ['SET', 'str:ttl', 'expires', 'PXAT', String(FIXED_PEXPIREAT)],
    ['SET', 'str:ttl-relative', 'expires later', 'PX', '3600000'],
    ['RPUSH', 'list:small', 'a', 'b', 'c', '1', '2', '-3', '1000000', '-2147483649'],
    ['RPUSH', 'list:binary', Buffer.from([0]), Buffer.from([0xff, 0x00, 0x80]), ''],
    ['RPUSH', 'list:ttl', 'x', 'y'],
    ['PEXPIREAT', 'list:ttl', String(FIXED_PEXPIREAT)],
    ['SADD', 'set:int:small', '1', '2', '3', '-5', '100000', '2147483648', '-9223372036854775808'],
    ['SADD', 'set:mixed:small', 'red', 'green', 'blue', '17'],
    ['SADD', 'set:binary', Buffer.from([0, 0xff]), Buffer.from([0x80])],
    ['ZADD', 'zset:tricky', '-inf', 'neg-inf', '1e-17', 'tiny', '0.1', 'tenth', '123456789.12345679', 'long', '1.7976931348623157e+308', 'max', 'inf', 'pos-inf', '-0.5', 'neg-half', '0', 'zero'],
    ['ZADD', 'zset:small', '1', 'one', '2.5', 'two-and-half', '-3', 'minus-three'],
    ['ZADD', 'zset:ttl', '1', 'a'],
    ['PEXPIRE', 'zset:ttl', '7200000'],
    ['HSET', 'hash:small', 'f1', 'v1', 'f2', '2', 'f3', '', 'big-int', '123456789012'],
    ['HSET', 'hash:binary', Buffer.from([0, 1]), Buffer.from([0xff]), Buffer.from('ü'), Buffer.from([0])],
    ['HSET', 'hash:ttl', 'f', 'v'],
    ['PEXPIREAT', 'hash:ttl', String(FIXED_PEXPIREAT)],
    ['XGROUP', 'CREATE', 'stream:empty-with-group', 'g', '$', 'MKSTREAM'],
    ['XADD', 'stream:all-deleted', '5-1', 'f', 'v'],
    ['XDEL', 'stream:all-deleted', '5-1'],
    ['FUNCTION', 'LOAD', 'REPLACE', "#!lua name=df2redis_test\nredis.register_function('df2redis_echo', function(keys, args) return args[1] end)"],
  ];
  for (const cmd of cmds) await c.sendCommand(cmd);
  await seedStream(c, 'stream:main', 2000);
  await c.sendCommand(['PEXPIRE', 'stream:main', '7200000']);
  // Medium collections: listpack/intset in the `listpack` profile, hash tables elsewhere.
  await fill(c, 'list:medium', 'list', 5000);
  await fill(c, 'set:int:medium', 'intset', 50_000);
  await fill(c, 'set:medium', 'set', 5000);
  await fill(c, 'zset:medium', 'zset', 5000);
  await fill(c, 'hash:medium', 'hash', 5000);
  if (opts.bigStringBytes > 0) {
    // 1000 random bytes repeated (LZF shrinks it) followed by 1 MiB that does not compress.
    const block = pseudoRandomBytes(1000, 11);
    const big = Buffer.alloc(opts.bigStringBytes);
    for (let off = 0; off < big.length; off += block.length) block.copy(big, off);
    const tail = Math.min(1 << 20, big.length);
    pseudoRandomBytes(tail, 13).copy(big, big.length - tail);
    await c.sendCommand(['SET', 'str:big', big]);
  }
  if (opts.bigElements <= 0) return undefined;
  await fill(c, 'list:big', 'list', opts.bigElements);
  await fill(c, 'set:big', 'set', opts.bigElements);
  await fill(c, 'zset:big', 'zset', opts.bigElements);
  await fill(c, 'hash:big', 'hash', opts.bigElements);
  await c.sendCommand(['PEXPIREAT', 'hash:big', String(FIXED_PEXPIREAT)]);
  return 'list:big';
}

async function seedOtherDbs(c: Client): Promise<void> {
  await c.sendCommand(['SELECT', '1']);
  for (const cmd of [
    ['SET', 'db1:str', 'one'],
    ['SET', 'str:int:small', '43'], // same key name as in db 0, different value
    ['RPUSH', 'db1:list', 'a', 'b'],
    ['SADD', 'db1:set', '1', '2', 'x'],
    ['ZADD', 'db1:zset', '1.5', 'a'],
    ['HSET', 'db1:hash', 'f', 'v'],
    ['SET', 'db1:ttl', 'v', 'PXAT', String(FIXED_PEXPIREAT)],
  ]) {
    await c.sendCommand(cmd);
  }
  await seedStream(c, 'db1:stream', 30);
  await c.sendCommand(['SELECT', '15']);
  await c.sendCommand(['SET', 'db15:str', 'fifteen']);
  await c.sendCommand(['HSET', 'db15:hash', 'a', '1', 'b', '2']);
  await c.sendCommand(['SELECT', '0']);
}

/**
 * Starts a server with `config` at start-up (some directives, like `rdbchecksum`, cannot be set at
 * run time). Directives this version rejects as unknown ("Bad directive", quoted after `>>>` in its
 * output) are dropped and reported.
 */
async function startWithKnownConfig(config: Record<string, string>): Promise<{ server: RedisServer; skipped: string[] }> {
  const rest = { ...config };
  const skipped: string[] = [];
  for (;;) {
    try {
      return { server: await startRedisServer({ config: rest }), skipped };
    } catch (err) {
      const name = /^>>> '([\w-]+)/m.exec(String(err))?.[1];
      if (name === undefined || !(name in rest) || !/Bad directive/.test(String(err))) throw err;
      delete rest[name];
      skipped.push(name);
    }
  }
}

/** `SAVE` and return `<dir>/dump.rdb` with its size. */
export async function saveDump(server: RedisServer): Promise<{ path: string; sizeBytes: number }> {
  const out = await redisCli(server.port, 'SAVE');
  if (out.trim() !== 'OK') throw new Error(`SAVE failed on ${server.port}: ${out}`);
  const p = path.join(server.dir, 'dump.rdb');
  return { path: p, sizeBytes: statSync(p).size };
}

/**
 * Starts a source server with `profile` (extra `startConfig` at start-up, e.g. `enable-debug-command`),
 * writes the dataset (every type, binary keys and values, TTLs, dbs 0, 1 and 15, streams with groups
 * and pending entries, a function library, 5000-element collections, and unless disabled a 10 MiB
 * string and four 300 K-element collections), `SAVE`s, and returns the dump with the running server.
 * The caller stops `server` (which removes the dump).
 * @throws Error if the server cannot start or a command fails (the server is stopped then).
 */
export async function buildDump(profile: EncodingProfile, options: BuildDumpOptions = {}): Promise<RdbDump> {
  const opts: Required<BuildDumpOptions> = { bigElements: options.bigElements ?? 300_000, bigStringBytes: options.bigStringBytes ?? 10 * 1024 * 1024 };
  const { server, skipped: skippedConfig } = await startWithKnownConfig({ 'enable-debug-command': 'yes', ...profile.config });
  try {
    const c = await connect(server.port);
    let bigListKey: string | undefined;
    try {
      bigListKey = await seedDb0(c, opts);
      await seedOtherDbs(c);
    } finally {
      await c.quit();
    }
    const saved = await saveDump(server);
    return { ...saved, server, profile, skippedConfig, dbs: [0, 1, 15], bigListKey };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** Options of {@link writeSetCommands}. */
export interface SetCommandsOptions {
  count: number;
  /** Bytes of each value. @default 100 */
  valueBytes?: number;
  /** Keys are `<keyPrefix><index, 10 digits>`. @default 'key:' */
  keyPrefix?: string;
  /** Keys per command: 1 writes `SET`s, more writes `MSET`s of that many keys (the same data). @default 1 */
  keysPerCommand?: number;
  /** Every n-th key (index % n === 0) gets an expiry: `SET … PXAT` {@link FAR_FUTURE_PEXPIREAT}; 0 = none. @default 0 */
  ttlEvery?: number;
  /**
   * `random`: printable pseudo-random text (incompressible: a dump holds it as is). `padded`:
   * `value:<index>` padded with NUL bytes, the values of `DEBUG POPULATE <count> key <valueBytes>`
   * (Redis src/debug.c): a dump holds them LZF-compressed (Redis `rdbcompression`, on by default).
   * @default 'random'
   */
  values?: 'random' | 'padded';
}

/** An absolute expiry no test date reaches (2100-01-01), Unix ms. */
export const FAR_FUTURE_PEXPIREAT = 4_102_444_800_000;

/**
 * Writes `count` `SET <key> <value>` commands in RESP to `out` (values: printable pseudo-random text,
 * different per key, or `options.values`), honouring backpressure. Does not end `out`.
 */
export async function writeSetCommands(out: Writable, options: SetCommandsOptions): Promise<void> {
  const valueBytes = options.valueBytes ?? 100;
  const prefix = options.keyPrefix ?? 'key:';
  const keyLen = prefix.length + 10;
  const perCommand = options.keysPerCommand ?? 1;
  const ttlEvery = options.ttlEvery ?? 0;
  const isPadded = options.values === 'padded';
  const alphabet = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');
  const noise = pseudoRandomBytes(valueBytes + 4096, 3);
  for (let i = 0; i < noise.length; i++) noise[i] = alphabet[noise[i]! & 63]!;
  const keyHead = Buffer.from(`$${keyLen}\r\n${prefix}`);
  const mid = Buffer.from(`\r\n$${valueBytes}\r\n`);
  const pairBytes = keyHead.length + 10 + mid.length + valueBytes + 2;
  /** `$len key $len value` of key i at `pos`; returns the end. */
  const pair = (i: number, buf: Buffer, pos: number): number => {
    pos += keyHead.copy(buf, pos);
    pos += buf.write(String(i).padStart(10, '0'), pos, 'latin1');
    pos += mid.copy(buf, pos);
    if (isPadded) {
      const end = pos + valueBytes;
      pos += buf.write(`value:${i}`.slice(0, valueBytes), pos, 'latin1');
      buf.fill(0, pos, end);
      pos = end;
    } else {
      const start = (i * 37) % 4096;
      pos += noise.copy(buf, pos, start, start + valueBytes);
    }
    buf[pos++] = 13;
    buf[pos++] = 10;
    return pos;
  };
  const set = Buffer.from('*3\r\n$3\r\nSET\r\n');
  const setPxat = Buffer.from('*5\r\n$3\r\nSET\r\n');
  const pxat = Buffer.from(`$4\r\nPXAT\r\n$${String(FAR_FUTURE_PEXPIREAT).length}\r\n${FAR_FUTURE_PEXPIREAT}\r\n`);
  const CHUNK_BYTES = 1 << 20;
  const chunkBytes = CHUNK_BYTES + (perCommand + 1) * pairBytes + 128;
  let chunk = Buffer.allocUnsafe(chunkBytes);
  let pos = 0;
  const group = Buffer.allocUnsafe(perCommand * pairBytes);
  let groupBytes = 0;
  let groupKeys = 0;
  const flushGroup = (): void => {
    if (groupKeys === 0) return;
    pos += perCommand === 1 ? set.copy(chunk, pos) : chunk.write(`*${1 + 2 * groupKeys}\r\n$4\r\nMSET\r\n`, pos, 'latin1');
    pos += group.copy(chunk, pos, 0, groupBytes);
    groupBytes = groupKeys = 0;
  };
  for (let i = 0; i < options.count; i++) {
    if (ttlEvery > 0 && i % ttlEvery === 0) {
      pos += setPxat.copy(chunk, pos);
      pos = pair(i, chunk, pos);
      pos += pxat.copy(chunk, pos);
    } else {
      groupBytes = pair(i, group, groupBytes);
      if (++groupKeys === perCommand) flushGroup();
    }
    if (pos >= CHUNK_BYTES) {
      const full = chunk.subarray(0, pos);
      chunk = Buffer.allocUnsafe(chunkBytes);
      pos = 0;
      if (!out.write(full)) await once(out, 'drain');
    }
  }
  flushGroup();
  if (pos > 0) out.write(chunk.subarray(0, pos));
}

/**
 * Writes `count` keys as `MSET`s of `perCommand` keys to `out`; `pair(i, chunk, pos)` encodes key i's
 * `$len key $len value` at `pos` (at most `maxPairBytes`) and returns the end. Does not end `out`.
 */
export async function writeMsetCommands(
  out: Writable,
  count: number,
  perCommand: number,
  pair: (i: number, chunk: Buffer, pos: number) => number,
  maxPairBytes: number,
): Promise<void> {
  for (let i = 0; i < count; ) {
    const n = Math.min(perCommand, count - i);
    const chunk = Buffer.allocUnsafe(32 + n * maxPairBytes);
    let pos = chunk.write(`*${1 + 2 * n}\r\n$4\r\nMSET\r\n`, 0, 'latin1');
    for (let j = 0; j < n; j++, i++) pos = pair(i, chunk, pos);
    if (!out.write(chunk.subarray(0, pos))) await once(out, 'drain');
  }
}

/** Writes {@link writeSetCommands} output to a new file in a temp dir; returns its path. */
export async function writeSetCommandsFile(options: SetCommandsOptions, dir = mkdtempSync(path.join(tmpdir(), 'df2redis-pipe-'))): Promise<string> {
  const file = path.join(dir, `set-${options.count}x${options.valueBytes ?? 100}-by${options.keysPerCommand ?? 1}-ttl${options.ttlEvery ?? 0}-${options.values ?? 'random'}.resp`);
  const out = createWriteStream(file);
  await writeSetCommands(out, options);
  out.end();
  await once(out, 'finish');
  return file;
}

/**
 * Runs `redis-cli -p <port> --pipe` with stdin from `file` (a path) or fed by `produce`. Resolves with
 * the elapsed ms and redis-cli's summary line (`errors: 0, replies: N`).
 * @throws Error if redis-cli exits non-zero or reports errors.
 */
export async function redisCliPipe(port: number, input: string | ((stdin: Writable) => Promise<void>)): Promise<{ elapsedMs: number; summary: string }> {
  const started = performance.now();
  const child = spawn(process.env.REDIS_CLI ?? 'redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--pipe'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'close') as Promise<[number | null]>;
  if (typeof input === 'string') {
    createReadStream(input).pipe(child.stdin);
  } else {
    await input(child.stdin);
    child.stdin.end();
  }
  const [code] = await exited;
  const elapsedMs = performance.now() - started;
  const summary = /errors: \d+, replies: \d+/.exec(output)?.[0] ?? '';
  if (code !== 0 || !summary.startsWith('errors: 0,')) throw new Error(`redis-cli --pipe into ${port} failed (exit ${code}):\n${output}`);
  return { elapsedMs, summary };
}

/**
 * A dump of `count` × `valueBytes` strings (benchmarks: 1 M × 100 B). Also returns the RESP file used to
 * load it, for the `redis-cli --pipe` baseline. The caller stops `server` and removes `pipeFile`'s dir.
 */
export async function buildStringsDump(options: SetCommandsOptions): Promise<{ path: string; sizeBytes: number; server: RedisServer; pipeFile: string }> {
  const pipeFile = await writeSetCommandsFile(options);
  const server = await startRedisServer();
  try {
    await redisCliPipe(server.port, pipeFile);
    return { ...(await saveDump(server)), server, pipeFile };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/**
 * A dump of at least `minBytes` (default 1 GiB) for the memory benchmark: 1 KB incompressible strings
 * (70 %) and hashes of 10 000 × 1 KB fields (30 %), loaded through `redis-cli --pipe` without a file.
 */
export async function buildBigDump(minBytes = 1 << 30): Promise<{ path: string; sizeBytes: number; server: RedisServer }> {
  const server = await startRedisServer({ config: { rdbcompression: 'yes' } });
  try {
    const valueBytes = 1000;
    const strings = Math.ceil((minBytes * 0.72) / (valueBytes + 40));
    const hashes = Math.ceil((minBytes * 0.3) / (10_000 * (valueBytes + 20)));
    await redisCliPipe(server.port, async (stdin) => {
      await writeSetCommands(stdin, { count: strings, valueBytes, keyPrefix: 'big:' });
      const value = pseudoRandomBytes(valueBytes, 5).toString('base64').slice(0, valueBytes);
      for (let h = 0; h < hashes; h++) {
        const parts: string[] = [];
        for (let f = 0; f < 10_000; f++) {
          const field = `field:${String(f).padStart(6, '0')}`;
          const v = value.slice(f % 100) + value.slice(0, f % 100);
          parts.push(`*4\r\n$4\r\nHSET\r\n$12\r\nhash:${String(h).padStart(7, '0')}\r\n$${field.length}\r\n${field}\r\n$${v.length}\r\n${v}\r\n`);
        }
        if (!stdin.write(parts.join(''))) await once(stdin, 'drain');
      }
    });
    const saved = await saveDump(server);
    if (saved.sizeBytes < minBytes) throw new Error(`big dump is ${saved.sizeBytes} bytes, wanted ≥ ${minBytes}`);
    return { ...saved, server };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** A dump holding one string of `bytes` (default 500 MiB) of incompressible data, built with 1 MiB APPENDs. */
export async function buildHugeStringDump(bytes = 500 * 1024 * 1024): Promise<{ path: string; sizeBytes: number; server: RedisServer }> {
  const server = await startRedisServer({ config: { 'proto-max-bulk-len': String(1024 * 1024 * 1024) } });
  try {
    const c = await connect(server.port);
    try {
      const chunk = 1 << 20;
      for (let off = 0, i = 0; off < bytes; off += chunk, i++) {
        await c.sendCommand(['APPEND', 'huge:string', pseudoRandomBytes(Math.min(chunk, bytes - off), 1000 + i)]);
      }
    } finally {
      await c.quit();
    }
    return { ...(await saveDump(server)), server };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
