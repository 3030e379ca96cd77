/**
 * Stopping early is never reported as success (issue 8 §6), through the `df2redis` binary as a user
 * runs it: SIGINT/SIGTERM during `migrate` of a file print the partial summary and exit 130/143,
 * with the target holding exactly the keys the summary counts; on a terminal the progress bar gives
 * the cursor and line wrap back; a stop during the full sync of `replicate` / `migrate --source`
 * exits 143 saying the full sync did not finish.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rdbLength } from '../../src/decode/rdb/dump-payload.js';
import { FakeMaster, rdbSelectDb, rdbString as dfString } from '../helpers/fake-master.js';
import { redisCli, startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const KEYS = 20_000;

const rstr = (s: string | Buffer): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([rdbLength(b.length), b]);
};

/** RDB v9 with {@link KEYS} strings of 1000 bytes (20 MB: more than the writer's in-flight window). */
function bigFile(): Buffer {
  const value = rstr(Buffer.alloc(1000, 'v'));
  const parts: Buffer[] = [Buffer.from('REDIS0009'), Buffer.from([0xfe, 0x00])];
  for (let i = 0; i < KEYS; i++) parts.push(Buffer.from([0x00]), rstr(`key:${i}`), value);
  parts.push(Buffer.from([0xff]), Buffer.alloc(8));
  return Buffer.concat(parts);
}

let dir: string;
let file: string;
let target: RedisServer;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'df2redis-stop-test-'));
  file = path.join(dir, 'big.rdb');
  writeFileSync(file, bigFile());
  target = await startRedisServer();
});
after(async () => {
  await target.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  output: () => { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

function run(command: string, args: string[]): Run {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output: () => ({ stdout, stderr }), exited };
}

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  test(`migrate (file) on ${signal}: in-flight writes finish, the partial summary matches the target, exit ${code}`, { timeout: 90_000 }, async () => {
    await redisCli(target.port, 'FLUSHALL');
    // The target holds every write: the job is certainly in the middle when the signal comes.
    await redisCli(target.port, 'CLIENT', 'PAUSE', '60000', 'WRITE');
    const job = run(process.execPath, [MAIN, 'migrate', '--source', file, '--target', target.url, '--progress', 'log']);
    try {
      await until(() => job.output().stderr.includes('pre-scan done'), 'the copy started');
      job.child.kill(signal);
      await until(() => job.output().stderr.includes('stopping: finishing in-flight writes'), 'the stop acknowledged');
    } finally {
      await redisCli(target.port, 'CLIENT', 'UNPAUSE');
    }
    assert.equal(await job.exited, code, job.output().stderr);
    const { stdout, stderr } = job.output();
    const m = /^migrated (\d+) of 20000 keys/.exec(stdout);
    assert.ok(m, `partial summary on stdout: ${stdout}`);
    const written = Number(m[1]);
    assert.ok(written < KEYS, `stopped before the end (${written} keys)`);
    assert.equal(Number(await redisCli(target.port, 'DBSIZE')), written, 'the summary counts exactly what the target holds');
    assert.match(stderr, new RegExp(`df2redis: stopped by ${signal}: the copy did not finish \\(${file.replace(/[.]/g, '\\.')} read up to byte \\d+\\); ${written} key\\(s\\) were written and acknowledged\\n`));
  });
}

test('migrate (file) with the progress bar on a terminal: Ctrl-C gives the cursor and line wrap back', { timeout: 90_000 }, async () => {
  await redisCli(target.port, 'FLUSHALL');
  await redisCli(target.port, 'CLIENT', 'PAUSE', '60000', 'WRITE');
  // `script` runs the job on a pseudo-terminal and copies what it draws to our stdout.
  const cmd = [process.execPath, MAIN, 'migrate', '--source', file, '--target', target.url, '--progress', 'bar', '--log-level', 'warn'].map((a) => `'${a}'`).join(' ');
  const job = run('script', ['-qfec', cmd, '/dev/null']);
  try {
    await until(() => job.output().stdout.includes('\x1b[?25l'), 'the bar hid the cursor');
    // `script` runs the command through $SHELL, which may or may not exec it: find the df2redis
    // process itself among the descendants (a SIGINT to a waiting shell would never reach it).
    let node: number | undefined;
    await until(async () => (node = await jobPid(job.child.pid!)) !== undefined, 'the job process');
    process.kill(node!, 'SIGINT');
    await until(() => job.output().stdout.includes('stopping: finishing in-flight writes'), 'the stop acknowledged');
  } finally {
    await redisCli(target.port, 'CLIENT', 'UNPAUSE');
  }
  await job.exited;
  const out = job.output().stdout;
  assert.ok(out.lastIndexOf('\x1b[?25h') > out.lastIndexOf('\x1b[?25l'), 'cursor shown again');
  assert.ok(out.includes('\x1b[?7l'), 'the bar turned line wrap off');
  assert.ok(out.lastIndexOf('\x1b[?7h') > out.lastIndexOf('\x1b[?7l'), 'line wrap on again');
  assert.match(out, /df2redis: stopped by SIGINT: the copy did not finish/);
});

/** PID of the df2redis process (command line naming {@link MAIN}) among the descendants of `pid`. */
async function jobPid(pid: number): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises');
  const read = (f: string): Promise<string> => readFile(f, 'utf8').catch(() => '');
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    const args = (await read(`/proc/${p}/cmdline`)).split('\0');
    if (p !== pid && args.includes(MAIN) && args[0] === process.execPath) return p;
    const children = (await read(`/proc/${p}/task/${p}/children`)).trim();
    if (children !== '') queue.push(...children.split(/\s+/).map(Number));
  }
  return undefined;
}

for (const command of ['replicate', 'migrate']) {
  test(`${command} --source <dragonfly> on SIGTERM during the full sync exits 143 saying the full sync did not finish`, { timeout: 60_000 }, async () => {
    await redisCli(target.port, 'FLUSHALL');
    // Flow 0 sends one key and never ends its snapshot.
    const m = await FakeMaster.start({
      numFlows: 2,
      onSync: (master, reply) => {
        for (const f of master.flows) f!.sendHeader();
        master.flows[0]!.write(rdbSelectDb(0), dfString('small', '1'));
        master.flows[1]!.sendFullSyncEnd();
        reply();
      },
    });
    try {
      const job = run(process.execPath, [MAIN, command, '--source', m.url, '--target', target.url, '--progress', 'none']);
      await until(async () => (await redisCli(target.port, 'GET', 'small')).trim() === '1', 'the full sync started');
      job.child.kill('SIGTERM');
      assert.equal(await job.exited, 143, job.output().stderr);
      assert.match(
        job.output().stderr,
        /df2redis: stopped by SIGTERM: the full sync did not finish \(1 of 2 flow snapshot\(s\) received\); the target holds a partial copy; 1 snapshot key\(s\) were written and acknowledged\n/,
      );
    } finally {
      await m.close();
    }
  });
}
