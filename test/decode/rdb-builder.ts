/**
 * Test-side RDB writer: builds byte-exact RDB streams for every type and encoding, following
 * Redis src/rdb.c (`rdbSaveLen`, `rdbSaveObject`), src/listpack.c, src/ziplist.c, src/intset.c,
 * src/zipmap.c, src/t_stream.c and Dragonfly src/server/rdb_save.cc. Test-only; also used by
 * bench/decode.ts to generate input.
 */
import { Crc64 } from '../../src/decode/rdb/crc64.js';
import { lzfCompress } from '../../src/decode/rdb/lzf.js';

export type Item = string | Buffer | number | bigint;

import { rdbLength } from '../../src/decode/rdb/dump-payload.js';

const toBuf = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s) : s);

/** RDB length / Dragonfly PUINT. */
export const len = rdbLength;

/** Plain RSTR. */
export function str(s: string | Buffer): Buffer {
  const b = toBuf(s);
  return Buffer.concat([len(b.length), b]);
}

/** Int-encoded RSTR (RDB_ENC_INT8/16/32), smallest form. */
export function intStr(v: number): Buffer {
  if (v >= -128 && v <= 127) return Buffer.from([0xc0, v & 0xff]);
  if (v >= -32768 && v <= 32767) {
    const b = Buffer.from([0xc1, 0, 0]);
    b.writeInt16LE(v, 1);
    return b;
  }
  const b = Buffer.from([0xc2, 0, 0, 0, 0]);
  b.writeInt32LE(v, 1);
  return b;
}

/** LZF-encoded RSTR (throws if the input does not compress). */
export function lzfStr(s: string | Buffer): Buffer {
  const b = toBuf(s);
  const c = lzfCompress(b);
  if (c === undefined) throw new Error('input does not compress');
  return Buffer.concat([Buffer.from([0xc3]), len(c.length), len(b.length), c]);
}

export function le32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

export function le64(v: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(v));
  return b;
}

export function f64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return b;
}

/** Listpack blob (Redis listpack.c); numbers are stored as listpack integers. */
export function listpack(items: Item[]): Buffer {
  const entries: Buffer[] = [];
  for (const it of items) {
    let enc: Buffer;
    if (typeof it === 'number' || typeof it === 'bigint') {
      const v = BigInt(it);
      if (v >= 0n && v <= 127n) enc = Buffer.from([Number(v)]);
      else if (v >= -4096n && v <= 4095n) {
        const u = Number(v) & 0x1fff;
        enc = Buffer.from([0xc0 | (u >> 8), u & 0xff]);
      } else if (v >= -32768n && v <= 32767n) {
        enc = Buffer.alloc(3);
        enc[0] = 0xf1;
        enc.writeInt16LE(Number(v), 1);
      } else if (v >= -8388608n && v <= 8388607n) {
        enc = Buffer.alloc(4);
        enc[0] = 0xf2;
        enc.writeIntLE(Number(v), 1, 3);
      } else if (v >= -2147483648n && v <= 2147483647n) {
        enc = Buffer.alloc(5);
        enc[0] = 0xf3;
        enc.writeInt32LE(Number(v), 1);
      } else {
        enc = Buffer.alloc(9);
        enc[0] = 0xf4;
        enc.writeBigInt64LE(v, 1);
      }
    } else {
      const b = toBuf(it);
      let head: Buffer;
      if (b.length < 64) head = Buffer.from([0x80 | b.length]);
      else if (b.length < 4096) head = Buffer.from([0xe0 | (b.length >> 8), b.length & 0xff]);
      else {
        head = Buffer.alloc(5);
        head[0] = 0xf0;
        head.writeUInt32LE(b.length, 1);
      }
      enc = Buffer.concat([head, b]);
    }
    entries.push(enc, backlen(enc.length));
  }
  const body = Buffer.concat(entries);
  const out = Buffer.alloc(6 + body.length + 1);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt16LE(Math.min(items.length, 65535), 4);
  body.copy(out, 6);
  out[out.length - 1] = 0xff;
  return out;
}

/** Listpack backlen (Redis `lpEncodeBacklen`). */
function backlen(l: number): Buffer {
  if (l <= 127) return Buffer.from([l]);
  if (l < 16383) return Buffer.from([l >> 7, (l & 127) | 128]);
  if (l < 2097151) return Buffer.from([l >> 14, ((l >> 7) & 127) | 128, (l & 127) | 128]);
  if (l < 268435455) return Buffer.from([l >> 21, ((l >> 14) & 127) | 128, ((l >> 7) & 127) | 128, (l & 127) | 128]);
  return Buffer.from([Math.floor(l / 2 ** 28), ((l >> 21) & 127) | 128, ((l >> 14) & 127) | 128, ((l >> 7) & 127) | 128, (l & 127) | 128]);
}

