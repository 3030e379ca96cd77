/**
 * Command names of journal records, interned: every COMMAND record starts with its command's name
 * (`SET`, `HSET`, …), and a flow repeats a handful of them millions of times. The journal decoder
 * hands out one shared, immutable `Buffer` per distinct spelling instead of a new view per record
 * ({@link internCommandName}), and the translator gets the upper-case name of such a buffer from the
 * same table ({@link commandToken}) instead of decoding it to a string per record (issue 12: the two
 * were ~10 % of the replicator's CPU per record at its max rate).
 *
 * One table for the process (flows and sessions share it), bounded by {@link MAX_INTERNED_NAMES}
 * entries of at most {@link MAX_INTERNED_NAME_BYTES} bytes: names beyond it, or a spelling whose hash
 * another one holds, get a plain view and a decoded string, as before. Names are matched byte for
 * byte (case kept): the interned buffer is exactly what the record carried.
 */

/** Longest name interned (`ZREMRANGEBYSCORE`, `GEORADIUSBYMEMBER_RO` and the module commands fit). */
export const MAX_INTERNED_NAME_BYTES = 32;
/** Most distinct spellings interned: Redis and Dragonfly have a few hundred commands. */
export const MAX_INTERNED_NAMES = 512;

/** One interned spelling: its own copy of the bytes and its upper-case (latin1) form. */
interface InternedName {
  bytes: Buffer;
  token: string;
}

const table = new Map<number, InternedName>();
/** The name interned last (an empty one until then: a record has a name of at least one byte). */
let last: Buffer = Buffer.alloc(0);

/** Hash of `len` bytes of `b` from `start` (FNV-1a over the bytes, then the length). */
function hashOf(b: Uint8Array, start: number, len: number): number {
  let h = 0x811c9dc5 ^ len;
  for (let i = start, end = start + len; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h;
}

function isSame(e: Buffer, b: Uint8Array, start: number, len: number): boolean {
  if (e.length !== len) return false;
  for (let i = 0; i < len; i++) if (e[i] !== b[start + i]) return false;
  return true;
}

/**
 * The command name `b[start, start + len)` as a `Buffer`: the interned copy of those bytes (shared
 * by every record that carries the same spelling; never modify it), or a view of `b` when the name
 * is longer than {@link MAX_INTERNED_NAME_BYTES} or the table cannot take it.
 */
export function internCommandName(b: Buffer, start: number, len: number): Buffer {
  if (len > MAX_INTERNED_NAME_BYTES) return b.subarray(start, start + len);
  // A flow often repeats one command: compare with the last one before hashing.
  if (isSame(last, b, start, len)) return last;
  const h = hashOf(b, start, len);
  const e = table.get(h);
  if (e !== undefined) {
    if (!isSame(e.bytes, b, start, len)) return b.subarray(start, start + len);
    last = e.bytes;
    return last;
  }
  if (table.size >= MAX_INTERNED_NAMES) return b.subarray(start, start + len);
  const bytes = Buffer.from(b.subarray(start, start + len)); // a copy: never pins the chunk
  table.set(h, { bytes, token: bytes.toString('latin1').toUpperCase() });
  last = bytes;
  return bytes;
}

/**
 * Upper-cased ASCII (latin1) text of a short argument, `''` for none or one longer than
 * {@link MAX_INTERNED_NAME_BYTES}: from the table when `arg` is an interned name (or spells one),
 * else decoded. Same result as `arg.toString('latin1').toUpperCase()`.
 */
export function commandToken(arg: Buffer | undefined): string {
  if (arg === undefined) return '';
  const len = arg.length;
  if (len > MAX_INTERNED_NAME_BYTES) return '';
  const e = table.get(hashOf(arg, 0, len));
  if (e !== undefined && (e.bytes === arg || isSame(e.bytes, arg, 0, len))) return e.token;
  return arg.toString('latin1').toUpperCase();
}
