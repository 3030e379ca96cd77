/**
 * `df2redis migrate` from an RDB file: the whole job, top to bottom.
 *
 *   resolve target (standalone or cluster) ─► pre-scan file (key count, databases, unsupported types)
 *     ─► stream file ─► RdbDecoder ─► SnapshotWriter ─► Router (one connection, or one per cluster
 *     master) ─► flush ─► summary
 *
 * The file is read twice: the pre-scan decodes without materializing values (`skipValues`), so the
 * unsupported-types policy can refuse the job before anything is written and the progress bar
 * knows the total. Memory stays bounded by the read chunk plus the writer's in-flight window.
 */
import { tlsConnectOptions } from '../config/connection-settings.js';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { MigrateOptions } from '../config/options.js';
import { RdbDecoder } from '../decode/rdb/rdb-decoder.js';
import type { RdbHandler } from '../decode/rdb/rdb-handler.js';
import { countStringRun, type StringRunCount } from '../decode/rdb/string-run-count.js';
import type { SnapshotEntry } from '../entry/entry.js';
import { ConfigError, Df2RedisError, RdbError, StoppedError, UnsupportedTypesError, printableKey } from '../errors.js';
import type { ProgressReporter } from '../progress/progress-reporter.js';
import { openRouter, resolveTarget, targetDbPlan } from '../sink/connect-target.js';
import { StandaloneRouter, type Router } from '../sink/router.js';
import { describeDiscarded, MSET_KEYS_DEFAULT, SnapshotWriter } from '../sink/snapshot-writer.js';

/** Read chunk of the RDB file: big enough for few syscalls, small enough to pause promptly. */
export const READ_CHUNK_BYTES = 256 * 1024;

/**
 * Read chunk of the pre-scan, read synchronously: its decoding is cheaper than waiting for
 * asynchronous reads (the thread pool round trip per chunk left the main thread idle ~70 % of
 * the pre-scan: 1 M-key file 175–240 → 100–130 ms, bench/README.md "Issue 12, fifth pass").
 */
const PRESCAN_READ_BYTES = 1024 * 1024;

/** The pre-scan yields to the event loop (signals, timers) after this many chunks. */
const PRESCAN_CHUNKS_PER_TURN = 8;

/** At most this many unsupported keys are kept for the error message and the log. */
const MAX_LISTED_UNSUPPORTED = 20;

/** What a migration did; every count is of keys (objects), not pieces. */
export interface MigrateFileSummary {
  /** Keys in the file (pre-scan) of the databases copied, including those later skipped. */
  totalKeys: number;
  /** Keys of databases not selected by `--dbs`, not copied. */
  skippedOtherDbs: number;
  /** Keys written to the target and acknowledged. */
  keys: number;
  /** Bytes of the RDB file. */
  bytes: number;
  skippedExpired: number;
  skippedExisting: number;
  skippedUnsupported: number;
  /** Function libraries loaded (`FUNCTION LOAD REPLACE`). */
  functions: number;
  elapsedMs: number;
  /** `keys` per second over the whole job, pre-scan included. */
  keysPerSec: number;
}

/** What the job needs besides its options. */
export interface MigrateFileContext {
  logger: Logger;
  progress: ProgressReporter;
  /**
   * Aborted with the signal's name as reason (`SIGINT`, `SIGTERM`) to stop: reading stops, the
   * writes in flight are finished, a half-written big object is deleted, and the job rejects with a
   * {@link MigrateStoppedError} carrying the partial summary.
   */
  signal?: AbortSignal;
}

/** A migration stopped by a signal; `summary` counts what the target acknowledged before the stop. */
export class MigrateStoppedError extends StoppedError {
  readonly summary: MigrateFileSummary;
  constructor(stopped: StoppedError, summary: MigrateFileSummary) {
    super(stopped.signal, stopped.message.replace(/^stopped by \S+: /, ''));
    this.summary = summary;
  }
}

