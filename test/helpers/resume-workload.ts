/**
 * Shared by the resume and kill -9 tests: a fake master over a live data model, a non-idempotent
 * workload spread over its flows, and the comparisons of the target with the model.
 */
import assert from 'node:assert/strict';
import type { Replicator } from '../../src/pipeline/replicate.js';
import { compareState, readState } from './expected.js';
import { FakeMaster } from './fake-master.js';
import { MasterData } from './master-data.js';
import type { RedisServer } from './redis-server.js';
import { until } from './wait.js';

/** A fake master over a live model with `numFlows` flows, keeping `backlogLen` records per flow. */
export async function modelMaster(numFlows: number, backlogLen = 8192, extra: { port?: number; replid?: string } = {}): Promise<{ data: MasterData; m: FakeMaster; close(): Promise<void> }> {
  const data = await MasterData.start(numFlows, 1n, backlogLen);
  const m = await FakeMaster.start({ numFlows, data, ...extra });
  data.attach(m);
  return { data, m, close: async () => (await m.close(), await data.stop()) };
}

/** The flow a key belongs to (its shard): a stable hash of the name. */
export function flowOf(key: string, numFlows: number): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
  return h % numFlows;
}

/**
 * `n` writes of non-idempotent commands (INCR, LPUSH, APPEND, HINCRBY, ZINCRBY, XADD with explicit
 * ids, SETRANGE) and some DELs over 40 keys, each journaled on its key's flow. `seed` varies them.
 */
export async function workload(data: MasterData, numFlows: number, n: number, state: { seq: number }): Promise<void> {
  for (let i = 0; i < n; i++) {
    const s = state.seq++;
    const k = (p: string): string => `${p}:${s % 8}`;
    let args: string[];
    switch (s % 8) {
      case 0: args = ['INCR', k('n')]; break;
      case 1: args = ['LPUSH', k('l'), `v${s}`]; break;
      case 2: args = ['APPEND', k('s'), `${s},`]; break;
      case 3: args = ['HINCRBY', k('h'), `f${s % 3}`, '7']; break;
      case 4: args = ['ZINCRBY', k('z'), '1.5', `m${s % 5}`]; break;
      case 5: args = ['XADD', k('x'), `${s + 1}-0`, 'f', String(s)]; break;
      case 6: args = ['SETRANGE', k('r'), String(s % 16), 'ab']; break;
      default: args = s % 3 === 0 ? ['DEL', `l:${s % 8 === 7 ? 1 : 0}`] : ['INCRBY', k('n'), '3'];
    }
    await data.exec(0, args, [{ flow: flowOf(args[1]!, numFlows), args }]);
  }
}

/** Resolves once the replicator acknowledged every record the model journaled, on every flow. */
export async function caughtUp(r: Replicator, data: MasterData, what: string): Promise<void> {
  await until(() => {
    const s = r.status();
    return s.phase === 'stable-sync' && s.flows.length === data.lsns.length && s.flows.every((f) => f.lsn === data.lsns[f.id]);
  }, what, 30_000);
}

/** The target equals the model, key by key (type, value, expiry), df2redis's own keys aside. */
export async function assertEqualToModel(target: RedisServer, data: MasterData): Promise<void> {
  const diffs = compareState(await readState(target.port), await readState(data.server.port));
  assert.deepEqual(diffs, [], 'the target equals the master');
}


/**
 * `n` idempotent writes (SET, HSET, SADD, ZADD with absolute scores, PEXPIREAT, DEL) over 40 keys,
 * each journaled on its key's flow: what an at-least-once target (a cluster) converges on.
 */
export async function idempotentWorkload(data: MasterData, numFlows: number, n: number, state: { seq: number }): Promise<void> {
  for (let i = 0; i < n; i++) {
    const s = state.seq++;
    const k = (p: string): string => `${p}:${s % 8}`;
    let args: string[];
    switch (s % 6) {
      case 0: args = ['SET', k('s'), `v${s}`]; break;
      case 1: args = ['HSET', k('h'), `f${s % 3}`, String(s)]; break;
      case 2: args = ['SADD', k('set'), `m${s % 11}`]; break;
      case 3: args = ['ZADD', k('z'), String(s), `m${s % 5}`]; break;
      case 4: args = ['PEXPIREAT', k('s'), String(4_102_444_800_000 + s)]; break; // year 2100
      default: args = ['DEL', k('h')];
    }
    await data.exec(0, args, [{ flow: flowOf(args[1]!, numFlows), args }]);
  }
}
