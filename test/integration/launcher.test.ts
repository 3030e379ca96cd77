/**
 * The package's bin (bin/df2redis, a POSIX sh launcher) run as npm installs it, through a symlink
 * in `node_modules/.bin`: arguments, exit codes and signals reach node unchanged (the shell
 * `exec`s it: same process), and its memory defaults apply only where the user set nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'df2redis');
/** What the bin runs: the bundle `npm run build` makes (scripts/bundle.ts). */
const MAIN = path.join(ROOT, 'dist', 'bundle', 'cli', 'main.js');

/** `node_modules/.bin/df2redis` in a fresh directory: a relative symlink to the bin, as npm makes it. */
function installedBin(): { bin: string; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'df2redis-bin-'));
  const binDir = path.join(dir, 'node_modules', '.bin');
  mkdirSync(binDir, { recursive: true });
  const bin = path.join(binDir, 'df2redis');
  symlinkSync(path.relative(binDir, BIN), bin);
  return { bin, dir };
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the bin, through a node_modules/.bin symlink, passes arguments and exit codes through', async () => {
  const { bin, dir } = installedBin();
  try {
    const version = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;
    const ok = await run(bin, ['--version']);
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout.trim(), version);
    const missing = path.join(dir, 'no such dump.rdb'); // a space inside one argument stays one argument
    const bad = await run(bin, ['migrate', '--source', missing, '--target', 'redis://127.0.0.1:1', '--progress', 'none']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.ok(bad.stderr.includes(missing), bad.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Starts the bin with `replicate` against a source that accepts and never answers (the run waits
 * in its handshake), and returns node's command line and environment as /proc shows them for the
 * bin's own PID, then its exit after SIGTERM (a second one if the first did not end it in 500 ms).
 */
async function runningReplicate(
  env: NodeJS.ProcessEnv,
): Promise<{ argv: string[]; environ: Map<string, string>; libraries: string[]; code: number | null; signal: NodeJS.Signals | null }> {
  const sockets = new Set<Socket>();
  const silent = createServer((s) => sockets.add(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const url = `redis://127.0.0.1:${(silent.address() as { port: number }).port}`;
  const { bin, dir } = installedBin();
  try {
    const child = spawn(bin, ['replicate', '--source', url, '--target', url, '--progress', 'none', '--log-level', 'silent'], { stdio: 'ignore', env });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    await until(() => sockets.size > 0, 'the CLI connected', 10_000);
    const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
    const environ = new Map(
      readFileSync(`/proc/${child.pid}/environ`, 'utf8')
        .split('\0')
        .filter((kv) => kv.includes('='))
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]),
    );
    // The shared libraries mapped into the process (jemalloc when the bin preloaded it).
    const libraries = [
      ...new Set(
        readFileSync(`/proc/${child.pid}/maps`, 'utf8')
          .split('\n')
          .map((l) => l.split(/\s+/)[5] ?? '')
          .filter((f) => f.includes('.so')),
      ),
    ];
    // The first SIGTERM asks for a clean stop (the handshake waits for its timeout), the second exits at once.
    child.kill('SIGTERM');
    const early = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(r, 500))]);
    if (early === undefined) child.kill('SIGTERM');
    return { argv, environ, libraries, ...(await exited) };
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the bin execs node with its V8 default (same PID), keeps what the user set, and passes SIGTERM through', { timeout: 30_000 }, async () => {
  const { NODE_OPTIONS: _, ...clean } = process.env;
  const byDefault = await runningReplicate(clean);
  assert.equal(path.basename(byDefault.argv[0]!), 'node', `the bin's PID runs node: ${byDefault.argv.join(' ')}`);
  assert.deepEqual(byDefault.argv.slice(1, 4), ['--max-semi-space-size=8', MAIN, 'replicate']);
  // Stopped by SIGTERM before its full sync: 143 (README exit codes), from node itself.
  assert.deepEqual([byDefault.code, byDefault.signal], [143, null]);

  const overridden = await runningReplicate({ ...clean, NODE_OPTIONS: '--max-semi-space-size=4', DF2REDIS_TEST_MARK: 'kept' });
  assert.deepEqual(overridden.argv.slice(1, 3), [MAIN, 'replicate'], 'no launcher default over the user\'s NODE_OPTIONS');
  assert.equal(overridden.environ.get('NODE_OPTIONS'), '--max-semi-space-size=4');
  assert.equal(overridden.environ.get('DF2REDIS_TEST_MARK'), 'kept');
  assert.deepEqual([overridden.code, overridden.signal], [143, null]);
});