/**
 * Copies every key of the RDB file `options.source` into the Redis at `options.target`, then
 * resolves once the target acknowledged every command.
 * @throws ConfigError bad `--source` / `--target`; a Redis Cluster target and keys in databases
 *   other than 0 without `--dbs 0` (refused after the pre-scan, before anything is written).
 * @throws ClusterError the cluster does not cover every slot, or a key could not be placed.
 * @throws UnsupportedTypesError `--unsupported fail` and the file holds keys the target cannot hold
 *   (thrown after the pre-scan, before anything is written).
 * @throws RdbError the file is corrupt or truncated; a key whose first pieces were written is
 *   deleted from the target first (see {@link copyRdbStream}).
 * @throws TargetCommandError, ConnectionError the target refused a command or went away.
 */
export async function migrateFile(options: MigrateOptions, context: MigrateFileContext): Promise<MigrateFileSummary> {
  const { logger, progress } = context;
  const startMs = Date.now();
  const fingerprint = await fileFingerprint(options.source);
  const bytes = fingerprint.size;
  const targetTls = tlsConnectOptions(options.targetConnection, options.isTlsInsecure);
  const target = await resolveTarget(options.target, { ...targetTls, credentials: options.targetConnection });
  const info = target.info;
  if (info.clusterEnabled && options.dbs !== undefined && options.dbs.some((db) => db !== 0)) {
    throw new ConfigError(`--dbs ${options.dbs.join(',')}: a Redis Cluster target has only database 0; use --dbs 0`);
  }

  const router = await openRouter(target, targetTls);
  try {
    logger.info(
      {
        target: target.reached,
        redisVersion: info.redisVersion,
        cluster: info.clusterEnabled ? { masters: router.all().map((c) => c.peer) } : undefined,
      },
      info.clusterEnabled ? 'connected to target redis cluster' : 'connected to target',
    );

    const writer = new SnapshotWriter(router, info, {
      onExisting: options.onExisting,
      unsupported: options.unsupported,
      restoreMaxBytes: options.restoreMaxBytes,
      // Every write of the job goes through this writer: strings can be batched into MSET.
      msetMaxKeys: MSET_KEYS_DEFAULT,
    });

    const scan = await prescan(options.source, writer, options.dbs, context.signal);
    logger.info({ source: options.source, bytes, keys: scan.totalKeys, dbs: [...scan.dbs], unsupported: scan.unsupportedTotal }, 'pre-scan done');
    const plan = targetDbPlan(target, options.dbs, [...scan.dbs].sort((a, b) => a - b));
    if (plan.targetDb !== undefined && router instanceof StandaloneRouter) {
      router.useDatabase(plan.targetDb);
      logger.info({ sourceDb: plan.dbs![0], targetDb: plan.targetDb }, 'copying one source database into the target database of the url');
    }
    const otherDbs = [...scan.dbs].filter((db) => db !== 0);
    if (info.clusterEnabled && options.dbs === undefined && otherDbs.length > 0) {
      throw new ConfigError(
        `the source has keys in database(s) ${otherDbs.join(', ')}, but a Redis Cluster has only database 0. ` +
          'Nothing was written. Pass --dbs 0 to copy database 0 only, or migrate the others into a standalone Redis.',
      );
    }
    if (scan.unsupportedTotal > 0) {
      if (options.unsupported === 'fail') {
        throw new UnsupportedTypesError(
          scan.unsupported,
          scan.unsupportedTotal,
          `why: ${[...scan.reasons].join('; ')}.\n` +
            'Nothing was written. Pass --unsupported skip to migrate every other key and skip these.',
        );
      }
      logger.warn(
        { count: scan.unsupportedTotal, reasons: [...scan.reasons], keys: scan.unsupported.map((k) => printableKey(k.key)) },
        'skipping keys the target cannot hold',
      );
    }

    let bytesRead = 0;
    let skippedOtherDbs = 0;
    // Progress shows keys the target acknowledged, not keys sent (DESIGN invariant 6).
    progress.start({ totalBytes: bytes, totalKeys: scan.totalKeys }, () => ({ bytesRead, keysWritten: writer.ackedKeys }));
    const summary = (keys: number): MigrateFileSummary => {
      const elapsedMs = Date.now() - startMs;
      const s = writer.stats;
      return {
        totalKeys: scan.totalKeys,
        skippedOtherDbs,
        keys,
        bytes,
        skippedExpired: s.skippedExpired,
        skippedExisting: s.skippedExisting,
        skippedUnsupported: s.skippedUnsupported,
        functions: s.functions,
        elapsedMs,
        keysPerSec: elapsedMs > 0 ? (keys * 1000) / elapsedMs : keys,
      };
    };
    try {
      const input = createReadStream(options.source, { highWaterMark: READ_CHUNK_BYTES });
      const counted = (async function* () {
        for await (const chunk of input) {
          bytesRead += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
      })();
      await copyRdbStream(counted, writer, router, {
        source: options.source,
        dbs: plan.dbs,
        onSkippedDb: () => skippedOtherDbs++,
        maxRestorePayloadBytes: options.restoreMaxBytes,
        logger,
        signal: context.signal,
        // The pre-scan verified the checksum of these bytes; unchanged file checked below.
        verifyChecksum: false,
      });
      const now = await fileFingerprint(options.source);
      if (now.size !== fingerprint.size || now.ino !== fingerprint.ino || now.mtimeMs !== fingerprint.mtimeMs) {
        throw new RdbError(
          'BAD_CRC',
          'the file changed during the migration (its size, inode or modification time differ from those of the pre-scan, ' +
            'which verified its checksum): the target may hold keys of either version; migrate again from a file nobody writes',
          { offset: bytesRead, source: options.source },
        );
      }
    } catch (err) {
      if (err instanceof StoppedError) throw new MigrateStoppedError(err, summary(writer.ackedKeys));
      throw err;
    } finally {
      progress.stop();
    }
    return summary(writer.stats.keys);
  } finally {
    await router.close();
  }
}

/** Options of {@link copyRdbStream}. */
export interface CopyRdbStreamOptions {
  /** Name of the input for errors (file path). */
  source: string;
  /** Copy only keys of these databases (undefined: all). */
  dbs?: readonly number[] | undefined;
  /** Called once per object skipped because its database is not in `dbs`. */
  onSkippedDb?: () => void;
  /** Passed to the decoder: capture raw value bytes for RESTORE up to this size. */
  maxRestorePayloadBytes: number;
  logger: Logger;
  /** Aborted (reason: the signal name, e.g. `SIGINT`) to stop reading: then {@link StoppedError}. */
  signal?: AbortSignal;
  /** Verify the file's CRC64 (false when a pre-scan of the same bytes verified it). @default true */
  verifyChecksum?: boolean;
}

/**
 * Decodes an RDB byte stream into `writer` and resolves once the target acknowledged everything,
 * with the number of times reading paused for the writer.
 * Backpressure: after each chunk, while the writer is backpressured, the input is not read (the
 * `for await` loop does not pull) until the writer drains.
 *
 * DESIGN invariant 7, nothing from a half-decoded value: the decoder only emits complete pieces,
 * but an object cut by corruption after its first pieces were written would leave a partial key
 * on the target. On RdbError that key is deleted (`DEL`, on the connection that wrote it, after
 * everything before it was acknowledged) and the error message says so.
 * @throws RdbError, TargetCommandError, ConnectionError
 */
export async function copyRdbStream(
  input: AsyncIterable<Buffer>,
  writer: SnapshotWriter,
  router: Router,
  options: CopyRdbStreamOptions,
): Promise<{ backpressurePauses: number }> {
  const dbs = options.dbs;
  const handler: RdbHandler = {
    onEntry(entry: SnapshotEntry): void {
      if (dbs !== undefined && !dbs.includes(entry.db)) {
        if (entry.isLast) options.onSkippedDb?.();
        return;
      }
      writer.write(entry);
    },
    onString(db, buf, keyStart, keyEnd, valueStart, valueEnd, expireAtMs): boolean {
      if (dbs !== undefined && !dbs.includes(db)) {
        options.onSkippedDb?.();
        return true;
      }
      return writer.writeString(db, buf, keyStart, keyEnd, valueStart, valueEnd, expireAtMs);
    },
    onStringRun(db, buf, start, end, maxValueBytes): number {
      // Keys of skipped databases go one by one (each counted by onSkippedDb).
      if (dbs !== undefined && !dbs.includes(db)) return 0;
      return writer.writeStringRun(db, buf, start, end, maxValueBytes);
    },
    onFunction(code: Buffer): void {
      writer.writeFunction(code);
    },
  };
  const decoder = new RdbDecoder(handler, {
    source: options.source,
    maxRestorePayloadBytes: options.maxRestorePayloadBytes,
    captureStrings: writer.isStringPayloadUsed,
    verifyChecksum: options.verifyChecksum ?? true,
  });

  // A fatal error reply or a lost connection stops the job at the next chunk instead of at the final
  // flush: listening to 'error' makes the connections report it as soon as it happens.
  // …or before this call: an idle connection closed during the pre-scan (the target's `timeout`).
  let targetError: Error | undefined = router.failure;
  let wakeUp: (() => void) | undefined;
  const onTargetError = (err: Error): void => {
    targetError ??= err;
    wakeUp?.();
  };
  router.on('error', onTargetError);
  const signal = options.signal;
  const onAbort = (): void => wakeUp?.();
  const isAborted = (): boolean => signal?.aborted === true;
  signal?.addEventListener('abort', onAbort);
  const stopped = (): StoppedError =>
    new StoppedError(signal!.reason as NodeJS.Signals, `the copy did not finish (${options.source} read up to byte ${decoder.bytesConsumed})`);
  let pauses = 0;
  try {
    for await (const chunk of input) {
      if (isAborted()) throw stopped();
      const consumed = decoder.push(chunk);
      if (targetError) throw targetError;
      if (decoder.isDone) {
        if (consumed < chunk.length) {
          options.logger.warn({ source: options.source, offset: decoder.bytesConsumed }, 'ignoring bytes after the rdb end of file');
        }
        break;
      }
      if (writer.isBackpressured) {
        pauses++;
        // One Promise per paused chunk, not per entry; `for await` does not read on meanwhile.
        await new Promise<void>((resolve) => {
          wakeUp = resolve;
          writer.onceDrained(resolve);
        });
        wakeUp = undefined;
        if (targetError) throw targetError;
        if (isAborted()) throw stopped();
      }
    }
    decoder.end();
    await writer.flush();
  } catch (err) {
    if (err instanceof Df2RedisError) await discardPartialKeys(err, writer, options.logger);
    throw err;
  } finally {
    router.off('error', onTargetError);
    signal?.removeEventListener('abort', onAbort);
  }
  options.logger.debug({ source: options.source, backpressurePauses: pauses }, 'copy done');
  return { backpressurePauses: pauses };
}

/**
 * See {@link copyRdbStream}: after a decode error, a stop or a target failure, waits for what is in
 * flight (a failed target answers what it can), deletes every big object that may be half written
 * ({@link SnapshotWriter.discardUnsettled}) and appends to the error message how many keys were
 * written and what was deleted. Under `--on-existing replace` the writer builds big objects in
 * place; under `skip`/`fail` under a temporary key (`tempKeyFor`), so only that is deleted.
 */
async function discardPartialKeys(err: Df2RedisError, writer: SnapshotWriter, logger: Logger): Promise<void> {
  await writer.flush().catch(() => undefined);
  const discarded = await writer.discardUnsettled();
  for (const d of discarded) if (!d.isDeleted) logger.error({ key: printableKey(d.key), db: d.db, err: d.error }, 'could not delete a partly written key');
  err.message += describeDiscarded(discarded, writer.ackedKeys);
}

/** Result of {@link prescan}. */
interface PrescanResult {
  totalKeys: number;
  /** The first {@link MAX_LISTED_UNSUPPORTED} unsupported keys. */
  unsupported: Array<{ db: number; key: Buffer; type: string }>;
  unsupportedTotal: number;
  /** Distinct reasons given by the writer. */
  reasons: Set<string>;
  /** Databases holding keys (all of them, selected or not). */
  dbs: Set<number>;
}

/**
 * Decodes the whole file without materializing values: counts the keys of the selected databases
 * (`dbs`, undefined = all), finds unsupported ones, and lists every database that holds keys.
 * @throws StoppedError once `signal` is aborted (checked per read chunk).
 */
async function prescan(path: string, writer: SnapshotWriter, dbs: readonly number[] | undefined, signal: AbortSignal | undefined): Promise<PrescanResult> {
  const result: PrescanResult = { totalKeys: 0, unsupported: [], unsupportedTotal: 0, reasons: new Set(), dbs: new Set() };
  const run: StringRunCount = { records: 0 };
  const decoder = new RdbDecoder(
    {
      onEntry(entry: SnapshotEntry): void {
        if (!entry.isLast) return;
        result.dbs.add(entry.db);
        if (dbs !== undefined && !dbs.includes(entry.db)) return;
        result.totalKeys++;
        const reason = writer.unsupportedReason(entry);
        if (reason === undefined) return;
        result.unsupportedTotal++;
        result.reasons.add(reason);
        if (result.unsupported.length < MAX_LISTED_UNSUPPORTED) {
          result.unsupported.push({ db: entry.db, key: Buffer.from(entry.key), type: entry.valueKind });
        }
      },
      // A one-piece string (always supported): counted without an entry or a key view.
      onString(db: number): boolean {
        result.dbs.add(db);
        if (dbs === undefined || dbs.includes(db)) result.totalKeys++;
        return true;
      },
      // Runs of plain strings: counted by skipping their lengths (the CRC still covers the bytes).
      onStringRun(db: number, buf: Buffer, start: number, end: number): number {
        const bytes = countStringRun(buf, start, end, run);
        if (run.records > 0) {
          result.dbs.add(db);
          if (dbs === undefined || dbs.includes(db)) result.totalKeys += run.records;
        }
        return bytes;
      },
    },
    { source: path, skipValues: true, maxRestorePayloadBytes: 0 },
  );
  const fd = openSync(path, 'r');
  // Two read buffers in turn: the one of the chunk before the last is read into again once the
  // decoder holds nothing of it (RdbDecoder.holdsOnlyLastChunk: between objects), else a fresh one
  // takes its place. Fresh buffers each time cost ~30 ms more per 1 M-key file (page faults,
  // external-memory GCs: bench/README "Issue 12, sixth pass").
  const buffers = [Buffer.allocUnsafeSlow(PRESCAN_READ_BYTES), Buffer.allocUnsafeSlow(PRESCAN_READ_BYTES)];
  try {
    for (let n = 1; ; n++) {
      if (signal?.aborted === true) throw new StoppedError(signal.reason as NodeJS.Signals, 'during the pre-scan; nothing was written');
      if (n > 2 && !decoder.holdsOnlyLastChunk) buffers[n & 1] = Buffer.allocUnsafeSlow(PRESCAN_READ_BYTES);
      const chunk = buffers[n & 1]!;
      const read = readSync(fd, chunk, 0, PRESCAN_READ_BYTES, null);
      if (read === 0) break;
      decoder.push(read === PRESCAN_READ_BYTES ? chunk : chunk.subarray(0, read));
      if (decoder.isDone) break;
      if (n % PRESCAN_CHUNKS_PER_TURN === 0) await nextTurn();
    }
  } finally {
    closeSync(fd);
  }
  decoder.end();
  return result;
}

/** What identifies one version of a file: its size, inode and modification time. */
interface FileFingerprint {
  size: number;
  ino: number;
  mtimeMs: number;
}

async function fileFingerprint(path: string): Promise<FileFingerprint> {
  if (/^rediss?:\/\//i.test(path)) {
    // The CLI sends Dragonfly URLs to the replicator (full sync only); this function reads files.
    throw new ConfigError(`--source ${path} is a URL; migrateFile reads RDB files`);
  }
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new ConfigError(`--source ${path} is not a file`);
    return { size: st.size, ino: st.ino, mtimeMs: st.mtimeMs };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`--source ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err,
    });
  }
}
