/**
 * A throw-away `redis-server` for `df2redis demo`: 127.0.0.1 only, a free port, a temporary
 * directory, no persistence; stopped by PID (SIGTERM, then SIGKILL after 5 s) and its directory
 * removed. Product code: it must not depend on the test harness.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Df2RedisError } from '../errors.js';

/** A running local server. */
export interface LocalRedisServer {
  port: number;
  pid: number;
  /** `redis://127.0.0.1:<port>` */
  url: string;
  /** Stops the process and removes its directory; idempotent. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * Starts `redisServer` (a path or a name on PATH) and resolves once it answers PING.
 * @throws Df2RedisError when it cannot be started (not installed, exits, no answer within 10 s).
 */
export async function startLocalRedisServer(redisServer: string): Promise<LocalRedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'df2redis-demo-'));
  const child = spawn(
    redisServer,
    ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-4096)));
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = `code ${code}, signal ${signal}`;
      resolve();
    });
    child.once('error', (err) => {
      exit = err.message;
      resolve();
    });
  });
  // If df2redis exits early or is killed (Ctrl-C, SIGTERM), do not leave the server behind.
  const killOnExit = (): void => {
    if (exit === undefined) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const killOnSignal = (signal: NodeJS.Signals): void => {
    killOnExit();
    removeHooks();
    process.kill(process.pid, signal); // die of the same signal, as without the hook
  };
  const removeHooks = (): void => {
    process.off('exit', killOnExit);
    process.off('SIGINT', killOnSignal);
    process.off('SIGTERM', killOnSignal);
  };
  process.once('exit', killOnExit);
  process.once('SIGINT', killOnSignal);
  process.once('SIGTERM', killOnSignal);

  let isStopped = false;
  const stop = async (): Promise<void> => {
    if (isStopped) return;
    isStopped = true;
    if (exit === undefined && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    removeHooks();
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await ping(port))) {
    if (exit !== undefined || Date.now() > deadline) {
      await stop();
      throw new Df2RedisError(
        `demo: could not start ${redisServer} on 127.0.0.1:${port} (${exit ?? 'no answer to PING'})` +
          (stderr ? `:\n${stderr.trim()}` : '') +
          '\ninstall redis-server (Debian/Ubuntu: apt-get install redis-server) or pass --redis-server <path>',
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { port, pid: child.pid!, url: `redis://127.0.0.1:${port}`, stop };
}

/** A port free on 127.0.0.1 a moment ago (bind port 0, read it, release it); another process may take it first. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Inline PING to 127.0.0.1:port; true on `+PONG`, false on refusal, `-LOADING`, or no answer within 1 s. */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      reply += d.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
