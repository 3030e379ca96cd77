/**
 * The time shift of recorded sessions (src/demo/time-shift.ts), judged by our own decoders: every
 * recorded flow, shifted by years, decodes to exactly the same snapshot objects and journal records
 * as the recorded bytes, except that every absolute time moved by the offset — and no time of the
 * recording's era is left anywhere in the shifted stream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RdbDecoder } from '../../src/decode/rdb/rdb-decoder.js';
import { JournalDecoder } from '../../src/decode/journal/journal-decoder.js';
import { decompressZstdFrame } from '../../src/decode/rdb/compressed-blob.js';
import type { JournalEntry, SnapshotEntry } from '../../src/entry/entry.js';
import { recordedClockMs, shiftFlowStream, TimeShiftError, zstdRawFrame } from '../../src/demo/time-shift.js';
import { loadSession, SESSIONS } from '../helpers/recording.js';
import { recordedFlowReply, ReplayMaster } from '../helpers/replay-master.js';

const DAY_MS = 86_400_000;
/** 20 years and a bit, whole seconds: past 2038 (32-bit seconds) for every recording. */
const OFFSET_MS = 7321 * DAY_MS + 3_723_000;
const OFFSET_S = OFFSET_MS / 1000;
const YEAR_MS = 365 * DAY_MS;

/** JSON-able copy: Buffers as `b64:…`, bigints as `n:…`. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return `b64:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}`;
  if (typeof v === 'bigint') return `n:${v}`;
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

interface Decoded {
  snapshot: SnapshotEntry[];
  blobs: JournalEntry[];
  journal: JournalEntry[];
  ctime: number | undefined;
  token: string | undefined;
}

/** Decodes one flow stream (after the FLOW reply) with the project's decoders; a cut stream ends early. */
function decode(stream: Buffer, name: string): Decoded {
  const d: Decoded = { snapshot: [], blobs: [], journal: [], ctime: undefined, token: undefined };
  let rest = stream;
  if (stream.toString('latin1', 0, 5) === 'REDIS') {
    const rdb = new RdbDecoder(
      {
        onEntry: (e) => void d.snapshot.push(e),
        onJournal: (e) => void d.blobs.push(e),
        onAux: (k, v) => {
          if (k.toString() === 'ctime') d.ctime = Number(v.toString());
        },
      },
      { source: name, maxRestorePayloadBytes: 0 },
    );
    const used = rdb.push(stream);
    if (!rdb.isDone) return d;
    d.token = stream.toString('latin1', used, used + 40);
    rest = stream.subarray(used + 40);
  }
  new JournalDecoder((e) => void d.journal.push(e), { source: name }).push(rest);
  return d;
}

/** Deep copy of plain objects and arrays; byte arrays are shared (never mutated), not copied. */
function copyOf<T>(v: T): T {
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(copyOf) as T;
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copyOf(x)])) as T;
  return v;
}

/**
 * The recorded snapshot entry as the shift must leave it: every absolute time + OFFSET_MS. Compared
 * with `assert.deepEqual` (strict: Buffers byte by byte, bigints, property sets and prototypes).
 */
function moved(e: SnapshotEntry): SnapshotEntry {
  const c = copyOf(e);
  const at = (ms: number): number => (ms > 0 ? ms + OFFSET_MS : ms);
  c.expireAtMs = at(c.expireAtMs);
  if (c.valueKind === 'hash-ttl' || c.valueKind === 'set-ttl') c.value.expireAtMs = c.value.expireAtMs.map(at);
  if (c.valueKind === 'stream' && c.value.meta) {
    for (const g of c.value.meta.groups) {
      for (const p of g.pending) p.deliveryTimeMs = at(p.deliveryTimeMs);
      for (const k of g.consumers) {
        k.seenTimeMs = at(k.seenTimeMs);
        k.activeTimeMs = at(k.activeTimeMs);
      }
    }
  }
  return c;
}

/** Compares journal records: equal, except time arguments moved by the offset (ms or s). Returns how many moved. */
function compareJournal(shifted: JournalEntry[], recorded: JournalEntry[], where: string): number {
  assert.equal(shifted.length, recorded.length, `${where}: record count`);
  let moves = 0;
  for (const [i, r] of recorded.entries()) {
    const s = shifted[i]!;
    if (r.op !== 'command' || s.op !== 'command') {
      assert.deepEqual(plain(s), plain(r), `${where} record ${i}`);
      continue;
    }
    assert.equal(s.db, r.db);
    assert.equal(s.txid, r.txid);
    assert.equal(s.args.length, r.args.length, `${where} record ${i} argc`);
    for (const [j, a] of r.args.entries()) {
      const b = s.args[j]!;
      if (a.equals(b)) continue;
      const delta = Number(BigInt(b.toString()) - BigInt(a.toString()));
      assert.ok(delta === OFFSET_MS || delta === OFFSET_S, `${where} record ${i} (${r.args[0]}) arg ${j}: ${a} → ${b}`);
      moves++;
    }
  }
  return moves;
}

/** Decimal arguments that look like a time of the recording's era (±years around its clock). */
function eraTimes(entries: JournalEntry[], clockMs: number): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (e.op !== 'command') continue;
    for (const a of e.args) {
      const t = a.toString('latin1');
      if (!/^\d{10}$|^\d{13}$/.test(t)) continue;
      const ms = t.length === 10 ? Number(t) * 1000 : Number(t);
      if (Math.abs(ms - clockMs) < 5 * YEAR_MS) out.push(`${e.args[0]} ${t}`);
    }
  }
  return out;
}

