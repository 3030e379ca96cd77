import type { HashTtlPiece, SnapshotEntry, StreamGroup, StreamId, StreamPiece, ZsetPiece } from '../entry/entry.js';
import type { CommandSink } from './redis-connection.js';

/**
 * Rewrites one snapshot piece into plain Redis commands (used when RESTORE is not possible or the
 * value is big). Each function writes the piece's data into `wkey` (the real key, or the temporary
 * key under onExisting skip/fail) and returns how many commands it sent. Replacement of the old
 * value (DEL) and the expiry are the caller's job ({@link SnapshotWriter}); only strings fold the
 * expiry into `SET … PXAT` when the object is one piece.
 *
 * `key` is the real key, used to name commands in error messages.
 */

/** Elements per variadic command (RPUSH/SADD/ZADD/HSET): bounds a command's size and the server's work per command. */
export const MAX_ELEMENTS_PER_COMMAND = 1024;

/**
 * A zset score as ZADD accepts it, round-tripping exactly: JS `String(n)` is the shortest text that
 * parses back to the same double (Redis `strtod`); infinities are `+inf`/`-inf`, negative zero `-0`.
 */
export function formatScore(n: number): string {
  if (n === Infinity) return '+inf';
  if (n === -Infinity) return '-inf';
  if (n === 0 && Object.is(n, -0)) return '-0';
  return String(n);
}

/** `<ms>-<seq>` */
export function formatStreamId(id: StreamId): string {
  return `${id.ms}-${id.seq}`;
}

/** String piece: `SET wkey v [PXAT ms]` for the first piece, `APPEND wkey v` after. */
export function writeStringPiece(conn: CommandSink, wkey: Buffer, key: Buffer, entry: SnapshotEntry & { valueKind: 'string' | 'json' }, pxatMs: number): number {
  // begin/arg/end: no argument array per string, the most common object.
  const name = entry.isFirst ? 'SET' : 'APPEND';
  const hasPxat = entry.isFirst && pxatMs !== -1;
  conn.begin(hasPxat ? 5 : 3);
  conn.arg(name);
  conn.arg(wkey);
  conn.arg(entry.value);
  if (hasPxat) {
    conn.arg('PXAT');
    conn.arg(pxatMs);
  }
  conn.end(name, key);
  return 1;
}

/** `<cmd> wkey e…` in chunks of {@link MAX_ELEMENTS_PER_COMMAND} (RPUSH for lists, SADD for sets). */
export function writeElements(conn: CommandSink, cmd: 'RPUSH' | 'SADD', wkey: Buffer, key: Buffer, elements: Buffer[]): number {
  let commands = 0;
  for (let from = 0; from < elements.length; from += MAX_ELEMENTS_PER_COMMAND) {
    const to = Math.min(elements.length, from + MAX_ELEMENTS_PER_COMMAND);
    conn.begin(2 + to - from);
    conn.arg(cmd);
    conn.arg(wkey);
    for (let i = from; i < to; i++) conn.arg(elements[i]!);
    conn.end(cmd, key);
    commands++;
  }
  return commands;
}

/** `HSET wkey f v …` from flat field/value pairs, in chunks. */
export function writeHashFields(conn: CommandSink, wkey: Buffer, key: Buffer, flat: Buffer[]): number {
  let commands = 0;
  const step = 2 * MAX_ELEMENTS_PER_COMMAND;
  for (let from = 0; from + 1 < flat.length; from += step) {
    const to = Math.min(flat.length - (flat.length % 2), from + step);
    conn.begin(2 + to - from);
    conn.arg('HSET');
    conn.arg(wkey);
    for (let i = from; i < to; i++) conn.arg(flat[i]!);
    conn.end('HSET', key);
    commands++;
  }
  return commands;
}

/** `ZADD wkey score member …`, in chunks. */
export function writeZsetPiece(conn: CommandSink, wkey: Buffer, key: Buffer, piece: ZsetPiece): number {
  let commands = 0;
  const { members, scores } = piece;
  for (let from = 0; from < members.length; from += MAX_ELEMENTS_PER_COMMAND) {
    const to = Math.min(members.length, from + MAX_ELEMENTS_PER_COMMAND);
    conn.begin(2 + 2 * (to - from));
    conn.arg('ZADD');
    conn.arg(wkey);
    for (let i = from; i < to; i++) {
      conn.arg(formatScore(scores[i]!));
      conn.arg(members[i]!);
    }
    conn.end('ZADD', key);
    commands++;
  }
  return commands;
}

/**
 * Hash with field TTLs (Redis ≥ 7.4): `HSET` of the live fields, then `HPEXPIREAT wkey ms FIELDS n f…`
 * per distinct expiry. Fields already expired at `nowMs` are not written (Redis would drop them).
 */
