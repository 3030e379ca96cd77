import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createClient, RESP_TYPES } from 'redis';
import { crc64, Crc64, WASM_MIN_BYTES } from './crc64.js';
import { RdbDecoder } from './rdb-decoder.js';
import { buildDump, ENCODING_PROFILES } from '../../../test/helpers/rdb-factory.js';

const POLY = 0x95ac9329ac4bc9b5n; // 0xad93d23594c935a9 reflected

/** Bit-at-a-time BigInt reference (Redis src/crc64.c `_crc64`, reflected). */
function bitwiseCrc64(crc: bigint, buf: Uint8Array): bigint {
  for (const byte of buf) {
    crc ^= BigInt(byte);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ POLY : crc >> 1n;
  }
  return crc;
}

/** Byte-at-a-time BigInt reference (one 256-entry table built by {@link bitwiseCrc64}). */
const TABLE = Array.from({ length: 256 }, (_, n) => bitwiseCrc64(0n, Uint8Array.of(n)) ^ bitwiseCrc64(0n, Uint8Array.of(0)));
function bytewiseCrc64(crc: bigint, buf: Uint8Array): bigint {
  for (const byte of buf) crc = TABLE[Number((crc ^ BigInt(byte)) & 0xffn)]! ^ (crc >> 8n);
  return crc;
}

/** Deterministic pseudo-random bytes and integers (xorshift32). */
function prng(seed: number): { bytes(n: number): Buffer; int(below: number): number } {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
  return {
    bytes: (n) => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = next() & 0xff;
      return b;
    },
    int: (below) => next() % below,
  };
}

test('crc64 matches the Redis test vector, on every path', () => {
  const v = Buffer.from('123456789');
  assert.equal(crc64(0n, v), 0xe9c6d914c4b8d9can);
  assert.equal(new Crc64().updateJs(v).value, 0xe9c6d914c4b8d9can);
  assert.equal(new Crc64().updateWasm(v).value, 0xe9c6d914c4b8d9can);
  assert.equal(bytewiseCrc64(0n, v), 0xe9c6d914c4b8d9can);
  assert.equal(bitwiseCrc64(0n, v), 0xe9c6d914c4b8d9can);
});

test('crc64: every length 0..300 at offsets 0..8, from a non-zero CRC, JS and WebAssembly paths', () => {
  const r = prng(12);
  const data = r.bytes(320);
  for (let off = 0; off <= 8; off++) {
    for (let len = 0; len <= 300; len++) {
      const initial = (BigInt(r.int(0x100000000)) << 32n) | BigInt(r.int(0x100000000));
      const expected = bytewiseCrc64(initial, data.subarray(off, off + len));
      const at = `offset ${off}, length ${len}`;
      assert.equal(new Crc64(initial).update(data, off, off + len).value, expected, at);
      assert.equal(new Crc64(initial).updateWasm(data, off, off + len).value, expected, `wasm, ${at}`);
      assert.equal(new Crc64(initial).updateJs(data, off, off + len).value, expected, `js, ${at}`);
      assert.equal(crc64(initial, data.subarray(off, off + len)), expected, `subarray, ${at}`);
    }
  }
  assert.ok(WASM_MIN_BYTES < 300, 'both paths are covered by update()');
});

test('crc64: incremental updates split at random points give the one-shot CRC (inputs past the 64 KiB chunk)', () => {
  const r = prng(7);
  const data = r.bytes(300_000);
  const expected = bytewiseCrc64(0n, data);
  assert.equal(new Crc64().update(data).value, expected, 'one shot');
  for (let round = 0; round < 20; round++) {
    const cuts = Array.from({ length: 1 + r.int(12) }, () => r.int(data.length + 1)).sort((a, b) => a - b);
    const c = new Crc64();
    let prev = 0;
    for (const cut of [...cuts, data.length]) {
      c.update(data, prev, cut);
      prev = cut;
    }
    assert.equal(c.value, expected, `cuts ${cuts.join(',')}`);
  }
  // Many short pieces (the JS path) interleaved with long ones (WebAssembly), one state.
  const c = new Crc64();
  for (let p = 0; p < data.length; ) {
    const n = Math.min(data.length - p, r.int(4) === 0 ? r.int(90_000) : r.int(WASM_MIN_BYTES));
    c.update(data, p, p + n);
    p += n;
  }
  assert.equal(c.value, expected, 'mixed lengths');
  const out = Buffer.alloc(8);
  c.writeLE(out, 0);
  assert.equal(out.readBigUInt64LE(0), expected);
});

test('crc64 of a dump.rdb and of DUMP payloads written by redis-server equals their trailers', async () => {
  const dump = await buildDump(ENCODING_PROFILES[0]!, { bigElements: 0, bigStringBytes: 200_000 });
  try {
    const file = readFileSync(dump.path);
    const body = file.subarray(0, file.length - 8);
    assert.ok(file.length > 100_000, `dump of ${file.length} bytes crosses the kernel's 64 KiB chunks`);
    assert.equal(crc64(0n, body), file.readBigUInt64LE(file.length - 8));
    assert.equal(crc64(0n, body), bytewiseCrc64(0n, body));
    const d = new RdbDecoder({ onEntry: () => {} }, { source: 'dump.rdb' });
    d.push(file);
    d.end();
    assert.ok(d.isDone, 'the decoder verified the EOF checksum');

    const client = createClient({ url: `redis://127.0.0.1:${dump.server.port}`, RESP: 2 }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    await client.connect();
    try {
      const keys = (await client.sendCommand(['KEYS', '*'])) as Buffer[];
      assert.ok(keys.length > 10);
      for (const key of keys) {
        const payload = (await client.sendCommand(['DUMP', key])) as Buffer;
        const crcAt = payload.length - 8;
        assert.equal(crc64(0n, payload.subarray(0, crcAt)), payload.readBigUInt64LE(crcAt), `DUMP ${key.toString('latin1')}`);
      }
    } finally {
      await client.quit();
    }
  } finally {
    await dump.server.stop();
  }
});
