/**
 * A TCP fault proxy for tests: listens on 127.0.0.1, forwards every accepted connection to one
 * upstream address, and causes network faults on a chosen connection at a chosen byte count:
 * - `cut`: both sides are closed (the bytes before the fault are delivered first, then FIN), as
 *   a proxy or NAT that dropped the connection, or a peer process that died;
 * - `stall`: a black hole: nothing more is forwarded in either direction, both sockets stay open
 *   (a half-open peer, a frozen process, a firewall dropping packets);
 * - `half-close`: a FIN toward one side only (the other keeps sending into the proxy, which drops
 *   it), as a peer that shut down its write side.
 * Faults fire exactly at the byte: the bytes up to `afterBytes` of that direction are forwarded,
 * the rest of the chunk is not.
 */
import { EventEmitter, once } from 'node:events';
import net from 'node:net';

/** Which way bytes flow: client → upstream (`up`) or upstream → client (`down`). */
export type ProxyDirection = 'up' | 'down';

/** A fault of {@link FaultProxy.arm}. */
export type ProxyFaultAction = 'cut' | 'stall' | 'half-close';

/** One proxied connection. */
export class ProxyConnection {
  /** 0-based, in accept order. */
  readonly index: number;
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  /** Bytes forwarded client → upstream and upstream → client. */
  readonly forwarded: Record<ProxyDirection, number> = { up: 0, down: 0 };
  /** The fault that fired, if any. */
  fault: ProxyFaultAction | undefined;
  #isStalled = false;

  constructor(index: number, client: net.Socket, upstream: net.Socket) {
    this.index = index;
    this.client = client;
    this.upstream = upstream;
  }

  /** Closes both sides now (after what was already written to them). */
  cut(): void {
    this.fault ??= 'cut';
    this.client.destroySoon();
    this.upstream.destroySoon();
  }

  /** Stops forwarding in both directions; the sockets stay open (nothing is read from them anymore). */
  stall(): void {
    this.fault ??= 'stall';
    this.#isStalled = true;
    this.client.pause();
    this.upstream.pause();
  }

  /** Sends a FIN toward `toward` (`'client'` or `'upstream'`) and drops what arrives from the other side. */
  halfClose(toward: 'client' | 'upstream'): void {
    this.fault ??= 'half-close';
    (toward === 'client' ? this.client : this.upstream).end();
  }

  get isStalled(): boolean {
    return this.#isStalled;
  }
}

/** A fault armed for a future byte count of a connection. */
interface ArmedFault {
  match: (c: ProxyConnection) => boolean;
  direction: ProxyDirection;
  afterBytes: number;
  action: ProxyFaultAction;
  /** For `half-close`: which side gets the FIN. @default the receiver of `direction` */
  toward?: 'client' | 'upstream';
  isUsed: boolean;
}

/** Options of {@link FaultProxy.arm}. */
export interface ArmOptions {
  /** Which connection: its index, or a predicate (checked when the byte count is reached). @default every connection */
  connection?: number | ((c: ProxyConnection) => boolean);
  direction: ProxyDirection;
  /** Bytes of `direction` forwarded before the fault (0 = before the first byte). */
  afterBytes: number;
  action: ProxyFaultAction;
  /** `half-close` only: the side that gets the FIN. */
  toward?: 'client' | 'upstream';
}

/**
 * The proxy. Events: `'connection'` (ProxyConnection), `'fault'` (ProxyConnection, action).
 */
export class FaultProxy extends EventEmitter {
  readonly connections: ProxyConnection[] = [];
  readonly #server: net.Server;
  readonly #upstream: { host: string; port: number };
  readonly #faults: ArmedFault[] = [];

  private constructor(upstream: { host: string; port: number }) {
    super();
    this.#upstream = upstream;
    this.#server = net.createServer((s) => this.#accept(s));
  }

  /** Starts a proxy on 127.0.0.1 (free port) in front of `upstream`. */
  static async start(upstream: { host?: string; port: number }): Promise<FaultProxy> {
    const p = new FaultProxy({ host: upstream.host ?? '127.0.0.1', port: upstream.port });
    p.#server.listen(0, '127.0.0.1');
    await once(p.#server, 'listening');
    return p;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Arms one fault: it fires once, on the first matching connection that reaches the byte count. */
  arm(options: ArmOptions): void {
    const c = options.connection;
    this.#faults.push({
      match: c === undefined ? () => true : typeof c === 'number' ? (x) => x.index === c : c,
      direction: options.direction,
      afterBytes: options.afterBytes,
      action: options.action,
      toward: options.toward,
      isUsed: false,
    });
  }

  /** Resolves with the next connection (or the one with `index` once it exists). */
  async connection(index: number): Promise<ProxyConnection> {
    while (this.connections[index] === undefined) await once(this, 'connection');
    return this.connections[index]!;
  }

  /** Closes the listener and destroys every proxied socket. */
  async close(): Promise<void> {
    for (const c of this.connections) {
      c.client.destroy();
      c.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    const upstream = net.connect(this.#upstream.port, this.#upstream.host);
    const conn = new ProxyConnection(this.connections.length, client, upstream);
    this.connections.push(conn);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      if (conn.fault !== 'stall' && conn.fault !== 'half-close') upstream.destroySoon();
    });
    upstream.on('close', () => {
      if (conn.fault !== 'stall' && conn.fault !== 'half-close') client.destroySoon();
    });
    client.on('end', () => {
      if (conn.fault === undefined) upstream.end();
    });
    upstream.on('end', () => {
      if (conn.fault === undefined) client.end();
    });
    const forward = (direction: ProxyDirection, from: net.Socket, to: net.Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (conn.fault !== undefined) return; // stalled or half-closed: dropped
        const fault = this.#faults.find((f) => !f.isUsed && f.direction === direction && f.match(conn) && conn.forwarded[direction] + chunk.length >= f.afterBytes);
        if (fault === undefined) {
          conn.forwarded[direction] += chunk.length;
          if (!to.write(chunk)) {
            from.pause();
            to.once('drain', () => {
              if (conn.fault === undefined) from.resume();
            });
          }
          return;
        }
        fault.isUsed = true;
        const n = fault.afterBytes - conn.forwarded[direction];
        if (n > 0) {
          to.write(chunk.subarray(0, n));
          conn.forwarded[direction] += n;
        }
        this.#fire(conn, fault, direction);
      });
    };
    forward('up', client, upstream);
    forward('down', upstream, client);
    this.emit('connection', conn);
    for (const f of this.#faults) {
      if (!f.isUsed && f.afterBytes === 0 && f.match(conn)) {
        f.isUsed = true;
        this.#fire(conn, f, f.direction);
      }
    }
  }

  #fire(conn: ProxyConnection, f: ArmedFault, direction: ProxyDirection): void {
    // Let the bytes before the fault leave first (a write is queued, not yet on the wire).
    setImmediate(() => {
      if (f.action === 'cut') conn.cut();
      else if (f.action === 'stall') conn.stall();
      else conn.halfClose(f.toward ?? (direction === 'up' ? 'upstream' : 'client'));
      this.emit('fault', conn, f.action);
    });
    conn.fault = f.action; // drop what follows at once
  }
}
