/**
 * The replicator's HTTP endpoint (issue "replicate" §4, issue 11 §1-2): `GET /status` (JSON),
 * `GET /metrics` (Prometheus), `GET /healthz`, and the dashboard `GET /` with its assets.
 * The server only reads snapshot functions; it never touches the pipeline.
 *
 * Security rules, checked in this order on every request:
 * 1. `Host` must name this server by an IP literal, `localhost`, or nothing else: a DNS name
 *    pointing at us (DNS rebinding from a web page) is refused with 421.
 * 2. With a token, every route but a bare `/healthz` needs it, as `Authorization: Bearer <token>`,
 *    `?token=<token>`, or the `HttpOnly; SameSite=Strict` cookie a `?token=` request sets (how the
 *    dashboard's own requests carry it); 401 otherwise.
 * 3. Binding anything but a loopback address without a token is refused at start (ConfigError).
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { isIP, type AddressInfo } from 'node:net';
import path from 'node:path';
import { ConfigError, Df2RedisError } from '../errors.js';

/** A running endpoint. `port` is the bound port (useful when 0 was asked for). */
export interface StatusServer {
  port: number;
  close(): Promise<void>;
}

/** What the endpoint serves and where. */
export interface StatusServerOptions {
  /** TCP port; 0 = any free port. */
  port: number;
  /** Address to listen on. @default '127.0.0.1' */
  bind?: string;
  /** Token asked of every request but `/healthz`; required when `bind` is not a loopback address. */
  token?: string | undefined;
  /** The `/status` document, called per request. */
  status: () => unknown;
  /** The `/metrics` text, called per request; undefined = 404. */
  metrics?: () => Promise<string>;
  /** Content type of {@link metrics}. @default 'text/plain; version=0.0.4; charset=utf-8' */
  metricsContentType?: string;
  /** `/healthz` answers 200 `ok` while true, else 503. @default () => true */
  isHealthy?: () => boolean;
}

/** JSON.stringify that prints bigint values as numbers when safe, else as decimal strings. */
function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => (typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v),
    2,
  );
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(addr: string): boolean {
  return addr === 'localhost' || addr === '::1' || /^127\.\d+\.\d+\.\d+$/.test(addr) || addr === '::ffff:127.0.0.1';
}

/**
 * The host part of a `Host` header (`[::1]:9100` → `::1`, `a.b:80` → `a.b`), lowercased.
 */
function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/**
 * A `Host` a browser sends for a page of ours: an IP literal (the page's origin is then that
 * address, so a foreign page cannot read our answers) or `localhost`. Any other name could be an
 * attacker's domain rebound to our address.
 */
function isAllowedHost(header: string | undefined): boolean {
  if (header === undefined) return false;
  const host = hostOf(header);
  return host === 'localhost' || isIP(host) !== 0;
}

