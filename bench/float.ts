/**
 * Journal replay of float increments (issue 13): N journal `INCRBYFLOAT k 0.1` / `HINCRBYFLOAT h f
 * 0.1` records over 1 000 keys, translated by {@link JournalTranslator} and written through one
 * pipelined {@link RedisConnection} into a fresh redis-server, in three ways:
 * - `pass-through`: the journal argv as is (Redis's long-double arithmetic: not byte-exact);
 * - `EVAL`: what df2redis sends, the float-increment script with its body in every command;
 * - `EVALSHA`: the same script by SHA1 after one `SCRIPT LOAD` (what a script cache would save).
 * Best of ROUNDS each, `FLUSHALL` between runs. The result of every way is checked.
 *
 * Environment: `BENCH_FLOAT_COMMANDS` (default 200 000), `BENCH_FLOAT_ROUNDS` (default 2).
 */
import { setImmediate as tick } from 'node:timers/promises';
import { redisCli, startRedisServer, type RedisServer } from '../test/helpers/redis-server.js';
import { RedisConnection } from '../src/sink/redis-connection.js';
import { parseRedisUrl } from '../src/sink/target-url.js';
import { JournalTranslator } from '../src/translate/journal-translator.js';
import { FLOAT_INCR_SCRIPT, formatDouble } from '../src/translate/float-increment.js';

const COMMANDS = Number(process.env.BENCH_FLOAT_COMMANDS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_FLOAT_ROUNDS ?? 2);
const KEYS = 1000;
const SLICE = 500;

type Way = 'pass-through' | 'EVAL' | 'EVALSHA';

/** The journal records: half string increments, half hash-field increments. */
function records(): Buffer[][] {
  const out: Buffer[][] = [];
  const delta = Buffer.from('0.1');
  for (let i = 0; i < COMMANDS; i++) {
    const k = i % KEYS;
    out.push(
      k % 2 === 0
        ? [Buffer.from('INCRBYFLOAT'), Buffer.from(`f:${k}`), delta]
        : [Buffer.from('HINCRBYFLOAT'), Buffer.from(`h:${k}`), Buffer.from('x'), delta],
    );
  }
  return out;
}

async function replay(server: RedisServer, recs: Buffer[][], way: Way, translator: JournalTranslator): Promise<number> {
  const conn = await RedisConnection.connect(parseRedisUrl(server.url));
  const evalsha = Buffer.from('EVALSHA');
  const start = performance.now();
  if (way === 'EVALSHA') conn.send(['SCRIPT', 'LOAD', FLOAT_INCR_SCRIPT.body]);
  let i = 0;
  while (i < recs.length) {
    const end = Math.min(recs.length, i + SLICE);
    while (i < end && !conn.isBackpressured) {
      const args = recs[i]!;
      if (way === 'pass-through') {
        conn.send(args, args[1]);
      } else {
        const t = translator.translate(args, 0n);
        if (t.action !== 'write') throw new Error(`unexpected translation ${t.action}`);
        const c = t.commands[0]!;
        if (way === 'EVAL') conn.send(c.args, c.key);
        else conn.send([evalsha, FLOAT_INCR_SCRIPT.sha1, ...c.args.slice(2)], c.key);
      }
      i++;
    }
    if (conn.isBackpressured) await new Promise<void>((r) => conn.once('drain', r));
    else if (i < recs.length) await tick();
  }
  await conn.flush();
  const ms = performance.now() - start;
  await conn.close();
  return ms;
}

export async function run(): Promise<Record<string, number | string>> {
  const recs = records();
  const translator = new JournalTranslator({ redisVersion: '7.0.0', hasCommand: () => false });
  // What Dragonfly holds after n increments of 0.1 from nothing (double arithmetic, FormatDouble).
  const perKey = COMMANDS / KEYS;
  let sum = 0;
  for (let n = 0; n < perKey; n++) sum += 0.1;
  const exact = formatDouble(sum);
  const server = await startRedisServer();
  try {
    const best: Record<Way, number> = { 'pass-through': Infinity, EVAL: Infinity, EVALSHA: Infinity };
    const results: Record<Way, string> = { 'pass-through': '', EVAL: '', EVALSHA: '' };
    for (let r = 0; r < ROUNDS; r++) {
      for (const way of ['pass-through', 'EVAL', 'EVALSHA'] as const) {
        best[way] = Math.min(best[way], await replay(server, recs, way, translator));
        results[way] = (await redisCli(server.port, 'GET', 'f:0')).trim();
        await redisCli(server.port, 'FLUSHALL');
      }
    }
    if (results.EVAL !== exact || results.EVALSHA !== exact) throw new Error(`script result ${results.EVAL} / ${results.EVALSHA}, Dragonfly holds ${exact}`);
    const rate = (ms: number): number => Math.round(COMMANDS / (ms / 1000));
    return {
      records: COMMANDS,
      'pass-through (records/s)': rate(best['pass-through']),
      'EVAL script (records/s)': rate(best.EVAL),
      'EVALSHA script (records/s)': rate(best.EVALSHA),
      [`value after ${perKey} × 0.1: Dragonfly / script`]: exact,
      [`value after ${perKey} × 0.1: pass-through`]: results['pass-through'],
    };
  } finally {
    await server.stop();
  }
}
