/**
 * Journal `SET key value` records reach a standalone target merged into `MSET`s (flow-applier.ts
 * `#stageSet`, issue 12: the target's cheapest ingest path for the journal too), and the merge
 * changes nothing but the command count: every other record, a database switch, a `SET` with
 * options, a value too long to hold, the end of a socket read, all keep the flow's order. Journal
 * records from the fake master, replicated into a real redis-server (both deliveries), read back
 * key by key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SET_RUN_MAX_KEYS, SET_RUN_MAX_PAIR_BYTES } from '../../src/pipeline/flow-applier.js';
import { journalCommand } from '../helpers/fake-master.js';
import { replayJournal } from '../helpers/journal-replay.js';
import { redisCli, startRedisServer } from '../helpers/redis-server.js';

/** One journal record: its argv and database. */
interface JournalRecord {
  args: string[];
  db?: number;
}

const calls = (stats: string, cmd: string): number => Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);

for (const delivery of ['exactly-once', 'at-least-once'] as const) {
  test(`journal SETs into a standalone target go as MSETs, in the flow's order (${delivery})`, async () => {
    const redis = await startRedisServer();
    try {
      const future = String(Date.now() + 3_600_000);
      const big = 'B'.repeat(SET_RUN_MAX_PAIR_BYTES + 1);
      const many = Array.from({ length: 2 * SET_RUN_MAX_KEYS + 100 }, (_, i) => ({ args: ['SET', `many:${i}`, `v${i}`] }));
      const records: JournalRecord[] = [
        // the same key twice in one run: the later value
        { args: ['SET', 'dup', '1'] },
        { args: ['SET', 'other', 'o'] },
        { args: ['SET', 'dup', '2'] },
        // other commands of the same keys between SETs
        { args: ['SET', 'str', 'a'] },
        { args: ['APPEND', 'str', 'b'] },
        { args: ['SET', 'str', 'c'] },
        { args: ['APPEND', 'str', 'd'] },
        { args: ['SET', 'n', '5'] },
        { args: ['INCR', 'n'] },
        { args: ['SET', 'n', '10'] },
        { args: ['INCR', 'n'] },
        { args: ['SET', 'gone', 'x'] },
        { args: ['DEL', 'gone'] },
        // a SET with an expiry is not plain; the plain SET after it removes the TTL
        { args: ['SET', 'ttl-cleared', 'old', 'PXAT', future] },
        { args: ['SET', 'ttl-cleared', 'new'] },
        { args: ['SET', 'ttl-kept', 'v'] },
        { args: ['PEXPIREAT', 'ttl-kept', future] },
        // Dragonfly's options the target has no use for: stripped, then plain
        { args: ['SET', 'stick', 's', 'STICK'] },
        // another database in the middle of a run, and back
        { args: ['SET', 'db-a', '0a'] },
        { args: ['SET', 'db-b', '1b'], db: 1 },
        { args: ['SET', 'db-a', '1a'], db: 1 },
        { args: ['SET', 'db-c', '0c'] },
        // a value too long to hold: its own SET, after the run before it
        { args: ['SET', 'big', 'small'] },
        { args: ['SET', 'big', big] },
        { args: ['SET', 'after-big', 'y'] },
        // runs longer than one MSET
        ...many,
        { args: ['SET', 'last', 'z'] },
      ];
      await replayJournal(redis.url, records.map((rec) => journalCommand(rec.args, { db: rec.db ?? 0 })), { delivery });

      const get = async (key: string, db = 0): Promise<string> => (await redisCli(redis.port, '-n', String(db), 'GET', key)).replace(/\n$/, '');
      assert.equal(await get('dup'), '2');
      assert.equal(await get('other'), 'o');
      assert.equal(await get('str'), 'cd');
      assert.equal(await get('n'), '11');
      assert.equal((await redisCli(redis.port, 'EXISTS', 'gone')).trim(), '0');
      assert.equal(await get('ttl-cleared'), 'new');
      assert.equal((await redisCli(redis.port, 'PTTL', 'ttl-cleared')).trim(), '-1');
      assert.equal(await get('ttl-kept'), 'v');
      assert.equal((await redisCli(redis.port, 'PEXPIRETIME', 'ttl-kept')).trim(), future);
      assert.equal(await get('stick'), 's');
      assert.equal(await get('db-a'), '0a');
      assert.equal(await get('db-c'), '0c');
      assert.equal(await get('db-a', 1), '1a');
      assert.equal(await get('db-b', 1), '1b');
      assert.ok((await get('big')) === big, 'big: the long SET, after the run holding its first value');
      assert.equal(await get('after-big'), 'y');
      assert.equal(await get('last'), 'z');
      for (const i of [0, SET_RUN_MAX_KEYS - 1, SET_RUN_MAX_KEYS, 2 * SET_RUN_MAX_KEYS, many.length - 1]) assert.equal(await get(`many:${i}`), `v${i}`);
      // db 0: the 12 single keys checked above and the runs' keys, besides the replicator's checkpoint hash
      const keys0 = Number((await redisCli(redis.port, '-n', '0', 'DBSIZE')).trim());
      assert.equal(keys0 - Number((await redisCli(redis.port, '-n', '0', 'EXISTS', 'df2redis:checkpoint')).trim()), 12 + many.length);
      assert.equal((await redisCli(redis.port, '-n', '1', 'DBSIZE')).trim(), '2');

      // The merge happened: far fewer write commands than SET records.
      const stats = await redisCli(redis.port, 'INFO', 'commandstats');
      const setRecords = records.filter((r) => r.args[0] === 'SET').length;
      const msets = calls(stats, 'mset');
      const sets = calls(stats, 'set');
      assert.ok(msets >= 3, `MSETs: ${msets}`);
      assert.ok(msets + sets < setRecords / 10, `${msets} MSET + ${sets} SET for ${setRecords} SET records`);
    } finally {
      await redis.stop();
    }
  });
}
