/**
 * Typed errors of df2redis. Every error names where it happened: the input (`source`, e.g. a file
 * path or `flow 2`), the byte offset into that input, and the key when known.
 *
 * Library code throws these; only `src/cli/` turns them into exit codes and messages.
 */

/** Base class: every error df2redis raises on purpose is a `Df2RedisError`. */
export class Df2RedisError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** What went wrong while decoding an RDB stream. */
export type RdbErrorCode =
  | 'TRUNCATED'
  | 'BAD_HEADER'
  | 'BAD_LENGTH'
  | 'BAD_ENCODING'
  | 'UNKNOWN_OPCODE'
  | 'UNKNOWN_TYPE'
  | 'UNSUPPORTED_TYPE'
  | 'BAD_CRC'
  | 'DECOMPRESS'
  | 'BAD_CHUNK';

/** Printable form of a key for messages: UTF-8 when printable, else hex (truncated). */
export function printableKey(key: Buffer | undefined): string | undefined {
  if (key === undefined) return undefined;
  const s = key.toString('utf8');
  // eslint-disable-next-line no-control-regex
  if (!s.includes('\uFFFD') && !/[\x00-\x1f\x7f]/.test(s)) return s.length > 200 ? `${s.slice(0, 200)}…` : s;
  const hex = key.subarray(0, 100).toString('hex');
  return `0x${hex}${key.length > 100 ? '…' : ''}`;
}

/**
 * A corrupt, truncated or unsupported RDB stream.
 * `offset` is the byte offset into the decoded input (for compressed blobs: the offset of the blob's
 * opcode in the outer stream); `key` is the key of the object being decoded, when known.
 */
export class RdbError extends Df2RedisError {
  readonly code: RdbErrorCode;
  readonly offset: number;
  readonly key: Buffer | undefined;
  readonly source: string | undefined;
  constructor(
    code: RdbErrorCode,
    detail: string,
    where: { offset: number; key?: Buffer; source?: string },
    options?: { cause?: unknown },
  ) {
    const parts = [`rdb ${code.toLowerCase().replace(/_/g, ' ')}: ${detail}`];
    parts.push(`at byte ${where.offset}`);
    const k = printableKey(where.key);
    if (k !== undefined) parts.push(`key ${JSON.stringify(k)}`);
    if (where.source !== undefined) parts.push(`in ${where.source}`);
    super(parts.join(', '), options);
    this.code = code;
    this.offset = where.offset;
    this.key = where.key;
    this.source = where.source;
  }
}

/** A corrupt or unknown journal record (Dragonfly src/server/journal/serializer.cc format). */
export class JournalError extends Df2RedisError {
  readonly offset: number;
  readonly source: string | undefined;
  constructor(detail: string, where: { offset: number; source?: string }, options?: { cause?: unknown }) {
    super(`journal: ${detail}, at byte ${where.offset}${where.source !== undefined ? `, in ${where.source}` : ''}`, options);
    this.offset = where.offset;
    this.source = where.source;
  }
}

/** A malformed RESP reply from a server. */
export class RespError extends Df2RedisError {
  readonly offset: number;
  constructor(detail: string, offset: number) {
    super(`resp: ${detail}, at byte ${offset}`);
    this.offset = offset;
  }
}

/**
 * A reply announced a bulk string longer than the connection accepts (`maxReplyBulkBytes`), seen
 * at its length header, before its body is buffered. The connection is closed.
 */
