/**
 * The replicator's HTTP endpoint during a real replication (fake master + redis-server target):
 * `/metrics` in the Prometheus text format, `/status` with timestamps, lag, throughput and masked
 * options (issue 11 §1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Replicator, REPLICATE_DEFAULTS } from '../../src/pipeline/replicate.js';
import { FakeMaster, type FakeFlow, journalCommand } from '../helpers/fake-master.js';
import { MasterData } from '../helpers/master-data.js';
import { redisCli, startRedisServer } from '../helpers/redis-server.js';
import { until } from '../helpers/wait.js';

const silent = pino({ level: 'silent' });

/** Parses the Prometheus text format: HELP/TYPE per family, and every sample as `name{labels}` → value. */
function parseMetrics(text: string): { help: Map<string, string>; type: Map<string, string>; samples: Map<string, number> } {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    let m = /^# HELP (\S+) (.+)$/.exec(line);
    if (m !== null) help.set(m[1]!, m[2]!);
    else if ((m = /^# TYPE (\S+) (\S+)$/.exec(line)) !== null) type.set(m[1]!, m[2]!);
    else if ((m = /^(\S+?(?:\{[^}]*\})?) (\S+)$/.exec(line)) !== null) samples.set(m[1]!, Number(m[2]));
  }
  return { help, type, samples };
}

test('/metrics and /status during a replication: LSNs, master offsets, lag in records and seconds, per-node counters, drops', { timeout: 60_000 }, async () => {
  const data = await MasterData.start(2);
  const m = await FakeMaster.start({ numFlows: 2, data, password: 'pw-S3CRET' });
  data.attach(m);
  const redis = await startRedisServer();
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: redis.url, statusPort: 0, httpToken: 'tok-S3CRET' }, silent);
  const running = r.run();
  running.catch(() => undefined);
  const auth = { authorization: 'Bearer tok-S3CRET' };
  const get = async (path: string): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${r.httpPort}${path}`, { headers: auth });
    assert.equal(res.status, 200, path);
    return res.text();
  };
  const status = async (): Promise<any> => JSON.parse(await get('/status'));
  try {
    await until(() => r.status().phase === 'stable-sync' && r.status().flows.every((f) => f.phase === 'stable-sync'), 'stable sync');
    for (let i = 0; i < 5; i++) await data.exec(0, ['SET', `a${i}`, 'v']);
    await data.exec(0, ['SET', 'b', 'v'], [{ flow: 1, args: ['SET', 'b', 'v'] }]);
    (m.flows[1] as FakeFlow).write(journalCommand(['STICK', 'b']));
    data.lsns[1]!++;
    await until(async () => {
      const s = await status();
      return s.flows.every((f: any, i: number) => f.lsn === Number(data.lsns[i]) && f.masterLsn === Number(data.lsns[i]));
    }, 'applied and master LSNs equal the master offsets');

    const s = await status();
    assert.match(s.startedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(s.at, /^\d{4}-\d\d-\d\dT/);
    assert.ok(Date.parse(s.at) >= Date.parse(s.startedAt));
    assert.deepEqual(s.flows.map((f: any) => [f.lagRecords, f.lagMs]), [[0, 0], [0, 0]]);
    assert.deepEqual(Object.keys(s.throughput).sort(), ['bytesPerSec', 'keysPerSec', 'opsPerSec']);
    assert.deepEqual(s.resyncs, { full: 1, partial: 0 });
    assert.deepEqual(s.dropped, { STICK: 1 });
    assert.equal(s.options.source, m.url.replace('pw-S3CRET', '***'));
    assert.equal(s.options.httpToken, '***');
    assert.equal(s.target.nodes.length, 1);
    assert.equal(s.target.nodes[0].node, `127.0.0.1:${redis.port}`);
    assert.ok(s.target.nodes[0].commandsSent >= 6 && s.target.nodes[0].replies === s.target.nodes[0].commandsSent, JSON.stringify(s.target.nodes));
    const body = await get('/status');
    assert.ok(!body.includes('S3CRET'), 'no secret in /status');

    // Held replies: the target pauses writes, the records wait unacknowledged.
    await redisCli(redis.port, 'CLIENT', 'PAUSE', '60000', 'WRITE');
    for (let i = 0; i < 3; i++) await data.exec(0, ['SET', `c${i}`, 'v']);
    await until(async () => {
      const f0 = (await status()).flows[0];
      return f0.lagRecords === 3 && f0.lagMs >= 50;
    }, 'lag of the paused flow in records and ms');
    const held = parseMetrics(await get('/metrics'));
    assert.equal(held.samples.get('df2redis_flow_lag_records{flow="0"}'), 3);
    assert.ok(held.samples.get('df2redis_flow_lag_seconds{flow="0"}')! >= 0.05);
    assert.equal(held.samples.get('df2redis_flow_lag_records{flow="1"}'), 0);
    assert.ok(held.samples.get('df2redis_target_inflight_bytes{node="127.0.0.1:' + redis.port + '"}')! > 0);
    await redisCli(redis.port, 'CLIENT', 'UNPAUSE');
    await until(async () => {
      const st = await status();
      return st.flows[0].lagRecords === 0 && st.flows.every((f: any, i: number) => f.masterLsn === Number(data.lsns[i]));
    }, 'lag back to 0, master offsets polled again');

    const text = await get('/metrics');
    assert.ok(!text.includes('S3CRET'));
    const { help, type, samples } = parseMetrics(text);
    const ours = [...type.keys()].filter((n) => n.startsWith('df2redis_'));
    for (const name of ours) {
      assert.ok((help.get(name) ?? '').length > 10, `HELP of ${name}`);
      if (type.get(name) === 'counter') assert.match(name, /_total$/, `counter ${name}`);
    }
    const after = await status();
    for (const f of after.flows) {
      assert.equal(samples.get(`df2redis_flow_applied_lsn{flow="${f.id}"}`), f.lsn);
      assert.equal(samples.get(`df2redis_flow_received_lsn{flow="${f.id}"}`), f.receivedLsn);
      assert.equal(samples.get(`df2redis_flow_master_lsn{flow="${f.id}"}`), Number(data.lsns[f.id]!));
      assert.equal(samples.get(`df2redis_flow_phase{flow="${f.id}",phase="stable-sync"}`), 1);
    }
    assert.equal(samples.get('df2redis_phase{phase="stable-sync"}'), 1);
    assert.equal(samples.get('df2redis_dropped_commands_total{command="STICK"}'), 1);
    assert.equal(samples.get('df2redis_full_syncs_total'), 1);
    assert.equal(samples.get('df2redis_target_reconnects_total{node="127.0.0.1:' + redis.port + '"}'), 0);
    assert.ok(samples.get('df2redis_target_commands_total{node="127.0.0.1:' + redis.port + '"}')! >= 9);
    assert.ok(samples.get('df2redis_target_sent_bytes_total{node="127.0.0.1:' + redis.port + '"}')! > 0);
    for (const name of ['df2redis_process_resident_memory_bytes', 'df2redis_nodejs_heap_size_used_bytes', 'df2redis_nodejs_eventloop_lag_seconds']) {
      assert.ok(type.has(name), name);
    }
  } finally {
    await redisCli(redis.port, 'CLIENT', 'UNPAUSE').catch(() => undefined);
    await r.stop().catch(() => undefined);
    await m.close();
    await redis.stop();
    await data.stop();
  }
});
