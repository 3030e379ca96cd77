/**
 * Helpers for integration tests against a real Redis Cluster started by {@link startCluster}: read the
 * whole keyspace across the current masters, list masters and their slots, move slots between masters
 * the way `redis-cli --cluster reshard` does (optionally slowly, so a test can write while a slot is
 * half-migrated), and fail a master over to one of its replicas.
 *
 * Every function asks the nodes (`CLUSTER NODES`, `ROLE`) at call time, so they stay right after a
 * failover or a resharding. Nodes that do not accept a connection (e.g. stopped by the test) are
 * skipped. Commands go through short-lived node-redis clients (RESP2, Buffer replies), which keeps
 * binary keys intact.
 */
import calculateSlot from 'cluster-key-slot';
import { createClient, RESP_TYPES } from 'redis';
import { readState, type ExpectedKey, type ExpectedState, type ReadStateOptions } from './expected.js';
import type { RedisCluster } from './redis-server.js';

/** Number of hash slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

/** A master as it describes itself in `CLUSTER NODES`. */
export interface ClusterMaster {
  port: number;
  /** 40-hex node id. */
  id: string;
  /** Owned slot ranges, inclusive, ascending. */
  slots: Array<[number, number]>;
}

/** Options of {@link moveSlot} and {@link moveSlots}. */
export interface MoveSlotOptions {
  /** Keys per `CLUSTER GETKEYSINSLOT` + `MIGRATE … KEYS` round. @default 100 */
  keysPerBatch?: number;
  /** Sleep after every `MIGRATE` batch while the slot is still MIGRATING/IMPORTING, so a test can
   *  write meanwhile and get `-ASK` from the source. @default 0 */
  pauseBetweenBatchesMs?: number;
  /** Called after every `MIGRATE` batch (before the pause), while the slot is still half-migrated:
   *  `moved` keys of this slot are on the destination so far. Awaited. */
  afterBatch?: (info: { slot: number; batch: number; moved: number; fromPort: number; toPort: number }) => void | Promise<void>;
  /** `MIGRATE … REPLACE`: overwrite a key of the same name already on the destination, instead of
   *  failing with `BUSYKEY`. @default false */
  replace?: boolean;
  /** `MIGRATE` timeout (ms). @default 5000 */
  migrateTimeoutMs?: number;
  /** How long to wait, after `CLUSTER SETSLOT … NODE`, for every reachable node to report the new
   *  owner (replicas learn it by gossip). @default 10000 */
  timeoutMs?: number;
}

/** Options of {@link failover}. */
export interface FailoverOptions {
  /** Overall limit, including waiting for the replica's link to its master. @default 30000 */
  timeoutMs?: number;
  /** `CLUSTER FAILOVER FORCE` / `TAKEOVER` (needed when the master is down). Without a mode, the
   *  failover is the coordinated one: the master pauses writes until the replica has caught up. */
  mode?: 'FORCE' | 'TAKEOVER';
}

type Reply = Buffer | string | number | null | Reply[];
type Arg = string | Buffer;

interface CommandClient {
  sendCommand(args: Arg[]): Promise<unknown>;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** One line of `CLUSTER NODES`. */
interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  /** Id of its master, for a replica. */
  masterId: string | undefined;
  slots: Array<[number, number]>;
  /** Slots this node has MIGRATING (`[slot->-id]`) or IMPORTING (`[slot-<-id]`); only shown on its own line. */
  inTransit: number[];
}

