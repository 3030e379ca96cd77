import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RespReader, RespErrorReply, type RespValue } from './resp-reader.js';
import { RespError } from '../../errors.js';

/** Plain-data view: Buffers as `b:<latin1>`, errors as `E:<message>`. */
function show(v: RespValue): unknown {
  if (Buffer.isBuffer(v)) return `b:${v.toString('latin1')}`;
  if (v instanceof RespErrorReply) return `E:${v.message}`;
  if (Array.isArray(v)) return v.map(show);
  return v;
}

function readAll(chunks: Buffer[]): unknown[] {
  const out: unknown[] = [];
  const r = new RespReader((v) => out.push(show(v)));
  for (const c of chunks) r.push(c);
  assert.ok(r.isIdle);
  return out;
}

const wire = Buffer.from(
  [
    '+OK\r\n',
    '-ERR unknown command\r\n',
    ':42\r\n',
    ':-7\r\n',
    ':9223372036854775807\r\n',
    '$5\r\nhello\r\n',
    '$0\r\n\r\n',
    '$-1\r\n',
    '*-1\r\n',
    '*0\r\n',
    '$4\r\na\r\nb\r\n', // CRLF inside a bulk
    '*5\r\n+PONG\r\n$3\r\nbar\r\n*2\r\n:1\r\n*0\r\n*1\r\n$1\r\nx\r\n:3\r\n',
    '_\r\n',
    '#t\r\n',
    '#f\r\n',
    ',3.5\r\n',
    ',-inf\r\n',
    '(3492890328409238509324850943850943825024385\r\n',
    '!21\r\nSYNTAX invalid syntax\r\n',
    '=15\r\ntxt:Some string\r\n',
    '%2\r\n+a\r\n:1\r\n+b\r\n%1\r\n+c\r\n_\r\n',
    '~2\r\n+x\r\n+y\r\n',
    '>2\r\n+message\r\n$2\r\nhi\r\n',
    '|1\r\n+ttl\r\n:3600\r\n+after-attribute\r\n',
    '*2\r\n|1\r\n+key\r\n+v\r\n:1\r\n:2\r\n',
    '*5\r\n+1fc053200157acb174f585d9ed2b5043bd514257\r\n+SYNC1\r\n:4\r\n:5\r\n+1fc053200157acb174f585d9ed2b5043bd514257\r\n',
  ].join(''),
);
const expected = [
  'OK',
  'E:ERR unknown command',
  42,
  -7,
  9223372036854775807n,
  'b:hello',
  'b:',
  null,
  null,
  [],
  'b:a\r\nb',
  ['PONG', 'b:bar', [1, []], ['b:x'], 3],
  null,
  1,
  0,
  3.5,
  -Infinity,
  3492890328409238509324850943850943825024385n,
  'E:SYNTAX invalid syntax',
  'b:Some string',
  ['a', 1, 'b', ['c', null]],
  ['x', 'y'],
  ['message', 'b:hi'],
  'after-attribute',
  [1, 2],
  ['1fc053200157acb174f585d9ed2b5043bd514257', 'SYNC1', 4, 5, '1fc053200157acb174f585d9ed2b5043bd514257'],
];

test('RESP2 and RESP3 replies, fed whole', () => {
  assert.deepEqual(readAll([wire]), expected);
});

test('fed byte by byte', () => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < wire.length; i++) chunks.push(wire.subarray(i, i + 1));
  assert.deepEqual(readAll(chunks), expected);
});

test('split at every offset (two and three pieces)', () => {
  for (let i = 0; i <= wire.length; i++) {
    assert.deepEqual(readAll([wire.subarray(0, i), wire.subarray(i)]), expected, `split at ${i}`);
    const j = Math.min(wire.length, i + 7);
    assert.deepEqual(readAll([wire.subarray(0, i), wire.subarray(i, j), wire.subarray(j)]), expected, `split at ${i},${j}`);
  }
});

test('replies are delivered synchronously and bulk strings are views of the input', () => {
  const chunk = Buffer.from('$3\r\nabc\r\n');
  const got: RespValue[] = [];
  new RespReader((v) => got.push(v)).push(chunk);
  assert.equal(got.length, 1);
  assert.equal((got[0] as Buffer).buffer, chunk.buffer);
});

test('pause + takeRemainder hands over the bytes after a reply (DFLY FLOW reply then RDB)', () => {
  const token = 'a'.repeat(40);
  const bytes = Buffer.concat([Buffer.from(`*2\r\n+FULL\r\n+${token}\r\n`), Buffer.from('REDIS0009\xfa', 'latin1')]);
  for (let i = 0; i <= bytes.length; i++) {
    const got: unknown[] = [];
    const r = new RespReader((v) => {
      got.push(show(v));
      r.pause();
    });
    r.push(bytes.subarray(0, i));
    r.push(bytes.subarray(i));
    assert.deepEqual(got, [['FULL', token]], `split at ${i}`);
    assert.equal(r.takeRemainder().toString('latin1'), 'REDIS0009\xfa');
  }
});

test('resume continues with the buffered bytes', () => {
  const got: unknown[] = [];
  const r = new RespReader((v) => {
    got.push(show(v));
    r.pause();
  });
  r.push(Buffer.from('+A\r\n+B\r\n:1\r\n'));
  assert.deepEqual(got, ['A']);
  r.resume();
  assert.deepEqual(got, ['A', 'B']);
  r.resume();
  r.resume();
  assert.deepEqual(got, ['A', 'B', 1]);
});

test('malformed input → RespError with offset; reader stays dead', () => {
  const r = new RespReader(() => {});
  r.push(Buffer.from('+OK\r\n'));
  assert.throws(
    () => r.push(Buffer.from('?what\r\n')),
    (e: unknown) => e instanceof RespError && e.offset === 5 && /unknown reply type byte 0x3f/.test(e.message),
  );
  assert.throws(() => r.push(Buffer.from('+OK\r\n')), RespError);
  assert.throws(() => readAll([Buffer.from('$abc\r\n')]), /bad length/);
  assert.throws(() => readAll([Buffer.from('$3\r\nabcXY')]), /not terminated by CRLF/);
  assert.throws(() => readAll([Buffer.from(':12x\r\n')]), /bad integer/);
  assert.throws(() => readAll([Buffer.from('$999999999999\r\n')]), /above the limit/);
});

test('error reply code', () => {
  assert.equal(new RespErrorReply('NOAUTH Authentication required.').code, 'NOAUTH');
  assert.equal(new RespErrorReply('ERR').code, 'ERR');
});
