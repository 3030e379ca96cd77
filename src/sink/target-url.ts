import { decodeUrlPart, maskUrlPasswords } from '../config/url-credentials.js';
import { ConfigError } from '../errors.js';

/** Where and how to connect to a Redis node. */
export interface TargetEndpoint {
  host: string;
  port: number;
  /** `rediss://`: TLS (node:tls), certificate verified unless `tlsInsecure`. */
  tls: boolean;
  /** ACL user (Redis ≥ 6); absent: `AUTH <password>` (the `default` user). */
  username?: string;
  password?: string;
  /** Database index selected after connecting (0–15 on a default Redis). */
  db: number;
  /**
   * True when the URL names the database (`/db`, even `/0`): the copied data goes into `db`
   * whatever its source database (see `targetDbPlan` in connect-target.ts).
   */
  hasDb?: boolean;
}

const DEFAULT_PORT = 6379;

/**
 * Parses `redis://[user[:password]@]host[:port][/db]` or `rediss://…` (same grammar as
 * redis-cli `-u` and node-redis). A lone user part without `:` is taken as the password, like
 * redis-cli. User and password are percent-decoded (a `%` that starts no escape is a literal `%`;
 * the user info ends at the last `@`, so a password may hold `@`). IPv6 hosts go in brackets.
 * @throws ConfigError naming the URL (password masked) on any other scheme, a bad port or db.
 */
export function parseRedisUrl(url: string): TargetEndpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`invalid target URL ${JSON.stringify(maskUrlPasswords(url))}: expected redis://[user:password@]host:port[/db]`);
  }
  const shown = JSON.stringify(maskUrlPasswords(url));
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new ConfigError(`invalid target URL ${shown}: scheme must be redis:// or rediss://`);
  }
  let host = u.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') throw new ConfigError(`invalid target URL ${shown}: no host`);
  const port = u.port === '' ? DEFAULT_PORT : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`invalid target URL ${shown}: bad port`);
  const path = u.pathname.replace(/^\/+|\/+$/g, '');
  let db = 0;
  if (path !== '') {
    if (!/^\d+$/.test(path)) throw new ConfigError(`invalid target URL ${shown}: database must be a number, got ${JSON.stringify(path)}`);
    db = Number(path);
  }
  const ep: TargetEndpoint = { host, port, tls: u.protocol === 'rediss:', db, ...(path !== '' ? { hasDb: true } : {}) };
  const user = decodeUrlPart(u.username);
  const password = decodeUrlPart(u.password);
  if (password !== '') {
    ep.password = password;
    if (user !== '') ep.username = user;
  } else if (user !== '') {
    ep.password = user;
  }
  return ep;
}
