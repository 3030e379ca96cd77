/**
 * One flow: the TCP connection that carries one master shard's snapshot and journal.
 *
 * Upstream: Dragonfly src/server/replica.cc `DflyShardReplica::StartSyncFlow` (DFLY FLOW, reply,
 * leftover bytes), `FullSyncDflyFb` (RDB load until EOF, token, JOURNAL_OFFSET),
 * `StableSyncDflyReadFb` (journal, LSN check), `StableSyncDflyAcksFb` (REPLCONF ACK); reference
 * §3.1, §4, §5.
 *
 * Byte path of a FULL flow: `*2 +FULL +<token>` → RDB (header … FULLSYNC_END … JOURNAL_OFFSET, EOF
 * + checksum) → the 40-byte token → journal forever. A PARTIAL flow goes from its reply straight to
 * the journal. Every byte is decoded as it arrives (one RdbDecoder / JournalDecoder per flow, no
 * per-entry Promise); bytes after the FLOW reply and after the EOF checksum are handed on, never lost.
 */
import type net from 'node:net';
import type { JournalEntry, SnapshotEntry } from '../entry/entry.js';
import { ConnectionError, ReplicationError } from '../errors.js';
import { JournalDecoder } from '../decode/journal/journal-decoder.js';
import { RdbDecoder, type RdbDecoderOptions } from '../decode/rdb/rdb-decoder.js';
import type { RdbHandler } from '../decode/rdb/rdb-handler.js';
import { RespErrorReply, RespReader, type RespValue } from '../decode/resp/resp-reader.js';
import type { SourceEndpoint } from './dragonfly-url.js';
import { DEFAULT_SOURCE_TIMEOUT_MS, describe, handshakeError, type MasterInfo } from './master-link.js';
import { encodeCommand, openSourceSocket, type SourceSocketOptions } from './source-socket.js';

/** Length of the EOF token that follows EOF + checksum on a FULL flow (`DflyCmd::Flow`). */
export const EOF_TOKEN_LENGTH = 40;

/** Where a flow's byte stream is. */
export type FlowPhase = 'connecting' | 'snapshot' | 'token' | 'journal' | 'closed';

/** What a flow reports, synchronously, in stream order (implemented by the session). */
export interface FlowEvents {
  onAux(flow: DragonflyFlow, key: Buffer, value: Buffer): void;
  onSnapshotEntry(flow: DragonflyFlow, entry: SnapshotEntry): void;
  /**
   * Optional fast path for a one-piece string of the snapshot (`RdbHandler.onString`: ranges of
   * `buf`, valid during the call). Returns true when handled, false to get it as an entry.
   */
  onSnapshotString?(flow: DragonflyFlow, db: number, buf: Buffer, keyStart: number, keyEnd: number, valueStart: number, valueEnd: number, expireAtMs: number): boolean;
  /** Optional fast path for a run of plain strings (`RdbHandler.onStringRun`): bytes consumed. */
  onSnapshotStringRun?(flow: DragonflyFlow, db: number, buf: Buffer, start: number, end: number, maxValueBytes: number): number;
  /** `lsn`: the record's LSN in the journal stream; undefined for JOURNAL_BLOBs of the full sync. */
  onJournal(flow: DragonflyFlow, entry: JournalEntry, lsn: bigint | undefined): void;
  onFullSyncEnd(flow: DragonflyFlow): void;
  /** The journal starts: `journalOffset` is the LSN of its first record. */
  onStable(flow: DragonflyFlow, journalOffset: bigint): void;
  /** The flow failed or closed (never after {@link DragonflyFlow.close}). */
  onError(flow: DragonflyFlow, err: Error): void;
}

/** Options of {@link DragonflyFlow.open}. */
export interface FlowOptions extends SourceSocketOptions {
  /** Ask for a partial sync from this LSN (`DFLY FLOW … <lsn>`). */
  lsn?: bigint;
  /** Longest wait for the replies to `AUTH` and `DFLY FLOW`; 0 = no limit.
   *  @default {@link DEFAULT_SOURCE_TIMEOUT_MS} */
  replyTimeoutMs?: number;
  rdb?: Omit<RdbDecoderOptions, 'source'>;
}

