/**
 * Log output (`--log-format json|pretty|auto`, rounded numbers, progress kept at `--log-level
 * warn`) and the end of every command's `--help` (examples, exit codes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { roundForLog } from '../../src/cli/logger.js';
import { createProgressReporter } from '../../src/progress/progress-reporter.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { until } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const DEMO_RDB = fileURLToPath(new URL('../../../assets/demo.rdb', import.meta.url));

function df2redis(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [MAIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

test('logs: JSON lines off a terminal (auto and json), readable lines with --log-format pretty, numbers rounded', async () => {
  const target = await startRedisServer();
  try {
    for (const format of ['auto', 'json'] as const) {
      const r = await df2redis('migrate', '--source', DEMO_RDB, '--target', target.url, '--progress', 'none', '--log-format', format);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const done = lines.find((l) => l.msg === 'migrate done');
      assert.ok(done, r.stderr);
      const rate = done.keysPerSec as number;
      // At most 3 significant digits: 192.4567 → 192, 12.3456 → 12.3.
      assert.equal(rate, roundForLog(rate));
      assert.ok(String(rate).replace(/^0\.0*|\./g, '').length <= 3 || Number.isInteger(rate), `keysPerSec ${rate}`);
    }
    const r = await df2redis('migrate', '--source', DEMO_RDB, '--target', target.url, '--progress', 'none', '--log-format', 'pretty', '--on-existing', 'replace');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.ok(lines.length >= 2);
    for (const l of lines) {
      assert.match(l, /^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN): [a-z]/, l);
      assert.ok(!l.includes('\x1b['), 'no colours off a terminal');
    }
    assert.ok(lines.some((l) => /INFO: migrate done .*"keys":20/.test(l)), r.stderr);
  } finally {
    await target.stop();
  }
});

test('roundForLog: integers kept, others to 3 significant digits (at most 3 decimals)', () => {
  assert.deepEqual(
    [1234.5678, 192.4567, 12.3456, 1.23456, 0.012345, 0.0001234, 42, -7.891].map(roundForLog),
    [1235, 192, 12.3, 1.23, 0.012, 0, 42, -7.89],
  );
});

test('progress lines are not hidden by --log-level warn (log mode), only by silent', async () => {
  const capture = (level: pino.Level | 'silent'): { logger: pino.Logger; lines: string[] } => {
    const lines: string[] = [];
    const stream = new Writable({ write: (chunk: Buffer, _enc, cb) => void (lines.push(chunk.toString()), cb()) });
    return { logger: pino({ level }, stream), lines };
  };
  const warn = capture('warn');
  warn.logger.info('hidden info');
  const reporter = createProgressReporter('log', { logger: warn.logger, logIntervalMs: 10 });
  reporter.start({ totalBytes: 100, totalKeys: 10 }, () => ({ bytesRead: 50, keysWritten: 5 }));
  await until(() => warn.lines.length > 0, 'a progress line');
  reporter.stop();
  assert.ok(warn.lines.every((l) => JSON.parse(l).msg === 'progress'), warn.lines.join(''));
  assert.equal(JSON.parse(warn.lines[0]!).keys, 5);

  const silent = capture('silent');
  const quiet = createProgressReporter('log', { logger: silent.logger, logIntervalMs: 10 });
  quiet.start({ totalBytes: 100, totalKeys: 10 }, () => ({ bytesRead: 50, keysWritten: 5 }));
  const other = createProgressReporter('log', { logger: warn.logger, logIntervalMs: 10 });
  const before = warn.lines.length;
  other.start({ totalBytes: 100, totalKeys: 10 }, () => ({ bytesRead: 60, keysWritten: 6 }));
  await until(() => warn.lines.length > before + 1, 'two more progress lines');
  other.stop();
  quiet.stop();
  assert.deepEqual(silent.lines, []);
});

test('--help of every command ends with real examples and the exit codes', async () => {
  const jobCodes = ['0', '1', '2', '3', '130, 143', '70'];
  // The commands that are not copy jobs have exit codes of their own.
  const commands: ReadonlyArray<readonly [string, readonly string[]]> = [
    ...['replicate', 'migrate', 'demo', 'config'].map((c) => [c, jobCodes] as const),
    ['check', ['0', '1', '2', '70']],
    ['cutover', ['0', '1', '2', '70']],
    ['status', ['0', '2', '4', '5', '70']],
    ['reset', ['0', '1', '2', '70']],
  ];
  for (const [command, exitCodes] of commands) {
    const r = await df2redis(command, '--help');
    assert.equal(r.code, 0, r.stderr);
    const examples = r.stdout.indexOf('\nExamples:\n');
    const codes = r.stdout.indexOf('\nExit codes:\n');
    assert.ok(examples > 0 && codes > examples, `${command} --help:\n${r.stdout}`);
    const lines = r.stdout.slice(examples, codes).split('\n').filter((l) => /^ {2}\S/.test(l));
    assert.ok(lines.length >= 2 && lines.every((l) => l.includes(`df2redis ${command}`)), `${command} examples: ${lines.join('\n')}`);
    for (const code of exitCodes) assert.match(r.stdout.slice(codes), new RegExp(`\\n  ${code} `));
  }
});
