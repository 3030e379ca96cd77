/**
 * Runs the RDB decoder over a fixture fed whole, byte by byte and split at every offset (or at
 * many offsets for big inputs) and asserts that every feeding produces the same events. Test-only.
 */
import assert from 'node:assert/strict';
import { RdbDecoder, type RdbDecoderOptions } from '../../src/decode/rdb/rdb-decoder.js';
import type { RdbHandler } from '../../src/decode/rdb/rdb-handler.js';
import { STITCH_HEAD_BYTES } from '../../src/decode/rdb/rdb-reader.js';
import type { SnapshotEntry } from '../../src/entry/entry.js';

/** Everything the decoder reported, in order. */
export type DecodeEvent = [string, ...unknown[]];

export interface DecodeResult {
  events: DecodeEvent[];
  entries: SnapshotEntry[];
  consumed: number;
  decoder: RdbDecoder;
}

function recorder(events: DecodeEvent[]): RdbHandler {
  return {
    onHeader: (v) => events.push(['header', v]),
    onAux: (k, v) => events.push(['aux', k.toString('latin1'), v.toString('latin1')]),
    onEntry: (e) => events.push(['entry', e]),
    onFunction: (c) => events.push(['function', c.toString('latin1')]),
    onModuleAux: (id, p) => events.push(['module-aux', id, p.toString('hex')]),
    onJournal: (e) => events.push(['journal', e]),
    onFullSyncEnd: () => events.push(['fullsync-end']),
    onJournalOffset: (lsn) => events.push(['journal-offset', lsn]),
    onEof: () => events.push(['eof']),
  };
}

/** Feeds `bytes` cut at `cuts` (ascending offsets) and calls end() unless `noEnd`. */
export function decodeWithCuts(bytes: Buffer, cuts: number[], options?: RdbDecoderOptions, noEnd = false): DecodeResult {
  const events: DecodeEvent[] = [];
  const decoder = new RdbDecoder(recorder(events), options);
  let prev = 0;
  let consumed = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut <= prev && cut !== bytes.length) continue;
    const chunk = bytes.subarray(prev, cut);
    prev = cut;
    if (chunk.length === 0) continue;
    consumed += decoder.push(chunk);
  }
  if (!noEnd) decoder.end();
  const entries = events.filter((e) => e[0] === 'entry').map((e) => e[1] as SnapshotEntry);
  return { events, entries, consumed, decoder };
}

/**
 * Decodes whole, byte by byte, and split in two at every offset (inputs ≤ `maxEvery` bytes; else
 * at 200 spread offsets plus random multi-cuts); asserts identical events. Returns the whole run.
 */
export function decodeAllWays(bytes: Buffer, options?: RdbDecoderOptions, maxEvery = 3000): DecodeResult {
  const whole = decodeWithCuts(bytes, [], options);
  const bytewise = decodeWithCuts(bytes, Array.from({ length: bytes.length }, (_, i) => i), options);
  assert.deepEqual(bytewise.events, whole.events, 'byte-by-byte feeding differs from whole');
  assert.equal(bytewise.consumed, whole.consumed);
  const offsets =
    bytes.length <= maxEvery
      ? Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)
      : Array.from({ length: 200 }, (_, i) => Math.floor(((i + 1) * bytes.length) / 201));
  for (const at of offsets) {
    const split = decodeWithCuts(bytes, [at], options);
    assert.deepEqual(split.events, whole.events, `split at ${at} differs from whole`);
  }
  let s = 12345;
  for (let k = 0; k < 20; k++) {
    const cuts: number[] = [];
    for (let p = 0; p < bytes.length; ) {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      p += 1 + (s % 97);
      cuts.push(p);
    }
    assert.deepEqual(decodeWithCuts(bytes, cuts, options).events, whole.events, `random cuts #${k}`);
  }
  // Chunks longer than STITCH_HEAD_BYTES: the reader stitches the cut record instead of copying.
  for (let k = 0; k < 10 && bytes.length > STITCH_HEAD_BYTES; k++) {
    const cuts: number[] = [];
    for (let p = 0; p < bytes.length; ) {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      p += STITCH_HEAD_BYTES + 1 + (s % (3 * STITCH_HEAD_BYTES));
      cuts.push(p);
    }
    const cut = decodeWithCuts(bytes, cuts, options);
    assert.deepEqual(cut.events, whole.events, `random long cuts #${k}`);
    assert.equal(cut.consumed, whole.consumed, `random long cuts #${k}: bytes consumed`);
  }
  return whole;
}
