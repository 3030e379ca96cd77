import { TargetCommandError } from '../errors.js';
import type { RedisConnection, RespValue } from './redis-connection.js';

/** What the target can do, read once after connecting. */
export interface TargetInfo {
  /** `redis_version` from `INFO server`, e.g. `7.0.15`. */
  redisVersion: string;
  /** RDB version the target writes and reads (highest it accepts in RESTORE payloads). */
  rdbVersion: number;
  /** `cluster_enabled:1` in `INFO cluster`. */
  clusterEnabled: boolean;
  /** Loaded module names, lower-case (`MODULE LIST`), e.g. `rejson`, `bf`. */
  modules: Set<string>;
  /** Whether the target knows command `name` (case-insensitive; `COMMAND LIST` / `COMMAND`). */
  hasCommand(name: string): boolean;
}

/**
 * RDB_VERSION by Redis major.minor (Redis src/rdb.h at each release tag): 6.2 → 9, 7.0 → 10,
 * 7.2 → 11, 7.4 → 12; 8.0 keeps 12 (rdb.h unchanged at tag 8.0-m01). Versions above the table use
 * its last row; versions below 6.2 are older than we support and get 9 (never higher than truth,
 * so RESTORE is only used where the target can read it).
 */
const RDB_VERSION_BY_REDIS: ReadonlyArray<[major: number, minor: number, rdb: number]> = [
  [6, 2, 9],
  [7, 0, 10],
  [7, 2, 11],
  [7, 4, 12],
  [8, 0, 12],
];

/** Maps a `redis_version` string to the RDB version that release reads and writes. */
export function rdbVersionForRedis(version: string): number {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return 9;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  let rdb = 9;
  for (const [ma, mi, v] of RDB_VERSION_BY_REDIS) if (major > ma || (major === ma && minor >= mi)) rdb = v;
  return rdb;
}

function infoField(text: string, field: string): string | undefined {
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(text);
  return m?.[1]?.trim();
}

function asText(v: RespValue): string {
  return Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'string' ? v : '';
}

/**
 * Reads `INFO server` (redis_version), `INFO cluster` (cluster_enabled), `MODULE LIST` (names) and
 * the command table (`COMMAND LIST`, Redis ≥ 7.0; `COMMAND` on 6.2). A target that refuses `MODULE
 * LIST` or `COMMAND` (renamed/ACL) is treated as having no modules / only what its version implies.
 * @throws ConnectionError if the connection fails; TargetCommandError if `INFO` is refused.
 */
export async function readTargetInfo(conn: RedisConnection): Promise<TargetInfo> {
  const server = asText(await conn.call(['INFO', 'server']));
  const cluster = asText(await conn.call(['INFO', 'cluster']));
  const redisVersion = infoField(server, 'redis_version') ?? '0.0.0';
  const modules = new Set<string>();
  try {
    const list = await conn.call(['MODULE', 'LIST']);
    if (Array.isArray(list)) {
      for (const mod of list) {
        if (!Array.isArray(mod)) continue;
        for (let i = 0; i + 1 < mod.length; i += 2) {
          if (asText(mod[i]!) === 'name') modules.add(asText(mod[i + 1]!).toLowerCase());
        }
      }
    }
  } catch (err) {
    if (!(err instanceof TargetCommandError)) throw err;
  }
  const commands = new Set<string>();
  try {
    const list = await conn.call(['COMMAND', 'LIST']);
    if (Array.isArray(list)) for (const c of list) commands.add(asText(c).toLowerCase());
  } catch (err) {
    if (!(err instanceof TargetCommandError)) throw err;
    try {
      const all = await conn.call(['COMMAND']);
      if (Array.isArray(all)) for (const c of all) if (Array.isArray(c)) commands.add(asText(c[0]!).toLowerCase());
    } catch (err2) {
      if (!(err2 instanceof TargetCommandError)) throw err2;
    }
  }
  return {
    redisVersion,
    rdbVersion: rdbVersionForRedis(redisVersion),
    clusterEnabled: infoField(cluster, 'cluster_enabled') === '1',
    modules,
    hasCommand: (name: string) => commands.has(name.toLowerCase()),
  };
}