export class ReplyTooLargeError extends RespError {
  readonly bytes: number;
  readonly maxBytes: number;
  constructor(bytes: number, maxBytes: number, offset: number) {
    super(`a bulk reply of ${bytes} bytes exceeds the bound of ${maxBytes} bytes`, offset);
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/**
 * A server refused a command (an error reply), mapped back to its command and key. Usually the
 * target; `role` names another connection (e.g. `source read-back`, a read of the Dragonfly
 * master), and the message then names that connection instead of "target".
 */
export class TargetCommandError extends Df2RedisError {
  readonly command: string;
  readonly key: Buffer | undefined;
  readonly reply: string;
  /** The connection's role (`target`, `target (flow 2)`, `source read-back`). */
  readonly role: string;
  constructor(command: string, key: Buffer | undefined, reply: string, node?: string, role = 'target') {
    const k = printableKey(key);
    const isTarget = role.startsWith('target');
    const who = isTarget ? 'target' : `${role} connection${node !== undefined ? ` to ${node}` : ''}`;
    super(
      `${who} refused ${command}${k !== undefined ? ` for key ${JSON.stringify(k)}` : ''}: ${reply}` +
        (isTarget && node !== undefined ? ` (node ${node})` : ''),
    );
    this.command = command;
    this.key = key;
    this.reply = reply;
    this.role = role;
  }
}

/** A connection failed, closed or timed out. `peer` is `host:port`, `role` what the connection was for. */
export class ConnectionError extends Df2RedisError {
  readonly peer: string;
  readonly role: string;
  constructor(role: string, peer: string, detail: string, options?: { cause?: unknown }) {
    super(`${role} connection to ${peer}: ${detail}`, options);
    this.peer = peer;
    this.role = role;
  }
}

/**
 * The source refused or broke the replication handshake or protocol. `isTransient` marks a fault
 * of the link rather than of the data (a reply or the full sync timed out): a replication run
 * reconnects after it, as after a {@link ConnectionError}.
 */
export class ReplicationError extends Df2RedisError {
  readonly flowId: number | undefined;
  readonly isTransient: boolean;
  constructor(detail: string, flowId?: number, options?: { cause?: unknown; isTransient?: boolean }) {
    super(flowId !== undefined ? `flow ${flowId}: ${detail}` : detail, options);
    this.flowId = flowId;
    this.isTransient = options?.isTransient === true;
  }
}

/**
 * Whether a replication run may reconnect after `err` and go on from the target's checkpoint: a
 * lost, closed or timed-out connection (source or target), or a transient {@link ReplicationError}.
 * A refused command, a corrupt stream or a configuration problem is not.
 */
export function isTransientFault(err: unknown): boolean {
  return err instanceof ConnectionError || ((err instanceof ReplicationError || err instanceof LostWritesError) && err.isTransient);
}

/** The target cannot hold some of the source's types, listed before anything was written. */
export class UnsupportedTypesError extends Df2RedisError {
  readonly keys: ReadonlyArray<{ db: number; key: Buffer; type: string }>;
  readonly total: number;
  constructor(keys: ReadonlyArray<{ db: number; key: Buffer; type: string }>, total: number, hint: string) {
    const shown = keys
      .slice(0, 20)
      .map((k) => `  db ${k.db} ${JSON.stringify(printableKey(k.key))} (${k.type})`)
      .join('\n');
    super(
      `the target cannot hold ${total} key(s) of the source:\n${shown}${total > 20 ? `\n  … and ${total - 20} more` : ''}\n${hint}`,
    );
    this.keys = keys;
    this.total = total;
  }
}

/** Invalid command-line option or configuration; the message names the option. */
export class ConfigError extends Df2RedisError {}

/**
 * A Redis Cluster target problem that is not one command's fault: slots not covered by any master,
 * a key redirected or retried past the bound, a node lost and not replaced in time, a command
 * whose keys span slots. Names the slot(s) and nodes involved when known.
 */
export class ClusterError extends Df2RedisError {
  readonly slot: number | undefined;
  readonly nodes: readonly string[];
  constructor(detail: string, where: { slot?: number; nodes?: readonly string[] } = {}, options?: { cause?: unknown }) {
    const parts = [`cluster: ${detail}`];
    if (where.slot !== undefined) parts.push(`slot ${where.slot}`);
    if (where.nodes !== undefined && where.nodes.length > 0) parts.push(`nodes ${where.nodes.join(', ')}`);
    super(parts.join('; '), options);
    this.slot = where.slot;
    this.nodes = where.nodes ?? [];
  }
}

/**
 * A cluster master failed over and its successor lacks writes the old master had acknowledged
 * (asynchronous replication): some slots' checkpoints on the new master are behind what df2redis
 * saw applied (exactly-once on a cluster, src/sink/slot-batch.ts). `isTransient` when the resume
 * point only counts replicated writes (`--wait-replicas`): a resume then applies them again.
 */
export class LostWritesError extends ClusterError {
  readonly isTransient: boolean;
  constructor(detail: string, where: { slot?: number; nodes?: readonly string[] }, isTransient: boolean) {
    super(detail, where);
    this.isTransient = isTransient;
  }
}

/** Signal numbers of the signals a job stops on (Linux); the exit code is 128 + the number. */
const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGINT: 2, SIGTERM: 15 };

/**
 * The job was stopped by a signal before it finished: never a success. What was written is on the
 * target (in-flight writes were finished, a half-written big object deleted, as the message says).
 * The process exits 128 + the signal number (130 SIGINT, 143 SIGTERM), as a shell reports it.
 */
export class StoppedError extends Df2RedisError {
  readonly signal: NodeJS.Signals;
  constructor(signal: NodeJS.Signals, detail: string) {
    super(`stopped by ${signal}: ${detail}`);
    this.signal = signal;
  }

  /** 128 + the signal number (130 for SIGINT, 143 for SIGTERM). */
  get exitCode(): number {
    return 128 + (SIGNAL_NUMBERS[this.signal] ?? 15);
  }
}

/**
 * `df2redis status`: the replicator's HTTP endpoint did not answer (connection refused, timeout,
 * an HTTP error) at `url`. Exit code 4.
 */
export class StatusUnreachableError extends Df2RedisError {
  readonly url: string;
  constructor(url: string, detail: string, options?: { cause?: unknown }) {
    super(`no replicator answers at ${url}: ${detail}`, options);
    this.url = url;
  }
}

/** `df2redis status`: the replicator answered but is not healthy (`phase` stopped). Exit code 5. */
export class NotHealthyError extends Df2RedisError {
  readonly phase: string;
  constructor(url: string, phase: string) {
    super(`the replicator at ${url} is not healthy: phase ${phase}`);
    this.phase = phase;
  }
}

/**
 * `df2redis check` found keys that differ (missing, extra, type, value or expiry): exit 1. The
 * summary was already printed on stdout; the message only counts them.
 */
export class CheckDifferencesError extends Df2RedisError {
  readonly differing: number;
  constructor(differing: number, detail: string) {
    super(detail);
    this.differing = differing;
  }
}
