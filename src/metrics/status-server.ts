/**
 * `GET /status` over HTTP on 127.0.0.1: the replicator's state as JSON (issue "replicate" §4).
 * The server only reads a snapshot function; it never touches the pipeline.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, Df2RedisError } from '../errors.js';

/** A running status endpoint. `port` is the bound port (useful when 0 was asked for). */
export interface StatusServer {
  port: number;
  close(): Promise<void>;
}

/** JSON.stringify that prints bigint values as numbers when safe, else as decimal strings. */
function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => (typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v),
    2,
  );
}

/**
 * Starts the endpoint on `127.0.0.1:port` (0 = any free port). `snapshot` is called per request.
 * @throws ConfigError (exit 2) when the port is in use or may not be bound (EADDRINUSE, EACCES),
 *   naming `--status-port`; Df2RedisError for any other listen failure.
 */
export function startStatusServer(port: number, snapshot: () => unknown): Promise<StatusServer> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && (url === '/status' || url.startsWith('/status?'))) {
      const body = toJson(snapshot());
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: try GET /status\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new ConfigError(`--status-port ${port}: 127.0.0.1:${port} is already in use; pick another port, or 0 for any free port`, { cause: err }));
      } else if (err.code === 'EACCES') {
        reject(new ConfigError(`--status-port ${port}: not allowed to listen on 127.0.0.1:${port} (ports below 1024 need privileges); pick another port`, { cause: err }));
      } else reject(new Df2RedisError(`status server cannot listen on 127.0.0.1:${port}: ${err.message}`, { cause: err }));
    });
    server.listen(port, '127.0.0.1', () => {
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
