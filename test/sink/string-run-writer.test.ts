/**
 * The string-run fast path (RdbHandler.onStringRun → SnapshotWriter.writeStringRun, a WebAssembly
 * kernel) sends exactly the bytes the one-string-at-a-time path sends (onString → writeString): a
 * real redis-server behind a recording TCP proxy receives byte-identical command streams from an
 * RDB mixing plain strings (6- and 14-bit lengths, sizes up to and past the MSET limits) with
 * expiries, int-encoded and LZF-compressed keys and values, another type, a database switch and a `maxPieceBytes` below some
 * values, fed in chunks of random sizes (runs cut everywhere); the target's DEBUG DIGEST agrees.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, redisCli, type RedisServer } from '../helpers/redis-server.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { RdbDecoder } from '../../src/decode/rdb/rdb-decoder.js';
import type { RdbHandler } from '../../src/decode/rdb/rdb-handler.js';
import { Crc64 } from '../../src/decode/rdb/crc64.js';
import { RdbError } from '../../src/errors.js';
import { StandaloneRouter } from '../../src/sink/router.js';
import { MSET_KEYS_DEFAULT, SnapshotWriter } from '../../src/sink/snapshot-writer.js';
import { readTargetInfo } from '../../src/sink/target-info.js';
import { parseRedisUrl } from '../../src/sink/target-url.js';
import { rng } from '../helpers/prng.js';
import { lzfCompress } from '../../src/decode/rdb/lzf.js';

const FAR_FUTURE_MS = 4_102_444_800_000; // 2100-01-01
const PAST_MS = 1_000_000_000_000; // 2001-09-09


function rdbLen(n: number, wide = false): Buffer {
  if (n < 64 && !wide) return Buffer.from([n]);
  if (n < 16384) return Buffer.from([0x40 | (n >> 8), n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = 0x80;
  b.writeUInt32BE(n, 1);
  return b;
}

/**
 * An RDB 11 file: strings of every kind the fast path takes or stops at, EOF with its CRC. `rare`
 * scales the share of records that end a run (expiries, encoded strings, other types, databases,
 * sizes past the MSET limits): 1 stops runs every few records, 0.05 lets them fill whole MSETs
 * (512 keys, or 64 KiB). Most values are shorter than `smallMax` bytes.
 */
function buildRdb(seed: number, count: number, rare: number, smallMax: number): Buffer {
  const next = rng(seed);
  const parts: Buffer[] = [Buffer.from('REDIS0011'), Buffer.from([0xfe, 0])];
  const randomBytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
  for (let i = 0; i < count; i++) {
    const key = Buffer.concat([Buffer.from(`k${i}:`), randomBytes(next() < 1 - 0.1 * rare ? Math.floor(next() * 16) : Math.floor(next() * 1030))]);
    const r = next() / rare;
    if (r < 0.05) {
      const pxat = Buffer.alloc(8);
      // Mostly future; some past (skipped as expired, counted), on any date after 2001.
      pxat.writeBigUInt64LE(BigInt(r < 0.015 ? PAST_MS + i : FAR_FUTURE_MS + i));
      parts.push(Buffer.from([0xfc]), pxat); // the next string has an expiry
    } else if (r < 0.07) {
      // int-encoded value: 1, 2 or 4 bytes, signed
      const width = i % 3;
      const x = Buffer.alloc(1 << width);
      if (width === 0) x.writeInt8((i % 256) - 128);
      else if (width === 1) x.writeInt16LE((i * 37) % 65536 - 32768);
      else x.writeInt32LE(i % 2 === 0 ? -2147483648 + i : 2147483647 - i);
      parts.push(Buffer.from([0, ...rdbLen(key.length)]), key, Buffer.from([0xc0 + width]), x);
      continue;
    } else if (r < 0.08) {
      parts.push(Buffer.from([2, ...rdbLen(key.length)]), key, Buffer.from([2, 1, 0x61, 1, 0x62])); // a set
      continue;
    } else if (r < 0.085) {
      parts.push(Buffer.from([0xfe, next() < 0.5 ? 0 : 1])); // SELECTDB
    }
    const v = next();
    const vlen = v < 1 - 0.2 * rare ? Math.floor(next() * smallMax) : v < 1 - 0.05 * rare ? Math.floor(next() * 8200) : 9000 + Math.floor(next() * 2000);
    if (next() < 0.3) {
      // compressible: LZF-encoded (RDB_ENC_LZF), as Redis and Dragonfly save such values; the key
      // too at times (a long repetitive key), or int-encoded (a number: unique per record)
      const pattern = randomBytes(1 + Math.floor(next() * 12));
      const value = Buffer.alloc(vlen);
      for (let j = 0; j < vlen; j++) value[j] = pattern[j % pattern.length]!;
      const c = lzfCompress(value);
      if (c !== undefined) {
        const form = next();
        const longKey = Buffer.from(`k${i}:` + 'session:'.repeat(4));
        const lzfKey = lzfCompress(longKey)!;
        const encodedKey =
          form < 0.2
            ? Buffer.concat([Buffer.from([0xc3]), rdbLen(lzfKey.length), rdbLen(longKey.length), lzfKey])
            : form < 0.4
              ? Buffer.from([0xc2, i & 0xff, (i >> 8) & 0xff, 0x10, 0x80]) // -2146435072 + i: negative, 4 bytes
              : Buffer.concat([Buffer.from(rdbLen(key.length)), key]);
        parts.push(Buffer.from([0]), encodedKey, Buffer.from([0xc3]), rdbLen(c.length, next() < 0.1), rdbLen(vlen, next() < 0.1), c);
        continue;
      }
    }
    parts.push(Buffer.from([0, ...rdbLen(key.length, next() < 0.1)]), key, rdbLen(vlen, next() < 0.1), randomBytes(vlen));
  }
  parts.push(Buffer.from([0xff]));
  const body = Buffer.concat(parts);
  const crc = Buffer.alloc(8);
  crc.writeBigUInt64LE(new Crc64().update(body, 0, body.length).value);
  return Buffer.concat([body, crc]);
}