/**
 * A flow connection. Created by {@link DragonflyFlow.open}; the session owns it.
 *
 * Backpressure: {@link pause} stops reading the socket (entries of the chunk being decoded are
 * still delivered), {@link resume} restarts it. Keep pauses short: the master blocks its own
 * writers once ~1 MB is pending on a flow and cancels the whole session after 30 s of stall
 * (`--replication_timeout`, reference §7, DESIGN invariant 4).
 */
export class DragonflyFlow {
  readonly flowId: number;
  readonly kind: 'FULL' | 'PARTIAL';
  /** The 40-char EOF token from the FLOW reply (verified after EOF on FULL flows). */
  readonly token: string;
  /** The LSN asked for, for PARTIAL flows. */
  readonly requestedLsn: bigint | undefined;
  readonly #socket: net.Socket;
  readonly #peer: string;
  readonly #events: FlowEvents;
  #phase: FlowPhase = 'connecting';
  #rdb: RdbDecoder | undefined;
  #journal: JournalDecoder;
  #tokenBytes: Buffer[] = [];
  #tokenLength = 0;
  #journalOffset: bigint | undefined;
  #nextLsn = 0n;
  #bytesReceived = 0;
  #isFullSyncEnded = false;
  #isPaused = false;
  #pausedAtMs = 0;
  #isClosing = false;
  #lastAck: bigint | undefined;

  private constructor(
    socket: net.Socket,
    peer: string,
    flowId: number,
    kind: 'FULL' | 'PARTIAL',
    token: string,
    events: FlowEvents,
    options: FlowOptions,
  ) {
    this.#socket = socket;
    this.#peer = peer;
    this.flowId = flowId;
    this.kind = kind;
    this.token = token;
    this.requestedLsn = kind === 'PARTIAL' ? options.lsn : undefined;
    this.#events = events;
    const source = `flow ${flowId}`;
    this.#journal = new JournalDecoder((e) => this.#onJournalRecord(e), { source });
    if (kind === 'FULL') {
      this.#phase = 'snapshot';
      this.#rdb = new RdbDecoder(this.#rdbHandler(), { ...options.rdb, source });
    } else {
      this.#phase = 'journal';
      this.#nextLsn = options.lsn ?? 0n;
    }
  }