export function writeHashTtlPiece(conn: CommandSink, wkey: Buffer, key: Buffer, piece: HashTtlPiece, nowMs: number): number {
  const live: Buffer[] = [];
  const byExpiry = new Map<number, Buffer[]>();
  for (let i = 0; i + 1 < piece.fields.length; i += 2) {
    const at = piece.expireAtMs[i >> 1] ?? -1;
    if (at !== -1 && at <= nowMs) continue;
    live.push(piece.fields[i]!, piece.fields[i + 1]!);
    if (at !== -1) {
      const list = byExpiry.get(at);
      if (list) list.push(piece.fields[i]!);
      else byExpiry.set(at, [piece.fields[i]!]);
    }
  }
  let commands = writeHashFields(conn, wkey, key, live);
  for (const [at, fields] of byExpiry) {
    conn.send(['HPEXPIREAT', wkey, at, 'FIELDS', fields.length, ...fields], key);
    commands++;
  }
  return commands;
}

/** Stream write options derived from the target. */
export interface StreamTargetFeatures {
  /** Redis ≥ 7.0: `XSETID … ENTRIESADDED … MAXDELETEDID`, `XGROUP CREATE … ENTRIESREAD`. */
  hasStreamV2: boolean;
}

/**
 * Stream piece: `XADD wkey <id> f v …` per entry (explicit ids keep them). On the last piece
 * (`piece.meta`): an empty stream is created by `XGROUP CREATE … MKSTREAM` of its first group, or
 * without groups by `XADD wkey MAXLEN 0 <id> …` (an entry trimmed at once), then `XSETID wkey last-id [ENTRIESADDED n MAXDELETEDID id]`,
 * per group `XGROUP CREATE wkey g last-id [ENTRIESREAD n]`, pending entries with
 * `XCLAIM wkey g consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID` (one per entry: each has its
 * own delivery time and count), consumers without pending entries with `XGROUP CREATECONSUMER`.
 * Limitation: a pending entry whose message was deleted from the stream cannot be recreated
 * (XCLAIM ignores ids not in the stream); consumers' seen/active times become the write time.
 */
export function writeStreamPiece(conn: CommandSink, wkey: Buffer, key: Buffer, piece: StreamPiece, features: StreamTargetFeatures): number {
  let commands = 0;
  for (const e of piece.entries) {
    conn.begin(3 + e.fields.length);
    conn.arg('XADD');
    conn.arg(wkey);
    conn.arg(formatStreamId(e.id));
    for (const f of e.fields) conn.arg(f);
    conn.end('XADD', key);
    commands++;
  }
  const meta = piece.meta;
  if (meta === undefined) return commands;
  const groupCreate = (g: StreamGroup, isMkstream: boolean): void => {
    const create: Array<Buffer | string> = ['XGROUP', 'CREATE', wkey, g.name, formatStreamId(g.lastId)];
    if (isMkstream) create.push('MKSTREAM');
    if (features.hasStreamV2 && g.entriesRead >= 0n) create.push('ENTRIESREAD', g.entriesRead.toString());
    conn.send(create, key);
    commands++;
  };
  // An empty stream must be created: by its first group (MKSTREAM), or, without groups, by an entry
  // trimmed away at once (XSETID below then sets the real last id and counters).
  const isEmpty = meta.length === 0n && piece.entries.length === 0;
  if (isEmpty && meta.groups.length > 0) {
    groupCreate(meta.groups[0]!, true);
  } else if (isEmpty) {
    const id = meta.lastId.ms === 0n && meta.lastId.seq === 0n ? '0-1' : formatStreamId(meta.lastId);
    conn.send(['XADD', wkey, 'MAXLEN', 0, id, 'x', ''], key);
    commands++;
  }
  const setId: Array<Buffer | string> = ['XSETID', wkey, formatStreamId(meta.lastId)];
  if (features.hasStreamV2 && meta.entriesAdded !== undefined) {
    setId.push('ENTRIESADDED', meta.entriesAdded.toString());
    if (meta.maxDeletedId !== undefined) setId.push('MAXDELETEDID', formatStreamId(meta.maxDeletedId));
  }
  conn.send(setId, key);
  commands++;
  for (const [i, g] of meta.groups.entries()) {
    if (!(isEmpty && i === 0)) groupCreate(g, false);
    const delivery = new Map<string, { deliveryTimeMs: number; deliveryCount: number }>();
    for (const p of g.pending) delivery.set(formatStreamId(p.id), p);
    for (const c of g.consumers) {
      if (c.pending.length === 0) {
        conn.send(['XGROUP', 'CREATECONSUMER', wkey, g.name, c.name], key);
        commands++;
        continue;
      }
      for (const id of c.pending) {
        const sid = formatStreamId(id);
        const d = delivery.get(sid);
        const time = d?.deliveryTimeMs ?? 0;
        const count = d?.deliveryCount ?? 1;
        conn.send(['XCLAIM', wkey, g.name, c.name, 0, sid, 'TIME', time, 'RETRYCOUNT', count, 'FORCE', 'JUSTID'], key);
        commands++;
      }
    }
  }
  return commands;
}
