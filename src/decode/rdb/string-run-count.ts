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
import { shortLength } from './rdb-reader.js';

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
    const key = shortLength(buf, p + 1, end);
    if (key < 0) break;
    const valueAt = p + 1 + (key & 3) + (key >>> 2);
    const value = shortLength(buf, valueAt, end);
    if (value < 0) break;
    const next = valueAt + (value & 3) + (value >>> 2);
    if (next > end) break;
    p = next;
    records++;
  }
  count.records = records;
  return p - start;
}
