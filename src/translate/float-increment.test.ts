import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { createClient } from 'redis';
import { startRedisServer } from '../../test/helpers/redis-server.js';
import { FLOAT_INCR_SCRIPT, floatIncrementCommand, formatDouble, parseIncrement } from './float-increment.js';

/** Dragonfly's FormatDouble as V8 prints (both are double-conversion `ToShortest`), with Dragonfly's names for the non-finite values. */
function oracle(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  return String(x);
}

/** `n` random doubles from random bit patterns (every exponent equally likely), non-finite ones skipped. */
function randomDoubles(n: number): Float64Array {
  const out = new Float64Array(n);
  const bits = new Float64Array(4096);
  let filled = 0;
  while (filled < n) {
    randomFillSync(bits);
    for (let i = 0; i < bits.length && filled < n; i++) if (Number.isFinite(bits[i]!)) out[filled++] = bits[i]!;
  }
  return out;
}

/** Values where the shortest form is hard to get right: powers of two, exact ties, the exponent-form edges, subnormals. */
function edgeValues(): number[] {
  const xs: number[] = [];
  for (let e = -1074; e <= 1023; e++) xs.push(2 ** e);
  for (let i = 0; i < 200; i++) xs.push(2 ** 50 + Math.floor(Math.random() * 2 ** 50) + 0.25); // p=17 ties to even
  xs.push(1e-6, 1e-7, 9.999999999999999e-7, 1e21, 1e20, 999999999999999900000, 1e22, 5e-324, 2.2250738585072014e-308,
    Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, 0.1 + 0.2, 1 / 3, 123456789012345680000, 1.5, 0.5, 100, 1e-5);
  return xs.flatMap((x) => [x, -x]);
}

test("formatDouble: Dragonfly's own FormatDouble cases (src/facade/reply_builder_test.cc, v1.40.1)", () => {
  assert.equal(formatDouble(0.1), '0.1');
  assert.equal(formatDouble(0.2), '0.2');
  assert.equal(formatDouble(0.8), '0.8');
  assert.equal(formatDouble(1.1), '1.1');
  assert.equal(formatDouble(Infinity), 'inf');
  assert.equal(formatDouble(-Infinity), '-inf');
  assert.equal(formatDouble(-0), '0');
  assert.equal(formatDouble(0.0000001), '1e-7');
  assert.equal(formatDouble(111111111111111111111.0), '111111111111111110000');
  assert.equal(formatDouble(1111111111111111111111.0), '1.1111111111111111e+21');
  assert.equal(formatDouble(1e-23), '1e-23');
  // and the ones issue 13 reported
  assert.equal(formatDouble(1.1 + 2.2), '3.3000000000000003');
  assert.equal(formatDouble(0.1 + 0.1 + 0.1), '0.30000000000000004');
  assert.equal(formatDouble(Number.NaN), 'nan');
});

test('formatDouble agrees with V8 Number#toString (ToShortest) on a million random doubles and on edge values', () => {
  const xs = randomDoubles(1_000_000);
  let mismatches = 0;
  let first = '';
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    const got = formatDouble(x);
    if (got !== oracle(x)) {
      if (mismatches++ === 0) first = `${oracle(x)} formatted as ${got}`;
    }
  }
  assert.equal(mismatches, 0, first);
  for (const x of edgeValues()) assert.equal(formatDouble(x), oracle(x));
});

test('parseIncrement reads the increment as absl::SimpleAtod does', () => {
  const p = (s: string): number | undefined => parseIncrement(Buffer.from(s));
  assert.equal(p('1.1'), 1.1);
  assert.equal(p(' +2.5e3 '), 2500);
  assert.equal(p('-.5'), -0.5);
  assert.equal(p('5.'), 5);
  assert.equal(p('INF'), Infinity);
  assert.equal(p('-infinity'), -Infinity);
  assert.ok(Number.isNaN(p('nan')!));
  assert.equal(p('1e400'), Infinity);
  for (const bad of ['', 'abc', '0x10', '+-1', '1e', '.', '1,5']) assert.equal(p(bad), undefined, bad);
});

test('floatIncrementCommand: EVAL of the script with the delta normalized; malformed records are left alone', () => {
  const b = (...xs: string[]): Buffer[] => xs.map((x) => Buffer.from(x));
  const s = floatIncrementCommand(b('INCRBYFLOAT', 'k', ' 1.10 '), false)!;
  assert.deepEqual(s.map(String), ['EVAL', FLOAT_INCR_SCRIPT.body.toString(), '1', 'k', '1.1']);
  const h = floatIncrementCommand(b('HINCRBYFLOAT', 'h', 'f', '1e-7'), true)!;
  assert.deepEqual(h.slice(2).map(String), ['1', 'h', 'f', '1e-7']);
  assert.equal(floatIncrementCommand(b('INCRBYFLOAT', 'k'), false), undefined);
  assert.equal(floatIncrementCommand(b('INCRBYFLOAT', 'k', 'x'), false), undefined);
  assert.equal(floatIncrementCommand(b('HINCRBYFLOAT', 'h', 'f', 'inf'), true), undefined, 'Dragonfly refuses a non-finite hash increment');
});

test('the Lua formatter in the script agrees with formatDouble through a real redis-server', async () => {
  const server = await startRedisServer();
  const client = createClient({ url: server.url });
  await client.connect();
  try {
    const sha = await client.scriptLoad(FLOAT_INCR_SCRIPT.body.toString());
    assert.equal(sha, FLOAT_INCR_SCRIPT.sha1.toString(), 'the SHA1 we compute is the one Redis uses');
    // A missing string key stores the increment itself, formatted: the formatter alone.
    const xs = [...randomDoubles(3000), ...edgeValues(), ...Array.from({ length: 1000 }, (_, i) => (i - 500) / 10)];
    const replies = await Promise.all(xs.map((x, i) => client.evalSha(sha, { keys: [`f${i}`], arguments: [formatDouble(x)] })));
    for (let i = 0; i < xs.length; i++) assert.equal(replies[i], formatDouble(xs[i]!), `value ${xs[i]}`);
    // Sums: the script adds in double as JavaScript does.
    const pairs = Array.from({ length: 2000 }, () => [Math.random() * 10 ** (Math.floor(Math.random() * 40) - 20), (Math.random() - 0.5) * 100]);
    await Promise.all(pairs.map(([a], i) => client.set(`s${i}`, formatDouble(a!))));
    const sums = await Promise.all(pairs.map(([, d], i) => client.evalSha(sha, { keys: [`s${i}`], arguments: [formatDouble(d!)] })));
    for (let i = 0; i < pairs.length; i++) assert.equal(sums[i], formatDouble(pairs[i]![0]! + pairs[i]![1]!));
  } finally {
    await client.quit();
    await server.stop();
  }
});
