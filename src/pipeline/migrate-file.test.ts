/**
 * copyRdbStream against a real redis-server: a decode error in the middle of a multi-piece object
 * must not leave the partly written key on the target (DESIGN invariant 7).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ConnectionError, RdbError, StoppedError, TargetCommandError } from '../errors.js';
import { StandaloneRouter } from '../sink/router.js';
import { SnapshotWriter } from '../sink/snapshot-writer.js';
import { readTargetInfo } from '../sink/target-info.js';
import { parseRedisUrl } from '../sink/target-url.js';
import { freePort, redisCli, startRedisServer, type RedisServer } from '../../test/helpers/redis-server.js';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_OPTIONS } from '../config/options.js';
import { createProgressReporter } from '../progress/progress-reporter.js';
import { copyRdbStream, migrateFile } from './migrate-file.js';

/** RDB length encoding (Redis rdb.c rdbSaveLen), 6- and 14-bit forms. */
function rdbLen(n: number): Buffer {
  return n < 64 ? Buffer.from([n]) : Buffer.from([0x40 | (n >> 8), n & 0xff]);
}
const rdbString = (s: string): Buffer => Buffer.concat([rdbLen(Buffer.byteLength(s)), Buffer.from(s)]);

/** RDB v9: string `before`, then list `big` (RDB_TYPE_LIST, 3000 items: several pieces), then EOF. */
function rdbWithBigList(): { bytes: Buffer; listEnd: number } {
  const items: Buffer[] = [];
  for (let i = 0; i < 3000; i++) items.push(rdbString(`item-${String(i).padStart(5, '0')}`));
  const head = Buffer.concat([
    Buffer.from('REDIS0009'),
    Buffer.from([0xfe, 0x00]),
    Buffer.from([0x00]), rdbString('before'), rdbString('ok'),
    Buffer.from([0x01]), rdbString('big'), rdbLen(3000),
    ...items,
  ]);
  return { bytes: Buffer.concat([head, Buffer.from([0xff]), Buffer.alloc(8)]), listEnd: head.length };
}

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(() => server.stop());

async function copy(
  input: Buffer | AsyncIterable<Buffer>,
  onExisting: 'replace' | 'skip' | 'fail' = 'replace',
  signal?: AbortSignal,
): Promise<unknown> {
  const router = await StandaloneRouter.connect(parseRedisUrl(server.url), {});
  try {
    const info = await readTargetInfo(router.all()[0]!);
    const writer = new SnapshotWriter(router, info, { onExisting, unsupported: 'fail', restoreMaxBytes: 0 });
    await copyRdbStream(Buffer.isBuffer(input) ? chunks(input, 4096) : input, writer, router, {
      source: 'test.rdb',
      maxRestorePayloadBytes: 0,
      logger: pino({ level: 'silent' }),
      signal,
    });
    return undefined;
  } catch (err) {
    return err;
  } finally {
    await router.close();
  }
}

test('a whole file is copied (control for the next test)', async () => {
  await redisCli(server.port, 'FLUSHALL');
  assert.equal(await copy(rdbWithBigList().bytes), undefined);
  assert.equal((await redisCli(server.port, 'LLEN', 'big')).trim(), '3000');
});

test('a file cut inside a multi-piece object: the partial key is deleted and the error says so', async () => {
  await redisCli(server.port, 'FLUSHALL');
  const { listEnd } = rdbWithBigList();
  const cut = rdbWithBigList().bytes.subarray(0, listEnd - 5000); // well past the first 1024-item piece
  const err = await copy(cut);
  assert.ok(err instanceof RdbError, String(err));
  assert.equal(err.code, 'TRUNCATED');
  assert.match(err.message, /key "big" \(db 0\) was partly written and has been deleted from the target/);
  assert.equal((await redisCli(server.port, 'EXISTS', 'big')).trim(), '0');
  assert.equal((await redisCli(server.port, 'GET', 'before')).trim(), 'ok', 'complete keys before the error stay');
});

test('--on-existing skip: a cut object only ever touched its temporary key, which is deleted', async () => {
  await redisCli(server.port, 'FLUSHALL');
  await redisCli(server.port, 'SET', 'big', 'already here');
  const { bytes, listEnd } = rdbWithBigList();
  const err = await copy(bytes.subarray(0, listEnd - 5000), 'skip');
  assert.ok(err instanceof RdbError, String(err));
  assert.match(err.message, /key "big" \(db 0\) was partly built under a temporary key, which has been deleted/);
  assert.equal((await redisCli(server.port, 'GET', 'big')).trim(), 'already here');
  assert.equal((await redisCli(server.port, 'DBSIZE')).trim(), '2', 'only "before" and "big": no temporary key left');
});

