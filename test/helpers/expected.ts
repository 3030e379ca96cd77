/**
 * Reads a live Redis keyspace into the canonical shape of the recordings' `expected.json.gz`
 * (`../shared/fixtures/dragonfly/README.md`), and compares two such states key by key. Test-only:
 * uses the `redis` (node-redis) client over RESP2 with Buffer replies.
 */
import { createHash } from 'node:crypto';
import { createClient, RESP_TYPES } from 'redis';
import type { ExpectedKey, ExpectedState } from './recording.js';

export type { ExpectedKey, ExpectedState };

/** Options of {@link readState}. */
export interface ReadStateOptions {
  /** Databases to read. @default every db listed by `INFO keyspace` */
  dbs?: number[];
  /** Keep `value` only when `JSON.stringify(value)` is shorter than this (bytes); `digest` is always set.
   *  @default 4096 (as in the recordings) */
  maxValueJsonBytes?: number;
  /** Keys fetched concurrently per SCAN batch. @default 200 */
  scanCount?: number;
  /** Keys with this prefix are df2redis's own (its checkpoint) and are not read. @default 'df2redis:' */
  ownPrefix?: string;
}

/** Options of {@link compareState}. */
export interface CompareStateOptions {
  /** Keys not compared: exact key text (UTF-8) or a RegExp tested on it. */
  ignoreKeys?: ReadonlyArray<string | RegExp>;
  /** Largest accepted |actual.pexpireat − expected.pexpireat| in ms. @default 1000 */
  ttlToleranceMs?: number;
}

/** Whatever `createClient(...).withTypeMapping(...)` returns; kept loose since only sendCommand is used. */
interface CommandClient {
  sendCommand(args: Array<string | Buffer>): Promise<unknown>;
}

type Reply = Buffer | string | number | null | Reply[];

const b64 = (b: Buffer): string => b.toString('base64');
const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A zset score in the canonical text: the shortest round-trip decimal (what Dragonfly and Redis ≥ 7.2
 * print), `inf` / `-inf`. Redis 7.0 prints `%.17g` (`0.10000000000000001`), so its reply is re-formatted.
 */
export function canonicalScore(reply: string): string {
  const n = Number(reply === 'inf' || reply === '+inf' ? Infinity : reply === '-inf' ? -Infinity : reply);
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  if (Number.isNaN(n)) throw new Error(`not a score: ${reply}`);
  return String(n);
}

/** SHA-256 hex of `JSON.stringify(value)`: the `digest` field of the recordings. */
export function digestOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** RESP2 reply → JSON the way the recordings print stream replies: bulk strings as UTF-8 text. */
function toJsonReply(r: Reply): unknown {
  if (Buffer.isBuffer(r)) return r.toString('utf8');
  if (Array.isArray(r)) return r.map(toJsonReply);
  return r;
}

/**
 * Canonical value of one key (README "value"): string → base64; list → base64[] in order; set →
 * sorted base64[]; zset → [base64 member, score text][] in ZRANGE order; hash → [base64 field, base64
 * value][] sorted by base64 field; stream → { entries: XRANGE - +, groups: XINFO GROUPS } with bulk
 * strings as text; any other type → null.
 */
async function readValue(c: CommandClient, key: Buffer, type: string): Promise<unknown> {
  switch (type) {
    case 'string':
      return b64((await c.sendCommand(['GET', key])) as Buffer);
    case 'list':
      return ((await c.sendCommand(['LRANGE', key, '0', '-1'])) as Buffer[]).map(b64);
    case 'set':
      return ((await c.sendCommand(['SMEMBERS', key])) as Buffer[]).map(b64).sort(byString);
    case 'zset': {
      const flat = (await c.sendCommand(['ZRANGE', key, '0', '-1', 'WITHSCORES'])) as Buffer[];
      const out: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) out.push([b64(flat[i]!), canonicalScore(flat[i + 1]!.toString('latin1'))]);
      return out;
    }
    case 'hash': {
      const flat = (await c.sendCommand(['HGETALL', key])) as Buffer[];
      const out: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) out.push([b64(flat[i]!), b64(flat[i + 1]!)]);
      return out.sort((a, b) => byString(a[0], b[0]));
    }
    case 'stream': {
      const [entries, groups] = await Promise.all([
        c.sendCommand(['XRANGE', key, '-', '+']),
        c.sendCommand(['XINFO', 'GROUPS', key]),
      ]);
      return { entries: toJsonReply(entries as Reply), groups: toJsonReply(groups as Reply) };
    }
    default:
      return null;
  }
}

