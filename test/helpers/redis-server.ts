/**
 * Real `redis-server` processes for tests and benchmarks: standalone servers and small clusters on
 * free ports of 127.0.0.1, each in its own temporary directory, stopped by PID. Every server started
 * here is tracked and killed when the Node process exits, so a failing test never leaves one behind.
 *
 * Needs `redis-server` and `redis-cli` (Debian package `redis-server`, 7.0) on PATH, or set
 * `REDIS_SERVER` / `REDIS_CLI` to their paths.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type net from 'node:net';
import { freePort, ping } from '../../src/cli/local-redis-server.js';

export { freePort };

/** One running `redis-server`. */
export interface RedisServer {
  host: '127.0.0.1';
  port: number;
  pid: number;
  /** Its working directory (`--dir`): `dump.rdb`, `nodes.conf`. Removed by `stop()`. */
  dir: string;
  /** `redis://127.0.0.1:<port>` */
  url: string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone and `dir` is removed. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startRedisServer}. */
export interface StartRedisServerOptions {
  /** Extra raw command-line arguments, appended last. */
  args?: string[];
  /** Config directives passed as `--<name> <value>` (e.g. `{ 'hash-max-listpack-entries': '0' }`). */
  config?: Record<string, string>;
}

/** A running cluster of real servers, formed with `redis-cli --cluster create`. */
export interface RedisCluster {
  /** Masters first (by `ROLE`), then replicas. */
  nodes: RedisServer[];
  /** `redis://127.0.0.1:<port of the first master>` */
  seedUrl: string;
  stop(): Promise<void>;
}

const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';
const REDIS_CLI = process.env.REDIS_CLI ?? 'redis-cli';
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const MAX_START_ATTEMPTS = 5;

interface Tracked {
  child: ChildProcess;
  dir: string;
}
/** Servers started and not yet stopped, by PID: killed synchronously on process exit. */
const live = new Map<number, Tracked>();
let isExitHookInstalled = false;

function installExitHook(): void {
  if (isExitHookInstalled) return;
  isExitHookInstalled = true;
  process.on('exit', killAllSync);
  // A test runner cancelling the file sends SIGTERM/SIGINT: clean up, then die of the same signal.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAllSync();
      process.kill(process.pid, signal);
    });
  }
}

function killAllSync(): void {
  for (const [pid, t] of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(t.dir, { recursive: true, force: true });
  }
  live.clear();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class AddressInUse extends Error {}

async function startOnce(port: number, opts: StartRedisServerOptions): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'df2redis-redis-'));
  const argv = [
    '--bind', '127.0.0.1',
    '--port', String(port),
    '--save', '',
    '--appendonly', 'no',
    '--dir', dir,
    '--daemonize', 'no',
  ];
  for (const [name, value] of Object.entries(opts.config ?? {})) argv.push(`--${name}`, value);
  argv.push(...(opts.args ?? []));

  const child = spawn(REDIS_SERVER, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  // The server must not keep a test process alive: the exit hook kills what a test forgot.
  child.unref();
  let output = '';
  const keep = (d: Buffer): void => {
    output = (output + d.toString('utf8')).slice(-8192);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  (child.stdout as unknown as net.Socket).unref?.();
  (child.stderr as unknown as net.Socket).unref?.();

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const pid = child.pid;
  if (pid === undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw await spawnError;
  }
  installExitHook();
  live.set(pid, { child, dir });

  let isStopped = false;
  const stop = async (): Promise<void> => {
    if (isStopped) return;
    isStopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exitPromise;
      clearTimeout(timer);
    }
    live.delete(pid);
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      await stop();
      if (/address already in use/i.test(output)) throw new AddressInUse(output);
      throw new Error(`redis-server on port ${port} exited (code ${exited.code}, signal ${exited.signal}):\n${output}`);
    }
    if (await ping(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms:\n${output}`);
    }
    await sleep(20);
  }
  return { host: '127.0.0.1', port, pid, dir, url: `redis://127.0.0.1:${port}`, stop };
}

/**
 * Starts `redis-server --bind 127.0.0.1 --port <free> --save '' --appendonly no --dir <tmp>
 * --daemonize no [config…] [args…]` and resolves once it answers PING. Retries with another port
 * when the chosen one was taken meanwhile (EADDRINUSE). `config` values may contain `{port}`, replaced
 * with a second free port (used for `cluster-port`).
 * @throws Error with the server's output if it exits or does not answer within 15 s.
 */
export async function startRedisServer(opts: StartRedisServerOptions = {}): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    let config = opts.config;
    if (config && Object.values(config).some((v) => v.includes('{port}'))) {
      const extra = await freePort();
      config = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.replaceAll('{port}', String(extra))]));
    }
    try {
      return await startOnce(port, { ...opts, config });
    } catch (err) {
      if (err instanceof AddressInUse && attempt < MAX_START_ATTEMPTS) continue;
      throw err;
    }
  }
}