test('backpressure: input is not read while the target is above its in-flight bound', async () => {
  await redisCli(server.port, 'FLUSHALL');
  const maxInflightBytes = 4096;
  const router = await StandaloneRouter.connect(parseRedisUrl(server.url), { maxInflightBytes });
  try {
    const info = await readTargetInfo(router.all()[0]!);
    const writer = new SnapshotWriter(router, info, { onExisting: 'replace', unsupported: 'fail', restoreMaxBytes: 0 });
    // In-memory chunks arrive without any I/O in between: only the pause lets replies in.
    let maxInflightAtRead = 0;
    async function* watched(): AsyncGenerator<Buffer> {
      for await (const chunk of chunks(rdbWithBigList().bytes, 1024)) {
        maxInflightAtRead = Math.max(maxInflightAtRead, router.all()[0]!.inflightBytes);
        yield chunk;
      }
    }
    const { backpressurePauses } = await copyRdbStream(watched(), writer, router, {
      source: 'test.rdb',
      maxRestorePayloadBytes: 0,
      logger: pino({ level: 'silent' }),
    });
    assert.ok(backpressurePauses > 0, 'the writer was backpressured');
    assert.ok(maxInflightAtRead <= maxInflightBytes, `read a chunk with ${maxInflightAtRead} bytes in flight`);
    assert.equal((await redisCli(server.port, 'LLEN', 'big')).trim(), '3000');
  } finally {
    await router.close();
  }
});

/**
 * The big-list file in two parts: everything up to the middle of `big` (its first 1024-item piece
 * and more), then, once the target holds part of `big`, `between()` runs (a fault, a stop), then
 * the rest.
 */
