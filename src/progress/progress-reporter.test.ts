import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createProgressReporter } from './progress-reporter.js';

/** A pino logger collecting parsed lines. */
function collectingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

/** A non-TTY stream that records what is written to it. */
function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = new Writable({
    write(chunk: Buffer, _enc, cb) {
      s.text += chunk.toString('utf8');
      cb();
    },
  }) as unknown as NodeJS.WriteStream & { text: string };
  s.text = '';
  s.isTTY = isTTY;
  (s as unknown as { columns: number }).columns = 200;
  (s as unknown as { cursorTo: () => void }).cursorTo = () => {};
  (s as unknown as { clearLine: () => void }).clearLine = () => {};
  return s;
}

test('log mode (auto on a non-TTY): a progress line per interval with counts, rate and eta', async () => {
  const { logger, lines } = collectingLogger();
  const stream = fakeStream(false);
  const reporter = createProgressReporter('auto', { logger, stream, logIntervalMs: 20 });
  let keys = 0;
  reporter.start({ totalBytes: 1000, totalKeys: 100 }, () => ({ bytesRead: keys * 10, keysWritten: (keys += 10) }));
  // At least two ticks of the 20 ms timer, however late the timers fire.
  for (const deadline = Date.now() + 10_000; lines.length < 2 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
  reporter.stop();
  const count = lines.length;
  assert.ok(count >= 2, `expected progress lines, got ${count}`);
  const last = lines.at(-1)!;
  assert.equal(last.msg, 'progress');
  assert.equal(last.totalKeys, 100);
  assert.equal(last.totalBytes, 1000);
  assert.equal(typeof last.keys, 'number');
  assert.equal(typeof last.keysPerSec, 'number');
  assert.ok('etaSec' in last);
  assert.equal(stream.text, '', 'no bar on a non-TTY');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(lines.length, count, 'nothing after stop()');
});

test('bar mode draws on the stream and ends on the final sample; none writes nothing', () => {
  const { logger, lines } = collectingLogger();
  const stream = fakeStream(true);
  const bar = createProgressReporter('auto', { logger, stream });
  let keys = 0;
  bar.start({ totalBytes: 2048, totalKeys: 50 }, () => ({ bytesRead: 2048, keysWritten: keys }));
  keys = 50;
  bar.stop();
  assert.match(stream.text, /50\/50 keys/);
  assert.match(stream.text, /2\.0 KiB \/ 2\.0 KiB/);
  assert.equal(lines.length, 0);

  const quiet = fakeStream(true);
  const none = createProgressReporter('none', { logger, stream: quiet });
  none.start({ totalBytes: 1, totalKeys: 1 }, () => ({ bytesRead: 1, keysWritten: 1 }));
  none.stop();
  assert.equal(quiet.text, '');
});
