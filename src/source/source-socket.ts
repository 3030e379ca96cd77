/**
 * Opening a connection to the source (TCP or TLS) and encoding the commands a replica sends.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ConnectionError } from '../errors.js';
import type { SourceEndpoint } from './dragonfly-url.js';

/** Options for source connections. */
export interface SourceSocketOptions {
  /** Accept any TLS certificate (self-signed masters). @default false */
  tlsInsecure?: boolean;
  /** PEM CA certificate(s) to trust instead of Node's default store (`rediss://` only). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** PEM client certificate chain for mutual TLS (`rediss://` only; with {@link SourceSocketOptions.key}). */
  cert?: string | Buffer;
  /** PEM private key of {@link SourceSocketOptions.cert}. */
  key?: string | Buffer;
  /** Give up connecting after this long. @default 10_000 */
  connectTimeoutMs?: number;
}

/**
 * Idle time before the first TCP keepalive probe on source sockets: 15 s (the Dragonfly replica
 * uses 300 s). Node sets only this delay (`setKeepAlive`); the probe interval and count are the
 * kernel's (Linux `net.ipv4.tcp_keepalive_intvl` 75 s × `tcp_keepalive_probes` 9), which cannot be
 * set portably from Node, so keepalive alone notices a dead peer only after minutes. What notices a
 * half-open or frozen master quickly is the session's liveness `PING` on the main connection
 * (every 10 s in stable sync, answered within `--source-timeout`) and the full-sync watchdog.
 */
export const SOURCE_KEEPALIVE_DELAY_MS = 15_000;

/**
 * Opens a TCP (or TLS for `rediss://`) connection with TCP keepalive after
 * {@link SOURCE_KEEPALIVE_DELAY_MS} of idleness (the master sends no heartbeats, reference §5.2)
 * and Nagle off.
 * @param role names the connection in errors (`main`, `flow 2`).
 * @throws ConnectionError on refusal, TLS failure or timeout.
 */
export function openSourceSocket(ep: SourceEndpoint, role: string, options: SourceSocketOptions = {}): Promise<net.Socket> {
  const peer = `${ep.host}:${ep.port}`;
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket: net.Socket = ep.tls
      ? tls.connect({
          host: ep.host,
          port: ep.port,
          servername: net.isIP(ep.host) ? undefined : ep.host,
          rejectUnauthorized: !options.tlsInsecure,
          ca: options.ca,
          cert: options.cert,
          key: options.key,
        })
      : net.connect({ host: ep.host, port: ep.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectionError(`source ${role}`, peer, `no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(new ConnectionError(`source ${role}`, peer, err.message, { cause: err }));
    };
    socket.once('error', onError);
    socket.once(ep.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, SOURCE_KEEPALIVE_DELAY_MS);
      resolve(socket);
    });
  });
}

/**
 * Encodes one command the way the Dragonfly replica does: inline text `a b c\r\n`
 * (`ProtocolClient::SerializeCommand`), so the bytes equal the recorded replica's. Arguments that
 * inline text cannot carry (empty, whitespace, quotes, control bytes — e.g. a password with a
 * space) switch that command to a RESP multibulk, which the master accepts equally.
 */
export function encodeCommand(args: ReadonlyArray<string>): Buffer {
  // eslint-disable-next-line no-control-regex
  if (args.every((a) => a.length > 0 && !/[\s"'\\\x00-\x1f\x7f]/.test(a))) return Buffer.from(`${args.join(' ')}\r\n`);
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  return Buffer.from(parts.join(''));
}
