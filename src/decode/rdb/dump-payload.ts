/**
 * DUMP / RESTORE payloads: `type byte + value + LE16 RDB version + LE64 CRC64` (Redis cluster.c
 * `createDumpPayload` / `verifyDumpPayload`; Dragonfly `RdbSerializer::DumpValue`, version 9).
 * Dragonfly journals cross-shard RENAME/COPY as `RESTORE dst ttl <payload> …` (reference §6.1).
 */
import type { SnapshotEntry } from '../../entry/entry.js';
import { RdbError } from '../../errors.js';
import { Crc64 } from './crc64.js';
import { RDB_OPCODE_EOF, RDB_OPCODE_EXPIRETIME_MS } from './rdb-constants.js';
import { RdbDecoder, type RdbDecoderOptions } from './rdb-decoder.js';

/** Bytes after the value: LE16 RDB version + LE64 CRC64. */
const DUMP_TRAILER_BYTES = 10;

/**
 * RDB length encoding (Redis rdb.c `rdbSaveLen`), which is also Dragonfly's PUINT
 * (`WritePackedUInt`, src/server/serializer_commons.cc): the shortest of the 1, 2, 5 and 9-byte forms.
 * @throws RangeError for a negative value.
 */
export function rdbLength(value: number | bigint): Buffer {
  const v = BigInt(value);
  if (v < 0n) throw new RangeError(`rdb length of a negative value ${v}`);
  if (v < 64n) return Buffer.from([Number(v)]);
  if (v < 16384n) return Buffer.from([0x40 | Number(v >> 8n), Number(v & 0xffn)]);
  if (v <= 0xffffffffn) {
    const b = Buffer.alloc(5);
    b[0] = 0x80;
    b.writeUInt32BE(Number(v), 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = 0x81;
  b.writeBigUInt64BE(v, 1);
  return b;
}

/**
 * Decodes `payload` as the value of `key` in database `db` and reports its snapshot pieces to
 * `onEntry` (same shapes as the RDB decoder: `isFirst` … `isLast`). `expireAtMs` is absolute Unix
 * ms or -1. The CRC is verified when non-zero.
 * @throws RdbError BAD_LENGTH (payload shorter than its trailer), BAD_CRC, or any decoding error of
 *   the value, with `source` naming the payload.
 */
export function decodeDumpPayload(
  payload: Buffer,
  key: Buffer,
  db: number,
  expireAtMs: number,
  onEntry: (entry: SnapshotEntry) => void,
  options: Omit<RdbDecoderOptions, 'source'> & { source?: string } = {},
): void {
  const source = options.source ?? 'RESTORE payload';
  if (payload.length < DUMP_TRAILER_BYTES + 1) {
    throw new RdbError('BAD_LENGTH', `payload of ${payload.length} bytes is shorter than type + trailer`, { offset: 0, key, source });
  }
  const valueEnd = payload.length - DUMP_TRAILER_BYTES;
  const version = payload.readUInt16LE(valueEnd);
  const crcLo = payload.readUInt32LE(valueEnd + 2);
  const crcHi = payload.readUInt32LE(valueEnd + 6);
  if (crcLo !== 0 || crcHi !== 0) {
    const crc = new Crc64().update(payload, 0, valueEnd + 2);
    if (crc.lo !== crcLo || crc.hi !== crcHi) {
      throw new RdbError('BAD_CRC', 'payload checksum does not match', { offset: valueEnd + 2, key, source });
    }
  }
  const header = Buffer.from(`REDIS${String(Math.min(version, 9999)).padStart(4, '0')}`, 'latin1');
  const parts: Buffer[] = [header];
  if (expireAtMs !== -1) {
    const exp = Buffer.alloc(9);
    exp[0] = RDB_OPCODE_EXPIRETIME_MS;
    exp.writeBigInt64LE(BigInt(expireAtMs), 1);
    parts.push(exp);
  }
  parts.push(payload.subarray(0, 1), rdbLength(key.length), key, payload.subarray(1, valueEnd));
  const eof = Buffer.alloc(9);
  eof[0] = RDB_OPCODE_EOF;
  parts.push(eof);
  const decoder = new RdbDecoder(
    {
      onEntry(entry) {
        entry.db = db;
        onEntry(entry);
      },
    },
    { ...options, source },
  );
  decoder.push(Buffer.concat(parts));
  decoder.end();
}