async function readKey(c: CommandClient, key: Buffer, maxValueJsonBytes: number): Promise<ExpectedKey | undefined> {
  const [typeReply, pttl] = await Promise.all([c.sendCommand(['TYPE', key]), c.sendCommand(['PTTL', key])]);
  const now = Date.now();
  const type = String(typeReply);
  if (type === 'none') return undefined; // expired or deleted between SCAN and TYPE
  const value = await readValue(c, key, type);
  const json = JSON.stringify(value);
  const entry: ExpectedKey = {
    type,
    pexpireat: (pttl as number) >= 0 ? now + (pttl as number) : -1,
    digest: createHash('sha256').update(json).digest('hex'),
  };
  if (Buffer.byteLength(json) < maxValueJsonBytes) entry.value = value;
  return entry;
}

/**
 * Reads every key of `dbs` from a live server into `{ db: { base64Key: { type, pexpireat, digest,
 * value? } } }` (the shape of `expected.json.gz`). `pexpireat` = local now + PTTL (±latency), or -1.
 * `target` is a `redis://` URL or a port on 127.0.0.1. Uses SCAN, so keys written while reading may
 * or may not appear.
 * @throws whatever node-redis throws on connection or command errors.
 */
export async function readState(target: string | number, dbs?: number[], options: ReadStateOptions = {}): Promise<ExpectedState> {
  const url = typeof target === 'number' ? `redis://127.0.0.1:${target}` : target;
  // No per-command timeout (node-redis's default is 5 s): it arms an AbortSignal timer per command,
  // which for the hundreds of thousands of commands of a big keyspace costs more than the reading.
  // A server that stops answering fails the test at the test's own timeout instead.
  const client = createClient({ url, RESP: 2, commandOptions: { timeout: 0 } }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  await client.connect();
  try {
    const c = client as unknown as CommandClient;
    const maxValueJsonBytes = options.maxValueJsonBytes ?? 4096;
    const count = String(options.scanCount ?? 200);
    const own = Buffer.from(options.ownPrefix ?? 'df2redis:');
    let which = dbs ?? options.dbs;
    if (!which) {
      const info = String(await c.sendCommand(['INFO', 'keyspace']));
      which = [...info.matchAll(/^db(\d+):keys=/gm)].map((m) => Number(m[1]));
    }
    const state: ExpectedState = {};
    for (const db of which) {
      await c.sendCommand(['SELECT', String(db)]);
      const keys: Record<string, ExpectedKey> = {};
      let cursor = '0';
      do {
        const [next, all] = (await c.sendCommand(['SCAN', cursor, 'COUNT', count])) as [Buffer, Buffer[]];
        const batch = own.length === 0 ? all : all.filter((k) => !(k.length >= own.length && k.subarray(0, own.length).equals(own)));
        cursor = next.toString('latin1');
        const entries = await Promise.all(batch.map((k) => readKey(c, k, maxValueJsonBytes)));
        batch.forEach((k, i) => {
          const e = entries[i];
          if (e) keys[b64(k)] = e;
        });
      } while (cursor !== '0');
      if (Object.keys(keys).length > 0 || dbs) state[String(db)] = keys;
    }
    return state;
  } finally {
    await client.quit();
  }
}

/** A key for humans: JSON text if printable ASCII, else `0x<hex>` (first 64 bytes). */
export function describeKey(base64Key: string): string {
  const k = Buffer.from(base64Key, 'base64');
  if (/^[\x20-\x7e]*$/.test(k.toString('latin1'))) return JSON.stringify(k.toString('latin1'));
  const hex = k.subarray(0, 64).toString('hex');
  return `0x${hex}${k.length > 64 ? `… (${k.length} bytes)` : ''}`;
}

function describeValueDiff(a: unknown, e: unknown): string {
  if (Array.isArray(a) && Array.isArray(e)) {
    const n = Math.min(a.length, e.length);
    for (let i = 0; i < n; i++) {
      if (JSON.stringify(a[i]) !== JSON.stringify(e[i])) {
        return `first difference at [${i}]: actual ${JSON.stringify(a[i]).slice(0, 200)}, expected ${JSON.stringify(e[i]).slice(0, 200)} (lengths ${a.length} / ${e.length})`;
      }
    }
    return `lengths ${a.length} / ${e.length}`;
  }
  return `actual ${JSON.stringify(a).slice(0, 200)}, expected ${JSON.stringify(e).slice(0, 200)}`;
}

/**
 * Compares two states (from {@link readState} or `loadExpected`) and returns one human-readable line
 * per difference, empty when equal: `missing`, `extra`, `type`, `value` (by value when both sides
 * kept it, else by digest) and `ttl` (pexpireat differs by more than `ttlToleranceMs`, or only one
 * side expires). Databases absent on one side count as empty.
 */
export function compareState(actual: ExpectedState, expected: ExpectedState, options: CompareStateOptions = {}): string[] {
  const tolerance = options.ttlToleranceMs ?? 1000;
  const ignore = options.ignoreKeys ?? [];
  const isIgnored = (base64Key: string): boolean => {
    if (ignore.length === 0) return false;
    const text = Buffer.from(base64Key, 'base64').toString('utf8');
    return ignore.some((p) => (typeof p === 'string' ? p === text : p.test(text)));
  };
  const diffs: string[] = [];
  const dbs = [...new Set([...Object.keys(actual), ...Object.keys(expected)])].sort((a, b) => Number(a) - Number(b));
  for (const db of dbs) {
    const act = actual[db] ?? {};
    const exp = expected[db] ?? {};
    for (const k of Object.keys(exp).sort()) {
      if (isIgnored(k)) continue;
      const e = exp[k]!;
      const a = act[k];
      const name = `db ${db} key ${describeKey(k)}`;
      if (!a) {
        diffs.push(`${name}: missing (expected ${e.type})`);
        continue;
      }
      if (a.type !== e.type) {
        diffs.push(`${name}: type ${a.type}, expected ${e.type}`);
        continue;
      }
      if (a.value !== undefined && e.value !== undefined) {
        if (JSON.stringify(a.value) !== JSON.stringify(e.value)) diffs.push(`${name}: value differs: ${describeValueDiff(a.value, e.value)}`);
      } else {
        const ad = a.digest ?? digestOf(a.value);
        const ed = e.digest ?? digestOf(e.value);
        if (ad !== ed) diffs.push(`${name}: value differs (digest ${ad.slice(0, 12)}…, expected ${ed.slice(0, 12)}…)`);
      }
      if ((a.pexpireat === -1) !== (e.pexpireat === -1)) {
        diffs.push(`${name}: ttl: pexpireat ${a.pexpireat}, expected ${e.pexpireat}`);
      } else if (Math.abs(a.pexpireat - e.pexpireat) > tolerance) {
        diffs.push(`${name}: ttl: pexpireat ${a.pexpireat}, expected ${e.pexpireat} (off by ${a.pexpireat - e.pexpireat} ms)`);
      }
    }
    for (const k of Object.keys(act).sort()) {
      if (!(k in exp) && !isIgnored(k)) diffs.push(`db ${db} key ${describeKey(k)}: extra (${act[k]!.type})`);
    }
  }
  return diffs;
}
