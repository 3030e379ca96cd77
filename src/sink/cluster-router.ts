/**
 * Redis Cluster target: slot routing over one pipelined connection per master, with MOVED, ASK,
 * TRYAGAIN / CLUSTERDOWN / LOADING and lost nodes (failover) handled without losing or reordering
 * a key's writes.
 *
 * Follows the client rules of the Redis Cluster specification (redis.io "Redis cluster
 * specification": "Redirection and resharding", "ASK redirection", "Replica migration") and the
 * server side they answer to, Redis src/cluster.c `getNodeByQuery` / `clusterRedirectClient`.
 */
import { EventEmitter } from 'node:events';
import { ClusterError, ConnectionError, LostWritesError, printableKey, TargetCommandError } from '../errors.js';
import {
  checkCoverage,
  CLUSTER_SLOTS,
  type ClusterTopology,
  fetchTopology,
  nodeAddr,
  parseNodeAddr,
  sameOwners,
  uncoveredRanges,
} from './cluster-topology.js';
import {
  type CommandArg,
  type CommandSink,
  type ConnectOptions,
  type EncodedCommand,
  RedisConnection,
  type RespValue,
} from './redis-connection.js';
import { keySlot } from './key-slot.js';
import { RespEncoder } from './resp-encoder.js';
import { ErrorPolicies, type ErrorPolicy, type Router } from './router.js';
import { type BatchCommand, BatchSink, SLOT_BATCH_SCRIPT, SlotBatch, slotBatchEval, type SlotGroup } from './slot-batch.js';
import type { TargetEndpoint } from './target-url.js';

/** Options of {@link ClusterRouter.connect}; connection options apply to every node connection. */
export interface ClusterRouterOptions extends ConnectOptions {
  /** Redirections (MOVED/ASK) of one command before giving up with a ClusterError. @default 16 */
  maxRedirects?: number;
  /**
   * How long TRYAGAIN / CLUSTERDOWN / LOADING replies and lost nodes are retried (with backoff and
   * topology refreshes) before giving up with a ClusterError. Covers an automatic failover, which
   * takes about `cluster-node-timeout` plus an election. @default 60_000
   */
  retryTimeoutMs?: number;
  /** Period of the background slot-table check (a change found is applied like a MOVED). @default 30_000 */
  refreshIntervalMs?: number;
}

const ROUTER_DEFAULTS = {
  maxRedirects: 16,
  retryTimeoutMs: 60_000,
  refreshIntervalMs: 30_000,
  maxInflightBytes: 8 * 1024 * 1024,
} as const;

/** Tag of a held command meant for every master ({@link Router.sendToAll}). */
const TAG_ALL_MASTERS = -2;

/**
 * Tag of a held entry that is not a command but a gate: the held commands behind it wait until
 * the slots it names have their previous batch acknowledged (an oversized batch, {@link ClusterRouter.commitBatch}).
 */
const TAG_GATE = -3;

const SCRIPT_LOAD_ARGS = ['SCRIPT', 'LOAD', SLOT_BATCH_SCRIPT];

/** Tags at or below this one name an exactly-once batch script ({@link ClusterRouter.commitBatch}). */
const TAG_BATCH_BASE = -1000;

/** An exactly-once batch script sent or to be sent: its slot groups, for a resend split by slot and to name a refused command. */
interface BatchScript {
  groups: SlotGroup[];
  field: string;
  next: bigint;
  /** Groups the reply said were not applied (resent on their own). */
  notApplied?: Set<SlotGroup>;
}

/** Counters of the exactly-once batches of a {@link ClusterRouter}. */
export interface ClusterBatchStats {
  /** Batch scripts sent (one per master per batch). */
  scripts: number;
  /** Slot groups resent, each as a script of its own (a redirection, a lost node). */
  resentGroups: number;
  /** Commands not sent because the slot's checkpoint showed them applied (resume). */
  skippedOnResume: number;
  /** Batches sent as plain commands because a command had too many arguments for the script. */
  oversized: number;
}

/** Counters of a {@link ClusterRouter} (for `/status`, logs and tests). */
export interface ClusterRouterStats {
  /** MOVED replies handled (each command resent once per reply). */
  moved: number;
  /** ASK replies handled (`ASKING` + the command on the importing node). */
  asked: number;
  /** TRYAGAIN / CLUSTERDOWN / LOADING replies retried. */
  retried: number;
  /** Commands resent because their node connection was lost. */
  resentAfterLoss: number;
  /** Node connections lost and opened again (after a refresh of the slot table). */
  lostConnections: number;
  /** Slot tables read (start included). */
  refreshes: number;
}

/** A command to send again, and where. */
interface Retry {
  cmd: EncodedCommand;
  /** ASK: the importing node (`host:port`); otherwise the slot's owner. */
  askTo?: string;
}

/** One master node the router knows about. */
interface NodeState {
  addr: string;
  ep: TargetEndpoint;
  conn: RedisConnection | undefined;
}

/** An armed {@link ClusterRouter.whenAcked} waiter; `token` invalidates callbacks of an older arming. */
interface Waiter {
  cb: () => void;
  token: number;
}

/**
 * Holds the commands written while the router is settling (a redirection, retry or lost node is
 * being resolved): same writing surface as a connection, each command kept as its encoded bytes.
 */
class HoldingSink extends RespEncoder implements CommandSink {
  tag = -1;
  readonly #onCommand: (cmd: EncodedCommand) => void;

  constructor(onCommand: (cmd: EncodedCommand) => void) {
    super();
    this.#onCommand = onCommand;
  }

  send(args: ReadonlyArray<CommandArg>, key?: Buffer): void {
    this.encode(args);
    this.#emit(args[0], key);
  }

  /** Closes the command opened by `begin` (the encoder's begin/arg/beginBulk/raw/endBulk). */
  end(name: string, key?: Buffer): void {
    this.#emit(name, key);
  }