  /**
   * Opens flow `flowId`: connect, `AUTH` if the endpoint has a password (every flow needs it,
   * reference §2.1), `DFLY FLOW <replid> <syncId> <flowId> [lsn]`, and reads the `*2 +FULL|+PARTIAL
   * +<token>` reply; bytes after it are decoded at once (RDB or journal) and reported to `events`.
   * @throws ConnectionError, ReplicationError (refused FLOW, bad reply, no reply within
   *   `options.replyTimeoutMs`).
   */
  static async open(ep: SourceEndpoint, master: MasterInfo, flowId: number, events: FlowEvents, options: FlowOptions = {}): Promise<DragonflyFlow> {
    const role = `flow ${flowId}`;
    const socket = await openSourceSocket(ep, role, options);
    const peer = `${ep.host}:${ep.port}`;
    return new Promise<DragonflyFlow>((resolve, reject) => {
      const replies: RespValue[] = [];
      const expected = ep.password !== undefined ? 2 : 1;
      let flow: DragonflyFlow | undefined;
      const timeoutMs = options.replyTimeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS;
      const timer =
        timeoutMs > 0
          ? setTimeout(() => fail(new ReplicationError(`no reply to DFLY FLOW from the master ${peer} within ${timeoutMs} ms (--source-timeout)`, flowId, { isTransient: true })), timeoutMs)
          : undefined;
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.destroy();
        reject(err);
      };
      const reader = new RespReader((v) => {
        replies.push(v);
        if (replies.length === expected) reader.pause();
      });
      const onData = (chunk: Buffer): void => {
        try {
          reader.push(chunk);
        } catch (err) {
          return fail(err as Error);
        }
        if (replies.length < expected) return;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onEarlyClose);
        socket.off('error', onEarlyError);
        if (expected === 2 && replies[0] !== 'OK') return fail(handshakeError(['AUTH'], replies[0]!, flowId));
        const reply = replies[expected - 1]!;
        const ok = Array.isArray(reply) && reply.length === 2 && (reply[0] === 'FULL' || reply[0] === 'PARTIAL') && typeof reply[1] === 'string';
        if (!ok) {
          return fail(
            reply instanceof RespErrorReply
              ? new ReplicationError(`DFLY FLOW refused (${reply.message})`, flowId)
              : new ReplicationError(`bad reply to DFLY FLOW: ${describe(reply)}`, flowId),
          );
        }
        const token = reply[1] as string;
        if (token.length !== EOF_TOKEN_LENGTH) return fail(new ReplicationError(`EOF token of ${token.length} chars, expected ${EOF_TOKEN_LENGTH}`, flowId));
        flow = new DragonflyFlow(socket, peer, flowId, reply[0] as 'FULL' | 'PARTIAL', token, events, options);
        resolve(flow);
        flow.#attach(reader.takeRemainder());
      };
      const onEarlyClose = (): void => fail(new ConnectionError(`source ${role}`, peer, 'closed by the master before the DFLY FLOW reply'));
      const onEarlyError = (err: Error): void => fail(new ConnectionError(`source ${role}`, peer, err.message, { cause: err }));
      socket.on('data', onData);
      socket.once('close', onEarlyClose);
      socket.once('error', onEarlyError);
      const args = ['DFLY', 'FLOW', master.replid, master.syncId, String(flowId)];
      if (options.lsn !== undefined) args.push(String(options.lsn));
      const auth = ep.password === undefined ? [] : [encodeCommand(ep.username !== undefined ? ['AUTH', ep.username, ep.password] : ['AUTH', ep.password])];
      // AUTH and DFLY FLOW pipelined: both replies are read in order above.
      socket.write(Buffer.concat([...auth, encodeCommand(args)]));
    });
  }

  /** Where the byte stream is. */
  get phase(): FlowPhase {
    return this.#phase;
  }

  /** JOURNAL_OFFSET (FULL, once read) or the requested LSN (PARTIAL). */
  get journalOffset(): bigint | undefined {
    return this.kind === 'PARTIAL' ? this.requestedLsn : this.#journalOffset;
  }

  /** LSN of the next journal record to be delivered (counts delivered COMMAND/PING records). */
  get nextLsn(): bigint {
    return this.#nextLsn;
  }

  /** FULLSYNC_END was read (FULL flows; PARTIAL flows: always false). */
  get isFullSyncEnded(): boolean {
    return this.#isFullSyncEnded;
  }

  /** Bytes received after the FLOW reply. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  get isPaused(): boolean {
    return this.#isPaused;
  }

  /** How long the flow has been paused (0 when reading): watch it to keep pauses short. */
  get pausedForMs(): number {
    return this.#isPaused ? performance.now() - this.#pausedAtMs : 0;
  }

  /** Last value sent with {@link ack}. */
  get lastAck(): bigint | undefined {
    return this.#lastAck;
  }

  /** Stops reading the socket (briefly! see the class comment). */
  pause(): void {
    if (this.#isPaused) return;
    this.#isPaused = true;
    this.#pausedAtMs = performance.now();
    this.#socket.pause();
  }

  /** Restarts reading after {@link pause}. */
  resume(): void {
    if (!this.#isPaused) return;
    this.#isPaused = false;
    this.#socket.resume();
  }

  /**
   * Sends `REPLCONF ACK <nextLsn>` (inline, one write, never answered — reference §3.5):
   * `nextLsn` = LSN of the next record not yet applied to the target. Only in the journal phase
   * (the Dragonfly replica sends none during full sync).
   * @throws ReplicationError before the journal phase or with a negative LSN.
   */
  ack(nextLsn: bigint): void {
    if (this.#phase !== 'journal') throw new ReplicationError(`REPLCONF ACK before stable sync (phase ${this.#phase})`, this.flowId);
    if (nextLsn < 0n) throw new ReplicationError(`REPLCONF ACK of a negative LSN ${nextLsn}`, this.flowId);
    this.#lastAck = nextLsn;
    if (!this.#socket.destroyed) this.#socket.write(`REPLCONF ACK ${nextLsn}\r\n`);
  }

  /** Closes the connection (the master then cancels the whole session, reference §7). */
  close(): void {
    this.#isClosing = true;
    this.#phase = 'closed';
    this.#socket.destroy();
  }

  #attach(leftover: Buffer): void {
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('error', (err) => this.#fail(new ConnectionError(`source flow ${this.flowId}`, this.#peer, err.message, { cause: err })));
    this.#socket.on('close', () =>
      this.#fail(new ConnectionError(`source flow ${this.flowId}`, this.#peer, `closed by the master (${this.#phase}, ${this.#bytesReceived} bytes received)`)),
    );
    if (leftover.length > 0) this.#onData(leftover);
  }

  #fail(err: Error): void {
    if (this.#isClosing) return;
    this.#isClosing = true;
    this.#phase = 'closed';
    this.#socket.destroy();
    this.#events.onError(this, err);
  }

  #onData(chunk: Buffer): void {
    if (this.#isClosing) return;
    this.#bytesReceived += chunk.length;
    try {
      if (this.#phase === 'snapshot') {
        const n = this.#rdb!.push(chunk);
        if (!this.#rdb!.isDone) return;
        this.#phase = 'token';
        chunk = chunk.subarray(n);
      }
      if (this.#phase === 'token') {
        chunk = this.#readToken(chunk);
        if ((this.#phase as FlowPhase) !== 'journal') return; // #readToken moves it on
      }
      if (this.#phase === 'journal' && chunk.length > 0) this.#journal.push(chunk);
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  /** Collects the 40 token bytes after EOF; returns the bytes after them (the journal). */
  #readToken(chunk: Buffer): Buffer {
    const take = Math.min(EOF_TOKEN_LENGTH - this.#tokenLength, chunk.length);
    this.#tokenBytes.push(chunk.subarray(0, take));
    this.#tokenLength += take;
    if (this.#tokenLength < EOF_TOKEN_LENGTH) return chunk.subarray(take);
    const got = Buffer.concat(this.#tokenBytes).toString('latin1');
    if (got !== this.token) throw new ReplicationError(`EOF token mismatch: got ${JSON.stringify(got)}, the FLOW reply said ${this.token}`, this.flowId);
    // The Dragonfly replica fails the same way ("Error finding journal offset in stream").
    if (this.#journalOffset === undefined) throw new ReplicationError('no JOURNAL_OFFSET before EOF', this.flowId);
    this.#rdb = undefined;
    this.#phase = 'journal';
    this.#nextLsn = this.#journalOffset;
    this.#events.onStable(this, this.#journalOffset);
    return chunk.subarray(take);
  }

  #onJournalRecord(e: JournalEntry): void {
    if (e.op === 'lsn') {
      // The LSN record names the last record written (`TransactionReader::NextTxData` DCHECK).
      if (e.lsn !== this.#nextLsn - 1n) {
        throw new ReplicationError(`journal LSN record says ${e.lsn}, but the last record received was LSN ${this.#nextLsn - 1n}`, this.flowId);
      }
      return;
    }
    const lsn = this.#nextLsn;
    this.#nextLsn = lsn + 1n;
    this.#events.onJournal(this, e, lsn);
  }

  #rdbHandler(): RdbHandler {
    const events = this.#events;
    return {
      onAux: (key, value) => events.onAux(this, key, value),
      onEntry: (entry) => events.onSnapshotEntry(this, entry),
      onString:
        events.onSnapshotString === undefined
          ? undefined
          : (db, buf, ks, ke, vs, ve, exp) => events.onSnapshotString!(this, db, buf, ks, ke, vs, ve, exp),
      onStringRun:
        events.onSnapshotStringRun === undefined
          ? undefined
          : (db, buf, start, end, maxValueBytes) => events.onSnapshotStringRun!(this, db, buf, start, end, maxValueBytes),
      onJournal: (entry) => {
        // Journal blobs of the full sync carry no LSN; PING/LSN records in them are skipped
        // (`RdbLoaderBase::HandleJournalBlob`).
        if (entry.op === 'command') events.onJournal(this, entry, undefined);
      },
      onFullSyncEnd: () => {
        if (this.#isFullSyncEnded) throw new ReplicationError('FULLSYNC_END twice', this.flowId);
        this.#isFullSyncEnded = true;
        events.onFullSyncEnd(this);
      },
      onJournalOffset: (lsn) => {
        this.#journalOffset = lsn;
      },
    };
  }
}
