/**
 * `df2redis status` against a real `df2redis replicate` (fake master, redis-server target): the
 * one-screen view, `--json`, `--watch`, the token, and the exit codes 0 / 2 / 4 / 5 (issue 11 §3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FakeMaster, type FakeFlow, journalCommand } from '../helpers/fake-master.js';
import { freePort, redisCli, startRedisServer } from '../helpers/redis-server.js';
import { until } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function df2redis(args: string[], env: NodeJS.ProcessEnv = {}): { child: ReturnType<typeof spawn>; done: Promise<Run> } {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DF2REDIS_HTTP_TOKEN: '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

test('df2redis status: one screen of a running replicate, --json, --watch, token, and exit codes 0/2/4/5', { timeout: 60_000 }, async () => {
  const master = await FakeMaster.start({ numFlows: 2 });
  const target = await startRedisServer();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const token = 'status-test-token';
  const replicate = df2redis(
    ['replicate', '--source', master.url, '--target', target.url, '--status-port', String(port), '--progress', 'none', '--log-level', 'silent'],
    { DF2REDIS_HTTP_TOKEN: token },
  );
  try {
    await master.waitFor('startstable', () => true, 20_000);
    await until(async () => {
      const r = await fetch(`${url}/status`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
      const s = r?.status === 200 ? ((await r.json()) as { flows: Array<{ phase: string }> }) : undefined;
      return s !== undefined && s.flows.length === 2 && s.flows.every((f) => f.phase === 'stable-sync');
    }, 'replicate in stable sync');
    const [f0, f1] = master.flows as FakeFlow[];
    f0!.write(journalCommand(['SET', 'a', '1']), journalCommand(['SET', 'b', '2']));
    f1!.write(journalCommand(['SET', 'c', '3']));

    // The token the replicator was started with ($DF2REDIS_HTTP_TOKEN) is needed: exit 2 without it.
    const noToken = await df2redis(['status', '--url', url]).done;
    assert.equal(noToken.code, 2, noToken.stderr);
    assert.match(noToken.stderr, /asks for a token: give --http-token or set DF2REDIS_HTTP_TOKEN/);

    const screen = await df2redis(['status', '--url', url, '--http-token', token]).done;
    assert.equal(screen.code, 0, screen.stderr);
    assert.match(screen.stdout, new RegExp(`^df2redis at ${url}: stable-sync, up `));
    assert.match(screen.stdout, /\napplied [\d,]+ records, 0 snapshot keys; [\d,]+ records\/s/);
    assert.match(screen.stdout, /\nlag: [\d,]+ records, oldest unacknowledged [\d,]+ ms/);
    assert.match(screen.stdout, /\nflow +phase +applied lsn +received lsn +master lsn/);
    assert.match(screen.stdout, /\n0 +stable-sync /);
    assert.match(screen.stdout, /\n1 +stable-sync /);
    assert.match(screen.stdout, new RegExp(`\\ntarget: standalone 127\\.0\\.0\\.1:${target.port}; `));
    assert.match(screen.stdout, /\nerror replies: none\n/);
    assert.ok(!screen.stdout.includes(token));
    assert.ok(screen.stdout.split('\n').length < 25, 'one screen');

    const json = await df2redis(['status', '--url', url, '--json'], { DF2REDIS_HTTP_TOKEN: token }).done;
    const doc = JSON.parse(json.stdout) as { phase: string; flows: unknown[] };
    assert.equal(doc.phase, 'stable-sync');
    assert.equal(doc.flows.length, 2);

    // --watch redraws until the replicator is no longer healthy: the target holds its writes, so a
    // SIGTERM leaves the replicator in phase 'stopped' while it waits for them (exit 5).
    const watch = df2redis(['status', '--url', url, '--watch'], { DF2REDIS_HTTP_TOKEN: token });
    let watchOut = '';
    watch.child.stdout!.on('data', (d: Buffer) => (watchOut += d.toString()));
    await until(() => watchOut.split('df2redis at ').length >= 3, 'two frames of --watch');
    await redisCli(target.port, 'CLIENT', 'PAUSE', '60000', 'WRITE');
    f0!.write(journalCommand(['SET', 'held', '1']));
    replicate.child.kill('SIGTERM');
    const watched = await watch.done;
    assert.equal(watched.code, 5, watched.stderr);
    assert.match(watched.stderr, new RegExp(`the replicator at ${url} is not healthy: phase stopped`));
    const stopping = await df2redis(['status', '--url', url], { DF2REDIS_HTTP_TOKEN: token }).done;
    assert.equal(stopping.code, 5, stopping.stderr);
    assert.match(stopping.stdout, /: stopped, up /, 'the screen is printed before the exit code');

    await redisCli(target.port, 'CLIENT', 'UNPAUSE');
    const r = await replicate.done;
    assert.equal(r.code, 0, r.stderr);
    const gone = await df2redis(['status', '--url', url], { DF2REDIS_HTTP_TOKEN: token }).done;
    assert.equal(gone.code, 4, gone.stderr);
    assert.equal(gone.stderr, `df2redis: no replicator answers at ${url}: ECONNREFUSED\n`);
  } finally {
    replicate.child.kill('SIGKILL');
    await redisCli(target.port, 'CLIENT', 'UNPAUSE').catch(() => undefined);
    await master.close();
    await target.stop();
  }
});