/** What one reachable node says about the cluster. */
interface NodeView {
  port: number;
  self: NodeLine;
  lines: NodeLine[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const text = (r: unknown): string => (Buffer.isBuffer(r) ? r.toString('utf8') : String(r));

/** Parses `CLUSTER NODES`; importing/migrating markers (`[slot->-id]`, `[slot-<-id]`) go to `inTransit`. */
function parseClusterNodes(out: string): NodeLine[] {
  const lines: NodeLine[] = [];
  for (const line of out.split('\n')) {
    const f = line.trim().split(' ');
    if (f.length < 8) continue;
    const addr = f[1]!.split(',')[0]!.split('@')[0]!;
    const slots: Array<[number, number]> = [];
    const inTransit: number[] = [];
    for (const s of f.slice(8)) {
      if (s.startsWith('[')) {
        inTransit.push(Number.parseInt(s.slice(1), 10));
        continue;
      }
      const [a, b] = s.split('-');
      slots.push([Number(a), Number(b ?? a)]);
    }
    slots.sort((x, y) => x[0] - y[0]);
    lines.push({
      id: f[0]!,
      port: Number(addr.slice(addr.lastIndexOf(':') + 1)),
      flags: f[2]!.split(','),
      masterId: f[3] === '-' ? undefined : f[3],
      slots,
      inTransit,
    });
  }
  return lines;
}

const owns = (slots: ReadonlyArray<[number, number]>, slot: number): boolean => slots.some(([a, b]) => slot >= a && slot <= b);
const isMaster = (l: NodeLine): boolean => l.flags.includes('master');
const showSlots = (slots: ReadonlyArray<[number, number]>): string => slots.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',') || 'none';

/** Lazily opened node-redis clients, one per port, closed by {@link Conns.close}. */
class Conns {
  private readonly clients = new Map<number, Promise<CommandClient | undefined>>();

  /** The client of `port`, or undefined if nothing accepts a connection there. */
  get(port: number): Promise<CommandClient | undefined> {
    let p = this.clients.get(port);
    if (!p) {
      p = (async () => {
        const client = createClient({
          url: `redis://127.0.0.1:${port}`,
          RESP: 2,
          socket: { reconnectStrategy: false, connectTimeout: 2000 },
        }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }) as unknown as CommandClient;
        client.on('error', () => {}); // surfaced by the rejected command instead
        try {
          await client.connect();
          return client;
        } catch {
          return undefined;
        }
      })();
      this.clients.set(port, p);
    }
    return p;
  }

