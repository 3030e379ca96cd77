/**
 * Test-side folding of SnapshotEntry pieces into whole objects, and their canonical form as in the
 * recordings' `expected.json.gz` (../shared/fixtures/dragonfly/README.md). Test-only.
 */
import type { SnapshotEntry, StreamEntry, StreamMeta } from '../../src/entry/entry.js';

/** One reassembled object. */
export interface ModelObject {
  db: number;
  key: Buffer;
  rdbType: number;
  valueKind: SnapshotEntry['valueKind'];
  expireAtMs: number;
  pieces: number;
  /** string/json: bytes; list/set/hash: flat elements; zset: members+scores; *-ttl: +expiries. */
  bytes: Buffer[];
  elems: Buffer[];
  nums: number[];
  entries: StreamEntry[];
  meta: StreamMeta | undefined;
  opaque: unknown;
}

/**
 * Folds pieces into objects, checking the piece protocol: isFirst on the first piece only, isLast
 * on the last only, same db/key/type on every piece. Throws on a violation.
 */
export class SnapshotModel {
  readonly objects: ModelObject[] = [];
  #open: Map<string, ModelObject> = new Map();

  add(e: SnapshotEntry): void {
    const id = `${e.db}:${e.key.toString('hex')}`;
    let o = this.#open.get(id);
    if (e.isFirst) {
      if (o !== undefined) throw new Error(`isFirst piece for ${id} while an object is open`);
      o = {
        db: e.db,
        key: e.key,
        rdbType: e.rdbType,
        valueKind: e.valueKind,
        expireAtMs: e.expireAtMs,
        pieces: 0,
        bytes: [],
        elems: [],
        nums: [],
        entries: [],
        meta: undefined,
        opaque: undefined,
      };
      this.#open.set(id, o);
    } else if (o === undefined) {
      throw new Error(`continuation piece for ${id} without a first piece`);
    }
    if (o.rdbType !== e.rdbType || o.valueKind !== e.valueKind) throw new Error(`type changed inside ${id}`);
    o.pieces++;
    switch (e.valueKind) {
      case 'string':
      case 'json':
        o.bytes.push(e.value);
        break;
      case 'list':
      case 'set':
      case 'hash':
        o.elems.push(...e.value);
        break;
      case 'zset':
        if (e.value.members.length !== e.value.scores.length) throw new Error('zset piece arrays differ');
        o.elems.push(...e.value.members);
        o.nums.push(...e.value.scores);
        break;
      case 'hash-ttl':
        if (e.value.fields.length !== 2 * e.value.expireAtMs.length) throw new Error('hash-ttl piece arrays differ');
        o.elems.push(...e.value.fields);
        o.nums.push(...e.value.expireAtMs);
        break;
      case 'set-ttl':
        o.elems.push(...e.value.members);
        o.nums.push(...e.value.expireAtMs);
        break;
      case 'stream':
        o.entries.push(...e.value.entries);
        if (e.value.meta !== undefined) {
          if (!e.isLast) throw new Error('stream meta on a non-last piece');
          o.meta = e.value.meta;
        }
        break;
      default:
        o.opaque = e.value;
    }
    if (e.isLast) {
      this.#open.delete(id);
      this.objects.push(o);
    }
  }

  /** Objects still open (a last piece never came). */
  get openCount(): number {
    return this.#open.size;
  }
}

const b64 = (b: Buffer): string => b.toString('base64');
const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The `TYPE` reply the recordings use for a value kind. */
export function typeName(kind: SnapshotEntry['valueKind']): string {
  switch (kind) {
    case 'set-ttl':
      return 'set';
    case 'hash-ttl':
      return 'hash';
    case 'json':
      return 'ReJSON-RL';
    case 'sbf':
      return 'MBbloom--';
    case 'cuckoo':
      return 'MBbloomCF';
    case 'cms':
      return 'CMSk-TYPE';
    case 'topk':
      return 'TopK-TYPE';
    default:
      return kind;
  }
}

/** Score as ZRANGE WITHSCORES prints it in the recordings. */
export function scoreText(n: number): string {
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  return String(n);
}

/** Canonical value (README "value"); streams without `groups` (compared separately). */
export function canonicalValue(o: ModelObject): unknown {
  switch (o.valueKind) {
    case 'string':
      return b64(Buffer.concat(o.bytes));
    case 'json':
      return Buffer.concat(o.bytes).toString('utf8');
    case 'list':
      return o.elems.map(b64);
    case 'set':
    case 'set-ttl':
      return o.elems.map(b64).sort(byString);
    case 'zset': {
      const idx = o.elems.map((_, i) => i);
      idx.sort((a, b) => o.nums[a]! - o.nums[b]! || Buffer.compare(o.elems[a]!, o.elems[b]!));
      return idx.map((i) => [b64(o.elems[i]!), scoreText(o.nums[i]!)]);
    }
    case 'hash':
    case 'hash-ttl': {
      const pairs: [string, string][] = [];
      for (let i = 0; i < o.elems.length; i += 2) pairs.push([b64(o.elems[i]!), b64(o.elems[i + 1]!)]);
      return pairs.sort((a, b) => byString(a[0], b[0]));
    }
    case 'stream':
      return {
        entries: o.entries.map((e) => [`${e.id.ms}-${e.id.seq}`, e.fields.map((f) => f.toString('utf8'))]),
      };
    default:
      return null;
  }
}
