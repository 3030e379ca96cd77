/**
 * Frame builders for Dragonfly's replication wire format (test-only), and the programmable fake
 * master built from them. The builders write exactly what a v1.40.1 master writes (checked against
 * the recordings in test/source/fake-master.test.ts); reference: shared/reference/dragonfly-replication.md.
 */
import {
  JOURNAL_OP_COMMAND,
  JOURNAL_OP_LSN,
  JOURNAL_OP_PING,
  JOURNAL_OP_SELECT,
} from '../../src/entry/entry.js';

/** PUINT (Dragonfly `WritePackedUInt`, src/server/serializer_commons.cc): shortest form. */
export function puint(value: number | bigint): Buffer {
  const v = BigInt(value);
  if (v < 0n) throw new RangeError(`puint of a negative value ${v}`);
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

/** Journal SELECT record (`JournalWriter::Write`, src/server/journal/serializer.cc). */
export function journalSelect(db: number): Buffer {
  return Buffer.concat([puint(JOURNAL_OP_SELECT), puint(db)]);
}

/**
 * Journal COMMAND record as a v1.40.1 master writes it: `SELECT db` first (every command gets its
 * own SELECT, `JournalSlice::AddLogRecord` uses a fresh writer), then opcode, txid, shard_cnt 1,
 * argc, total_bytes, args. Pass `db: null` to omit the SELECT.
 */
export function journalCommand(args: ReadonlyArray<string | Buffer>, opts?: { db?: number | null; txid?: number | bigint }): Buffer {
  const bufs = args.map((a) => (typeof a === 'string' ? Buffer.from(a) : a));
  const total = bufs.reduce((n, b) => n + b.length, 0);
  const parts: Buffer[] = [];
  const db = opts?.db === undefined ? 0 : opts.db;
  if (db !== null) parts.push(journalSelect(db));
  parts.push(puint(JOURNAL_OP_COMMAND), puint(opts?.txid ?? 0), puint(1), puint(bufs.length), puint(total));
  for (const b of bufs) parts.push(puint(b.length), b);
  return Buffer.concat(parts);
}

/** Journal PING record. */
export function journalPing(): Buffer {
  return puint(JOURNAL_OP_PING);
}

/** Journal LSN record. */
export function journalLsn(lsn: number | bigint): Buffer {
  return Buffer.concat([puint(JOURNAL_OP_LSN), puint(lsn)]);
}
