/**
 * A value in a form that compares equal across servers and encodings: the pieces the RDB decoder
 * reports (from a DUMP payload or a file) folded into one ordered list of items per kind. Used for
 * small values only (held whole); big ones are compared in windows (see window-compare.ts).
 *
 * - string: one item; list: the elements in order; set: members sorted bytewise; hash: `field`,
 *   `value` pairs sorted by field; zset: `member`, score pairs sorted by member (scores as the
 *   shortest round-trip decimal, `inf`/`-inf`);
 * - stream: every entry (`id` then its fields), the last id, then per group (sorted by name) its
 *   name, last delivered id and pending entries (id, owning consumer, delivery count). Idle and
 *   delivery times, `entries-read` and consumers' seen times are not compared: they are clocks
 *   of the server (and `XGROUP SETID` without `ENTRIESREAD` resets `entries-read` on Redis only).
 */
import { decodeDumpPayload } from '../decode/rdb/dump-payload.js';
import type { SnapshotEntry, StreamId, StreamMeta, ValueKind } from '../entry/entry.js';

/** Kinds a Redis target cannot hold without a module, or at all: never reported as missing. */
export const UNHOLDABLE_KINDS: ReadonlySet<ValueKind> = new Set(['json', 'set-ttl', 'sbf', 'cms', 'topk', 'cuckoo', 'module']);

/** The `TYPE` reply a kind corresponds to (for messages and type comparisons). */
export function typeName(kind: ValueKind): string {
  switch (kind) {
    case 'hash-ttl':
      return 'hash';
    case 'set-ttl':
      return 'set';
    default:
      return kind;
  }
}

/** A whole small value, comparable with {@link diffCanonical}. */
export interface CanonicalValue {
  kind: ValueKind;
  /** Items in canonical order (see the file comment). */
  items: Array<Buffer | string>;
  /** Hash with per-field expiries (decoded `hash-ttl`): some field carries a TTL. */
  hasFieldTtl: boolean;
}

const byBytes = (a: Buffer, b: Buffer): number => Buffer.compare(a, b);

/** Score text as Dragonfly and Redis ≥ 7.2 print it. */
export function scoreText(n: number): string {
  return n === Infinity ? 'inf' : n === -Infinity ? '-inf' : String(n);
}

/** `ms-seq` */
export function streamIdText(id: StreamId): string {
  return `${id.ms}-${id.seq}`;
}

/** Folds the pieces of one object (first to last) into a {@link CanonicalValue}. */
export class CanonicalBuilder {
  #kind: ValueKind | undefined;
  #items: Array<Buffer | string> = [];
  #pairs: Array<[Buffer, Buffer | string]> = [];
  #members: Buffer[] = [];
  #meta: StreamMeta | undefined;
  #hasFieldTtl = false;

  /** Adds one piece. */
  add(e: SnapshotEntry): void {
    this.#kind = e.valueKind;
    switch (e.valueKind) {
      case 'string':
      case 'json':
        this.#items.push(Buffer.from(e.value));
        break;
      case 'list':
        for (const v of e.value) this.#items.push(Buffer.from(v));
        break;
      case 'set':
        for (const v of e.value) this.#members.push(Buffer.from(v));
        break;
      case 'set-ttl':
        for (const v of e.value.members) this.#members.push(Buffer.from(v));
        break;
      case 'hash':
        for (let i = 0; i + 1 < e.value.length; i += 2) this.#pairs.push([Buffer.from(e.value[i]!), Buffer.from(e.value[i + 1]!)]);
        break;
      case 'hash-ttl':
        for (let i = 0; i + 1 < e.value.fields.length; i += 2) this.#pairs.push([Buffer.from(e.value.fields[i]!), Buffer.from(e.value.fields[i + 1]!)]);
        if (e.value.expireAtMs.some((t) => t !== -1)) this.#hasFieldTtl = true;
        break;
      case 'zset':
        e.value.members.forEach((m, i) => this.#pairs.push([Buffer.from(m), scoreText(e.value.scores[i]!)]));
        break;
      case 'stream':
        for (const en of e.value.entries) {
          this.#items.push(streamIdText(en.id));
          for (const f of en.fields) this.#items.push(Buffer.from(f));
        }
        if (e.value.meta !== undefined) this.#meta = e.value.meta;
        break;
      default:
        this.#items.push(JSON.stringify(e.value.fields ?? e.value.description));
    }
  }

  /** The folded value. */
  build(): CanonicalValue {
    const kind = this.#kind ?? 'string';
    let items = this.#items;
    if (this.#members.length > 0) items = this.#members.sort(byBytes);
    if (this.#pairs.length > 0) {
      items = [];
      for (const [f, v] of this.#pairs.sort((a, b) => byBytes(a[0], b[0]))) items.push(f, v);
    }
    if (kind === 'stream' && this.#meta !== undefined) items.push(...streamMetaItems(this.#meta));
    return { kind, items, hasFieldTtl: this.#hasFieldTtl };
  }
}

/** The comparable part of a stream's metadata: last id, then the groups (see the file comment). */
export function streamMetaItems(meta: StreamMeta): string[] {
  const out = [`last-id ${streamIdText(meta.lastId)}`];
  const groups = [...meta.groups].sort((a, b) => byBytes(a.name, b.name));
  for (const g of groups) {
    const owner = new Map<string, string>();
    for (const c of g.consumers) for (const id of c.pending) owner.set(streamIdText(id), c.name.toString('latin1'));
    out.push(`group ${g.name.toString('latin1')} last-delivered ${streamIdText(g.lastId)} pending ${g.pending.length}`);
    for (const p of g.pending) out.push(`pending ${streamIdText(p.id)} ${owner.get(streamIdText(p.id)) ?? '?'} ${p.deliveryCount}`);
  }
  return out;
}

/**
 * Decodes a DUMP payload with the project's RDB decoder.
 * @throws RdbError when the payload cannot be decoded (e.g. a module type).
 */
export function canonicalFromDump(payload: Buffer, key: Buffer): CanonicalValue {
  const b = new CanonicalBuilder();
  decodeDumpPayload(payload, key, 0, -1, (e) => b.add(e), { maxRestorePayloadBytes: 0 });
  return b.build();
}

/** Printable form of one item for messages (at most 80 characters). */
function show(x: Buffer | string | undefined): string {
  if (x === undefined) return '(nothing)';
  const s = typeof x === 'string' ? x : /^[\x20-\x7e]*$/.test(x.toString('latin1')) ? x.toString('latin1') : `0x${x.toString('hex')}`;
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

function same(a: Buffer | string, b: Buffer | string): boolean {
  if (typeof a === 'string' || typeof b === 'string') return typeof a === typeof b && a === b;
  return a.equals(b);
}

/** The first difference of two values of the same kind as text, or undefined when equal. */
export function diffCanonical(source: CanonicalValue, target: CanonicalValue): string | undefined {
  const a = source.items;
  const b = target.items;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (!same(a[i]!, b[i]!)) return `item ${i}: source ${show(a[i])}, target ${show(b[i])} (${a.length} / ${b.length} items)`;
  }
  if (a.length !== b.length) return `source has ${a.length} items, target ${b.length}; first unmatched: ${show(a[n] ?? b[n])}`;
  return undefined;
}