  #emit(name: CommandArg | undefined, key: Buffer | undefined): void {
    const parts = this.take();
    let bytes = 0;
    for (const p of parts) bytes += p.length;
    this.#onCommand({ parts, bytes, name, key, tag: this.tag, attempts: 0 });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/**
 * Routes commands to the master owning each key's slot (CRC16 with hash tags, computed once per
 * key by {@link keySlot}), one ordered pipelined connection per master; the masters are written
 * in parallel. Implements {@link Router}.
 *
 * Redirections keep each key's order. The router is either *settled* (commands go straight to the
 * slot owner's connection) or *settling*: on a MOVED / ASK / TRYAGAIN / CLUSTERDOWN / LOADING reply
 * or a lost node connection, new commands are held (in order, as encoded bytes) while every
 * connection is drained, so every redirected command is known; then the slot table is re-read
 * when needed (the MOVED node first), missing masters are connected, backoff is observed, and the
 * redirected commands are resent in the order they were sent (ASK ones after `ASKING` on the
 * importing node), followed by the held ones. A key's commands are on one connection at any time,
 * so their order holds. Each command carries its redirection count: past `maxRedirects`, or past
 * `retryTimeoutMs` of retries, the router fails with a {@link ClusterError} naming slot and nodes.
 *
 * A lost connection's unacknowledged commands (written or not) are resent to the slot's owner in
 * the new table: a command the old master applied but did not acknowledge is applied twice
 * (at-least-once across a failover, as the issue asks: nothing lost).
 *
 * Not handled: TRYAGAIN of a multi-key command followed, in the same pipeline window, by an
 * acknowledged write of one of its keys (callers split multi-key writes into single-key ones, so
 * TRYAGAIN, which only multi-key commands get, does not occur for them).
 */
export class ClusterRouter extends EventEmitter implements Router {
  readonly isCluster = true;
  readonly #seeds: TargetEndpoint[];
  #options: ClusterRouterOptions;
  readonly #maxRedirects: number;
  readonly #retryTimeoutMs: number;
  #maxHeldBytes: number;
  readonly #nodes = new Map<string, NodeState>();
  /** Connection of each slot's master (settled state). */
  #slotConn: RedisConnection[] = new Array<RedisConnection>(CLUSTER_SLOTS);
  #topology: ClusterTopology | undefined;
  #masters: RedisConnection[] = [];
  /** A slot of each master (same index as `#masters`): the tag of its copy of a `sendToAll` command. */
  #masterSlots: number[] = [];
  #isSettled = true;
  /** Bumped by every event that unsettles the router (a redirection, a retry, a lost node). */
  #epoch = 0;
  #retries: Retry[] = [];
  #held: EncodedCommand[] = [];
  #heldBytes = 0;
  readonly #holding: HoldingSink;
  #isRefreshNeeded = false;
  #hintAddr: string | undefined;
  #notBefore = 0;
  #retryDeadline: number | undefined;
  #lastRetryReason = '';
  #waiters = new Set<Waiter>();
  #settledCbs: Array<() => void> = [];
  #drainCbs: Array<() => void> = [];
  #flushers = new Set<{ resolve: () => void; reject: (e: Error) => void }>();
  readonly #policies = new ErrorPolicies();
  #fatal: Error | undefined;
  #isClosing = false;
  #isClosed = false;
  #timer: NodeJS.Timeout | undefined;
  readonly stats: ClusterRouterStats = { moved: 0, asked: 0, retried: 0, resentAfterLoss: 0, lostConnections: 0, refreshes: 0 };
  readonly batchStats: ClusterBatchStats = { scripts: 0, resentGroups: 0, skippedOnResume: 0, oversized: 0 };
  /** Exactly-once batches: the checkpoint key of a slot, once enabled ({@link enableSlotBatches}). */
  #slotKeys: { cp(slot: number): Buffer; probe(slot: number): Buffer } | undefined;
  #batchField = '';
  #batch: SlotBatch | undefined;
  readonly #batchSink = new BatchSink();
  readonly #batchScripts = new Map<number, BatchScript>();
  #nextBatchTag = TAG_BATCH_BASE;
  readonly #batchEncoder = new RespEncoder(64 * 1024);
  /** Resume: per slot, the flow's next LSN already applied there (records below it are dropped). */
  #resumeCps: Map<number, bigint> | undefined;
  /** Per slot, the highest checkpoint a batch script was acknowledged for (found again after a failover?). */
  readonly #ackedCps = new Map<number, bigint>();
  /**
   * Per slot, the `next` of the last group this router sent for it: the checkpoint its next group
   * must find there (`prev` of src/sink/slot-batch.ts) while that one is not acknowledged, so that no
   * group applies before an earlier one.
   */
  readonly #slotChain = new Array<bigint | undefined>(CLUSTER_SLOTS);
  /** `#slotChain` as decimal text (the script's `prev` argument), converted once per batch. */
  readonly #slotChainText = new Array<string | undefined>(CLUSTER_SLOTS);
  /** 1 where the slot's last batch went as plain commands (oversized: never acknowledged per slot). */
  readonly #slotChainPlain = new Uint8Array(CLUSTER_SLOTS);
  /** The slots and `next` LSNs each held gate waits for (see TAG_GATE). */
  readonly #gates = new WeakMap<EncodedCommand, Array<{ slot: number; lsn: bigint }>>();
  /** Slots of lost master connections whose acknowledged checkpoints are to be found on their new owner. */
  #lostSlots: Array<{ slot: number; node: string }> = [];
  /** A failover that lost acknowledged writes is recoverable by a resume (`--wait-replicas`). */
  #isLostWriteRecoverable = false;
  #resumeMax = 0n;
  #recordLsn: bigint | undefined;