let server: RedisServer;
before(async () => {
  server = await startRedisServer({ config: { 'enable-debug-command': 'yes' } });
});
after(async () => {
  await server.stop();
});

/** Decodes `rdb` into a writer behind a recording proxy; the bytes the target received, its digest, the run bytes taken. */
async function copy(rdb: Buffer, isRunOffered: boolean, chunkSeed: number, maxPieceBytes: number): Promise<{ sent: Buffer; digest: string; runBytes: number; expired: number }> {
  await redisCli(server.port, 'FLUSHALL');
  const proxy = await FaultProxy.start({ port: server.port });
  const sent: Buffer[] = [];
  proxy.on('connection', (c: { client: { on(e: 'data', f: (b: Buffer) => void): void } }) => c.client.on('data', (b) => sent.push(Buffer.from(b))));
  const router = await StandaloneRouter.connect(parseRedisUrl(proxy.url));
  let runBytes = 0;
  let expired = 0;
  try {
    const info = await readTargetInfo(router.all()[0]!);
    const w = new SnapshotWriter(router, info, { onExisting: 'replace', unsupported: 'fail', restoreMaxBytes: 512 * 1024, msetMaxKeys: MSET_KEYS_DEFAULT });
    // As src/pipeline/migrate-file.ts wires it.
    const handler: RdbHandler = {
      onEntry: (e) => w.write(e),
      onString: (db, buf, ks, ke, vs, ve, exp) => w.writeString(db, buf, ks, ke, vs, ve, exp),
    };
    if (isRunOffered) {
      handler.onStringRun = (db, buf, start, end, maxValueBytes) => {
        const n = w.writeStringRun(db, buf, start, end, maxValueBytes);
        runBytes += n;
        return n;
      };
    }
    const decoder = new RdbDecoder(handler, { source: 'test', captureStrings: false, maxPieceBytes });
    const next = rng(chunkSeed);
    for (let off = 0; off < rdb.length; ) {
      const n = next() < 0.3 ? 1 + Math.floor(next() * 40) : 1 + Math.floor(next() * 70_000);
      decoder.push(rdb.subarray(off, off + n));
      off += n;
      if (next() < 0.3) await new Promise((r) => setImmediate(r));
    }
    assert.ok(decoder.isDone);
    await w.flush();
    expired = w.stats.skippedExpired;
  } finally {
    await router.close();
    await proxy.close();
  }
  return { sent: Buffer.concat(sent), digest: await redisCli(server.port, 'DEBUG', 'DIGEST'), runBytes, expired };
}

test('string runs through the WebAssembly kernel send byte-identical commands to one string at a time (chunks of random sizes)', async () => {
  for (const [seed, rare, smallMax, maxPieceBytes] of [
    [1, 1, 200, 1_048_576],
    [2, 0.05, 200, 1_048_576],
    [3, 1, 200, 4096],
    [4, 0.02, 20, 1_048_576],
  ] as const) {
    const rdb = buildRdb(seed, 2000, rare, smallMax);
    // The same chunking for both paths: a run cut by a chunk boundary goes on in the next one.
    const one = await copy(rdb, false, seed, maxPieceBytes);
    const run = await copy(rdb, true, seed, maxPieceBytes);
    assert.equal(run.digest, one.digest);
    assert.equal(run.expired, one.expired, `seed ${seed}: keys skipped as expired`);
    if (rare === 1) assert.ok(one.expired > 10, `seed ${seed}: ${one.expired} expired keys`);
    assert.ok(run.sent.equals(one.sent), `seed ${seed}: the command streams differ (${run.sent.length} and ${one.sent.length} bytes)`);
    assert.equal(one.runBytes, 0);
    assert.ok(run.runBytes > rdb.length / 10, `seed ${seed}: runs took ${run.runBytes} of ${rdb.length} bytes`);
    assert.match((await redisCli(server.port, 'DBSIZE')).trim(), /^[1-9]\d*$/);
  }
});