test('the bin runs the bundle when the tree has one, else the modules tsc compiled', async () => {
  // A package tree of its own: the bin, and a main.js that says which one ran.
  const root = mkdtempSync(path.join(tmpdir(), 'df2redis-tree-'));
  try {
    mkdirSync(path.join(root, 'bin'));
    copyFileSync(BIN, path.join(root, 'bin', 'df2redis'));
    const main = (dir: string, said: string): void => {
      mkdirSync(path.join(root, dir), { recursive: true });
      writeFileSync(path.join(root, dir, 'main.js'), `process.stdout.write(${JSON.stringify(said)} + ' ' + process.argv.slice(2).join(' '));`);
    };
    main('dist/src/cli', 'modules');
    assert.equal((await run(path.join(root, 'bin', 'df2redis'), ['migrate', '--help'])).stdout, 'modules migrate --help');
    main('dist/bundle/cli', 'bundle');
    assert.equal((await run(path.join(root, 'bin', 'df2redis'), ['migrate', '--help'])).stdout, 'bundle migrate --help');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** Where the bin looks for jemalloc, in its order (bin/df2redis). */
const JEMALLOC_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
  '/usr/local/lib/libjemalloc.so.2',
];

test('the bin preloads jemalloc when installed (freed pages given back within a second), unless LD_PRELOAD is set or DF2REDIS_ALLOCATOR=glibc', { timeout: 30_000 }, async () => {
  const { NODE_OPTIONS: _o, LD_PRELOAD: _l, MALLOC_CONF: _m, DF2REDIS_ALLOCATOR: _a, ...clean } = process.env;
  const installed = JEMALLOC_PATHS.find((p) => existsSync(p));
  const hasJemalloc = (libs: string[]): boolean => libs.some((l) => path.basename(l).startsWith('libjemalloc'));

  const byDefault = await runningReplicate(clean);
  if (installed === undefined) {
    // Nothing to preload on this machine: glibc's malloc, no variable set.
    assert.equal(byDefault.environ.get('LD_PRELOAD'), undefined);
    assert.equal(hasJemalloc(byDefault.libraries), false);
  } else {
    assert.equal(byDefault.environ.get('LD_PRELOAD'), installed);
    assert.equal(byDefault.environ.get('MALLOC_CONF'), 'background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0');
    assert.ok(hasJemalloc(byDefault.libraries), `jemalloc mapped: ${byDefault.libraries.join(' ')}`);
    // The user's own MALLOC_CONF is kept.
    const tuned = await runningReplicate({ ...clean, MALLOC_CONF: 'narenas:2' });
    assert.equal(tuned.environ.get('MALLOC_CONF'), 'narenas:2');
    assert.ok(hasJemalloc(tuned.libraries));
  }
  assert.deepEqual([byDefault.code, byDefault.signal], [143, null]);

  const glibc = await runningReplicate({ ...clean, DF2REDIS_ALLOCATOR: 'glibc' });
  assert.equal(glibc.environ.get('LD_PRELOAD'), undefined);
  assert.equal(glibc.environ.get('MALLOC_CONF'), undefined);
  assert.equal(hasJemalloc(glibc.libraries), false, glibc.libraries.join(' '));
  // A preload of the user's own is left alone (here: an empty LD_PRELOAD, which loads nothing).
  const own = await runningReplicate({ ...clean, LD_PRELOAD: ' ' });
  assert.equal(own.environ.get('LD_PRELOAD'), ' ');
  assert.equal(hasJemalloc(own.libraries), false);
});
