/**
 * Big values compared in windows, so memory stays bounded whatever the value size: the source
 * value arrives as pieces (windows read from a live source with `GETRANGE`/`LRANGE`/`SSCAN`/
 * `HSCAN`/`ZRANGE`/`XRANGE`, or the RDB decoder's bounded pieces of a file), and each piece is
 * checked against the target with the matching command (`GETRANGE` at the same offset, `LRANGE`
 * at the same index, `SMISMEMBER`, `HMGET`, `ZMSCORE`, `XRANGE` over the piece's ids). At the end
 * the cardinalities must match (so "every source element is on the target" means equal sets) and,
 * for a stream, its last id and groups (with their pending entries).
 */
import { RespErrorReply, type CommandArg, type RespValue } from './batch-client.js';
import type { KeyIo } from './key-io.js';
import { scoreText, streamIdText } from './canonical-value.js';
import type { SnapshotEntry } from '../entry/entry.js';

/** One window of a value. */
export type Piece =
  | { kind: 'string'; bytes: Buffer }
  | { kind: 'list'; items: Buffer[] }
  | { kind: 'set'; members: Buffer[] }
  | { kind: 'hash'; flat: Buffer[] }
  | { kind: 'zset'; members: Buffer[]; scores: string[] }
  | { kind: 'stream'; entries: Array<{ id: string; fields: Buffer[] }> };

/** Kinds compared in windows (every Redis type). */
export type WindowKind = Piece['kind'];

/** Elements per window (and the COUNT of SCAN-like reads). */
export const WINDOW_ELEMENTS = 1000;
/** Bytes per string window. */
export const WINDOW_BYTES = 1024 * 1024;

const COUNT_COMMAND: Record<WindowKind, string> = { string: 'STRLEN', list: 'LLEN', set: 'SCARD', hash: 'HLEN', zset: 'ZCARD', stream: 'XLEN' };

function text(v: RespValue | undefined): string {
  return Buffer.isBuffer(v) ? v.toString('latin1') : String(v);
}

function show(b: Buffer): string {
  const s = b.toString('latin1');
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);
}

/** Raises an error reply as an Error (a `MOVED`, a `WRONGTYPE` from a key changed under us…). */
function ok(v: RespValue | undefined, what: string): RespValue {
  if (v instanceof RespErrorReply) throw new Error(`${what}: ${v.message}`);
  return v ?? null;
}

/** Converts a decoder piece of a file into a {@link Piece} (undefined for kinds not compared in windows). */
export function pieceOfEntry(e: SnapshotEntry): Piece | undefined {
  switch (e.valueKind) {
    case 'string':
      return { kind: 'string', bytes: e.value };
    case 'list':
      return { kind: 'list', items: e.value };
    case 'set':
      return { kind: 'set', members: e.value };
    case 'hash':
      return { kind: 'hash', flat: e.value };
    case 'hash-ttl':
      return { kind: 'hash', flat: e.value.fields };
    case 'zset':
      return { kind: 'zset', members: e.value.members, scores: e.value.scores.map(scoreText) };
    case 'stream':
      return { kind: 'stream', entries: e.value.entries.map((x) => ({ id: streamIdText(x.id), fields: x.fields })) };
    default:
      return undefined;
  }
}

/** Checks the pieces of one source value against the target's key, in order. */
export class WindowComparer {
  #offset = 0;
  #count = 0;
  constructor(
    readonly target: KeyIo,
    readonly db: number,
    readonly key: Buffer,
    readonly kind: WindowKind,
  ) {}

