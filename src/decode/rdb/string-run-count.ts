/**
 * Counting runs of plain string records without decoding them, for a pre-scan that needs only the
 * number of keys (issue 12: the decoder's one-record path costs ~150 ns per record even with
 * `skipValues`; this loop a few ns). Records with an expiry are counted too (the decoder offers runs
 * at an expiry opcode as well: a 10 % share of keys with a TTL otherwise ended a run every ~10 keys).
 *
 * A plain string record is `RDB_TYPE_STRING (0x00) <key> <value>`, each a length in the 6-bit
 * `00xxxxxx` or the 14-bit `01xxxxxx xxxxxxxx` encoding of Redis src/rdb.c `rdbSaveLen` and its
 * bytes, an int encoding, or an LZF one whose lengths are in those encodings (the same records
 * src/sink/string-run.wat transcodes).
 */
import { RDB_TYPE_STRING } from '../../entry/entry.js';
import { RDB_ENC_INT32, RDB_ENC_LZF, RDB_OPCODE_EXPIRETIME_MS } from './rdb-constants.js';

/** Result of {@link countStringRun}: mutable, reused across calls. */
export interface StringRunCount {
  /** Records counted by the last call. */
  records: number;
}

/**
 * Counts the consecutive plain string records of `buf[start, end)` from `start` and returns the
 * bytes they take; `count.records` receives their number. A record may carry an expiry,
 * `RDB_OPCODE_EXPIRETIME_MS (0xFC) <LE64 ms>` right before it (Redis src/rdb.c
 * `rdbSaveMillisecondTime`; whatever its time: the pre-scan counts every key). Stops (without
 * consuming it) at the first byte that does not begin such a record (another type or opcode, an
 * expiry followed by anything but a plain string), at a key or value in none of the forms above
 * (a 32/64-bit length, another encoding), or at a record that does not end before `end`. LZF data
 * is not decompressed (the main pass checks it).
 * Returns 0 when the first record is not taken. Never throws; reads nothing outside `[start, end)`.
 */
export function countStringRun(buf: Buffer, start: number, end: number, count: StringRunCount): number {
  let p = start;
  let records = 0;
  for (;;) {
    const at = p + 2 <= end && buf[p] === RDB_OPCODE_EXPIRETIME_MS ? p + 9 : p;
    if (at + 2 > end || buf[at] !== RDB_TYPE_STRING) break;
    const valueAt = stringEnd(buf, at + 1, end);
    if (valueAt < 0) break;
    const next = stringEnd(buf, valueAt, end);
    if (next < 0 || next > end) break;
    p = next;
    records++;
  }
  count.records = records;
  return p - start;
}

/**
 * Where the string (key or value) at `buf[p]` ends: a 6/14-bit length and its bytes, an int encoding
 * (RDB_ENC_INT8/16/32: 1, 2 or 4 bytes) or an LZF one (RDB_ENC_LZF: 6/14-bit compressed and
 * uncompressed lengths, then the compressed bytes, not decompressed), Redis src/rdb.c
 * `rdbGenericLoadStringObject`; -1 for another form or lengths not whole before `end` (the end
 * returned may lie past `end`).
 */
function stringEnd(buf: Buffer, p: number, end: number): number {
  // Lengths read inline: through `shortLength` the pre-scan of a 1 M-key file of LZF values took
  // ~55 ns per record instead of ~15 (not inlined three calls deep).
  if (p >= end) return -1;
  const b = buf[p]!;
  if (b < 0x40) return p + 1 + b;
  if (b < 0x80) return p + 1 < end ? p + 2 + (((b & 0x3f) << 8) | buf[p + 1]!) : -1;
  if (b >= 0xc0 && b <= 0xc0 + RDB_ENC_INT32) return p + 1 + (1 << (b - 0xc0));
  if (b !== 0xc0 + RDB_ENC_LZF) return -1;
  // clen, then ulen (only its size matters), then clen bytes
  let q = p + 1;
  if (q >= end) return -1;
  const c = buf[q]!;
  let clen: number;
  if (c < 0x40) {
    clen = c;
    q += 1;
  } else if (c < 0x80 && q + 1 < end) {
    clen = ((c & 0x3f) << 8) | buf[q + 1]!;
    q += 2;
  } else {
    return -1;
  }
  if (q >= end) return -1;
  const u = buf[q]!;
  if (u < 0x40) return q + 1 + clen;
  return u < 0x80 && q + 1 < end ? q + 2 + clen : -1;
}
