/**
 * The target's database is the one the user named (issue 8 §4): a `/db` in the target URL receives
 * the one copied source database, or the job refuses at start naming the source databases; with
 * `--dbs` or a target `/db`, a journal FLUSHALL empties only the copied (target) databases.
 * Against real redis-servers; Dragonfly sources are the fake master.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { DEFAULT_OPTIONS } from '../../src/config/options.js';
import { ConfigError } from '../../src/errors.js';
import { migrateFile } from '../../src/pipeline/migrate-file.js';
import { Replicator, REPLICATE_DEFAULTS, type ReplicateOptions } from '../../src/pipeline/replicate.js';
import { createProgressReporter } from '../../src/progress/progress-reporter.js';
import { FakeMaster, type FakeFlow, journalCommand, rdbSelectDb, rdbString } from '../helpers/fake-master.js';
import { saveDump } from '../helpers/rdb-factory.js';
import { redisCli, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { until } from '../helpers/wait.js';

const silent = pino({ level: 'silent' });

const cli = async (port: number, ...args: string[]): Promise<string> => (await redisCli(port, ...args)).trim();
/** DBSIZE of `db` without df2redis's own checkpoint hash (kept in the target database receiving db 0). */
const userKeys = async (port: number, db: number): Promise<string> =>
  String(Number(await cli(port, '-n', String(db), 'DBSIZE')) - Number(await cli(port, '-n', String(db), 'EXISTS', 'df2redis:checkpoint')));

/** Source servers whose dumps are migrated: one with keys in db 0 only, one with keys in dbs 0 and 3. */
let oneDb: RedisServer;
let twoDbs: RedisServer;
let oneDbDump: string;
let twoDbsDump: string;
let target: RedisServer;

before(async () => {
  [oneDb, twoDbs, target] = await Promise.all([startRedisServer(), startRedisServer(), startRedisServer()]);
  await cli(oneDb.port, 'MSET', 'a', 'from-source-db0', 'b', 'b0');
  await cli(twoDbs.port, 'SET', 'a', 'from-source-db0');
  await cli(twoDbs.port, '-n', '3', 'MSET', 'a', 'from-source-db3', 'c', 'c3');
  oneDbDump = (await saveDump(oneDb)).path;
  twoDbsDump = (await saveDump(twoDbs)).path;
});
after(() => Promise.all([oneDb.stop(), twoDbs.stop(), target.stop()]));

function migrate(source: string, targetUrl: string, dbs?: number[]): ReturnType<typeof migrateFile> {
  return migrateFile(
    { ...DEFAULT_OPTIONS, source, target: targetUrl, dbs, progress: 'none' },
    { logger: silent, progress: createProgressReporter('none', { logger: silent }) },
  );
}

test('migrate (file) into redis://…/5: the only source database lands in target db 5, target db 0 is untouched', async () => {
  await cli(target.port, 'FLUSHALL');
  await cli(target.port, 'SET', 'a', 'target-own-db0');
  const summary = await migrate(oneDbDump, `${target.url}/5`);
  assert.equal(summary.keys, 2);
  assert.equal(await cli(target.port, '-n', '5', 'GET', 'a'), 'from-source-db0');
  assert.equal(await cli(target.port, '-n', '5', 'GET', 'b'), 'b0');
  assert.equal(await cli(target.port, 'GET', 'a'), 'target-own-db0', 'db 0 of the target is not overwritten');
  assert.equal(await cli(target.port, 'DBSIZE'), '1');
});

test('migrate (file) of a source with databases 0 and 3 into redis://…/5 is refused at start naming them; with --dbs 3, db 3 lands in 5', async () => {
  await cli(target.port, 'FLUSHALL');
  await assert.rejects(
    migrate(twoDbsDump, `${target.url}/5`),
    (err: unknown) => err instanceof ConfigError && /target database 5/.test(err.message) && /databases \(0, 3\)/.test(err.message) && /--dbs/.test(err.message),
  );
  assert.equal(await cli(target.port, 'INFO', 'keyspace').then((s) => /^db\d+:/m.test(s)), false, 'nothing was written');

  const summary = await migrate(twoDbsDump, `${target.url}/5`, [3]);
  assert.equal(summary.keys, 2);
  assert.equal(await cli(target.port, '-n', '5', 'GET', 'a'), 'from-source-db3');
  assert.equal(await cli(target.port, '-n', '5', 'GET', 'c'), 'c3');
  assert.equal(await cli(target.port, '-n', '3', 'DBSIZE'), '0', 'nothing in the source numbering');
  assert.equal(await cli(target.port, 'DBSIZE'), '0');
});

test('the binary exits 2 with one line naming the source databases when a target /db cannot receive them', async () => {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) =>
    execFile(process.execPath, [main, 'migrate', '--source', twoDbsDump, '--target', `${target.url}/5`, '--progress', 'none', '--log-level', 'silent'], (err, _out, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, stderr }),
    ),
  );
  assert.equal(code, 2, stderr);
  assert.match(stderr, /^df2redis: --target 127\.0\.0\.1:\d+\/5 names target database 5, which can receive exactly one source database, but the source has keys in 2 databases \(0, 3\)\. Nothing was written\./);
});

test('migrate (file) --dbs 0,3 into redis://…/5 is refused: one target database receives one source database', async () => {
  await assert.rejects(migrate(twoDbsDump, `${target.url}/5`, [0, 3]), (err: unknown) => err instanceof ConfigError && /--dbs names 2 databases \(0, 3\)/.test(err.message));
});

