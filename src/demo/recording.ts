/**
 * Readers for recorded Dragonfly replication sessions: a folder of `conn-<n>.rec` files (frames:
 * `u8 direction`, `u64 LE µs`, `u32 LE length`, payload), `connections.json` and `expected.json.gz`
 * — the format of `shared/fixtures/dragonfly/` (see its README). Used by the replay master (the
 * `demo` command and the tests).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';

/** One TCP read as the proxy saw it. `fromMaster` = master → replica. */
export interface RecordedFrame {
  fromMaster: boolean;
  /** Microseconds since the proxy started. */
  timeUs: number;
  payload: Buffer;
}

/** Metadata of one connection of a session (`connections.json`). */
export interface RecordedConnectionInfo {
  id: number;
  file: string;
  openedUs: number;
  firstCommand: string;
  c2sBytes: number;
  s2cBytes: number;
  closedBy: 'client' | 'server' | 'proxy-kill';
}

/** One connection: its frames and, for flows, the flow id parsed from `DFLY FLOW`. */
export interface RecordedConnection extends RecordedConnectionInfo {
  frames: RecordedFrame[];
  /** Flow id (shard) for `DFLY FLOW` connections, undefined for main connections. */
  flowId: number | undefined;
  /** LSN asked for in a 4-argument `DFLY FLOW` (partial sync), else undefined. */
  requestedLsn: bigint | undefined;
  /** All master → replica bytes, concatenated. */
  masterBytes: Buffer;
  /** All replica → master bytes, concatenated. */
  replicaBytes: Buffer;
}

/** Canonical value of one key in `expected.json.gz`. */
export interface ExpectedKey {
  type: string;
  pexpireat: number;
  digest?: string;
  value?: unknown;
}

/** `{ db: { base64Key: ExpectedKey } }`. */
export type ExpectedState = Record<string, Record<string, ExpectedKey>>;

/** Parses a `conn-<n>.rec` file into frames. Throws on a truncated frame. */
export function parseRecording(bytes: Buffer): RecordedFrame[] {
  const frames: RecordedFrame[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (pos + 13 > bytes.length) throw new Error(`truncated frame header at ${pos}`);
    const dir = bytes[pos]!;
    const timeUs = Number(bytes.readBigUInt64LE(pos + 1));
    const len = bytes.readUInt32LE(pos + 9);
    pos += 13;
    if (pos + len > bytes.length) throw new Error(`truncated frame payload at ${pos}`);
    frames.push({ fromMaster: dir === 1, timeUs, payload: bytes.subarray(pos, pos + len) });
    pos += len;
  }
  return frames;
}

/** Loads every connection of the session in folder `dir`, in the order the replica opened them. */
export function loadSessionDir(dir: string): RecordedConnection[] {
  const infos = JSON.parse(readFileSync(path.join(dir, 'connections.json'), 'utf8')) as RecordedConnectionInfo[];
  return infos.map((info) => {
    const frames = parseRecording(readFileSync(path.join(dir, info.file)));
    // The flow id is in `DFLY FLOW`, which follows an AUTH when the master has a password.
    const m = /(?:^|\n)DFLY FLOW \S+ \S+ (\d+)(?: (\d+))?\r\n/.exec(Buffer.concat(frames.filter((f) => !f.fromMaster).map((f) => f.payload)).subarray(0, 300).toString('latin1'));
    return {
      ...info,
      frames,
      flowId: m ? Number(m[1]) : undefined,
      requestedLsn: m && m[2] !== undefined ? BigInt(m[2]) : undefined,
      masterBytes: Buffer.concat(frames.filter((f) => f.fromMaster).map((f) => f.payload)),
      replicaBytes: Buffer.concat(frames.filter((f) => !f.fromMaster).map((f) => f.payload)),
    };
  });
}

/** Loads `expected.json.gz` of the session in folder `dir`. */
export function loadExpectedDir(dir: string): ExpectedState {
  const gz = readFileSync(path.join(dir, 'expected.json.gz'));
  return JSON.parse(gunzipSync(gz).toString('utf8')) as ExpectedState;
}
