import { decodeUrlPart, maskUrlPasswords } from '../config/url-credentials.js';
import { ConfigError } from '../errors.js';

/** Where and how to reach the Dragonfly master. */
export interface SourceEndpoint {
  host: string;
  port: number;
  /** `rediss://`: TLS on the main connection and every flow (Dragonfly `--tls_replication`). */
  tls: boolean;
  /** ACL user; absent: `AUTH <password>` (the `default` user, Dragonfly `--requirepass`). */
  username?: string;
  password?: string;
}

/** Dragonfly's default port (same as Redis). */
const DEFAULT_PORT = 6379;

/**
 * Parses the source URL `redis://[user[:password]@]host[:port]` or `rediss://…`. A lone user part
 * is taken as the password (as redis-cli does). User and password are percent-decoded like the
 * target's (a `%` that starts no escape is literal; the user info ends at the last `@`). A database
 * path is refused: replication carries every database.
 * @throws ConfigError naming the URL (password masked).
 */
export function parseDragonflyUrl(url: string): SourceEndpoint {
  const shown = JSON.stringify(maskUrlPasswords(url));
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`invalid source URL ${shown}: expected redis://[user:password@]host:port`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new ConfigError(`invalid source URL ${shown}: scheme must be redis:// or rediss://`);
  let host = u.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') throw new ConfigError(`invalid source URL ${shown}: no host`);
  const port = u.port === '' ? DEFAULT_PORT : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`invalid source URL ${shown}: bad port`);
  if (u.pathname.replace(/\/+/g, '') !== '') throw new ConfigError(`invalid source URL ${shown}: no database path (replication copies every database)`);
  const ep: SourceEndpoint = { host, port, tls: u.protocol === 'rediss:' };
  const user = decodeUrlPart(u.username);
  const password = decodeUrlPart(u.password);
  if (password !== '') {
    ep.password = password;
    if (user !== '') ep.username = user;
  } else if (user !== '') ep.password = user;
  return ep;
}
