/**
 * Reading keys of one server (a live source, or the target, standalone or cluster) in pipelined
 * batches: {@link KeyIo.exec} sends a few commands per key and hands back each key's replies.
 */
import { RedisConnection } from '../sink/redis-connection.js';
import { checkCoverage, fetchTopology, type ClusterTopology } from '../sink/cluster-topology.js';
import { keySlot } from '../sink/key-slot.js';
import type { TargetEndpoint } from '../sink/target-url.js';
import { BatchClient, type CommandArg, type RespValue } from './batch-client.js';

/** Keys of one server, batch by batch. */
export interface KeyIo {
  /** `commands(key)` for every key, sent in database `db` (pipelined per node); replies per key, in order. */
  exec(db: number, keys: readonly Buffer[], commands: (key: Buffer) => CommandArg[][]): Promise<RespValue[][]>;
  /**
   * The fast form for uniform commands: every template followed by the key (`['TYPE']` → `TYPE
   * <key>`), replies flat (key i's template j at `i * templates.length + j`).
   */
  each(db: number, keys: readonly Buffer[], templates: ReadonlyArray<ReadonlyArray<CommandArg>>): Promise<RespValue[]>;
  /** One connection per node holding keys (for SCAN): one for a standalone server, one per master. */
  readonly nodes: readonly BatchClient[];
  close(): void;
}

async function execOn(client: BatchClient, db: number, keys: readonly Buffer[], commands: (key: Buffer) => CommandArg[][]): Promise<RespValue[][]> {
  const all: CommandArg[][] = [];
  const counts: number[] = [];
  if (client.db !== db) all.push(['SELECT', db]);
  const skip = all.length;
  for (const k of keys) {
    const c = commands(k);
    counts.push(c.length);
    for (const x of c) all.push(x);
  }
  const replies = await client.batch(all);
  const out: RespValue[][] = [];
  let p = skip;
  for (const n of counts) {
    out.push(replies.slice(p, p + n));
    p += n;
  }
  return out;
}

async function eachOn(client: BatchClient, db: number, keys: readonly Buffer[], templates: ReadonlyArray<ReadonlyArray<CommandArg>>): Promise<RespValue[]> {
  const head = client.db !== db ? [['SELECT', db]] : [];
  const replies = await client.batchPerKey(head, keys, templates);
  return head.length === 0 ? replies : replies.slice(head.length);
}

/** A standalone server (or a Dragonfly master): one connection. */
export class StandaloneIo implements KeyIo {
  readonly nodes: BatchClient[];
  constructor(readonly client: BatchClient) {
    this.nodes = [client];
  }
  exec(db: number, keys: readonly Buffer[], commands: (key: Buffer) => CommandArg[][]): Promise<RespValue[][]> {
    return execOn(this.client, db, keys, commands);
  }
  each(db: number, keys: readonly Buffer[], templates: ReadonlyArray<ReadonlyArray<CommandArg>>): Promise<RespValue[]> {
    return eachOn(this.client, db, keys, templates);
  }
  close(): void {
    this.client.close();
  }
}

/**
 * A Redis Cluster: one connection per master, keys routed by slot with the table read at start
 * (a resharding during the check shows up as `MOVED` error replies, reported as such).
 */
export class ClusterIo implements KeyIo {
  readonly nodes: BatchClient[];
  readonly #topology: ClusterTopology;
  private constructor(nodes: BatchClient[], topology: ClusterTopology) {
    this.nodes = nodes;
    this.#topology = topology;
  }

  /** @throws ClusterError (uncovered slots), ConnectionError */
  static async connect(seed: TargetEndpoint, tlsInsecure: boolean): Promise<ClusterIo> {
    const conn = await RedisConnection.connect(seed, { tlsInsecure, role: 'target' });
    let topology: ClusterTopology;
    try {
      topology = await fetchTopology(conn, seed.host, seed.tls);
      checkCoverage(topology, conn.peer);
    } finally {
      await conn.close().catch(() => undefined);
    }
    const nodes = await Promise.all(
      topology.masters.map((m) => BatchClient.connect({ ...seed, host: m.host, port: m.port, db: 0 }, { role: `target node ${m.addr}`, tlsInsecure })),
    );
    return new ClusterIo(nodes, topology);
  }

  async exec(db: number, keys: readonly Buffer[], commands: (key: Buffer) => CommandArg[][]): Promise<RespValue[][]> {
    const groups = this.#groups(keys);
    const out = new Array<RespValue[]>(keys.length);
    await Promise.all(
      [...groups].map(async ([node, idx]) => {
        const replies = await execOn(this.nodes[node]!, db, idx.map((i) => keys[i]!), commands);
        idx.forEach((i, j) => (out[i] = replies[j]!));
      }),
    );
    return out;
  }

  async each(db: number, keys: readonly Buffer[], templates: ReadonlyArray<ReadonlyArray<CommandArg>>): Promise<RespValue[]> {
    const groups = this.#groups(keys);
    const stride = templates.length;
    const out = new Array<RespValue>(keys.length * stride);
    await Promise.all(
      [...groups].map(async ([node, idx]) => {
        const replies = await eachOn(this.nodes[node]!, db, idx.map((i) => keys[i]!), templates);
        idx.forEach((i, j) => {
          for (let t = 0; t < stride; t++) out[i * stride + t] = replies[j * stride + t]!;
        });
      }),
    );
    return out;
  }

  #groups(keys: readonly Buffer[]): Map<number, number[]> {
    const groups = new Map<number, number[]>();
    keys.forEach((k, i) => {
      const node = this.#topology.owner[keySlot(k)]!;
      let g = groups.get(node);
      if (g === undefined) groups.set(node, (g = []));
      g.push(i);
    });
    return groups;
  }

  close(): void {
    for (const n of this.nodes) n.close();
  }
}
