/**
 * `df2redis check` end to end against real redis-servers (issue 10 §1, §3): equal datasets of every
 * type and encoding report equal (live source and RDB file), planted differences land each in its
 * class and nothing else does, big values are checked with bounded memory, and against a running
 * replicator fed by the fake master a key still in flight is not reported (the `/status` fence)
 * while a difference planted on the target is.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { startStatusServer } from '../../src/metrics/status-server.js';
import { Replicator, REPLICATE_DEFAULTS } from '../../src/pipeline/replicate.js';
import type { CheckResult } from '../../src/check/checker.js';
import { buildDump, ENCODING_PROFILES, saveDump, type RdbDump } from '../helpers/rdb-factory.js';
import { FakeMaster } from '../helpers/fake-master.js';
import { MasterData } from '../helpers/master-data.js';
import { redisCli, redisCliWithInput, startCluster, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { until } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** Prints the process's peak RSS (KiB, getrusage) on stderr at exit. */
const PEAK_RSS_HOOK = `data:text/javascript,process.on('exit',()=>process.stderr.write('peak-rss-kib '+process.resourceUsage().maxRSS+'\\n'))`;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  report?: CheckResult;
  peakRssKib?: number;
}

let dir: string;
let reports = 0;

/** Runs `df2redis check …args --report <tmp>` and parses the report. */
function check(...args: string[]): Promise<RunResult> {
  const report = path.join(dir, `report-${reports++}.json`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', PEAK_RSS_HOOK, MAIN, 'check', ...args, '--report', report, '--progress', 'none', '--log-level', 'warn', '--max-keys', '50'],
      { timeout: 120_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        let parsed: CheckResult | undefined;
        try {
          parsed = JSON.parse(readFileSync(report, 'utf8')) as CheckResult;
        } catch {
          parsed = undefined;
        }
        const rss = /peak-rss-kib (\d+)/.exec(stderr);
        resolve({ code, stdout, stderr, report: parsed, peakRssKib: rss ? Number(rss[1]) : undefined });
      },
    );
  });
}