  async #one(cmds: CommandArg[][]): Promise<RespValue[]> {
    return (await this.target.exec(this.db, [this.key], () => cmds))[0]!;
  }

  /** Source elements fed so far (bytes for a string). */
  get count(): number {
    return this.#count;
  }

  /** Compares one piece; returns the first difference as text, or undefined. */
  async feed(p: Piece): Promise<string | undefined> {
    switch (p.kind) {
      case 'string': {
        if (p.bytes.length === 0) return undefined;
        const at = this.#offset;
        const [got] = await this.#one([['GETRANGE', this.key, at, at + p.bytes.length - 1]]);
        this.#offset += p.bytes.length;
        this.#count += p.bytes.length;
        const t = ok(got, 'GETRANGE') as Buffer;
        if (!Buffer.isBuffer(t) || !t.equals(p.bytes)) return `bytes ${at}..${at + p.bytes.length - 1} differ`;
        return undefined;
      }
      case 'list': {
        if (p.items.length === 0) return undefined;
        const at = this.#offset;
        const [got] = await this.#one([['LRANGE', this.key, at, at + p.items.length - 1]]);
        this.#offset += p.items.length;
        this.#count += p.items.length;
        const t = ok(got, 'LRANGE') as Buffer[];
        for (let i = 0; i < p.items.length; i++) {
          if (t[i] === undefined || !t[i]!.equals(p.items[i]!)) return `element ${at + i}: source ${show(p.items[i]!)}, target ${t[i] ? show(t[i]!) : '(none)'}`;
        }
        return undefined;
      }
      case 'set': {
        if (p.members.length === 0) return undefined;
        this.#count += p.members.length;
        const [got] = await this.#one([['SMISMEMBER', this.key, ...p.members]]);
        const t = ok(got, 'SMISMEMBER') as number[];
        const i = t.findIndex((x) => x !== 1);
        return i < 0 ? undefined : `member ${show(p.members[i]!)} is not in the target's set`;
      }
      case 'hash': {
        if (p.flat.length === 0) return undefined;
        const fields = p.flat.filter((_, i) => i % 2 === 0);
        this.#count += fields.length;
        const [got] = await this.#one([['HMGET', this.key, ...fields]]);
        const t = ok(got, 'HMGET') as Array<Buffer | null>;
        for (let i = 0; i < fields.length; i++) {
          const v = p.flat[2 * i + 1]!;
          if (t[i] === null || t[i] === undefined) return `field ${show(fields[i]!)} is missing on the target`;
          if (!t[i]!.equals(v)) return `field ${show(fields[i]!)}: source ${show(v)}, target ${show(t[i]!)}`;
        }
        return undefined;
      }
      case 'zset': {
        if (p.members.length === 0) return undefined;
        this.#count += p.members.length;
        const [got] = await this.#one([['ZMSCORE', this.key, ...p.members]]);
        const t = ok(got, 'ZMSCORE') as Array<Buffer | null>;
        for (let i = 0; i < p.members.length; i++) {
          const s = t[i] === null || t[i] === undefined ? undefined : scoreText(Number(text(t[i]).replace(/^\+?inf$/, 'Infinity').replace(/^-inf$/, '-Infinity')));
          if (s !== p.scores[i]) return `member ${show(p.members[i]!)}: score ${p.scores[i]} on the source, ${s ?? 'absent'} on the target`;
        }
        return undefined;
      }
      case 'stream': {
        if (p.entries.length === 0) return undefined;
        this.#count += p.entries.length;
        const first = p.entries[0]!.id;
        const last = p.entries[p.entries.length - 1]!.id;
        const [got] = await this.#one([['XRANGE', this.key, first, last]]);
        const t = ok(got, 'XRANGE') as Array<[Buffer, Buffer[]]>;
        for (let i = 0; i < Math.max(t.length, p.entries.length); i++) {
          const s = p.entries[i];
          const x = t[i];
          if (s === undefined || x === undefined) return `entries ${first}..${last}: ${p.entries.length} on the source, ${t.length} on the target`;
          if (text(x[0]) !== s.id) return `entry ${s.id}: target has ${text(x[0])} in its place`;
          if (x[1].length !== s.fields.length || x[1].some((f, j) => !f.equals(s.fields[j]!))) return `entry ${s.id}: fields differ`;
        }
        return undefined;
      }
    }
  }

  /**
   * After the last piece: the target's cardinality must equal `sourceCount` (elements, bytes for a
   * string), and a stream's metadata must equal `sourceMeta` ({@link streamMetaFromCommands} or
   * the decoder's, through `streamMetaItems`).
   */
  async finish(sourceCount: number, sourceMeta?: string[]): Promise<string | undefined> {
    const [n] = await this.#one([[COUNT_COMMAND[this.kind], this.key]]);
    const targetCount = Number(ok(n, COUNT_COMMAND[this.kind]));
    if (targetCount !== sourceCount) return `${this.kind === 'string' ? 'length' : 'size'} ${sourceCount} on the source, ${targetCount} on the target`;
    if (this.kind === 'stream' && sourceMeta !== undefined) {
      const t = await streamMetaFromCommands(this.target, this.db, this.key);
      for (let i = 0; i < Math.max(t.length, sourceMeta.length); i++) {
        if (t[i] !== sourceMeta[i]) return `stream metadata: source ${JSON.stringify(sourceMeta[i] ?? '(nothing)')}, target ${JSON.stringify(t[i] ?? '(nothing)')}`;
      }
    }
    return undefined;
  }
}

