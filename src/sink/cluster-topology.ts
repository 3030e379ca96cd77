/**
 * Redis Cluster slot table: who owns each of the 16384 slots, read with `CLUSTER SHARDS` (Redis
 * ≥ 7.0, src/cluster.c `clusterCommandShards`) or, when that is refused, `CLUSTER SLOTS`
 * (`clusterReplyMultiBulkSlots`), and checked for full coverage.
 */
import { ClusterError, TargetCommandError } from '../errors.js';
import type { RedisConnection, RespValue } from './redis-connection.js';

/** Number of hash slots (Redis src/cluster.h `CLUSTER_SLOTS`). */
export const CLUSTER_SLOTS = 16384;

/** One master node as the cluster announces it. */
export interface ClusterMaster {
  /** `host:port` (IPv6 in brackets), the identity used in messages and for connections. */
  addr: string;
  host: string;
  port: number;
  /** Node id (40 hex characters), when the reply gave it. */
  id: string | undefined;
}

/** The slot table: `owner[slot]` is an index into `masters`, or -1 when no master serves it. */
export interface ClusterTopology {
  masters: ClusterMaster[];
  owner: Int16Array;
}

/** `host:port`, IPv6 hosts in brackets (the form RedisConnection uses for its peer name). */
export function nodeAddr(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Splits `host:port` / `[v6]:port` (as found in MOVED/ASK replies). */
export function parseNodeAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  let host = addr.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: Number(addr.slice(i + 1)) };
}

function text(v: RespValue | undefined): string {
  if (v === undefined || v === null) return '';
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** A RESP2 flat `[name, value, name, value…]` array as a Map (CLUSTER SHARDS shapes). */
function fields(v: RespValue | undefined): Map<string, RespValue> {
  const m = new Map<string, RespValue>();
  if (!Array.isArray(v)) return m;
  for (let i = 0; i + 1 < v.length; i += 2) m.set(text(v[i]), v[i + 1]!);
  return m;
}

/**
 * Where to connect to an announced node: its `endpoint` (or `ip`), unless the cluster announces
 * none (`?` or empty, `cluster-preferred-endpoint-type unknown-endpoint`): then the host we reached
 * it through. With TLS, the `tls-port` when announced.
 */
function announcedHost(endpoint: string, fallbackHost: string): string {
  return endpoint === '' || endpoint === '?' ? fallbackHost : endpoint;
}

class TopologyBuilder {
  readonly masters: ClusterMaster[] = [];
  readonly owner = new Int16Array(CLUSTER_SLOTS).fill(-1);
  readonly #index = new Map<string, number>();

  assign(start: number, end: number, master: Omit<ClusterMaster, 'addr'>): void {
    const addr = nodeAddr(master.host, master.port);
    let i = this.#index.get(addr);
    if (i === undefined) {
      i = this.masters.length;
      this.masters.push({ addr, ...master });
      this.#index.set(addr, i);
    }
    for (let s = Math.max(0, start); s <= Math.min(end, CLUSTER_SLOTS - 1); s++) this.owner[s] = i;
  }
}

/**
 * Parses a `CLUSTER SHARDS` reply (RESP2): per shard `slots` (flat start/end pairs) and `nodes`
 * (flat field arrays: id, port, tls-port, ip, endpoint, role, health…). The shard's master is the
 * node with `role master`; a master whose `health` is `fail` is still its owner (the caller finds
 * out by connecting; a replica takes over only once the cluster says so).
 */
export function parseClusterShards(reply: RespValue, fallbackHost: string, isTls: boolean): ClusterTopology {
  const b = new TopologyBuilder();
  if (!Array.isArray(reply)) throw new ClusterError(`CLUSTER SHARDS returned ${text(reply)}, not an array`);
  for (const shard of reply) {
    const f = fields(shard);
    const slots = f.get('slots');
    const nodes = f.get('nodes');
    if (!Array.isArray(slots) || !Array.isArray(nodes)) continue;
    const master = nodes.map(fields).find((n) => text(n.get('role')) === 'master');
    if (master === undefined) continue;
    const tlsPort = master.get('tls-port');
    const port = Number(isTls && tlsPort !== undefined ? tlsPort : master.get('port'));
    const host = announcedHost(text(master.get('endpoint')) || text(master.get('ip')), fallbackHost);
    for (let i = 0; i + 1 < slots.length; i += 2) {
      b.assign(Number(slots[i]), Number(slots[i + 1]), { host, port, id: text(master.get('id')) || undefined });
    }
  }
  return { masters: b.masters, owner: b.owner };
}

/** Parses a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id?], replicas…], …]`. */
export function parseClusterSlots(reply: RespValue, fallbackHost: string): ClusterTopology {
  const b = new TopologyBuilder();
  if (!Array.isArray(reply)) throw new ClusterError(`CLUSTER SLOTS returned ${text(reply)}, not an array`);
  for (const range of reply) {
    if (!Array.isArray(range) || range.length < 3 || !Array.isArray(range[2])) continue;
    const m = range[2];
    b.assign(Number(range[0]), Number(range[1]), {
      host: announcedHost(text(m[0]), fallbackHost),
      port: Number(m[1]),
      id: m.length > 2 ? text(m[2]) || undefined : undefined,
    });
  }
  return { masters: b.masters, owner: b.owner };
}

/** Slot ranges `[start, end]` (inclusive) owned by no master. */
export function uncoveredRanges(owner: Int16Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let s = 0; s < CLUSTER_SLOTS; s++) {
    if (owner[s] !== -1) continue;
    const start = s;
    while (s + 1 < CLUSTER_SLOTS && owner[s + 1] === -1) s++;
    out.push([start, s]);
  }
  return out;
}