  private constructor(seeds: TargetEndpoint[], options: ClusterRouterOptions) {
    super();
    this.#seeds = seeds;
    this.#options = options;
    this.#maxRedirects = options.maxRedirects ?? ROUTER_DEFAULTS.maxRedirects;
    this.#retryTimeoutMs = options.retryTimeoutMs ?? ROUTER_DEFAULTS.retryTimeoutMs;
    this.#maxHeldBytes = options.maxInflightBytes ?? ROUTER_DEFAULTS.maxInflightBytes;
    this.#holding = new HoldingSink((cmd) => {
      this.#held.push(cmd);
      this.#heldBytes += cmd.bytes;
    });
  }

  /**
   * Reads the slot table from the first seed that answers, checks it covers all 16384 slots and
   * connects to every master (credentials and TLS of the first seed).
   * @throws ClusterError uncovered slots; ConnectionError no seed or master reachable.
   */
  static async connect(seeds: TargetEndpoint[], options: ClusterRouterOptions = {}): Promise<ClusterRouter> {
    const router = new ClusterRouter(seeds, options);
    let lastErr: unknown;
    for (const seed of seeds) {
      let conn: RedisConnection | undefined;
      try {
        conn = await RedisConnection.connect({ ...seed, db: 0 }, { ...options, role: 'target seed' });
        const t = await fetchTopology(conn, seed.host, seed.tls);
        router.stats.refreshes++;
        checkCoverage(t, nodeAddr(seed.host, seed.port));
        await router.#apply(t);
        lastErr = undefined;
        break;
      } catch (err) {
        if (err instanceof ClusterError) throw err;
        lastErr = err;
      } finally {
        await conn?.close().catch(() => undefined);
      }
    }
    if (lastErr !== undefined) {
      await router.close().catch(() => undefined);
      throw lastErr;
    }
    const every = options.refreshIntervalMs ?? ROUTER_DEFAULTS.refreshIntervalMs;
    if (every > 0) {
      router.#timer = setInterval(() => router.#checkTopology(), every);
      router.#timer.unref();
    }
    return router;
  }

  /** The current slot table (`owner[slot]` → `masters[i].addr`). */
  get topology(): ClusterTopology {
    return this.#topology!;
  }

  /** False while redirected commands are being resolved (new commands are held meanwhile). */
  get isSettled(): boolean {
    return this.#isSettled;
  }

  connectionFor(key: Buffer, db: number): CommandSink {
    if (db !== 0) {
      throw new ClusterError(
        `key ${JSON.stringify(printableKey(key))} is in database ${db}, but a Redis Cluster has only database 0 ` +
          '(copy only database 0 with --dbs 0)',
      );
    }
    return this.connectionForSlot(keySlot(key));
  }

  connectionForSlot(slot: number): CommandSink {
    if (this.#batch !== undefined) {
      const sink = this.#batchSink;
      sink.batch = this.#batch;
      sink.slot = slot;
      const cp = this.#resumeCps?.get(slot);
      sink.isDropping = cp !== undefined && this.#recordLsn !== undefined && this.#recordLsn < cp;
      return sink;
    }
    return this.#plainSink(slot);
  }

  sendToAll(args: ReadonlyArray<CommandArg>, db = 0): void {
    if (db !== 0) throw new ClusterError(`${String(args[0])} in database ${db}: a Redis Cluster has only database 0 (copy only database 0 with --dbs 0)`);
    if (!this.#isSettled) {
      this.#holding.tag = TAG_ALL_MASTERS;
      this.#holding.send(args);
      return;
    }
    const isScript = this.#slotKeys !== undefined && String(args[0]).toUpperCase() === 'SCRIPT';
    for (let i = 0; i < this.#masters.length; i++) {
      const conn = this.#masters[i]!;
      // Tagged with a slot of that master: resent after a failover, it reaches the master that took
      // over those slots (and only that one).
      conn.tag = this.#masterSlots[i]!;
      conn.send(args);
      if (isScript) conn.send(SCRIPT_LOAD_ARGS); // a SCRIPT FLUSH from the source must not drop ours
    }
  }

  async call(key: Buffer, args: ReadonlyArray<CommandArg>): Promise<RespValue> {
    for (let attempt = 0; ; attempt++) {
      await this.#whenSettled();
      if (this.#fatal) throw this.#fatal;
      const slot = keySlot(key);
      const conn = this.#slotConn[slot]!;
      try {
        return await conn.call(args);
      } catch (err) {
        const isRedirect = err instanceof TargetCommandError && /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING) /.test(err.reply);
        if ((!isRedirect && !(err instanceof ConnectionError)) || attempt >= this.#maxRedirects || this.#fatal) {
          if (isRedirect) throw new ClusterError(`${String(args[0])} still redirected after ${attempt + 1} tries: ${(err as TargetCommandError).reply}`, { slot, nodes: [conn.peer] });
          throw err;
        }
        if (err instanceof TargetCommandError && err.reply.startsWith('ASK ')) {
          const addr = err.reply.split(' ')[2]!;
          const node = await this.#ensureNode(addr);
          node.send(['ASKING']);
          return node.call(args);
        }
        if (err instanceof TargetCommandError) {
          this.#isRefreshNeeded = true;
          this.#notBefore = Date.now() + backoffMs(attempt + 1);
          this.#unsettle();
        }
        // A lost connection unsettles the router by itself.
      }
    }
  }

  all(): RedisConnection[] {
    return this.#masters;
  }

  // ── exactly-once batches (src/sink/slot-batch.ts) ────────────────────────────────────────────

  /**
   * Turns on exactly-once batches for flow field `field` (`lsn:<flow>`), with slot `s`'s checkpoint
   * in hash `keys.cp(s)` and its probe key `keys.probe(s)` (both must hash to `s`; the probe key is
   * never written). Then {@link beginBatch} … {@link commitBatch} collect commands and send them as
   * one script per master with the slots' checkpoints. Loads the script on every master connection.
   */
  enableSlotBatches(keys: { cp(slot: number): Buffer; probe(slot: number): Buffer }, field: string, isLostWriteRecoverable = false): void {
    this.#slotKeys = keys;
    this.#batchField = field;
    this.#isLostWriteRecoverable = isLostWriteRecoverable;
    for (const n of this.#nodes.values()) n.conn?.send(SCRIPT_LOAD_ARGS);
  }

  /**
   * Resume: the flow's checkpoint per slot (slot → next LSN applied there). Until the flow's records
   * pass the highest one, a record's commands for slot `s` are dropped when its LSN (given to
   * {@link beginBatch}) is below the checkpoint of `s`: they were applied before the restart.
   */
  setResumeFilter(cps: Map<number, bigint> | undefined): void {
    this.#resumeCps = cps === undefined || cps.size === 0 ? undefined : cps;
    this.#resumeMax = 0n;
    for (const v of cps?.values() ?? []) if (v > this.#resumeMax) this.#resumeMax = v;
  }

  /** True while a batch is open. */
  get isBatchOpen(): boolean {
    return this.#batch !== undefined;
  }

  /**
   * Opens a batch (if none is open) for the record with LSN `lsn` (undefined: not a journal record,
   * never dropped): until {@link commitBatch}, {@link connectionFor} collects commands instead of
   * sending them. @throws Error when {@link enableSlotBatches} was not called.
   */
  beginBatch(lsn: bigint | undefined): void {
    if (this.#slotKeys === undefined) throw new Error('exactly-once batches are not enabled on this router');
    this.#recordLsn = lsn;
    if (this.#resumeCps !== undefined && lsn !== undefined && lsn >= this.#resumeMax) this.#resumeCps = undefined;
    this.#batch ??= new SlotBatch();
  }

  /**
   * Closes the open batch: every slot's commands and `HSET <cp key of the slot> <field> <next>` go to
   * the slot's master, one script per master (see src/sink/slot-batch.ts). No-op without a batch.
   */
  commitBatch(next: bigint): void {
    const batch = this.#batch;
    if (batch === undefined) return;
    this.#batch = undefined;
    this.batchStats.skippedOnResume += this.#batchSink.dropped;
    this.#batchSink.dropped = 0;
    if (batch.isEmpty) return;
    const field = this.#batchField;
    const keys = this.#slotKeys!;
    const chain = this.#slotChain;
    const chainText = this.#slotChainText;
    const chainPlain = this.#slotChainPlain;
    const acked = this.#ackedCps;
    const nextText = next.toString();
    if (batch.isOversized) {
      // Lua's unpack cannot pass the command: plain commands, then the checkpoints (at-least-once).
      this.batchStats.oversized++;
      // Plain commands cannot check their slot's order on the target: while a slot's previous
      // batch script is not acknowledged as applied (it may yet be refused and resent), they are
      // held behind a gate that opens once it is (#release), so they cannot overtake it.
      const waits: Array<{ slot: number; lsn: bigint }> = [];
      for (const g of batch.groups.values()) {
        const last = chain[g.slot];
        if (last !== undefined && chainPlain[g.slot] === 0 && (acked.get(g.slot) ?? -1n) < last) waits.push({ slot: g.slot, lsn: last });
      }
      if (waits.length > 0) {
        this.#unsettle();
        const gate: EncodedCommand = { parts: [], bytes: 0, name: undefined, key: undefined, tag: TAG_GATE, attempts: 0 };
        this.#gates.set(gate, waits);
        this.#held.push(gate);
      }
      for (const g of batch.groups.values()) {
        const cp = keys.cp(g.slot);
        const sink = this.#plainSink(g.slot);
        for (const c of g.commands) sink.send(c.plainArgs ?? c.args, c.key);
        this.#plainSink(g.slot).send(['HSET', cp, field, nextText], cp);
        chain[g.slot] = next;
        chainText[g.slot] = nextText;
        chainPlain[g.slot] = 1;
      }
      return;
    }
    for (const g of batch.groups.values()) {
      const s = g.slot;
      const last = chain[s];
      // Checked on the target (one HGET in the script) only while the slot's previous group is not
      // acknowledged as applied: only then may this one overtake it (that one refused, then resent).
      if (last !== undefined && acked.get(s) !== last) g.prev = chainText[s];
      chain[s] = next;
      chainText[s] = nextText;
      chainPlain[s] = 0;
    }
    if (!this.#isSettled) {
      for (const g of batch.groups.values()) this.#holdScript({ groups: [g], field, next }, 0);
      return;
    }
    const byMaster = new Map<RedisConnection, SlotGroup[]>();
    for (const g of batch.groups.values()) {
      const conn = this.#slotConn[g.slot]!;
      const list = byMaster.get(conn);
      if (list === undefined) byMaster.set(conn, [g]);
      else list.push(g);
    }
    for (const [conn, groups] of byMaster) {
      const tag = this.#batchTag();
      this.#batchScripts.set(tag, { groups, field, next });
      this.batchStats.scripts++;
      conn.tag = tag;
      conn.send(slotBatchEval(groups, field, next, keys, false));
      this.#forgetWhenAcked(conn, tag);
    }
  }

  /**
   * Element `element` of batch script reply `seq` says its slot group was not applied (its slot is
   * not served by that node, or moving; or its slot's checkpoint is not the one its predecessor
   * leaves, `DF2REDIS_ORDER`): that group is resent alone, once per script, after a table refresh
   * and a backoff, until retryTimeoutMs (src/sink/slot-batch.ts). An order refusal whose
   * predecessor had been acknowledged means acknowledged writes are gone: {@link LostWritesError}.
   */
  #onGroupNotApplied(conn: RedisConnection, seq: number, element: number, message: string): boolean {
    if (this.#fatal || this.#isClosing) return true;
    const cmd = conn.commandAt(seq);
    const script = this.#batchScripts.get(cmd.tag);
    if (script === undefined) return false;
    const at = commandOfScript(script, element);
    // Every command of the group carries the same element: the group is resent once, at its first.
    if (at === undefined || at.index !== 0) return true;
    const group = at.group;
    (script.notApplied ??= new Set()).add(group);
    if (message.startsWith('DF2REDIS_ORDER') && this.#isOrderFatal(conn, group, message)) return true;
    const attempts = cmd.attempts + 1;
    if (!this.#countBatchRetry(conn, message)) return true;
    this.#isRefreshNeeded = true;
    this.#notBefore = Math.max(this.#notBefore, Date.now() + backoffMs(attempts));
    this.batchStats.resentGroups++;
    this.#retries.push({ cmd: this.#groupScript({ groups: [group], field: script.field, next: script.next }, attempts) });
    this.#unsettle();
    return true;
  }

  /**
   * A group refused because its slot's checkpoint is not `prev` (`DF2REDIS_ORDER slot S: checkpoint
   * C|none, expected P`). While the predecessor waits for its own resend this is only order, and the
   * group is resent behind it (false). When the predecessor was acknowledged (the checkpoint had
   * reached P) and the slot now shows less, acknowledged writes were lost: {@link LostWritesError}.
   * When it shows more, something else writes this flow's checkpoint (another replicator with the
   * same prefix?): {@link ClusterError}. Both are fatal (true).
   */
  #isOrderFatal(conn: RedisConnection, group: SlotGroup, message: string): boolean {
    const m = /checkpoint (\d+|none), expected (\d+)$/.exec(message);
    if (m === null) return false;
    const has = m[1] === 'none' ? -1n : BigInt(m[1]!);
    const expected = BigInt(m[2]!);
    const slot = group.slot;
    if (has > expected) {
      this.#failWith(
        new ClusterError(
          `slot ${slot}: the checkpoint ${this.#batchField} on ${conn.peer} is at LSN ${has}, ahead of what this run wrote (LSN ${expected}): ` +
            'another replicator writes the same checkpoint (same --checkpoint-prefix and target?)',
          { slot, nodes: [conn.peer] },
        ),
      );
      return true;
    }
    const acked = this.#ackedCps.get(slot);
    if (acked === undefined || acked < expected) return false;
    this.#failWith(
      this.#lostWritesError(
        `writes acknowledged by the target were lost (slot ${slot}: its checkpoint on ${conn.peer} says ${has < 0n ? 'nothing' : `LSN ${has}`}, ` +
          `LSN ${expected} had been applied; a failover to a replica that had not received them, or the checkpoint deleted or evicted)`,
        slot,
        [conn.peer],
      ),
    );
    return true;
  }

  /**
   * The flows were told the target was flushed (a journal FLUSHALL/FLUSHDB applied through every
   * master, with nothing in flight): the slots' checkpoints are gone, so the next group of each slot
   * expects none, and acknowledged ones are no longer to be found after a failover.
   */
  forgetSlotCheckpoints(): void {
    this.#slotChain.fill(undefined);
    this.#slotChainText.fill(undefined);
    this.#slotChainPlain.fill(0);
    this.#ackedCps.clear();
  }

  /** Counts a batch script retry; false once retries lasted retryTimeoutMs (the router failed then). */
  #countBatchRetry(conn: RedisConnection, message: string): boolean {
    this.stats.retried++;
    this.#lastRetryReason = `batch script on ${conn.peer}: ${message}`;
    try {
      this.#checkDeadline(this.#lastRetryReason);
      return true;
    } catch (err) {
      this.#failWith(err as Error);
      return false;
    }
  }

  /** The command a refused element `element` of batch script reply `seq` belongs to (nested error naming). */
  #batchCommandAt(conn: RedisConnection, seq: number, element: number): BatchCommand | undefined {
    const script = this.#batchScripts.get(conn.commandAt(seq).tag);
    const at = script === undefined ? undefined : commandOfScript(script, element);
    return at?.group.commands[at.index];
  }

  /** The holding queue while settling, else the slot owner's connection, tagged with `slot`. */
  #plainSink(slot: number): CommandSink {
    if (!this.#isSettled) {
      this.#holding.tag = slot;
      return this.#holding;
    }
    const conn = this.#slotConn[slot]!;
    conn.tag = slot;
    return conn;
  }

  #batchTag(): number {
    const tag = this.#nextBatchTag;
    this.#nextBatchTag = tag <= -2_000_000_000 ? TAG_BATCH_BASE : tag - 1;
    return tag;
  }

  #forgetWhenAcked(conn: RedisConnection, tag: number): void {
    // Replied to (applied, refused or redirected: a resend is a new script of its own) or lost.
    conn.whenAcked(() => {
      const script = this.#batchScripts.get(tag);
      if (script === undefined) return; // resent (its groups are in scripts of their own)
      this.#batchScripts.delete(tag);
      for (const g of script.groups) {
        if (script.notApplied?.has(g) === true) continue;
        const was = this.#ackedCps.get(g.slot);
        if (was === undefined || was < script.next) this.#ackedCps.set(g.slot, script.next);
      }
    });
  }

  /**
   * After a lost master connection and a new slot table: each slot of the lost master that had an
   * acknowledged batch must show at least that checkpoint on its new owner; otherwise the failover
   * lost acknowledged writes ({@link LostWritesError}: fatal, or a resume with `--wait-replicas`).
   * Slots that cannot be read now are checked on the next round.
   */
  async #checkLostSlots(): Promise<void> {
    const lost = this.#lostSlots;
    this.#lostSlots = [];
    const field = this.#batchField;
    const keys = this.#slotKeys!;
    const behind: Array<{ slot: number; node: string; has: bigint; acked: bigint }> = [];
    await Promise.all(
      lost.map(async (l) => {
        const acked = this.#ackedCps.get(l.slot);
        if (acked === undefined) return;
        try {
          const v = await this.#slotConn[l.slot]!.call(['HGET', keys.cp(l.slot), field]);
          const has = Buffer.isBuffer(v) && /^\d+$/.test(v.toString()) ? BigInt(v.toString()) : -1n;
          if (has < acked) behind.push({ ...l, has, acked });
        } catch {
          this.#lostSlots.push(l);
        }
      }),
    );
    if (behind.length === 0) return;
    behind.sort((a, b) => a.slot - b.slot);
    const first = behind[0]!;
    const nodes = [...new Set(behind.map((b) => b.node))];
    this.#failWith(
      this.#lostWritesError(
        `the failover of ${nodes.join(', ')} lost writes it had acknowledged: ${behind.length} slot(s) behind on the new master ` +
          `(slot ${first.slot}: its checkpoint says ${first.has < 0n ? 'nothing' : `LSN ${first.has}`}, LSN ${first.acked} had been applied)`,
        first.slot,
        nodes,
      ),
    );
  }

  /** A {@link LostWritesError}: recoverable by a resume with `--wait-replicas`, else a new full sync is needed. */
  #lostWritesError(detail: string, slot: number, nodes: string[]): LostWritesError {
    return this.#isLostWriteRecoverable
      ? new LostWritesError(`${detail}; resuming from the checkpoint, which --wait-replicas keeps behind unreplicated writes`, { slot, nodes }, true)
      : new LostWritesError(
          `${detail}. The target misses them and the resume point already counts them (Redis replicates asynchronously): ` +
            'the target needs a new full sync (df2redis reset, an emptied target, then replicate); --wait-replicas 1 makes such a failover recoverable',
          { slot, nodes },
          false,
        );
  }

  /** Encodes a slot group as a script of its own (idempotent: it may have been applied), tagged for {@link #route}. */
  #groupScript(script: BatchScript, attempts: number): EncodedCommand {
    const tag = this.#batchTag();
    this.#batchScripts.set(tag, script);
    const enc = this.#batchEncoder;
    enc.encode(slotBatchEval(script.groups, script.field, script.next, this.#slotKeys!, true));
    const parts = enc.take();
    let bytes = 0;
    for (const p of parts) bytes += p.length;
    return { parts, bytes, name: 'EVALSHA', key: script.groups[0]!.commands[0]?.key, tag, attempts };
  }

  #holdScript(script: BatchScript, attempts: number): void {
    const cmd = this.#groupScript(script, attempts);
    this.#held.push(cmd);
    this.#heldBytes += cmd.bytes;
  }

  /**
   * A batch script to send again: one idempotent script per slot group, routed by its slot. False
   * for any other command. (A script declares no key: Redis never answers it MOVED or ASK.)
   */
  #retryBatch(cmd: EncodedCommand): boolean {
    const script = this.#batchScripts.get(cmd.tag);
    if (script === undefined) return false;
    this.#batchScripts.delete(cmd.tag);
    for (const g of script.groups) {
      this.batchStats.resentGroups++;
      this.#retries.push({ cmd: this.#groupScript({ groups: [g], field: script.field, next: script.next }, cmd.attempts) });
    }
    return true;
  }

  addErrorPolicy(fn: ErrorPolicy): void {
    this.#policies.add(fn); // every node connection consults the same list
  }

  whenAcked(cb: () => void): void {
    const w: Waiter = { cb, token: 0 };
    this.#waiters.add(w);
    if (this.#isSettled) this.#arm(w);
  }

  get failure(): Error | undefined {
    return this.#fatal;
  }

  get isBackpressured(): boolean {
    if (this.#heldBytes > this.#maxHeldBytes) return true;
    const masters = this.#masters;
    for (let i = 0; i < masters.length; i++) if (masters[i]!.isBackpressured) return true;
    return false;
  }

  onceDrained(cb: () => void): void {
    if (!this.isBackpressured) cb();
    else this.#drainCbs.push(cb);
  }

  setMaxInflightBytes(bytes: number): void {
    // Masters connected later (a topology change) get it from the options.
    this.#options = { ...this.#options, maxInflightBytes: bytes };
    this.#maxHeldBytes = bytes;
    for (const conn of this.#masters) conn.setMaxInflightBytes(bytes);
    this.#checkDrained();
  }

  flush(): Promise<void> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#isClosed) return Promise.resolve(); // close() flushed everything it could
    return new Promise((resolve, reject) => {
      const f = { resolve, reject };
      this.#flushers.add(f);
      this.whenAcked(() => {
        this.#flushers.delete(f);
        if (this.#fatal) reject(this.#fatal);
        else resolve();
      });
    });
  }

  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (!this.#fatal && this.#topology !== undefined) await this.flush().catch(() => undefined);
    this.#isClosing = true;
    this.#isSettled = false; // nothing is routed any more
    await Promise.all([...this.#nodes.values()].map((n) => n.conn?.close().catch(() => undefined)));
    this.#isClosed = true;
    for (const f of this.#flushers) f.resolve();
    this.#flushers.clear();
  }

  destroy(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#isClosing = true;
    this.#isSettled = false;
    for (const n of this.#nodes.values()) n.conn?.destroy();
    this.#isClosed = true;
    for (const f of this.#flushers) f.resolve();
    this.#flushers.clear();
  }

  // ── settling ────────────────────────────────────────────────────────────────────────────────

  #unsettle(): void {
    this.#epoch++;
    if (!this.#isSettled || this.#isClosing) return;
    this.#isSettled = false;
    void this.#settle();
  }

  /** See the class comment: drain, back off, refresh, connect, then resend and release. */
  async #settle(): Promise<void> {
    try {
      for (;;) {
        if (this.#fatal || this.#isClosing) return;
        const epoch = this.#epoch;
        await Promise.all(this.#liveConns().map(drained));
        const wait = this.#notBefore - Date.now();
        if (wait > 0) await sleep(wait);
        if (this.#fatal || this.#isClosing) return;
        if (this.#isRefreshNeeded) {
          const t = await this.#refresh();
          if (t === undefined) {
            this.#checkDeadline(`no node returned a slot table covering all slots (last: ${this.#lastRetryReason})`);
            await sleep(backoffMs(4));
            continue;
          }
          this.#isRefreshNeeded = false;
          this.#hintAddr = undefined;
          try {
            await this.#apply(t);
          } catch (err) {
            if (!(err instanceof ConnectionError)) throw err;
            // A master that cannot be reached (failed, its replica not promoted yet): ask again later.
            this.#isRefreshNeeded = true;
            this.#lastRetryReason = err.message;
            this.#checkDeadline(err.message);
            await sleep(backoffMs(4));
            continue;
          }
        }
        for (const r of this.#retries) if (r.askTo !== undefined) await this.#ensureNode(r.askTo);
        if (this.#lostSlots.length > 0 && !this.#isRefreshNeeded) {
          await this.#checkLostSlots();
          if (this.#fatal) return;
        }
        if (epoch !== this.#epoch) continue; // more redirections or losses arrived meanwhile
        if (this.#release()) return;
        // A gate stays closed: its slots' previous batches are being resent (or were refused for
        // good). Wait for their answers, a little, then look again, until retryTimeoutMs.
        this.#checkDeadline(`an oversized batch waits for the previous batch of slot ${this.#closedGateSlot()}`);
        await sleep(20);
      }
    } catch (err) {
      this.#failWith(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * Sends the retries, then the held commands in order; true once settled. False when a held gate
   * is closed: what is behind it stays held (the router stays unsettled) for the next round.
   */
  #release(): boolean {
    const retries = this.#retries;
    const held = this.#held;
    this.#retries = [];
    this.#notBefore = 0;
    for (const r of retries) this.#route(r.cmd, r.askTo);
    for (let i = 0; i < held.length; i++) {
      const cmd = held[i]!;
      if (cmd.tag !== TAG_GATE) {
        this.#route(cmd, undefined);
        continue;
      }
      const waits = this.#gates.get(cmd)!;
      if (waits.every((w) => (this.#ackedCps.get(w.slot) ?? -1n) >= w.lsn)) continue;
      this.#held = held.slice(i);
      this.#heldBytes = 0;
      for (const c of this.#held) this.#heldBytes += c.bytes;
      return false;
    }
    this.#isSettled = true;
    this.#held = [];
    this.#heldBytes = 0;
    for (const w of this.#waiters) this.#arm(w);
    // The retry deadline ends once everything resent was applied without a new redirection (a
    // command bounced from release to release keeps it running).
    if (this.#retryDeadline !== undefined) this.whenAcked(() => (this.#retryDeadline = undefined));
    const settled = this.#settledCbs;
    this.#settledCbs = [];
    for (const cb of settled) cb();
    this.#checkDrained();
    return true;
  }

  /** The first slot a closed held gate waits for (for the give-up message). */
  #closedGateSlot(): number | undefined {
    for (const cmd of this.#held) {
      if (cmd.tag !== TAG_GATE) continue;
      const w = this.#gates.get(cmd)!.find((x) => (this.#ackedCps.get(x.slot) ?? -1n) < x.lsn);
      if (w !== undefined) return w.slot;
    }
    return undefined;
  }

  /** Sends a retried or held command to its destination (settled state). */
  #route(cmd: EncodedCommand, askTo: string | undefined): void {
    if (cmd.tag === TAG_ALL_MASTERS) {
      for (let i = 0; i < this.#masters.length; i++) this.#masters[i]!.sendEncoded({ ...cmd, tag: this.#masterSlots[i]! });
      return;
    }
    if (askTo !== undefined) {
      const conn = this.#nodes.get(askTo)!.conn!;
      conn.tag = -1;
      conn.send(['ASKING']);
      conn.sendEncoded(cmd);
      return;
    }
    if (cmd.tag <= TAG_BATCH_BASE) {
      const script = this.#batchScripts.get(cmd.tag);
      const conn = script !== undefined ? this.#slotConn[script.groups[0]!.slot]! : this.#masters[0]!;
      conn.sendEncoded(cmd);
      this.#forgetWhenAcked(conn, cmd.tag);
      return;
    }
    const conn = cmd.tag >= 0 ? this.#slotConn[cmd.tag]! : this.#masters[0]!;
    conn.sendEncoded(cmd);
  }

  #whenSettled(): Promise<void> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#isSettled) return Promise.resolve();
    return new Promise((resolve) => this.#settledCbs.push(resolve));
  }

  #arm(w: Waiter): void {
    const token = ++w.token;
    const epoch = this.#epoch;
    const conns = this.#masters;
    let pending = conns.length + 1;
    const done = (): void => {
      if (w.token !== token || --pending > 0) return;
      // Unsettled since: redirected commands may be among those waited for; re-armed on release.
      if (epoch !== this.#epoch || !this.#isSettled || this.#fatal) return;
      this.#waiters.delete(w);
      w.cb();
    };
    for (let i = 0; i < conns.length; i++) conns[i]!.whenAcked(done);
    done();
  }

  #checkDrained(): void {
    if (this.#drainCbs.length === 0 && this.listenerCount('drain') === 0) return;
    if (this.isBackpressured) return;
    const cbs = this.#drainCbs;
    this.#drainCbs = [];
    for (const cb of cbs) cb();
    this.emit('drain');
  }

  /** @throws ClusterError once retries have lasted `retryTimeoutMs`. */
  #checkDeadline(reason: string): void {
    const now = Date.now();
    this.#retryDeadline ??= now + this.#retryTimeoutMs;
    if (now > this.#retryDeadline) {
      throw new ClusterError(`gave up after ${this.#retryTimeoutMs} ms of retries: ${reason}`, {
        nodes: [...this.#nodes.keys()],
      });
    }
  }

  // ── topology ────────────────────────────────────────────────────────────────────────────────

  /** Reads a covering slot table: the MOVED node first, then live masters, then the seeds. */
  async #refresh(): Promise<ClusterTopology | undefined> {
    const candidates = new Set<string>();
    if (this.#hintAddr !== undefined) candidates.add(this.#hintAddr);
    for (const n of this.#nodes.values()) if (n.conn !== undefined) candidates.add(n.addr);
    for (const s of this.#seeds) candidates.add(nodeAddr(s.host, s.port));
    const seed = this.#seeds[0]!;
    for (const addr of candidates) {
      let temp: RedisConnection | undefined;
      try {
        let conn = this.#nodes.get(addr)?.conn;
        if (conn === undefined) {
          temp = await RedisConnection.connect(this.#endpoint(addr), { ...this.#options, role: 'target node', connectTimeoutMs: 2000 });
          conn = temp;
        }
        const t = await fetchTopology(conn, parseNodeAddr(addr).host, seed.tls);
        this.stats.refreshes++;
        if (uncoveredRanges(t.owner).length === 0) return t;
        this.#lastRetryReason = `node ${addr} reports slots without a master`;
      } catch (err) {
        this.#lastRetryReason = err instanceof Error ? err.message : String(err);
      } finally {
        await temp?.close().catch(() => undefined);
      }
    }
    return undefined;
  }

  /** Connects every master of `t` not connected yet and routes by `t` (settled or initial state). */
  async #apply(t: ClusterTopology): Promise<void> {
    const conns: RedisConnection[] = [];
    for (const m of t.masters) conns.push(await this.#ensureNode(m.addr));
    const slotConn = new Array<RedisConnection>(CLUSTER_SLOTS);
    const masterSlots = new Array<number>(conns.length).fill(-1);
    for (let s = 0; s < CLUSTER_SLOTS; s++) {
      const i = t.owner[s]!;
      slotConn[s] = conns[i]!;
      if (masterSlots[i] === -1) masterSlots[i] = s;
    }
    const was = this.#topology;
    if (was !== undefined && this.#ackedCps.size > 0) {
      // A slot with an acknowledged batch that changed owner (a failover or a move, whether or not
      // our connection to the old owner survived it): its checkpoint must be found on the new owner
      // at least as far (#checkLostSlots), or acknowledged writes were lost.
      const queued = new Set(this.#lostSlots.map((l) => l.slot));
      for (const slot of this.#ackedCps.keys()) {
        const from = was.masters[was.owner[slot]!]?.addr;
        if (from !== undefined && from !== t.masters[t.owner[slot]!]?.addr && !queued.has(slot)) this.#lostSlots.push({ slot, node: from });
      }
    }
    this.#slotConn = slotConn;
    this.#masters = conns;
    this.#masterSlots = masterSlots;
    this.#topology = t;
    if (this.listenerCount('topology') > 0) this.emit('topology', t);
  }

  /** Background check: a changed slot table is applied like a MOVED (settle, then route by it). */
  #checkTopology(): void {
    if (!this.#isSettled || this.#fatal || this.#isClosing || this.#masters.length === 0) return;
    const conn = this.#masters[0]!;
    fetchTopology(conn, parseNodeAddr(conn.peer).host, this.#seeds[0]!.tls).then(
      (t) => {
        this.stats.refreshes++;
        if (this.#topology !== undefined && !sameOwners(t, this.#topology)) {
          this.#isRefreshNeeded = true;
          this.#unsettle();
        }
      },
      () => undefined, // a lost connection is handled by its own listener
    );
  }

  #endpoint(addr: string): TargetEndpoint {
    const { host, port } = parseNodeAddr(addr);
    return { ...this.#seeds[0]!, host, port, db: 0 };
  }

  #liveConns(): RedisConnection[] {
    const out: RedisConnection[] = [];
    for (const n of this.#nodes.values()) if (n.conn !== undefined) out.push(n.conn);
    return out;
  }

  /** The connection to `addr`, opened (with listeners and policy) if needed. @throws ConnectionError */
  async #ensureNode(addr: string): Promise<RedisConnection> {
    let node = this.#nodes.get(addr);
    if (node?.conn !== undefined) return node.conn;
    if (node === undefined) {
      node = { addr, ep: this.#endpoint(addr), conn: undefined };
      this.#nodes.set(addr, node);
    }
    const state = node;
    const conn: RedisConnection = await RedisConnection.connect(state.ep, {
      ...this.#options,
      role: `target node ${addr}`,
      retainUnacked: true,
      interceptErrorReply: (seq, message) => this.#onErrorReply(conn, seq, message),
      nameNestedError: (seq, element) => this.#batchCommandAt(conn, seq, element),
      interceptNestedErrorReply: (seq, element, message) => message.startsWith('DF2REDIS_') && this.#onGroupNotApplied(conn, seq, element, message),
    });
    conn.setErrorPolicy(this.#policies.decide);
    conn.on('error', (err: Error) => {
      if (err instanceof ConnectionError) this.#onLost(state, conn);
      else this.#failWith(err);
    });
    conn.on('close', () => this.#onLost(state, conn));
    conn.on('drain', () => this.#checkDrained());
    if (this.#slotKeys !== undefined) conn.send(SCRIPT_LOAD_ARGS);
    state.conn = conn;
    return conn;
  }

  // ── redirections ────────────────────────────────────────────────────────────────────────────

  /** A MOVED / ASK / TRYAGAIN / CLUSTERDOWN / LOADING reply: queue the command for a resend. */
  #onErrorReply(conn: RedisConnection, seq: number, message: string): boolean {
    const space = message.indexOf(' ');
    const code = space === -1 ? message : message.slice(0, space);
    // READONLY: a script (it declares no key, so no MOVED) reached a master that became a replica.
    const isBatchOnly = code === 'DF2REDIS_SPLIT' || code === 'DF2REDIS_ORDER' || code === 'NOSCRIPT' || code === 'READONLY';
    if (code !== 'MOVED' && code !== 'ASK' && code !== 'TRYAGAIN' && code !== 'CLUSTERDOWN' && code !== 'LOADING' && !isBatchOnly) return false;
    if (isBatchOnly && conn.commandAt(seq).tag > TAG_BATCH_BASE) return false; // not one of our batch scripts
    if (this.#fatal || this.#isClosing) return true;
    const cmd = conn.commandAt(seq);
    cmd.attempts++;
    if (isBatchOnly) {
      // DF2REDIS_SPLIT: a slot of the script is not served here, or is moving (src/sink/slot-batch.ts):
      // re-read the table, back off, resend per slot, until retryTimeoutMs. NOSCRIPT: the script
      // cache was emptied (SCRIPT FLUSH, a restart): load it again on every master first.
      if (!this.#countBatchRetry(conn, message)) return true;
      if (code === 'NOSCRIPT') for (const n of this.#nodes.values()) n.conn?.send(SCRIPT_LOAD_ARGS);
      else {
        this.#isRefreshNeeded = true;
        this.#notBefore = Math.max(this.#notBefore, Date.now() + backoffMs(cmd.attempts));
      }
      if (!this.#retryBatch(cmd)) this.#retries.push({ cmd });
      this.#unsettle();
      return true;
    }
    const slot = cmd.tag >= 0 ? cmd.tag : undefined;
    const name = String(cmd.name ?? '?').toUpperCase();
    const keyText = cmd.key !== undefined ? ` for key ${JSON.stringify(printableKey(cmd.key))}` : '';
    if (code === 'MOVED' || code === 'ASK') {
      const addr = message.split(' ')[2] ?? '';
      if (cmd.attempts > this.#maxRedirects) {
        this.#failWith(
          new ClusterError(`${name}${keyText} was redirected ${cmd.attempts} times without being applied (last reply: ${message})`, {
            slot,
            nodes: [conn.peer, addr],
          }),
        );
        return true;
      }
      if (code === 'MOVED') {
        this.stats.moved++;
        this.#isRefreshNeeded = true;
        this.#hintAddr = addr;
        this.#retries.push({ cmd });
      } else {
        this.stats.asked++;
        this.#retries.push({ cmd, askTo: addr });
      }
    } else {
      this.stats.retried++;
      this.#lastRetryReason = `${name}${keyText} on ${conn.peer}: ${message}`;
      try {
        this.#checkDeadline(this.#lastRetryReason);
      } catch (err) {
        this.#failWith(err as Error);
        return true;
      }
      if (code === 'CLUSTERDOWN') this.#isRefreshNeeded = true;
      this.#notBefore = Math.max(this.#notBefore, Date.now() + backoffMs(cmd.attempts));
      if (!this.#retryBatch(cmd)) this.#retries.push({ cmd }); // CLUSTERDOWN / LOADING reach scripts too
    }
    this.#unsettle();
    return true;
  }

  /** A node connection closed: everything it did not acknowledge is resent after a refresh. */
  #onLost(node: NodeState, conn: RedisConnection): void {
    if (node.conn !== conn) return;
    node.conn = undefined;
    if (this.#isClosing || this.#fatal) return;
    this.stats.lostConnections++;
    for (const cmd of conn.takeUnacked()) {
      if (cmd.name === 'ASKING') continue; // re-added when its command is ASK-redirected again
      this.stats.resentAfterLoss++;
      // A batch script may have been applied before the loss: resent per slot, idempotent.
      if (!this.#retryBatch(cmd)) this.#retries.push({ cmd });
    }
    if (this.#slotKeys !== undefined && this.#ackedCps.size > 0) {
      for (const [slot] of this.#ackedCps) if (this.#slotConn[slot] === conn) this.#lostSlots.push({ slot, node: node.addr });
    }
    const lost = this.#masters.indexOf(conn);
    if (lost !== -1) {
      this.#masters.splice(lost, 1);
      this.#masterSlots.splice(lost, 1);
    }
    this.#isRefreshNeeded = true;
    this.#lastRetryReason = `lost the connection to ${node.addr}`;
    this.#unsettle();
  }

  #failWith(err: Error): void {
    if (this.#fatal) return;
    this.#fatal = err;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.listenerCount('error') > 0) this.emit('error', err);
    const flushers = [...this.#flushers];
    this.#flushers.clear();
    for (const f of flushers) f.reject(err);
    const settled = this.#settledCbs;
    this.#settledCbs = [];
    for (const cb of settled) cb(); // #whenSettled callers see #fatal on their next step
  }
}

/** The slot group of element `element` of a batch script's reply, and the command's index in it. */
function commandOfScript(script: BatchScript, element: number): { group: SlotGroup; index: number } | undefined {
  let i = element;
  for (const group of script.groups) {
    if (i < group.commands.length) return { group, index: i };
    i -= group.commands.length;
  }
  return undefined;
}

/** Resolves once `conn` replied to everything sent so far, or closed. */
function drained(conn: RedisConnection): Promise<void> {
  return new Promise((resolve) => {
    conn.once('close', resolve);
    conn.whenAcked(() => {
      conn.off('close', resolve);
      resolve();
    });
  });
}

/** Backoff before retry `attempt` (1-based): 20 ms doubling, at most 1 s. */
function backoffMs(attempt: number): number {
  return Math.min(1000, 20 * 2 ** Math.min(attempt - 1, 6));
}
