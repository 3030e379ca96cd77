/**
 * Counting runs of plain string records without decoding them, for a pre-scan that needs only the
 * number of keys (issue 12: the decoder's one-record path costs ~150 ns per record even with
 * `skipValues`; this loop a few ns).
 *
 * A plain string record is `RDB_TYPE_STRING (0x00) <len> key <len> value` with both lengths in the
 * 6-bit `00xxxxxx` or the 14-bit `01xxxxxx xxxxxxxx` encoding of Redis src/rdb.c `rdbSaveLen`
 * (the same records src/sink/string-run.wat transcodes).
 */
import { RDB_TYPE_STRING } from '../../entry/entry.js';

/** Result of {@link countStringRun}: mutable, reused across calls. */
export interface StringRunCount {
  /** Records counted by the last call. */
  records: number;
}

/**
 * Counts the consecutive plain string records of `buf[start, end)` from `start` and returns the
 * bytes they take; `count.records` receives their number. Stops (without consuming it) at the
 * first byte that does not begin a plain string record (another type or an opcode), at a length in
 * another encoding (an integer or LZF-encoded string, a 32/64-bit length), or at a record that
 * does not end before `end`. Returns 0 when the first record is not taken. Never throws; reads
 * nothing outside `[start, end)`.
 */
export function countStringRun(buf: Buffer, start: number, end: number, count: StringRunCount): number {
  let p = start;
  let records = 0;
  for (;;) {
    if (p + 2 > end || buf[p] !== RDB_TYPE_STRING) break;
    let q = p + 1;
    let b = buf[q]!;
    let len: number;
    if (b < 0x40) {
      len = b;
      q += 1;
    } else if (b < 0x80 && q + 1 < end) {
      len = ((b & 0x3f) << 8) | buf[q + 1]!;
      q += 2;
    } else break;
    q += len; // the value's length byte
    if (q >= end) break;
    b = buf[q]!;
    if (b < 0x40) {
      len = b;
      q += 1;
    } else if (b < 0x80 && q + 1 < end) {
      len = ((b & 0x3f) << 8) | buf[q + 1]!;
      q += 2;
    } else break;
    q += len;
    if (q > end) break;
    p = q;
    records++;
  }
  count.records = records;
  return p - start;
}
