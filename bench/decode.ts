/**
 * Decoder benchmark: an in-memory RDB of 1 M string keys with ~100-byte values (written by the
 * test-side builder's primitives), fed to RdbDecoder in 64 KiB chunks. Reports decode-only
 * throughput (entries/s, MB/s) with default options, with `skipValues`, and without rdbValue
 * capture; plus CRC-64 throughput (the WebAssembly kernel, JS a byte at a time, a bit-wise BigInt
 * reference) and the ns per call of both paths at short lengths (where `WASM_MIN_BYTES` comes from).
 */
import { Crc64 } from '../src/decode/rdb/crc64.js';
import { RdbDecoder, type RdbDecoderOptions } from '../src/decode/rdb/rdb-decoder.js';

const KEYS = 1_000_000;
const VALUE_BYTES = 100;
const CHUNK = 64 * 1024;

/** `REDIS0009`, KEYS × (type 0, key `key:<10 digits>`, 100-byte value), EOF + CRC64. */
function buildRdb(): Buffer {
  const keyLen = 14;
  const rec = 1 + 1 + keyLen + 2 + VALUE_BYTES; // 14-bit length form for 100
  const out = Buffer.allocUnsafe(9 + KEYS * rec + 9);
  out.write('REDIS0009', 0, 'latin1');
  let p = 9;
  const value = Buffer.alloc(VALUE_BYTES);
  for (let i = 0; i < VALUE_BYTES; i++) value[i] = 97 + ((i * 7) % 26);
  for (let k = 0; k < KEYS; k++) {
    out[p++] = 0;
    out[p++] = keyLen;
    out.write(`key:${String(k).padStart(10, '0')}`, p, 'latin1');
    p += keyLen;
    out[p++] = 0x40 | (VALUE_BYTES >> 8);
    out[p++] = VALUE_BYTES & 0xff;
    value.copy(out, p);
    out[p] = 48 + (k % 10); // differ per key
    p += VALUE_BYTES;
  }
  out[p++] = 0xff;
  new Crc64().update(out, 0, p).writeLE(out, p);
  return out;
}

function decodeOnce(rdb: Buffer, options: RdbDecoderOptions): { ms: number; entries: number } {
  let entries = 0;
  const d = new RdbDecoder({ onEntry: () => void entries++ }, options);
  const t0 = performance.now();
  for (let p = 0; p < rdb.length; p += CHUNK) d.push(rdb.subarray(p, p + CHUNK));
  d.end();
  return { ms: performance.now() - t0, entries };
}

function best(rdb: Buffer, options: RdbDecoderOptions, runs = 3): { ms: number; entries: number } {
  let r = decodeOnce(rdb, options);
  for (let i = 1; i < runs; i++) {
    const n = decodeOnce(rdb, options);
    if (n.ms < r.ms) r = n;
  }
  return r;
}

function naiveCrc64(buf: Uint8Array): bigint {
  const poly = 0x95ac9329ac4bc9b5n;
  let crc = 0n;
  for (const byte of buf) {
    crc ^= BigInt(byte);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc;
}

function bestMs(fn: () => void, runs = 3): number {
  let ms = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return ms;
}

/** ns per `updateJs` / `updateWasm` call at short lengths, from an odd offset (best of 3). */
function shortCallRows(rdb: Buffer): Record<string, number> {
  const rows: Record<string, number> = {};
  const c = new Crc64();
  const calls = 200_000;
  for (const n of [2, 16, 32, 64, 128, 256]) {
    const js = bestMs(() => {
      for (let i = 0; i < calls; i++) c.updateJs(rdb, 1, 1 + n);
    });
    const wasm = bestMs(() => {
      for (let i = 0; i < calls; i++) c.updateWasm(rdb, 1, 1 + n);
    });
    rows[`crc64 ${n} B, JS (ns per call)`] = Math.round((js * 1e6) / calls);
    rows[`crc64 ${n} B, WebAssembly (ns per call)`] = Math.round((wasm * 1e6) / calls);
  }
  return rows;
}

export async function run(): Promise<Record<string, number | string>> {
  const rdb = buildRdb();
  const mb = rdb.length / 1e6;
  const def = best(rdb, {});
  const skip = best(rdb, { skipValues: true });
  const noCrc = best(rdb, { verifyChecksum: false });
  const noCapture = best(rdb, { maxRestorePayloadBytes: 0, verifyChecksum: false });
  if (def.entries !== KEYS || skip.entries !== KEYS) throw new Error(`decoded ${def.entries}/${skip.entries} entries, expected ${KEYS}`);

  const crcBuf = rdb.subarray(0, 64 << 20);
  const crcMs = bestMs(() => new Crc64().update(crcBuf));
  const crcJsMs = bestMs(() => new Crc64().updateJs(crcBuf));
  const small = rdb.subarray(0, 256 * 1024);
  const t1 = performance.now();
  naiveCrc64(small);
  const naiveMs = performance.now() - t1;

  return {
    'input (MB)': Math.round(mb),
    'keys': KEYS,
    'decode (ms)': Math.round(def.ms),
    'decode (entries/s)': Math.round(KEYS / (def.ms / 1000)),
    'decode (MB/s)': Math.round(mb / (def.ms / 1000)),
    'decode, no CRC check (ms)': Math.round(noCrc.ms),
    'decode, no CRC check, no rdbValue (ms)': Math.round(noCapture.ms),
    'decode skipValues (ms)': Math.round(skip.ms),
    'decode skipValues (entries/s)': Math.round(KEYS / (skip.ms / 1000)),
    'crc64 WebAssembly slice-by-16 (MB/s)': Math.round(crcBuf.length / 1e6 / (crcMs / 1000)),
    'crc64 JS byte at a time (MB/s)': Math.round(crcBuf.length / 1e6 / (crcJsMs / 1000)),
    ...shortCallRows(rdb),
    'crc64 naive BigInt (MB/s)': Number((small.length / 1e6 / (naiveMs / 1000)).toFixed(2)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then((r) => console.log(r));
}