/** Ziplist blob (Redis ziplist.c). */
export function ziplist(items: Item[]): Buffer {
  const entries: Buffer[] = [];
  let prev = 0;
  let tail = 10;
  let off = 10;
  for (const it of items) {
    const prevlen = prev < 254 ? Buffer.from([prev]) : Buffer.concat([Buffer.from([0xfe]), le32(prev)]);
    let enc: Buffer;
    if (typeof it === 'number' || typeof it === 'bigint') {
      const v = BigInt(it);
      if (v >= 0n && v <= 12n) enc = Buffer.from([0xf1 + Number(v)]);
      else if (v >= -128n && v <= 127n) enc = Buffer.from([0xfe, Number(v) & 0xff]);
      else if (v >= -32768n && v <= 32767n) {
        enc = Buffer.alloc(3);
        enc[0] = 0xc0;
        enc.writeInt16LE(Number(v), 1);
      } else if (v >= -8388608n && v <= 8388607n) {
        enc = Buffer.alloc(4);
        enc[0] = 0xf0;
        enc.writeIntLE(Number(v), 1, 3);
      } else if (v >= -2147483648n && v <= 2147483647n) {
        enc = Buffer.alloc(5);
        enc[0] = 0xd0;
        enc.writeInt32LE(Number(v), 1);
      } else {
        enc = Buffer.alloc(9);
        enc[0] = 0xe0;
        enc.writeBigInt64LE(v, 1);
      }
    } else {
      const b = toBuf(it);
      let head: Buffer;
      if (b.length < 64) head = Buffer.from([b.length]);
      else if (b.length < 16384) head = Buffer.from([0x40 | (b.length >> 8), b.length & 0xff]);
      else {
        head = Buffer.alloc(5);
        head[0] = 0x80;
        head.writeUInt32BE(b.length, 1);
      }
      enc = Buffer.concat([head, b]);
    }
    const entry = Buffer.concat([prevlen, enc]);
    entries.push(entry);
    tail = off;
    off += entry.length;
    prev = entry.length;
  }
  const body = Buffer.concat(entries);
  const out = Buffer.alloc(10 + body.length + 1);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt32LE(tail, 4);
  out.writeUInt16LE(Math.min(items.length, 65535), 8);
  body.copy(out, 10);
  out[out.length - 1] = 0xff;
  return out;
}

/** Intset blob with the given element width (2, 4 or 8 bytes). */
export function intset(values: Array<number | bigint>, width: 2 | 4 | 8): Buffer {
  const out = Buffer.alloc(8 + width * values.length);
  out.writeUInt32LE(width, 0);
  out.writeUInt32LE(values.length, 4);
  values.forEach((v, i) => {
    if (width === 2) out.writeInt16LE(Number(v), 8 + 2 * i);
    else if (width === 4) out.writeInt32LE(Number(v), 8 + 4 * i);
    else out.writeBigInt64LE(BigInt(v), 8 + 8 * i);
  });
  return out;
}

/** Zipmap blob (Redis zipmap.c) with `free` unused bytes after each value. */
export function zipmap(pairs: Array<[string, string]>, free = 0): Buffer {
  const zlen = (n: number): Buffer => (n < 254 ? Buffer.from([n]) : Buffer.concat([Buffer.from([254]), le32(n)]));
  const parts: Buffer[] = [Buffer.from([Math.min(pairs.length, 254)])];
  for (const [k, v] of pairs) {
    parts.push(zlen(Buffer.byteLength(k)), Buffer.from(k), zlen(Buffer.byteLength(v)), Buffer.from([free]), Buffer.from(v), Buffer.alloc(free));
  }
  parts.push(Buffer.from([0xff]));
  return Buffer.concat(parts);
}

/** A stream entry for {@link streamNode}: id relative to the node's master id. */
export interface NodeEntry {
  msDelta: number;
  seqDelta: number;
  fields: Array<[string, string]>;
  deleted?: boolean;
}

/**
 * Stream node listpack (Redis t_stream.c): master fields are the first entry's fields; entries with
 * the same field names use SAMEFIELDS.
 */
export function streamNode(entries: NodeEntry[]): Buffer {
  const masterFields = entries[0]!.fields.map(([f]) => f);
  const live = entries.filter((e) => !e.deleted).length;
  const items: Item[] = [live, entries.length - live, masterFields.length, ...masterFields, 0];
  for (const e of entries) {
    const same = e.fields.length === masterFields.length && e.fields.every(([f], i) => f === masterFields[i]);
    const flags = (e.deleted ? 1 : 0) | (same ? 2 : 0);
    const start = items.length;
    items.push(flags, e.msDelta, e.seqDelta);
    if (same) for (const [, v] of e.fields) items.push(v);
    else {
      items.push(e.fields.length);
      for (const [f, v] of e.fields) items.push(f, v);
    }
    items.push(items.length - start);
  }
  return listpack(items);
}

/** 16-byte big-endian stream id (node keys, PEL ids). */
export function streamId(ms: number | bigint, seq: number | bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(BigInt(ms), 0);
  b.writeBigUInt64BE(BigInt(seq), 8);
  return b;
}

/** Accumulates records; `end()` appends EOF and the CRC64 (or a zero / explicit checksum). */
export class RdbBuilder {
  readonly parts: Buffer[] = [];

  constructor(version = 12) {
    this.raw(Buffer.from(`REDIS${String(version).padStart(4, '0')}`, 'latin1'));
  }

  raw(...bufs: Buffer[]): this {
    this.parts.push(...bufs);
    return this;
  }

  op(code: number, ...bufs: Buffer[]): this {
    return this.raw(Buffer.from([code]), ...bufs);
  }

  aux(k: string, v: string | Buffer): this {
    return this.op(250, str(k), typeof v === 'string' ? str(v) : v);
  }

  selectDb(db: number): this {
    return this.op(254, len(db));
  }

  expireMs(ms: number): this {
    return this.op(252, le64(ms));
  }

  /** An object: type byte, RSTR key, value bytes. */
  object(type: number, key: string | Buffer, ...value: Buffer[]): this {
    return this.raw(Buffer.from([type]), str(key), ...value);
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }

  /** EOF + checksum: 'crc' (computed), 'zero', 'none' (RDB < 5) or an explicit value. */
  end(checksum: 'crc' | 'zero' | 'none' | bigint = 'crc'): Buffer {
    const body = Buffer.concat([...this.parts, Buffer.from([0xff])]);
    if (checksum === 'none') return body;
    const c = checksum === 'crc' ? new Crc64().update(body).value : checksum === 'zero' ? 0n : checksum;
    const tail = Buffer.alloc(8);
    tail.writeBigUInt64LE(c);
    return Buffer.concat([body, tail]);
  }
}