/**
 * Runs `redis-cli -h 127.0.0.1 -p <port> <args…>` and resolves with its stdout (raw, not trimmed).
 * `input`, if given, is written to its stdin (e.g. with `--pipe`).
 * @throws Error with stderr when redis-cli exits non-zero.
 */
export function redisCliWithInput(port: number, input: string | Buffer | undefined, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      REDIS_CLI,
      ['-h', '127.0.0.1', '-p', String(port), ...args],
      { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`redis-cli -p ${port} ${args.join(' ')} failed: ${err.message}\n${stderr}${stdout}`));
        else resolve(stdout);
      },
    );
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

/**
 * Runs `redis-cli -h 127.0.0.1 -p <port> <args…>` and resolves with its stdout (raw, not trimmed).
 * Note that redis-cli exits 0 on error replies (it prints `ERR …`): check the text when it matters.
 * @throws Error with stderr when redis-cli exits non-zero.
 */
export function redisCli(port: number, ...args: string[]): Promise<string> {
  return redisCliWithInput(port, undefined, ...args);
}

/** Options of {@link startCluster}. */
export interface StartClusterOptions {
  /** @default 3 */
  masters?: number;
  /** @default 0 */
  replicasPerMaster?: number;
  /** `cluster-node-timeout` of every node, in ms: how long a node may be unreachable before it is
   *  flagged failed (and, for a master, its replicas may fail over). @default 5000 */
  nodeTimeoutMs?: number;
  /** Extra config directives for every node, applied after (so able to override) the cluster ones,
   *  e.g. `{ 'repl-diskless-sync-delay': '0' }` so replicas sync at once instead of after 5 s. */
  config?: Record<string, string>;
}

/**
 * Starts `masters × (1 + replicasPerMaster)` servers with `--cluster-enabled yes` (bus on a second
 * free port via `cluster-port`, since `port + 10000` may exceed 65535 for ephemeral ports), forms
 * them with `redis-cli --cluster create … --cluster-replicas R --cluster-yes`, and resolves once
 * `CLUSTER INFO` reports `cluster_state:ok` on every node (30 s limit). Replicas may still be doing
 * their initial sync then (Redis 7.0 waits `repl-diskless-sync-delay`, 5 s, before starting it).
 * @throws Error (after stopping every node) if the cluster does not form.
 */
export async function startCluster(opts: StartClusterOptions = {}): Promise<RedisCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 0;
  const nodeTimeoutMs = opts.nodeTimeoutMs ?? 5000;
  if (!Number.isInteger(nodeTimeoutMs) || nodeTimeoutMs <= 0) throw new Error(`nodeTimeoutMs must be a positive integer, got ${nodeTimeoutMs}`);
  const nodes: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    const started = await Promise.allSettled(
      Array.from({ length: masters * (1 + replicas) }, () =>
        startRedisServer({
          config: {
            'cluster-enabled': 'yes',
            'cluster-config-file': 'nodes.conf',
            'cluster-port': '{port}',
            'cluster-node-timeout': String(nodeTimeoutMs),
            ...opts.config,
          },
        }),
      ),
    );
    for (const r of started) if (r.status === 'fulfilled') nodes.push(r.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const out = await redisCli(
      nodes[0]!.port,
      '--cluster', 'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas', String(replicas),
      '--cluster-yes',
    );
    if (!out.includes('[OK] All 16384 slots covered')) throw new Error(`redis-cli --cluster create failed:\n${out}`);
    const deadline = Date.now() + 30_000;
    for (const n of nodes) {
      for (;;) {
        const info = await redisCli(n.port, 'CLUSTER', 'INFO');
        if (info.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`cluster node ${n.port} not ok after 30 s:\n${info}`);
        await sleep(50);
      }
    }
    const roles = await Promise.all(nodes.map(async (n) => (await redisCli(n.port, 'ROLE')).split('\n')[0]!.trim()));
    const ordered = [...nodes.filter((_, i) => roles[i] === 'master'), ...nodes.filter((_, i) => roles[i] !== 'master')];
    return { nodes: ordered, seedUrl: ordered[0]!.url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