function tokenMatches(given: string | null | undefined, token: string): boolean {
  if (given === null || given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The dashboard's files: ours under `assets/dashboard/`, uPlot from its npm package. */
interface Asset {
  type: string;
  body: Buffer;
}

function loadAssets(): Map<string, Asset> {
  const assetsDir = new URL('../../../assets/dashboard/', import.meta.url);
  const uplotDir = path.dirname(createRequire(import.meta.url).resolve('uplot/package.json'));
  const read = (file: string | URL): Buffer => readFileSync(file);
  return new Map<string, Asset>([
    ['/', { type: 'text/html; charset=utf-8', body: read(new URL('index.html', assetsDir)) }],
    ['/dashboard.js', { type: 'text/javascript; charset=utf-8', body: read(new URL('dashboard.js', assetsDir)) }],
    ['/dashboard.css', { type: 'text/css; charset=utf-8', body: read(new URL('dashboard.css', assetsDir)) }],
    ['/uplot.js', { type: 'text/javascript; charset=utf-8', body: read(path.join(uplotDir, 'dist', 'uPlot.iife.min.js')) }],
    ['/uplot.css', { type: 'text/css; charset=utf-8', body: read(path.join(uplotDir, 'dist', 'uPlot.min.css')) }],
  ]);
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/**
 * Starts the endpoint (see the file comment for the routes and rules).
 * @throws ConfigError (exit 2) when a non-loopback `bind` has no token, or the port is in use or
 *   may not be bound (EADDRINUSE, EACCES), naming the option; Df2RedisError for any other failure.
 */
export function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const bind = options.bind ?? '127.0.0.1';
  const token = options.token === '' ? undefined : options.token;
  const { port } = options;
  if (!isLoopback(bind) && token === undefined) {
    return Promise.reject(
      new ConfigError(
        `--http-bind ${bind} is not a loopback address: set a token with --http-token or DF2REDIS_HTTP_TOKEN, or keep the default 127.0.0.1`,
      ),
    );
  }
  const assets = loadAssets();
  const server = http.createServer((req, res) => {
    const send = (code: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void => {
      res.writeHead(code, { 'content-type': type, ...SECURITY_HEADERS, ...extra });
      res.end(body);
    };
    if (!isAllowedHost(req.headers.host)) {
      send(421, 'text/plain', 'misdirected request: the Host header must be an IP address or localhost\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://local');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'text/plain', 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    if (url.pathname === '/healthz' && url.search === '') {
      const ok = options.isHealthy?.() ?? true;
      send(ok ? 200 : 503, 'text/plain', ok ? 'ok\n' : 'not healthy\n');
      return;
    }
    const extra: Record<string, string> = {};
    if (token !== undefined) {
      const auth = req.headers.authorization;
      const bearer = auth?.startsWith('Bearer ') === true ? auth.slice(7) : undefined;
      const query = url.searchParams.get('token');
      const cookie = /(?:^|;\s*)df2redis_token=([^;]*)/.exec(req.headers.cookie ?? '')?.[1];
      if (!tokenMatches(bearer ?? query ?? (cookie === undefined ? undefined : decodeURIComponent(cookie)), token)) {
        send(401, 'text/plain', 'unauthorized: give the token as "Authorization: Bearer <token>" or ?token=<token>\n', { 'www-authenticate': 'Bearer' });
        return;
      }
      // A page opened with ?token= loads its scripts and data with a same-site cookie instead, so
      // the token is in no URL the page makes (the page drops it from the address bar too).
      if (query !== null) extra['set-cookie'] = `df2redis_token=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
    }
    if (url.pathname === '/status') {
      send(200, 'application/json', toJson(options.status()), extra);
      return;
    }
    if (url.pathname === '/metrics' && options.metrics !== undefined) {
      options.metrics().then(
        (text) => send(200, options.metricsContentType ?? 'text/plain; version=0.0.4; charset=utf-8', text),
        (err: unknown) => send(500, 'text/plain', `metrics failed: ${String(err)}\n`),
      );
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204, SECURITY_HEADERS);
      res.end();
      return;
    }
    const asset = assets.get(url.pathname === '/index.html' ? '/' : url.pathname);
    if (asset !== undefined) {
      send(200, asset.type, asset.body, {
        ...extra,
        // Everything the page loads comes from this server; no inline script.
        'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
      });
      return;
    }
    send(404, 'text/plain', 'not found: try GET /, /status, /metrics or /healthz\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new ConfigError(`--status-port ${port}: ${bind}:${port} is already in use; pick another port, or 0 for any free port`, { cause: err }));
      } else if (err.code === 'EACCES') {
        reject(new ConfigError(`--status-port ${port}: not allowed to listen on ${bind}:${port} (ports below 1024 need privileges); pick another port`, { cause: err }));
      } else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
        reject(new ConfigError(`--http-bind ${bind}: no such local address (${err.code})`, { cause: err }));
      } else reject(new Df2RedisError(`status server cannot listen on ${bind}:${port}: ${err.message}`, { cause: err }));
    });
    server.listen(port, bind, () => {
      const bound = (server.address() as AddressInfo).port;
      resolve({
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