test('the file CRC still covers every byte once when runs are taken: a flipped value byte inside a run is BAD_CRC', async () => {
  const parts: Buffer[] = [Buffer.from('REDIS0011'), Buffer.from([0xfe, 0])];
  for (let i = 0; i < 3000; i++) {
    const key = Buffer.from(`crc:${i}`);
    parts.push(Buffer.from([0, key.length]), key, Buffer.from([0x40, 100]), Buffer.alloc(100, 97 + (i % 26)));
  }
  parts.push(Buffer.from([0xff]));
  const body = Buffer.concat(parts);
  const crc = Buffer.alloc(8);
  crc.writeBigUInt64LE(new Crc64().update(body, 0, body.length).value);
  const rdb = Buffer.concat([body, crc]);
  const good = await copy(rdb, true, 9, 1_048_576);
  // Records cut by a chunk boundary go through the state machine; all others are in runs.
  assert.ok(good.runBytes >= body.length * 0.9, `runs took ${good.runBytes} of ${body.length} bytes`);
  const bad = Buffer.from(rdb);
  const at = bad.indexOf('crc:1500') + 'crc:1500'.length + 2 + 50; // inside that key's value
  bad[at] ^= 1;
  await assert.rejects(copy(bad, true, 9, 1_048_576), (e: unknown) => e instanceof RdbError && e.code === 'BAD_CRC');
});

test('strings with an expiry are taken by the runs too: future ones sent as SET … PXAT, past ones skipped, same stream as one string at a time', async () => {
  const parts: Buffer[] = [Buffer.from('REDIS0011'), Buffer.from([0xfe, 0])];
  for (let i = 0; i < 300; i++) {
    const pxat = Buffer.alloc(8);
    pxat.writeBigUInt64LE(BigInt(i % 3 === 0 ? PAST_MS + i : FAR_FUTURE_MS + i));
    const key = Buffer.from(`ttl:${i}`);
    parts.push(Buffer.from([0xfc]), pxat, Buffer.from([0, key.length]), key, Buffer.from([5]), Buffer.from(`v${String(i).padStart(4, '0')}`));
  }
  const body = Buffer.concat([...parts, Buffer.from([0xff])]);
  const crc = Buffer.alloc(8);
  crc.writeBigUInt64LE(new Crc64().update(body, 0, body.length).value);
  const rdb = Buffer.concat([body, crc]);
  const one = await copy(rdb, false, 9, 1_048_576);
  const run = await copy(rdb, true, 9, 1_048_576);
  assert.ok(run.sent.equals(one.sent));
  assert.equal(run.digest, one.digest);
  assert.deepEqual([one.expired, run.expired], [100, 100]);
  // Every record but the header, SELECTDB and EOF went through the kernel.
  assert.equal(run.runBytes, body.length - 9 - 2 - 1);
  assert.equal((await redisCli(server.port, 'DBSIZE')).trim(), '200');
  assert.equal((await redisCli(server.port, 'PEXPIRETIME', 'ttl:2')).trim(), String(FAR_FUTURE_MS + 2));
});

test('a corrupt LZF value inside a run stops the copy with the same DECOMPRESS error as one string at a time, after the same commands', async () => {
  const parts: Buffer[] = [Buffer.from('REDIS0011'), Buffer.from([0xfe, 0])];
  for (let i = 0; i < 400; i++) {
    const key = Buffer.from(`lzf:${i}`);
    const c = lzfCompress(Buffer.concat([Buffer.from(`value:${i}`), Buffer.alloc(90)]))!;
    // Key 200's data says it makes one byte more than its stated length (corrupt, CRC intact).
    parts.push(Buffer.from([0, key.length]), key, Buffer.from([0xc3, c.length, i === 200 ? 90 + `value:${i}`.length - 1 : 90 + `value:${i}`.length]), c);
  }
  const body = Buffer.concat([...parts, Buffer.from([0xff])]);
  const crc = Buffer.alloc(8);
  crc.writeBigUInt64LE(new Crc64().update(body, 0, body.length).value);
  const rdb = Buffer.concat([body, crc]);
  const errors: unknown[] = [];
  for (const isRunOffered of [false, true]) {
    await assert.rejects(copy(rdb, isRunOffered, 9, 1_048_576), (e: unknown) => {
      errors.push(e);
      return e instanceof RdbError && e.code === 'DECOMPRESS';
    });
  }
  assert.equal((errors[1] as Error).message, (errors[0] as Error).message);
});