async function* cutAfterFirstPiece(between: () => Promise<void>): AsyncGenerator<Buffer> {
  const { bytes, listEnd } = rdbWithBigList();
  const cut = listEnd - 5000;
  yield* chunks(bytes.subarray(0, cut), 4096);
  for (let i = 0; i < 500 && Number(await redisCli(server.port, 'LLEN', 'big')) === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(Number(await redisCli(server.port, 'LLEN', 'big')) >= 1024, 'the first piece of "big" is on the target');
  await between();
  yield* chunks(bytes.subarray(cut), 4096);
}

test('the target runs out of memory inside a big list (noeviction): the half-written list is deleted and the error says how many keys were written', async () => {
  await redisCli(server.port, 'FLUSHALL');
  try {
    const err = await copy(
      cutAfterFirstPiece(async () => {
        await redisCli(server.port, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
        await redisCli(server.port, 'CONFIG', 'SET', 'maxmemory', '1');
      }),
    );
    assert.ok(err instanceof TargetCommandError, String(err));
    assert.match(err.reply, /^OOM/);
    assert.match(err.message, /; 1 key\(s\) were written and acknowledged; key "big" \(db 0\) was partly written and has been deleted from the target/);
  } finally {
    await redisCli(server.port, 'CONFIG', 'SET', 'maxmemory', '0');
  }
  assert.equal((await redisCli(server.port, 'EXISTS', 'big')).trim(), '0', 'no list left with 1024 of its 3000 items');
  assert.equal((await redisCli(server.port, 'GET', 'before')).trim(), 'ok');
});

test('the target turns read-only inside a big list (READONLY): the DEL is refused too, so the error names the half-written key', async () => {
  await redisCli(server.port, 'FLUSHALL');
  const nowhere = await freePort();
  try {
    const err = await copy(cutAfterFirstPiece(async () => void (await redisCli(server.port, 'REPLICAOF', '127.0.0.1', String(nowhere)))));
    assert.ok(err instanceof TargetCommandError, String(err));
    assert.match(err.reply, /^READONLY/);
    assert.match(err.message, /key "big" \(db 0\) was partly written as "big" and could NOT be deleted from the target \(.*READONLY.*\): delete it by hand/);
  } finally {
    await redisCli(server.port, 'REPLICAOF', 'NO', 'ONE');
  }
  assert.ok(Number(await redisCli(server.port, 'LLEN', 'big')) > 0, 'the named key is the one left half-written');
});

test('a stop (SIGINT) inside a big list: reading stops, in-flight writes finish, the half-written list is deleted, StoppedError', async () => {
  await redisCli(server.port, 'FLUSHALL');
  const stopping = new AbortController();
  const err = await copy(
    cutAfterFirstPiece(async () => stopping.abort('SIGINT')),
    'replace',
    stopping.signal,
  );
  assert.ok(err instanceof StoppedError, String(err));
  assert.equal(err.signal, 'SIGINT');
  assert.equal(err.exitCode, 130);
  assert.match(err.message, /^stopped by SIGINT: the copy did not finish \(test\.rdb read up to byte \d+\); 1 key\(s\) were written and acknowledged; key "big" \(db 0\) was partly written and has been deleted from the target$/);
  assert.equal((await redisCli(server.port, 'EXISTS', 'big')).trim(), '0');
  assert.equal((await redisCli(server.port, 'GET', 'before')).trim(), 'ok');
});

test('progress counts keys the target acknowledged: 0 while the target is paused, every key once it applied them', async () => {
  await redisCli(server.port, 'FLUSHALL');
  const router = await StandaloneRouter.connect(parseRedisUrl(server.url), {});
  try {
    const info = await readTargetInfo(router.all()[0]!);
    const writer = new SnapshotWriter(router, info, { onExisting: 'replace', unsupported: 'fail', restoreMaxBytes: 0 });
    await redisCli(server.port, 'CLIENT', 'PAUSE', '60000', 'WRITE');
    const copying = copyRdbStream(chunks(rdbWithBigList().bytes, 4096), writer, router, { source: 'test.rdb', maxRestorePayloadBytes: 0, logger: pino({ level: 'silent' }) });
    try {
      for (let i = 0; i < 500 && writer.stats.keys < 2; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(writer.stats.keys, 2, 'both keys sent');
      assert.equal((await redisCli(server.port, 'DBSIZE')).trim(), '0', 'the target holds nothing yet');
      assert.equal(writer.ackedKeys, 0, 'so progress shows 0 keys');
    } finally {
      await redisCli(server.port, 'CLIENT', 'UNPAUSE');
    }
    await copying;
    assert.equal(writer.ackedKeys, 2);
  } finally {
    await router.close();
  }
});

test('a target connection closed while idle before the copy (e.g. by the target\'s timeout during the pre-scan) stops the copy with a ConnectionError', { timeout: 10_000 }, async () => {
  await redisCli(server.port, 'FLUSHALL');
  const router = await StandaloneRouter.connect(parseRedisUrl(server.url), { maxInflightBytes: 4096 });
  try {
    const info = await readTargetInfo(router.all()[0]!);
    const writer = new SnapshotWriter(router, info, { onExisting: 'replace', unsupported: 'fail', restoreMaxBytes: 0 });
    const closed = new Promise((r) => router.all()[0]!.once('close', r));
    assert.ok(Number((await redisCli(server.port, 'CLIENT', 'KILL', 'TYPE', 'normal')).trim()) >= 1);
    await closed;
    // Nobody listened to the router's 'error' yet: the copy must still see the failure (it used to
    // wait forever for a 'drain' of the dead connection once its window filled).
    const copying = copyRdbStream(chunks(rdbWithBigList().bytes, 1024), writer, router, {
      source: 'test.rdb',
      maxRestorePayloadBytes: 0,
      logger: pino({ level: 'silent' }),
    });
    await assert.rejects(copying, (e) => e instanceof ConnectionError && e.role === 'target' && /closed while idle/.test(e.message));
  } finally {
    await router.close();
  }
});

test('a signal during the pre-scan: StoppedError before anything is written', async () => {
  await redisCli(server.port, 'FLUSHALL');
  const dir = mkdtempSync(path.join(tmpdir(), 'df2redis-prescan-stop-'));
  try {
    const file = path.join(dir, 'big.rdb');
    writeFileSync(file, rdbWithBigList().bytes);
    const silent = pino({ level: 'silent' });
    const stopping = new AbortController();
    stopping.abort('SIGTERM');
    const err = await migrateFile(
      { ...DEFAULT_OPTIONS, source: file, target: server.url },
      { logger: silent, progress: createProgressReporter('none', { logger: silent }), signal: stopping.signal },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof StoppedError, String(err));
    assert.equal(err.message, 'stopped by SIGTERM: during the pre-scan; nothing was written');
    assert.equal(err.exitCode, 143);
    assert.equal((await redisCli(server.port, 'DBSIZE')).trim(), '0');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the checksum is verified once, by the pre-scan: a file changed after it fails the job (RdbError BAD_CRC) instead of passing unverified', async () => {
  await redisCli(server.port, 'FLUSHALL');
  const dir = mkdtempSync(path.join(tmpdir(), 'df2redis-changed-'));
  try {
    const file = path.join(dir, 'big.rdb');
    writeFileSync(file, rdbWithBigList().bytes);
    const silent = pino({ level: 'silent' });
    // start() is called between the pre-scan and the copy: the file is rewritten (same bytes, new mtime) there.
    const progress = {
      start(): void {
        utimesSync(file, new Date(), new Date(Date.now() - 3_600_000));
      },
      stop(): void {},
    };
    const err = await migrateFile({ ...DEFAULT_OPTIONS, source: file, target: server.url }, { logger: silent, progress }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof RdbError, String(err));
    assert.equal(err.code, 'BAD_CRC');
    assert.match(err.message, /changed during the migration/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