/**
 * @throws ClusterError naming the uncovered slot ranges (at most 10 listed) when some slot has no
 *   master: writing there would fail with CLUSTERDOWN or be lost.
 */
export function checkCoverage(t: ClusterTopology, from: string): void {
  const gaps = uncoveredRanges(t.owner);
  if (gaps.length === 0) return;
  const count = gaps.reduce((n, [a, z]) => n + z - a + 1, 0);
  const listed = gaps.slice(0, 10).map(([a, z]) => (a === z ? `${a}` : `${a}-${z}`));
  throw new ClusterError(
    `${count} of ${CLUSTER_SLOTS} slots are not served by any master (${listed.join(', ')}${gaps.length > 10 ? ', …' : ''}), ` +
      'fix the cluster (redis-cli --cluster fix) before writing to it',
    { nodes: [from] },
  );
}

/**
 * Reads the slot table through `conn`: `CLUSTER SHARDS`, or `CLUSTER SLOTS` when the node refuses
 * it (Redis < 7.0). Not coverage-checked (see {@link checkCoverage}).
 * @throws TargetCommandError if both are refused; ConnectionError if the connection fails.
 */
export async function fetchTopology(conn: RedisConnection, fallbackHost: string, isTls: boolean): Promise<ClusterTopology> {
  try {
    return parseClusterShards(await conn.call(['CLUSTER', 'SHARDS']), fallbackHost, isTls);
  } catch (err) {
    if (!(err instanceof TargetCommandError)) throw err;
    return parseClusterSlots(await conn.call(['CLUSTER', 'SLOTS']), fallbackHost);
  }
}

/** True when both tables give every slot the same master address. */
export function sameOwners(a: ClusterTopology, b: ClusterTopology): boolean {
  for (let s = 0; s < CLUSTER_SLOTS; s++) {
    const x = a.owner[s]!;
    const y = b.owner[s]!;
    if ((x === -1) !== (y === -1)) return false;
    if (x !== -1 && a.masters[x]!.addr !== b.masters[y]!.addr) return false;
  }
  return true;
}