/** The example keys of each class with examples: `{ value: ['h', 'l'], … }` (sorted). */
function classes(r: CheckResult): Record<string, string[]> {
  return Object.fromEntries(Object.entries(r.examples).map(([c, ex]) => [c, ex.map((e) => e.key).sort()]));
}

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'df2redis-check-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('check redis→redis and RDB file→redis', () => {
  let dump: RdbDump;
  let target: RedisServer;
  before(async () => {
    // Source: every type in listpack/intset encodings (big ones too: compared in windows); target:
    // hash tables and skiplists, so DUMP bytes differ and the values are compared decoded.
    dump = await buildDump(ENCODING_PROFILES.find((p) => p.name === 'listpack')!, { bigElements: 5_000, bigStringBytes: 1024 * 1024 });
    const src = dump.server.port;
    await redisCliWithInput(
      src,
      [
        'HSET p:hash f1 v1 f2 v2 f3 v3',
        'RPUSH p:list a b c d e',
        'XADD p:stream 1-1 f v',
        'XADD p:stream 2-1 f w',
        'XGROUP CREATE p:stream g 0',
        'XREADGROUP GROUP g alice COUNT 1 STREAMS p:stream >',
        'SET p:ttl v PXAT 1900000001000',
        'SET p:missing here',
        'SET p:type text',
        'SET df2redis:checkpoint:0 7',
      ].join('\n') + '\n',
    );
    dump = { ...dump, ...(await saveDump(dump.server)) };
    // (`set-max-listpack-entries` is a 7.2 directive: left out so any Redis ≥ 7.0 starts.)
    const { 'set-max-listpack-entries': _, ...hashtable } = ENCODING_PROFILES.find((p) => p.name === 'hashtable')!.config;
    target = await startRedisServer({ config: hashtable });
    // The target gets the same data through df2redis itself.
    const migrated = await new Promise<number>((resolve) =>
      execFile(process.execPath, [MAIN, 'migrate', '--source', dump.path, '--target', target.url, '--progress', 'none', '--log-level', 'warn'], (err) =>
        resolve(err ? Number(err.code) : 0),
      ),
    );
    assert.equal(migrated, 0);
    await redisCli(target.port, '-n', '0', 'SET', 'df2redis:checkpoint:1', 'only on the target, never compared');
  });
  after(async () => {
    await target?.stop();
    await dump?.server.stop();
  });

  test('equal datasets of every type and encoding (big values in windows) report equal, exit 0, from a live source and from the RDB file', async () => {
    for (const source of [dump.server.url, dump.path]) {
      const r = await check('--source', source, '--target', target.url, '--rounds', '0');
      assert.equal(r.code, 0, `${source}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /^equal: /);
      assert.equal(r.report!.isEqual, true);
      assert.ok(r.report!.compared > 50, `${r.report!.compared} keys compared`);
      assert.deepEqual(classes(r.report!), {});
      assert.deepEqual(Object.keys(r.report!.byDb).sort(), dump.dbs.map(String).sort());
    }
  });

  test('planted differences are each reported in their class, and nothing else is (exit 1)', async () => {
    await redisCliWithInput(
      target.port,
      [
        'DEL p:missing',
        'SET p:extra x',
        'HSET p:hash f2 changed',
        'DEL p:list',
        'RPUSH p:list a c b d e',
        'PEXPIREAT p:ttl 1900000006000',
        'XGROUP SETID p:stream g 2-1',
        'DEL p:type',
        'SADD p:type text',
      ].join('\n') + '\n',
    );
    try {
      let full = 0;
      for (const source of [dump.server.url, dump.path]) {
        const r = await check('--source', source, '--target', target.url, '--rounds', '0');
        full = r.report!.compared;
        assert.equal(r.code, 1, `${source}: ${r.stdout}${r.stderr}`);
        assert.deepEqual(classes(r.report!), {
          missing: ['p:missing'],
          extra: ['p:extra'],
          value: ['p:hash', 'p:list', 'p:stream'],
          ttl: ['p:ttl'],
          type: ['p:type'],
        }, r.stdout);
        assert.match(r.stdout, /value db 0 "p:hash": hash: .*"v2".*"changed"/);
        assert.match(r.stdout, /last-delivered 1-1.*last-delivered 2-1/);
        assert.match(r.stdout, /ttl db 0 "p:ttl": expiry off by 5000 ms/);
      }
      // Re-checks (a plain Redis has no LSNs: --rounds with a pause) read a lasting difference
      // again and still report it, in the same class.
      const rounds = await check('--source', dump.server.url, '--target', target.url, '--rounds', '2', '--round-pause', '50');
      assert.equal(rounds.code, 1);
      assert.deepEqual(classes(rounds.report!), classes((await check('--source', dump.server.url, '--target', target.url, '--rounds', '0')).report!));
      assert.equal(rounds.report!.rechecked, 2 * 7, rounds.stdout);
      // A sample states what it proves.
      const s = await check('--source', dump.server.url, '--target', target.url, '--rounds', '0', '--sample', '0.5');
      assert.match(s.stdout, /of \d+ sampled keys differ: at most [\d.]+ % differ, 95 % confidence/);
      assert.ok(s.report!.sample!.sampledKeys > 0 && s.report!.sample!.sampledKeys < full, `${s.report!.sample!.sampledKeys} of ${full} keys sampled`);
      // A usage error exits 2.
      assert.equal((await check('--source', dump.path, '--target', target.url, '--sample', '2')).code, 2);
    } finally {
      // Undo, so test order does not matter.
      await redisCliWithInput(target.port, 'DEL p:extra\nSET p:missing here\n');
    }
  });
});

test('an RDB file holding a Dragonfly JSON key the target cannot hold: reported as unsupported, never missing, and not a difference (exit 0)', async () => {
  const str = (t: string): Buffer => Buffer.concat([Buffer.from([Buffer.byteLength(t)]), Buffer.from(t)]);
  // RDB 9, SELECTDB 0, two strings and a Dragonfly JSON object (type 30, src/server/rdb_extensions.h), EOF with CRC 0.
  const rdb = Buffer.concat([
    Buffer.from('REDIS0009'), Buffer.from([0xfe, 0x00]),
    Buffer.from([0x00]), str('plain:a'), str('1'),
    Buffer.from([30]), str('doc:json'), str('{"n":[1,2]}'),
    Buffer.from([0x00]), str('plain:b'), str('2'),
    Buffer.from([0xff]), Buffer.alloc(8),
  ]);
  const file = path.join(dir, 'json.rdb');
  writeFileSync(file, rdb);
  const target = await startRedisServer();
  try {
    await redisCliWithInput(target.port, 'SET plain:a 1\nSET plain:b 2\n');
    const r = await check('--source', file, '--target', target.url);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(classes(r.report!), { unsupported: ['doc:json'] });
    assert.equal(r.report!.counts.missing, 0);
  } finally {
    await target.stop();
  }
});

test('a Redis Cluster target: keys routed to their master, extra keys found on every master', async () => {
  const [source, cluster] = await Promise.all([startRedisServer(), startCluster({ masters: 3 })]);
  try {
    const cmds: string[] = [];
    for (let i = 0; i < 300; i++) cmds.push(i % 3 === 0 ? `SET k:${i} v${i}` : i % 3 === 1 ? `HSET h:${i} f ${i}` : `RPUSH l:${i} a ${i}`);
    await redisCliWithInput(source.port, `${cmds.join('\n')}\n`);
    // The same data on the cluster, through redis-cli -c (following MOVED).
    await redisCliWithInput(cluster.nodes[0]!.port, `${cmds.join('\n')}\n`, '-c');
    const equal = await check('--source', source.url, '--target', cluster.seedUrl, '--rounds', '0');
    assert.equal(equal.code, 0, equal.stdout + equal.stderr);
    assert.equal(equal.report!.compared, 300);
    await redisCli(cluster.nodes[0]!.port, '-c', 'SET', 'only:on:cluster', 'x');
    await redisCli(cluster.nodes[0]!.port, '-c', 'HSET', 'h:1', 'f', 'changed');
    const diff = await check('--source', source.url, '--target', cluster.seedUrl, '--rounds', '0');
    assert.equal(diff.code, 1);
    assert.deepEqual(classes(diff.report!), { extra: ['only:on:cluster'], value: ['h:1'] });
  } finally {
    await Promise.all([source.stop(), cluster.stop()]);
  }
});

test('big values (a 300 K-field hash, a 50 MB string) are checked with bounded memory, and a changed field deep inside is found', async () => {
  const [a, b] = await Promise.all([startRedisServer(), startRedisServer()]);
  try {
    const script = "for i=1,300000 do redis.call('HSET', KEYS[1], 'field:'..i, 'value:'..i) end; redis.call('SET', KEYS[2], string.rep('x', 50*1024*1024)); return 1";
    await Promise.all([a, b].map((s) => redisCli(s.port, 'EVAL', script, '2', 'big:hash', 'big:string')));
    const equal = await check('--source', a.url, '--target', b.url, '--rounds', '0');
    assert.equal(equal.code, 0, equal.stdout + equal.stderr);
    assert.equal(equal.report!.compared, 2);
    assert.ok(equal.peakRssKib! < 200 * 1024, `peak RSS ${equal.peakRssKib} KiB`);
    await redisCli(b.port, 'HSET', 'big:hash', 'field:299999', 'changed');
    await redisCli(b.port, 'SETRANGE', 'big:string', String(40 * 1024 * 1024), 'y');
    const diff = await check('--source', a.url, '--target', b.url, '--rounds', '0');
    assert.equal(diff.code, 1);
    assert.deepEqual(classes(diff.report!), { value: ['big:hash', 'big:string'] });
    assert.match(diff.stdout, /field "field:299999": source "value:299999", target "changed"/);
    assert.match(diff.stdout, /bytes 41943040\.\.\d+ differ/);
    assert.ok(diff.peakRssKib! < 200 * 1024, `peak RSS ${diff.peakRssKib} KiB`);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

/** A fake master with a live model (2 flows) and a replicator from it into a fresh redis-server, running. */
async function runningReplicator(): Promise<{ data: MasterData; m: FakeMaster; redis: RedisServer; r: Replicator }> {
  const data = await MasterData.start(2);
  const m = await FakeMaster.start({ numFlows: 2, data });
  data.attach(m);
  const redis = await startRedisServer();
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: redis.url, statusPort: undefined }, pino({ level: 'silent' }));
  r.run().catch(() => undefined);
  return { data, m, redis, r };
}

test('against a running replicator (fake master): keys still in flight are not reported once the /status fence passed; a difference planted on the target is', async () => {
  const { data, m, redis, r } = await runningReplicator();
  let statusReads = 0;
  // The journal of the writes below is held until the checker first asks /status for the fence.
  const status = await startStatusServer({
    port: 0,
    status: () => {
      if (statusReads++ === 0) data.release();
      return r.status();
    },
  });
  try {
    await until(() => r.status().phase === 'stable-sync' && r.status().flows.every((f) => f.phase === 'stable-sync'), 'stable sync');
    for (let i = 0; i < 20; i++) await data.exec(0, ['HSET', `h:${i}`, 'f', String(i)], [{ flow: i % 2, args: ['HSET', `h:${i}`, 'f', String(i)] }]);
    await until(() => r.status().flows.every((f) => f.lsn === data.lsns[f.id]), 'caught up');
    // In flight: on the master, not yet on the target.
    data.hold();
    for (let i = 0; i < 5; i++) await data.exec(0, ['HSET', `h:${i}`, 'f', 'new'], [{ flow: i % 2, args: ['HSET', `h:${i}`, 'f', 'new'] }]);
    await data.exec(0, ['SET', 'fresh', '1'], [{ flow: 1, args: ['SET', 'fresh', '1'] }]);
    // Planted on the target only.
    await redisCli(redis.port, 'HSET', 'h:10', 'f', 'planted');
    const url = `http://127.0.0.1:${status.port}/status`;
    const c = await check('--source', m.url, '--target', redis.url, '--dbs', '0', '--status-url', url, '--rounds', '1');
    assert.equal(c.code, 1, c.stdout + c.stderr);
    assert.deepEqual(classes(c.report!), { value: ['h:10'] }, c.stdout);
    assert.ok(c.report!.rechecked >= 7, `re-checked ${c.report!.rechecked}`);
    assert.ok(statusReads > 0);
  } finally {
    await status.close();
    await r.stop().catch(() => undefined);
    await m.close();
    await redis.stop();
    await data.stop();
  }
});

test("without --status-url, against a running replicator: the fence is the replicator's checkpoint on the target; keys in flight are not reported, a planted difference is", async () => {
  const { data, m, redis, r } = await runningReplicator();
  let isPolling = true;
  try {
    await until(() => r.status().phase === 'stable-sync' && r.status().flows.every((f) => f.phase === 'stable-sync'), 'stable sync');
    for (let i = 0; i < 20; i++) await data.exec(0, ['HSET', `h:${i}`, 'f', String(i)], [{ flow: i % 2, args: ['HSET', `h:${i}`, 'f', String(i)] }]);
    await until(() => r.status().flows.every((f) => f.lsn === data.lsns[f.id]), 'caught up');
    await until(async () => (await redisCli(redis.port, 'HGET', 'df2redis:checkpoint', 'phase')).trim() === 'stable', 'a stable checkpoint');
    // In flight: on the master, not yet on the target, until the checker reads the checkpoint.
    data.hold();
    for (let i = 0; i < 5; i++) await data.exec(0, ['HSET', `h:${i}`, 'f', 'new'], [{ flow: i % 2, args: ['HSET', `h:${i}`, 'f', 'new'] }]);
    await data.exec(0, ['SET', 'fresh', '1'], [{ flow: 1, args: ['SET', 'fresh', '1'] }]);
    await redisCli(redis.port, 'HSET', 'h:10', 'f', 'planted');
    const hgetalls = async (): Promise<number> => Number(/cmdstat_hgetall:calls=(\d+)/.exec(await redisCli(redis.port, 'INFO', 'commandstats'))?.[1] ?? 0);
    const before = await hgetalls();
    const released = (async () => {
      while (isPolling && (await hgetalls()) === before) await new Promise((res) => setTimeout(res, 10));
      data.release();
    })();
    const c = await check('--source', m.url, '--target', redis.url, '--dbs', '0', '--rounds', '1');
    await released;
    assert.equal(c.code, 1, c.stdout + c.stderr);
    assert.deepEqual(classes(c.report!), { value: ['h:10'] }, c.stdout);
    assert.equal(c.report!.fence, 'checkpoint');
    assert.ok(c.report!.rechecked >= 7, `re-checked ${c.report!.rechecked}`);
    assert.match(c.stdout, /fenced by the replicator's checkpoint on the target/);
  } finally {
    isPolling = false;
    data.release();
    await r.stop().catch(() => undefined);
    await m.close();
    await redis.stop();
    await data.stop();
  }
});

test('a side whose database holds no expiring key is not asked for expiries, and a TTL present on one side only is still reported', async () => {
  const a = await startRedisServer();
  const b = await startRedisServer();
  try {
    const lines = Array.from({ length: 300 }, (_, i) => `SET k:${i} v${i}`);
    await redisCliWithInput(a.port, [...lines, 'SET only-src-ttl x PXAT 4102444800000', 'HSET h f v'].join('\n') + '\n');
    await redisCliWithInput(b.port, [...lines, 'SET only-src-ttl x', 'HSET h f v', 'PEXPIREAT h 4102444800000'].join('\n') + '\n');
    // Source: 1 expiring key; target: 1 (another one). Remove the target's: it then has none.
    await redisCli(b.port, 'PERSIST', 'h');
    await redisCli(a.port, 'CONFIG', 'RESETSTAT');
    await redisCli(b.port, 'CONFIG', 'RESETSTAT');
    const c = await check('--source', a.url, '--target', b.url, '--rounds', '0');
    assert.equal(c.code, 1, c.stdout + c.stderr);
    assert.deepEqual(classes(c.report!), { ttl: ['only-src-ttl'] }, c.stdout);
    const calls = async (port: number, cmd: string): Promise<number> => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(await redisCli(port, 'INFO', 'commandstats'))?.[1] ?? 0);
    assert.ok((await calls(b.port, 'pexpiretime')) <= 1, 'the target (no expiring key) was not asked (but for the capability probe)');
    assert.ok((await calls(a.port, 'pexpiretime')) >= 300, 'the source (one expiring key) was');
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});