  /** Sends one command to `port`. @throws on an error reply, or if `port` does not accept connections. */
  async cmd(port: number, ...args: Array<Arg | number>): Promise<Reply> {
    const c = await this.get(port);
    if (!c) throw new Error(`127.0.0.1:${port} does not accept connections`);
    const argv = args.map((a) => (typeof a === 'number' ? String(a) : a));
    try {
      return (await c.sendCommand(argv)) as Reply;
    } catch (err) {
      const cmd = argv.slice(0, 4).map(text).join(' ');
      throw new Error(`127.0.0.1:${port} ${cmd}${argv.length > 4 ? ' …' : ''}: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    const all = await Promise.all(this.clients.values());
    this.clients.clear();
    await Promise.all(all.map((c) => c?.close().catch(() => c.destroy())));
  }
}

async function withConns<T>(fn: (c: Conns) => Promise<T>): Promise<T> {
  const conns = new Conns();
  try {
    return await fn(conns);
  } finally {
    await conns.close();
  }
}

/** `CLUSTER NODES` of every reachable node of `cluster`, in `cluster.nodes` order. */
async function nodeViews(c: Conns, cluster: RedisCluster): Promise<NodeView[]> {
  const views = await Promise.all(
    cluster.nodes.map(async (n): Promise<NodeView | undefined> => {
      if (!(await c.get(n.port))) return undefined;
      // A replica re-syncing (after a FLUSHALL or a failover) answers LOADING for a moment: wait.
      let reply: Reply | undefined;
      for (let attempt = 0; reply === undefined; attempt++) {
        try {
          reply = await c.cmd(n.port, 'CLUSTER', 'NODES');
        } catch (err) {
          if (!/LOADING/.test((err as Error).message) || attempt >= 100) throw err;
          await sleep(50);
        }
      }
      const lines = parseClusterNodes(text(reply));
      const self = lines.find((l) => l.flags.includes('myself'));
      if (!self) throw new Error(`127.0.0.1:${n.port}: no 'myself' line in CLUSTER NODES`);
      return { port: n.port, self, lines };
    }),
  );
  return views.filter((v): v is NodeView => v !== undefined);
}

/** Masters by their own `CLUSTER NODES` line, ordered by lowest owned slot (slot-less ones last). */
function mastersOf(views: NodeView[]): ClusterMaster[] {
  return views
    .filter((v) => isMaster(v.self))
    .map((v) => ({ port: v.port, id: v.self.id, slots: v.self.slots }))
    .sort((a, b) => (a.slots[0]?.[0] ?? CLUSTER_SLOTS + a.port) - (b.slots[0]?.[0] ?? CLUSTER_SLOTS + b.port));
}

/**
 * The current masters of `cluster` (every reachable node whose own `CLUSTER NODES` line is flagged
 * `master`), each with its port, node id and owned slot ranges as that master reports them; ordered
 * by lowest owned slot, masters without slots last. Stopped nodes are left out.
 */
export async function clusterMasters(cluster: RedisCluster): Promise<ClusterMaster[]> {
  return withConns(async (c) => mastersOf(await nodeViews(c, cluster)));
}

/**
 * Reads every key of every current master (by {@link readState}, db 0) and merges them into one
 * state `{ '0': { base64Key: { type, pexpireat, digest, value? } } }` — the shape of `readState`,
 * db 0 always present. Keys are read from masters only, whatever slot they are in.
 * @throws if the reachable masters do not cover all 16384 slots, if two masters claim one slot (a
 *   failover or resharding not yet settled), or if one key is found on two masters.
 */
export async function readClusterState(cluster: RedisCluster, options: ReadStateOptions = {}): Promise<ExpectedState> {
  const masters = await clusterMasters(cluster);
  const owner = new Array<number | undefined>(CLUSTER_SLOTS);
  for (const m of masters) {
    for (const [a, b] of m.slots) {
      for (let s = a; s <= b; s++) {
        if (owner[s] !== undefined) throw new Error(`readClusterState: slot ${s} claimed by both 127.0.0.1:${owner[s]} and 127.0.0.1:${m.port}`);
        owner[s] = m.port;
      }
    }
  }
  const uncovered = owner.findIndex((p) => p === undefined);
  if (uncovered >= 0) {
    throw new Error(`readClusterState: slot ${uncovered} has no reachable master (masters: ${masters.map((m) => `${m.port}=${showSlots(m.slots)}`).join(' ')})`);
  }
  const states = await Promise.all(masters.map((m) => readState(m.port, [0], options)));
  const merged: Record<string, ExpectedKey> = {};
  const where: Record<string, number> = {};
  states.forEach((st, i) => {
    for (const [k, v] of Object.entries(st['0'] ?? {})) {
      if (k in merged) {
        const name = Buffer.from(k, 'base64').toString('utf8');
        throw new Error(`readClusterState: key ${JSON.stringify(name)} is on both 127.0.0.1:${where[k]} and 127.0.0.1:${masters[i]!.port}`);
      }
      merged[k] = v;
      where[k] = masters[i]!.port;
    }
  });
  return { '0': merged };
}

/** Polls `check` (which returns undefined when done, else what is still missing) until done or `timeoutMs`. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<string | undefined>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = await check();
    if (missing === undefined) return;
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${timeoutMs} ms: ${missing}`);
    await sleep(25);
  }
}

/** Waits until every reachable node says `ownerId` owns each of `slots`, and none shows them migrating. */
async function waitForOwner(c: Conns, cluster: RedisCluster, slots: number[], ownerId: string, ownerPort: number, timeoutMs: number): Promise<void> {
  await waitFor(`slots ${slots.join(',')} → 127.0.0.1:${ownerPort}`, timeoutMs, async () => {
    for (const v of await nodeViews(c, cluster)) {
      const owner = v.lines.find((l) => l.id === ownerId);
      const bad = slots.find((s) => !owner || !owns(owner.slots, s));
      if (bad !== undefined) return `127.0.0.1:${v.port} does not see slot ${bad} on ${ownerPort} yet`;
      const busy = slots.find((s) => v.self.inTransit.includes(s));
      if (busy !== undefined) return `127.0.0.1:${v.port} still has slot ${busy} MIGRATING/IMPORTING`;
    }
    return undefined;
  });
}

/** Moves `slot` without waiting for gossip; returns keys moved and the destination id. */
async function moveSlotOnce(c: Conns, cluster: RedisCluster, slot: number, toPort: number, opts: MoveSlotOptions): Promise<{ moved: number; dstId: string }> {
  if (!Number.isInteger(slot) || slot < 0 || slot >= CLUSTER_SLOTS) throw new Error(`moveSlot: bad slot ${slot}`);
  const keysPerBatch = opts.keysPerBatch ?? 100;
  if (!Number.isInteger(keysPerBatch) || keysPerBatch < 1) throw new Error(`moveSlot: keysPerBatch must be a positive integer, got ${keysPerBatch}`);
  const masters = mastersOf(await nodeViews(c, cluster));
  const dst = masters.find((m) => m.port === toPort);
  if (!dst) throw new Error(`moveSlot: 127.0.0.1:${toPort} is not a reachable master (masters: ${masters.map((m) => m.port).join(', ')})`);
  const src = masters.find((m) => owns(m.slots, slot));
  if (!src) throw new Error(`moveSlot: no reachable master owns slot ${slot}`);
  if (src.port === dst.port) return { moved: 0, dstId: dst.id };

  await c.cmd(dst.port, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', src.id);
  await c.cmd(src.port, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', dst.id);
  let moved = 0;
  for (let batch = 1; ; batch++) {
    const keys = (await c.cmd(src.port, 'CLUSTER', 'GETKEYSINSLOT', slot, keysPerBatch)) as Buffer[];
    if (keys.length === 0) break;
    const reply = await c.cmd(
      src.port,
      'MIGRATE', '127.0.0.1', dst.port, '', 0, opts.migrateTimeoutMs ?? 5000,
      ...(opts.replace ? ['REPLACE'] : []),
      'KEYS', ...keys,
    );
    // NOKEY: every key of the batch was deleted or expired meanwhile.
    if (text(reply) !== 'NOKEY') moved += keys.length;
    await opts.afterBatch?.({ slot, batch, moved, fromPort: src.port, toPort: dst.port });
    if (opts.pauseBetweenBatchesMs) await sleep(opts.pauseBetweenBatchesMs);
  }
  // As redis-cli: the destination first (it bumps its config epoch, so its claim wins), then the
  // source (which leaves MIGRATING and answers -MOVED from now on), then every other master.
  await c.cmd(dst.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', dst.id);
  await c.cmd(src.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', dst.id);
  await Promise.all(masters.filter((m) => m !== src && m !== dst).map((m) => c.cmd(m.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', dst.id)));
  return { moved, dstId: dst.id };
}

/**
 * Moves one slot to the master on `toPort` as `redis-cli --cluster reshard` does:
 * `CLUSTER SETSLOT slot IMPORTING <srcId>` on the destination, `… MIGRATING <dstId>` on the source,
 * then `CLUSTER GETKEYSINSLOT slot n` + `MIGRATE 127.0.0.1 <dstPort> "" 0 5000 KEYS k…` until the
 * source has none left (pausing `pauseBetweenBatchesMs` and calling `afterBatch` after each batch),
 * then `CLUSTER SETSLOT slot NODE <dstId>` on the destination, the source and every other master;
 * resolves once every reachable node (replicas included) reports the new owner.
 *
 * While the slot is half-migrated, Redis 7.0 answers on the source: commands on keys it still has
 * as usual, on keys it no longer has (moved, or new) `-ASK <slot> 127.0.0.1:<dstPort>`, multi-key
 * commands with only some keys present `-TRYAGAIN`; the destination answers `-MOVED` to the source
 * unless the command is preceded by `ASKING`.
 *
 * A no-op (0) if `toPort` already owns the slot. If it throws midway (or `afterBatch` does), the slot
 * is left MIGRATING/IMPORTING with its keys split between the two masters.
 * @returns the number of keys moved.
 * @throws if `toPort` is not a master, on an error reply (e.g. `BUSYKEY` without `replace`), or if
 *   the nodes do not agree on the new owner within `timeoutMs`.
 */
export async function moveSlot(cluster: RedisCluster, slot: number, toPort: number, opts: MoveSlotOptions = {}): Promise<number> {
  return moveSlots(cluster, [slot], toPort, opts);
}

/**
 * {@link moveSlot} for each of `slots` in turn (slots `toPort` already owns are skipped), then waits
 * once for every node to agree.
 * @returns the total number of keys moved.
 */
export async function moveSlots(cluster: RedisCluster, slots: number[], toPort: number, opts: MoveSlotOptions = {}): Promise<number> {
  return withConns(async (c) => {
    let total = 0;
    let dstId: string | undefined;
    for (const slot of slots) {
      const r = await moveSlotOnce(c, cluster, slot, toPort, opts);
      total += r.moved;
      dstId = r.dstId;
    }
    if (dstId !== undefined) await waitForOwner(c, cluster, slots, dstId, toPort, opts.timeoutMs ?? 10_000);
    return total;
  });
}

async function infoField(c: Conns, port: number, section: string, field: string): Promise<string | undefined> {
  const info = text(await c.cmd(port, 'INFO', section));
  return new RegExp(`^${field}:(.*?)\\r?$`, 'm').exec(info)?.[1];
}

async function roleOf(c: Conns, port: number): Promise<string> {
  const r = (await c.cmd(port, 'ROLE')) as Reply[];
  return text(r[0]);
}

/**
 * Fails the master of the replica on `replicaPort` over to it: waits for the replica's replication
 * link to be up (a coordinated `CLUSTER FAILOVER` with the link still down — e.g. right after
 * {@link startCluster}, during the initial sync — is accepted with `OK` but silently times out after
 * 5 s), sends `CLUSTER FAILOVER [mode]` (re-sent if Redis's 5 s manual-failover limit passes), then
 * waits until `ROLE` on the replica says `master`, the old master (if reachable) says `slave`, every
 * reachable node reports `cluster_state:ok` and sees the replica owning all the old master's slots.
 *
 * Observed with Redis 7.0: the old master pauses writes for the few ms of the handover, then answers
 * them `-MOVED <slot> 127.0.0.1:<replicaPort>` on the same connection (ordinary client connections
 * stay open; clients blocked in BLPOP etc. get `-UNBLOCKED …` and are disconnected). Failing over a
 * master while one of its slots is half-migrated ({@link moveSlot} interrupted) leaves that slot
 * unassigned on the importing node, which then reports `cluster_state:fail` and answers
 * `-CLUSTERDOWN The cluster is down` to every key command: this times out, with a hint in the error.
 * @throws Error saying what was still missing after `timeoutMs`, or if `replicaPort` is not a replica.
 */
export async function failover(cluster: RedisCluster, replicaPort: number, opts: FailoverOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const left = (): number => Math.max(0, deadline - Date.now());
  await withConns(async (c) => {
    const views = await nodeViews(c, cluster);
    const me = views.find((v) => v.port === replicaPort);
    if (!me) throw new Error(`failover: 127.0.0.1:${replicaPort} is not a reachable node of the cluster`);
    if (!me.self.flags.includes('slave') || me.self.masterId === undefined) {
      throw new Error(`failover: 127.0.0.1:${replicaPort} is not a replica (flags ${me.self.flags.join(',')})`);
    }
    const old = me.lines.find((l) => l.id === me.self.masterId);
    if (!old) throw new Error(`failover: 127.0.0.1:${replicaPort} does not know its master ${me.self.masterId}`);
    const oldSlots: number[] = [];
    for (const [a, b] of old.slots) for (let s = a; s <= b; s++) oldSlots.push(s);
    const what = `failover of 127.0.0.1:${old.port} to 127.0.0.1:${replicaPort}`;
    const oldSet = new Set(oldSlots);
    const halfMigrated = [...new Set(views.flatMap((v) => v.self.inTransit.filter((s) => oldSet.has(s))))];
    const hint = halfMigrated.length === 0 ? '' : ` (slots ${halfMigrated.join(',')} of the old master were MIGRATING/IMPORTING: Redis 7.0 then leaves them unassigned on the importing node, whose cluster_state stays fail until CLUSTER SETSLOT … NODE fixes it)`;

    if (!opts.mode) {
      await waitFor(`${what}: replication link`, left(), async () => {
        const link = await infoField(c, replicaPort, 'replication', 'master_link_status');
        return link === 'up' ? undefined : `master_link_status:${link}`;
      });
    }
    const send = async (): Promise<void> => {
      const r = text(await c.cmd(replicaPort, 'CLUSTER', 'FAILOVER', ...(opts.mode ? [opts.mode] : [])));
      if (r !== 'OK') throw new Error(`${what}: CLUSTER FAILOVER answered ${r}`);
    };
    await send();
    let sentAt = Date.now();
    await waitFor(`${what}${hint}`, left(), async () => {
      const role = await roleOf(c, replicaPort);
      if (role !== 'master') {
        if (Date.now() - sentAt > 6000) {
          await send(); // the manual failover timed out (CLUSTER_MF_TIMEOUT, 5 s): try again
          sentAt = Date.now();
        }
        return `ROLE of 127.0.0.1:${replicaPort} is ${role}`;
      }
      const oldNode = cluster.nodes.find((n) => n.port === old.port);
      if (oldNode && (await c.get(old.port))) {
        const oldRole = await roleOf(c, old.port);
        if (oldRole !== 'slave') return `ROLE of old master 127.0.0.1:${old.port} is ${oldRole}`;
      }
      for (const v of await nodeViews(c, cluster)) {
        const state = /^cluster_state:(\w+)/m.exec(text(await c.cmd(v.port, 'CLUSTER', 'INFO')))?.[1];
        if (state !== 'ok') return `127.0.0.1:${v.port} cluster_state:${state}`;
        const line = v.lines.find((l) => l.id === me.self.id);
        const bad = oldSlots.find((s) => !line || !owns(line.slots, s));
        if (bad !== undefined) return `127.0.0.1:${v.port} does not see slot ${bad} on 127.0.0.1:${replicaPort}`;
      }
      return undefined;
    });
  });
}

/**
 * The port of a replica of the master on `masterPort` (by the replicas' own `CLUSTER NODES` line),
 * the first in `cluster.nodes` order.
 * @throws if `masterPort` is not a reachable master or has no reachable replica.
 */
export async function replicaOf(cluster: RedisCluster, masterPort: number): Promise<number> {
  return withConns(async (c) => {
    const views = await nodeViews(c, cluster);
    const master = views.find((v) => v.port === masterPort);
    if (!master || !isMaster(master.self)) throw new Error(`replicaOf: 127.0.0.1:${masterPort} is not a reachable master`);
    const replica = views.find((v) => v.self.masterId === master.self.id && v.self.flags.includes('slave'));
    if (!replica) throw new Error(`replicaOf: 127.0.0.1:${masterPort} has no reachable replica`);
    return replica.port;
  });
}

/**
 * A key `prefix + n` (n = 0, 1, 2, …) whose hash slot the master on `port` owns now; `nth` skips
 * that many earlier matches, so distinct `nth` give distinct keys. The slot is computed locally
 * (`cluster-key-slot`, same as `CLUSTER KEYSLOT`), so a `prefix` holding a `{hash tag}` only works
 * if the tag's slot is on that master.
 * @throws if `port` is not a master, owns no slot, or no such key is found among 1,000,000 candidates.
 */
export async function keyInSlotOwnedBy(cluster: RedisCluster, port: number, prefix: string, nth = 0): Promise<string> {
  const master = (await clusterMasters(cluster)).find((m) => m.port === port);
  if (!master) throw new Error(`keyInSlotOwnedBy: 127.0.0.1:${port} is not a reachable master`);
  if (master.slots.length === 0) throw new Error(`keyInSlotOwnedBy: 127.0.0.1:${port} owns no slot`);
  let skip = nth;
  for (let n = 0; n < 1_000_000; n++) {
    const key = `${prefix}${n}`;
    if (owns(master.slots, calculateSlot(key)) && skip-- === 0) return key;
  }
  throw new Error(`keyInSlotOwnedBy: no key ${JSON.stringify(prefix)}<n> in the slots of 127.0.0.1:${port} (${showSlots(master.slots)})`);
}