for (const name of [...SESSIONS, 'types-v1.34']) {
  test(`time shift '${name}': every flow decodes as recorded, with every absolute time moved by the offset`, () => {
    let clockMs: number | undefined;
    let timesMoved = 0;
    for (const conn of loadSession(name)) {
      if (conn.flowId === undefined) continue;
      const where = `${name} ${conn.file}`;
      const stream = conn.masterBytes.subarray(recordedFlowReply(conn.masterBytes).end);
      clockMs ??= recordedClockMs(stream);
      const shifted = shiftFlowStream(stream, OFFSET_MS);
      const before = decode(stream, where);
      const after = decode(shifted.bytes, `${where} (shifted)`);
      assert.equal(after.token, before.token, `${where}: EOF token`);
      if (before.ctime !== undefined) assert.equal(after.ctime, before.ctime + OFFSET_S, `${where}: ctime`);
      assert.equal(after.snapshot.length, before.snapshot.length, `${where}: snapshot pieces`);
      for (const [i, e] of before.snapshot.entries()) {
        if (e.expireAtMs > 0) timesMoved++;
        assert.deepEqual(after.snapshot[i], moved(e), `${where}: snapshot piece ${i} (${e.key})`);
      }
      timesMoved += compareJournal(after.blobs, before.blobs, `${where} journal blobs`);
      timesMoved += compareJournal(after.journal, before.journal, `${where} journal`);
      if (clockMs !== undefined) {
        assert.deepEqual(eraTimes([...after.blobs, ...after.journal], clockMs), [], `${where}: times of the recording's era left unshifted`);
      }
      // The original stream is untouched; positions map monotonically onto the new one.
      assert.ok(stream.equals(conn.masterBytes.subarray(recordedFlowReply(conn.masterBytes).end)));
      assert.equal(shifted.mapOffset(0), 0);
      assert.equal(shifted.mapOffset(stream.length), shifted.bytes.length);
    }
    assert.ok(clockMs !== undefined, `${name}: the recording has a ctime`);
    if (name !== 'auth') assert.ok(timesMoved > 0, `${name}: some times moved`);
  });
}

test('time shift: the replay master serves the shifted stream whole, cut at the recorded reads, segments in order', async () => {
  for (const name of ['types', 'zstd', 'big', 'partial']) {
    const master = await ReplayMaster.start(name, { timeShift: OFFSET_MS });
    try {
      assert.equal(master.timeShiftMs, OFFSET_MS);
      for (const phase of master.phases) {
        for (const [id, f] of phase.flows) {
          const fr = recordedFlowReply(f.conn.masterBytes);
          const served = Buffer.concat([...f.reply.frames, ...f.sync.frames, ...f.stable.frames].map((x) => x.payload));
          const want = Buffer.concat([f.conn.masterBytes.subarray(fr.start, fr.end), shiftFlowStream(f.conn.masterBytes.subarray(fr.end), OFFSET_MS).bytes]);
          assert.ok(served.equals(want), `${name} flow ${id}: served bytes are the FLOW reply + the shifted stream`);
        }
      }
      // The expected state moves with it.
      const recorded = (await ReplayMaster.start(name, { timeShift: 0 }));
      try {
        const a = master.expected();
        const b = recorded.expected();
        for (const [db, keys] of Object.entries(b)) {
          for (const [k, v] of Object.entries(keys)) assert.equal(a[db]![k]!.pexpireat, v.pexpireat < 0 ? v.pexpireat : v.pexpireat + OFFSET_MS);
        }
      } finally {
        await recorded.close();
      }
    } finally {
      await master.close();
    }
  }
});

test("time shift: 'now' moves a recording by its age in whole seconds", async () => {
  const master = await ReplayMaster.start('types');
  try {
    const conn = master.phases[0]!.flows.get(0)!.conn;
    const clock = recordedClockMs(conn.masterBytes.subarray(recordedFlowReply(conn.masterBytes).end))!;
    assert.equal(master.timeShiftMs % 1000, 0);
    assert.ok(Math.abs(clock + master.timeShiftMs - Date.now()) < 2000, 'the recording starts now');
  } finally {
    await master.close();
  }
});

test('time shift: an offset of part of a second, or a width change, is refused', () => {
  const stream = loadSession('types').find((c) => c.flowId !== undefined)!;
  const bytes = stream.masterBytes.subarray(recordedFlowReply(stream.masterBytes).end);
  assert.throws(() => shiftFlowStream(bytes, 1500), TimeShiftError);
  // ~300 years: 13-digit ms times would become 14 digits.
  assert.throws(() => shiftFlowStream(bytes, 300 * YEAR_MS), /different width|does not fit/);
});

test('zstdRawFrame: a standard zstd frame of raw blocks, any size', () => {
  for (const n of [1, 1000, 128 * 1024, 128 * 1024 + 1, 300_000]) {
    const data = Buffer.alloc(n, 0).map((_, i) => (i * 31) & 0xff) as Buffer;
    assert.ok(decompressZstdFrame(zstdRawFrame(Buffer.from(data))).equals(Buffer.from(data)), `${n} bytes`);
  }
});
