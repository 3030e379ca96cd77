import type { JournalEntry, SnapshotEntry } from '../../entry/entry.js';

/**
 * What an {@link import('./rdb-decoder.js').RdbDecoder} reports, synchronously, in stream order.
 * Only `onEntry` is required. Handlers must not throw on the common path; a thrown error aborts
 * the decoder's current `push()` and propagates to its caller.
 */
export interface RdbHandler {
  /** After the 9-byte header `REDIS00NN`. */
  onHeader?(rdbVersion: number): void;
  /** AUX field (opcode 250). Dragonfly: `redis-ver`, `df-ver`, `ctime`, `shard-id`, … */
  onAux?(key: Buffer, value: Buffer): void;
  /** One bounded piece of a snapshot object. Pieces of one object arrive in order, first to last. */
  onEntry(entry: SnapshotEntry): void;
  /**
   * Optional fast path for a one-piece string whose key and value are both in the current input
   * chunk (Redis `RDB_TYPE_STRING` with 6/14-bit lengths, the bulk of most datasets): the key is
   * `buf[keyStart, keyEnd)` and the value `buf[valueStart, valueEnd)`, valid during the call only
   * (copy what is kept); `expireAtMs` is the absolute expiry in Unix ms or -1. Return true when
   * handled; false to receive the same string as an {@link onEntry} (no entry object and no
   * `Buffer` views are made otherwise: issue 12). Not called when the decoder captures the
   * string's payload (`captureStrings`); called with `skipValues` too (the value range is there).
   */
  onString?(db: number, buf: Buffer, keyStart: number, keyEnd: number, valueStart: number, valueEnd: number, expireAtMs: number): boolean;
  /**
   * Optional fast path for a run of consecutive one-piece strings: called when a string record
   * (`RDB_TYPE_STRING`) or an expiry (`RDB_OPCODE_EXPIRETIME_MS`) starts at `buf[start]` and no
   * expiry is pending, before {@link onString}. The handler may take any number of whole records
   * from `buf[start, end)`, in order, each `0x00 <len> key <len> value` (the handler parses them:
   * plain 6/14-bit lengths only; a value longer than `maxValueBytes` must be left, the decoder emits
   * it in pieces), optionally preceded by `0xFC <LE64 ms>` (its expiry), as if each had been an
   * {@link onString} in the database `db` with that expiry (or -1); it returns the bytes they span
   * (0: none taken). The decoder goes on after them; whatever follows (another opcode, an expiry it
   * left, an encoded string) is read as usual. `buf` is valid during the call only. Not called
   * when the decoder captures strings' payloads (`captureStrings` with `maxRestorePayloadBytes` > 0).
   */
  onStringRun?(db: number, buf: Buffer, start: number, end: number, maxValueBytes: number): number;
  /** FUNCTION2 (opcode 245): the library code, to be loaded with `FUNCTION LOAD REPLACE`. */
  onFunction?(code: Buffer): void;
  /** MODULE_AUX (opcode 247): module id and raw payload (skipped by default). */
  onModuleAux?(moduleId: bigint, payload: Buffer): void;
  /** Dragonfly JOURNAL_BLOB (opcode 210): a journal record to apply after the entries before it. */
  onJournal?(entry: JournalEntry): void;
  /** Dragonfly FULLSYNC_END (opcode 200): the shard's snapshot is complete. */
  onFullSyncEnd?(): void;
  /** Dragonfly JOURNAL_OFFSET (opcode 211): the first LSN of the stable journal. */
  onJournalOffset?(lsn: bigint): void;
  /** EOF (opcode 255) after its 8-byte checksum was read (and verified when non-zero). */
  onEof?(): void;
}
