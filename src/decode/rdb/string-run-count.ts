/**
 * Counting runs of plain string records without decoding them, for a pre-scan that needs only the
 * number of keys (issue 12: the decoder's one-record path costs ~150 ns per record even with
 * `skipValues`; this loop a few ns). Records with an expiry are counted too (the decoder offers runs
 * at an expiry opcode as well: a 10 % share of keys with a TTL otherwise ended a run every ~10 keys).
 *
 * A plain string record is `RDB_TYPE_STRING (0x00) <len> key <len> value` with both lengths in the
 * 6-bit `00xxxxxx` or the 14-bit `01xxxxxx xxxxxxxx` encoding of Redis src/rdb.c `rdbSaveLen`
 * (the same records src/sink/string-run.wat transcodes).
 */
import { RDB_TYPE_STRING } from '../../entry/entry.js';
import { RDB_OPCODE_EXPIRETIME_MS } from './rdb-constants.js';
import { shortLength } from './rdb-reader.js';

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
 * expiry followed by anything but a plain string), at a length in another encoding (an integer or
 * LZF-encoded string, a 32/64-bit length), or at a record that does not end before `end`.
 * Returns 0 when the first record is not taken. Never throws; reads nothing outside `[start, end)`.
 */
export function countStringRun(buf: Buffer, start: number, end: number, count: StringRunCount): number {
  let p = start;
  let records = 0;
  for (;;) {
    const at = p + 2 <= end && buf[p] === RDB_OPCODE_EXPIRETIME_MS ? p + 9 : p;
    if (at + 2 > end || buf[at] !== RDB_TYPE_STRING) break;
    const key = shortLength(buf, at + 1, end);
    if (key < 0) break;
    const valueAt = at + 1 + (key & 3) + (key >>> 2);
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
