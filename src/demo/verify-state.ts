/**
 * Checks a target Redis against a recorded master state (`expected.json.gz` shape, see
 * src/demo/recording.ts) for `df2redis demo`: type and absolute expiry of every key, and the value
 * of every key whose value the recording kept (strings, lists, sets, hashes, zsets; streams by entry
 * count).
 */
import type { RedisConnection, RespValue } from '../sink/redis-connection.js';
import type { ExpectedState } from './recording.js';

/** Types a Redis without modules cannot hold (`TYPE` replies of Dragonfly's module-like types). */
export const MODULE_TYPES: ReadonlySet<string> = new Set(['ReJSON-RL', 'MBbloom--', 'MBbloomCF', 'CMSk-TYPE', 'TopK-TYPE']);

/** Outcome of {@link verifyState}: counts, and one line per key that differs. */
export interface VerifyResult {
  /** Keys whose type (and value, where recorded) match. */
  matched: number;
  /** Keys expected to be absent because the target cannot hold them (module types, member TTLs). */
  notRepresentable: number;
  /** Everything else that differs. */
  differences: string[];
}

const b64 = (b: Buffer): string => b.toString('base64');

function buffers(v: RespValue): Buffer[] {
  return Array.isArray(v) ? v.map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(String(x)))) : [];
}

/** Largest accepted difference between the target's and the recorded absolute expiry (the recording's
 *  `pexpireat` of a relative TTL is the dump time + PTTL, ±50 ms; the target's is read as now + PTTL). */
export const EXPIRY_TOLERANCE_MS = 2000;

/**
 * Compares the target behind `conn` with `expected`. `isNotRepresentable(key, type)` says which keys
 * the target cannot hold (they must be absent). Expiries must agree within {@link EXPIRY_TOLERANCE_MS}.
 * @throws TargetCommandError / ConnectionError from the reads.
 */
export async function verifyState(
  conn: RedisConnection,
  expected: ExpectedState,
  isNotRepresentable: (key: string, type: string) => boolean,
): Promise<VerifyResult> {
  const result: VerifyResult = { matched: 0, notRepresentable: 0, differences: [] };
  for (const [db, keys] of Object.entries(expected)) {
    await conn.call(['SELECT', db]);
    for (const [k64, e] of Object.entries(keys)) {
      const key = Buffer.from(k64, 'base64');
      const text = key.toString('utf8');
      const type = String(await conn.call(['TYPE', key]));
      const name = `db ${db} ${JSON.stringify(text)}`;
      if (isNotRepresentable(text, e.type)) {
        if (type === 'none') result.notRepresentable++;
        else result.differences.push(`${name}: expected absent (not representable), found ${type}`);
        continue;
      }
      if (type !== e.type) {
        result.differences.push(`${name}: type ${type}, expected ${e.type}`);
        continue;
      }
      const mismatch = (e.value === undefined ? undefined : await valueMismatch(conn, key, e.type, e.value)) ?? (await expiryMismatch(conn, key, e.pexpireat));
      if (mismatch !== undefined) result.differences.push(`${name}: ${mismatch}`);
      else result.matched++;
    }
  }
  return result;
}

/** Undefined when the key's absolute expiry on the target is the recorded one (-1 = none). */
async function expiryMismatch(conn: RedisConnection, key: Buffer, pexpireat: number): Promise<string | undefined> {
  const pttl = Number(await conn.call(['PTTL', key]));
  const actual = pttl >= 0 ? Date.now() + pttl : -1;
  if ((actual < 0) !== (pexpireat < 0)) return `expiry ${actual < 0 ? 'none' : new Date(actual).toISOString()}, expected ${pexpireat < 0 ? 'none' : new Date(pexpireat).toISOString()}`;
  if (Math.abs(actual - pexpireat) > EXPIRY_TOLERANCE_MS) return `expiry off by ${actual - pexpireat} ms`;
  return undefined;
}

/** Undefined when the value on the target equals the recorded canonical value. */
async function valueMismatch(conn: RedisConnection, key: Buffer, type: string, value: unknown): Promise<string | undefined> {
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  switch (type) {
    case 'string': {
      const v = await conn.call(['GET', key]);
      return Buffer.isBuffer(v) && b64(v) === value ? undefined : 'string value differs';
    }
    case 'list':
      return same(buffers(await conn.call(['LRANGE', key, 0, -1])).map(b64), value) ? undefined : 'list differs';
    case 'set':
      return same(buffers(await conn.call(['SMEMBERS', key])).map(b64).sort(), value) ? undefined : 'set differs';
    case 'hash': {
      const flat = buffers(await conn.call(['HGETALL', key]));
      const pairs: string[][] = [];
      for (let i = 0; i < flat.length; i += 2) pairs.push([b64(flat[i]!), b64(flat[i + 1]!)]);
      pairs.sort((x, y) => (x[0]! < y[0]! ? -1 : x[0]! > y[0]! ? 1 : 0));
      return same(pairs, value) ? undefined : 'hash differs';
    }
    case 'zset': {
      const flat = buffers(await conn.call(['ZRANGE', key, 0, -1, 'WITHSCORES']));
      const exp = value as Array<[string, string]>;
      if (flat.length !== exp.length * 2) return 'zset size differs';
      for (let i = 0; i < exp.length; i++) {
        const score = (s: string): number => Number(s.replace(/^(-?)inf$/, '$1Infinity'));
        if (b64(flat[2 * i]!) !== exp[i]![0] || score(flat[2 * i + 1]!.toString()) !== score(exp[i]![1])) return 'zset differs';
      }
      return undefined;
    }
    case 'stream': {
      const n = Number(await conn.call(['XLEN', key]));
      return n === (value as { entries: unknown[] }).entries.length ? undefined : 'stream length differs';
    }
    default:
      return undefined;
  }
}