/** A fake master whose flow 0 snapshot holds `snap` in db 0, and a replicator into `targetUrl`, in stable sync. */
async function replicating(
  targetUrl: string,
  keyspace: Record<number, number> | undefined,
  extra: Partial<ReplicateOptions> = {},
): Promise<{ m: FakeMaster; r: Replicator; running: Promise<unknown>; flows: FakeFlow[]; close: () => Promise<void> }> {
  const m = await FakeMaster.start({
    numFlows: 2,
    keyspace,
    onSync: (master, reply) => {
      for (const f of master.flows) {
        f!.sendHeader();
        if (f!.flowId === 0) f!.write(rdbSelectDb(0), rdbString('snap', 'from-snapshot'));
        f!.sendFullSyncEnd();
      }
      reply();
    },
  });
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: targetUrl, ...extra }, silent);
  const running = r.run();
  running.catch(() => undefined);
  await until(() => r.status().phase === 'stable-sync' && r.status().flows.every((f) => f.phase === 'stable-sync'), 'stable sync');
  return {
    m,
    r,
    running,
    flows: m.flows as FakeFlow[],
    close: async () => {
      await r.stop().catch(() => undefined);
      await m.close();
    },
  };
}

test('replicate into redis://…/5 from a source holding db 0 only: snapshot and journal land in db 5; FLUSHALL empties db 5 only', async () => {
  await cli(target.port, 'FLUSHALL');
  await cli(target.port, 'SET', 'unrelated', 'db0');
  const t = await replicating(`${target.url}/5`, { 0: 1 });
  try {
    const [f0, f1] = t.flows;
    f0!.write(journalCommand(['SET', 'j', '1']), journalCommand(['COPY', 'j', 'j2', 'DB', '0']));
    await until(() => t.r.status().flows[0]!.lsn === 3n, 'journal applied');
    assert.equal(await cli(target.port, '-n', '5', 'GET', 'snap'), 'from-snapshot');
    assert.equal(await cli(target.port, '-n', '5', 'GET', 'j'), '1');
    assert.equal(await cli(target.port, '-n', '5', 'GET', 'j2'), '1', 'COPY … DB 0 copies within the target database');
    assert.equal(await cli(target.port, 'DBSIZE'), '1', 'target db 0 holds only its own key');
    f0!.write(journalCommand(['FLUSHALL'], { txid: 9 }), journalCommand(['SET', 'after', '1']));
    f1!.write(journalCommand(['FLUSHALL'], { txid: 9 }));
    await until(() => t.r.status().flows[0]!.lsn === 5n && t.r.status().flows[1]!.lsn === 2n, 'FLUSHALL applied');
    assert.equal(await userKeys(target.port, 5), '1', 'db 5 emptied, then the post-flush write');
    assert.equal(await cli(target.port, '-n', '5', 'GET', 'after'), '1');
    assert.equal(await cli(target.port, 'GET', 'unrelated'), 'db0', 'FLUSHALL did not touch target db 0');
    assert.match(await cli(target.port, 'INFO', 'commandstats'), /cmdstat_flushdb:calls=1,/);
  } finally {
    await t.close();
  }
});

test('replicate into redis://…/5 from a source holding dbs 0 and 2 is refused at start naming them (no --dbs)', async () => {
  await cli(target.port, 'FLUSHALL');
  const m = await FakeMaster.start({ numFlows: 1, keyspace: { 0: 4, 2: 1 } });
  try {
    const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: `${target.url}/5` }, silent);
    await assert.rejects(r.run(), (err: unknown) => err instanceof ConfigError && /databases \(0, 2\)/.test(err.message));
    assert.equal(m.syncCount, 0, 'refused before the replication handshake');
    const full = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: `${target.url}/5`, isFullSyncOnly: true }, silent);
    await assert.rejects(full.run(), (err: unknown) => err instanceof ConfigError && /databases \(0, 2\)/.test(err.message), 'migrate --source <dragonfly> too');
  } finally {
    await m.close();
  }
});

test('replicate --dbs 0: a journal FLUSHALL (from any database) empties target db 0 only, not an unrelated target db 5', async () => {
  await cli(target.port, 'FLUSHALL');
  await cli(target.port, '-n', '5', 'SET', 'unrelated', 'db5');
  const t = await replicating(target.url, undefined, { dbs: [0] });
  try {
    const [f0, f1] = t.flows;
    f0!.write(journalCommand(['SET', 'j', '1']));
    await until(() => t.r.status().flows[0]!.lsn === 2n, 'SET applied');
    assert.equal(await userKeys(target.port, 0), '2');
    // A client of db 7 (not copied) ran FLUSHALL: it still empties the copied database.
    f0!.write(journalCommand(['FLUSHALL'], { txid: 4, db: 7 }));
    f1!.write(journalCommand(['FLUSHALL'], { txid: 4, db: 7 }));
    await until(() => t.r.status().flows[0]!.lsn === 3n && t.r.status().flows[1]!.lsn === 2n, 'FLUSHALL applied');
    assert.equal(await userKeys(target.port, 0), '0', 'db 0 emptied');
    assert.equal(await cli(target.port, '-n', '5', 'GET', 'unrelated'), 'db5', 'db 5 not copied, not flushed');
  } finally {
    await t.close();
  }
});
