/**
 * The HTTP endpoint's options (`/status`, `/metrics`, `/healthz`, the dashboard), shared by
 * `replicate` and `migrate --source redis://…`.
 */
import type { Command } from 'commander';
import { ConfigError } from '../errors.js';

/** Environment variable read for the token when `--http-token` is not given. */
export const HTTP_TOKEN_ENV = 'DF2REDIS_HTTP_TOKEN';

/** Parses `--status-port`: an integer 0–65535, or undefined when absent. @throws ConfigError */
export function parseStatusPort(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`--status-port must be a port number (0-65535), got ${String(raw)}`);
  return n;
}

/** Adds `--status-port`, `--http-bind` and `--http-token` to `cmd`. */
export function addHttpOptions(cmd: Command): Command {
  return cmd
    .option('--status-port <port>', 'serve the dashboard (GET /), /status (JSON), /metrics (Prometheus) and /healthz on this port; 0 = any free port (default: off)')
    .option('--http-bind <address>', 'address the HTTP endpoint listens on; anything but loopback needs a token', '127.0.0.1')
    .option('--http-token <token>', `token asked of every HTTP request but /healthz (Bearer header or ?token=); default: $${HTTP_TOKEN_ENV}`);
}

/**
 * The HTTP options from commander's record; the token falls back to `$DF2REDIS_HTTP_TOKEN`.
 * @throws ConfigError for a bad port, or `--http-bind`/`--http-token` without `--status-port`.
 */
export function httpOptionsFrom(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): {
  statusPort: number | undefined;
  httpBind: string;
  httpToken: string | undefined;
} {
  const statusPort = parseStatusPort(raw.statusPort);
  const httpBind = typeof raw.httpBind === 'string' && raw.httpBind !== '' ? raw.httpBind : '127.0.0.1';
  const fromFlag = typeof raw.httpToken === 'string' && raw.httpToken !== '' ? raw.httpToken : undefined;
  const fromEnv = env[HTTP_TOKEN_ENV];
  const httpToken = fromFlag ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined);
  // A token alone (e.g. DF2REDIS_HTTP_TOKEN left in the environment, or a config file shared by
  // several jobs) configures nothing without an endpoint and is ignored; a bind address is a mistake.
  if (statusPort === undefined && httpBind !== '127.0.0.1') {
    throw new ConfigError('--http-bind configures the HTTP endpoint: give --status-port too');
  }
  return { statusPort, httpBind, httpToken };
}