/** A flat RESP map (`XINFO`) as a Map of its text keys. */
function fields(v: RespValue): Map<string, RespValue> {
  const m = new Map<string, RespValue>();
  if (Array.isArray(v)) for (let i = 0; i + 1 < v.length; i += 2) m.set(text(v[i]), v[i + 1]!);
  return m;
}

/** Largest pending list read per group for the comparison of a big stream. */
const MAX_PENDING_READ = 100_000;

/**
 * A stream's comparable metadata read with commands (`XINFO STREAM`, `XINFO GROUPS`, `XPENDING`),
 * in the same form as `streamMetaItems` builds from a decoded value.
 */
export async function streamMetaFromCommands(io: KeyIo, db: number, key: Buffer): Promise<string[]> {
  const [info, groups] = (await io.exec(db, [key], () => [['XINFO', 'STREAM', key], ['XINFO', 'GROUPS', key]]))[0]!;
  const out = [`last-id ${text(fields(ok(info, 'XINFO STREAM')).get('last-generated-id'))}`];
  const list = (ok(groups, 'XINFO GROUPS') as RespValue[]).map(fields).sort((a, b) => Buffer.compare(a.get('name') as Buffer, b.get('name') as Buffer));
  for (const g of list) {
    const name = g.get('name') as Buffer;
    out.push(`group ${text(name)} last-delivered ${text(g.get('last-delivered-id'))} pending ${Number(g.get('pending'))}`);
    const [pel] = (await io.exec(db, [key], () => [['XPENDING', key, name, '-', '+', MAX_PENDING_READ]]))[0]!;
    for (const p of ok(pel, 'XPENDING') as RespValue[][]) out.push(`pending ${text(p[0])} ${text(p[1])} ${Number(p[3])}`);
  }
  return out;
}

/**
 * Reads a live source value in windows (see the file comment), calling `onPiece` for each; returns
 * the source's cardinality as read at the end (elements, or bytes of a string).
 */
export async function readWindows(io: KeyIo, db: number, key: Buffer, kind: WindowKind, onPiece: (p: Piece) => Promise<boolean>): Promise<number> {
  const one = async (cmd: CommandArg[]): Promise<RespValue> => ok((await io.exec(db, [key], () => [cmd]))[0]![0], String(cmd[0]));
  switch (kind) {
    case 'string': {
      const len = Number(await one(['STRLEN', key]));
      for (let at = 0; at < len; at += WINDOW_BYTES) {
        if (!(await onPiece({ kind, bytes: (await one(['GETRANGE', key, at, Math.min(len, at + WINDOW_BYTES) - 1])) as Buffer }))) break;
      }
      break;
    }
    case 'list':
      for (let at = 0; ; at += WINDOW_ELEMENTS) {
        const items = (await one(['LRANGE', key, at, at + WINDOW_ELEMENTS - 1])) as Buffer[];
        if (items.length === 0 || !(await onPiece({ kind, items }))) break;
      }
      break;
    case 'zset':
      for (let at = 0; ; at += WINDOW_ELEMENTS) {
        const flat = (await one(['ZRANGE', key, at, at + WINDOW_ELEMENTS - 1, 'WITHSCORES'])) as Buffer[];
        if (flat.length === 0) break;
        const members: Buffer[] = [];
        const scores: string[] = [];
        for (let i = 0; i < flat.length; i += 2) {
          members.push(flat[i]!);
          scores.push(scoreText(Number(text(flat[i + 1]).replace(/^\+?inf$/, 'Infinity').replace(/^-inf$/, '-Infinity'))));
        }
        if (!(await onPiece({ kind, members, scores }))) break;
      }
      break;
    case 'set':
    case 'hash': {
      let cursor = '0';
      do {
        const [next, batch] = (await one([kind === 'set' ? 'SSCAN' : 'HSCAN', key, cursor, 'COUNT', WINDOW_ELEMENTS])) as [Buffer, Buffer[]];
        cursor = text(next);
        if (!(await onPiece(kind === 'set' ? { kind, members: batch } : { kind, flat: batch }))) break;
      } while (cursor !== '0');
      break;
    }
    case 'stream': {
      let from = '-';
      for (;;) {
        const batch = (await one(['XRANGE', key, from, '+', 'COUNT', WINDOW_ELEMENTS])) as Array<[Buffer, Buffer[]]>;
        if (batch.length === 0) break;
        if (!(await onPiece({ kind, entries: batch.map(([id, f]) => ({ id: text(id), fields: f })) }))) break;
        from = `(${text(batch[batch.length - 1]![0])}`;
      }
      break;
    }
  }
  return Number(await one([COUNT_COMMAND[kind], key]));
}
