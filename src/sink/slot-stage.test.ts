/**
 * SlotStage: the string-run kernel's `slots` entry (string-run.wat) against SlotStage.add, the JS
 * path of the same rules: the same commands in the same order, byte for byte, on random runs of
 * string records (keys with and without hash tags, int-encoded and LZF-encoded keys and values,
 * values up to past a region), whatever the
 * region size and key limit; and each command names keys of one slot only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keySlot } from './key-slot.js';
import type { CommandSink } from './redis-connection.js';
import type { CommandArg } from './resp-encoder.js';
import { SlotStage, type SlotStageTarget } from './slot-stage.js';
import { RUN_STOP, StringRunTranscoder } from './string-run.js';
import { rng } from '../../test/helpers/prng.js';
import { lzfCompress } from '../decode/rdb/lzf.js';

/** A target that records each command as its name, first key, raw argument bytes and the slot it was routed by. */
class Recorder implements SlotStageTarget {
  readonly commands: Array<{ name: string; key: string; argc: number; bytes: string; slot: number }> = [];
  #argc = 0;
  #parts: Buffer[] = [];
  #slot = -1;
  connectionForSlot(slot: number): CommandSink {
    this.#slot = slot;
    return this as unknown as CommandSink;
  }
  begin(argc: number): void {
    this.#argc = argc;
    this.#parts = [];
  }
  arg(_a: CommandArg): void {}
  raw(b: Uint8Array): void {
    this.#parts.push(Buffer.from(b)); // a copy: the kernel's memory is rewritten afterwards
  }
  end(name: string, key?: Buffer): void {
    this.commands.push({ name, key: key!.toString('latin1'), argc: this.#argc, bytes: Buffer.concat(this.#parts).toString('latin1'), slot: this.#slot });
  }
}

function rdbLen(n: number): Buffer {
  return n < 64 ? Buffer.from([n]) : Buffer.from([0x40 | (n >> 8), n & 0xff]);
}

/** `s` as RDB saves it: LZF-compressed (`lzf` and it compresses: 0xC3 <clen> <ulen> data) or with its length. */
function rdbString(s: Buffer, lzf: boolean): Buffer {
  const c = lzf ? lzfCompress(s) : undefined;
  return c === undefined ? Buffer.concat([rdbLen(s.length), s]) : Buffer.concat([Buffer.from([0xc3]), rdbLen(c.length), rdbLen(s.length), c]);
}

/**
 * Random records: a few hash tags (so slots repeat), plain keys, values from 0 to 1100 bytes; some
 * keys are numbers (int-encoded in the record, RDB_ENC_INT32) and some keys and values LZF-encoded:
 * `key` and `value` are what they decode to.
 */
function records(seed: number, count: number): Array<{ key: Buffer; value: Buffer; bytes: Buffer }> {
  const next = rng(seed);
  const tags = ['{a}', '{b}', '{user:1}', '{}', ''];
  const out = [];
  for (let i = 0; i < count; i++) {
    const tag = tags[Math.floor(next() * tags.length)]!;
    const form = next();
    const key = Buffer.from(form < 0.1 ? String(1_000_000 + i) : form < 0.2 ? `${tag}session:session:session:${i}` : next() < 0.5 ? `${tag}k${i}` : `plain:${i}:${Math.floor(next() * 1e6)}`);
    const big = next() < 0.05;
    const value = Buffer.alloc(big ? 900 + Math.floor(next() * 200) : Math.floor(next() * 120), 97 + (i % 26));
    const keyBytes = form < 0.1 ? Buffer.from([0xc2, ...new Uint8Array(new Int32Array([1_000_000 + i]).buffer)]) : rdbString(key, form < 0.2);
    out.push({ key, value, bytes: Buffer.concat([Buffer.from([0]), keyBytes, rdbString(value, next() < 0.3)]) });
  }
  return out;
}

for (const [region, maxKeys] of [[1024, 512], [256, 3], [64, 100]] as const) {
  test(`slots (kernel) equals add (JS): region ${region} B, ≤ ${maxKeys} keys a command`, () => {
    const recs = records(region + maxKeys, 3000);
    const input = Buffer.concat(recs.map((r) => r.bytes));

    const jsOut = new Recorder();
    const js = new SlotStage(jsOut, new StringRunTranscoder(), maxKeys, region);
    const jsAlone: string[] = [];
    for (const r of recs) if (!js.add(r.key, 0, r.key.length, r.value, 0, r.value.length)) jsAlone.push(r.key.toString('latin1'));
    js.flush();

    const kernel = new StringRunTranscoder();
    const wasmOut = new Recorder();
    const wasm = new SlotStage(wasmOut, kernel, maxKeys, region);
    const wasmAlone: string[] = [];
    let pos = 0;
    let held = 0;
    while (pos < input.length) {
      const end = Math.min(input.length, pos + kernel.inputBytes);
      kernel.load(input, pos, end);
      held += kernel.slots(0, end - pos, region, maxKeys, 1024, 8192);
      pos += kernel.consumed;
      if (kernel.reason === RUN_STOP.FULL) wasm.sendSlot(kernel.fullSlot);
      else if (kernel.reason === RUN_STOP.LIMIT) {
        // Too long for a region: the writer sends it alone; skip the record here.
        const r = recs.find((x) => input.subarray(pos, pos + x.bytes.length).equals(x.bytes))!;
        wasmAlone.push(r.key.toString('latin1'));
        pos += r.bytes.length;
      } else assert.ok(kernel.reason === RUN_STOP.INPUT && (end < input.length || pos === input.length), `stopped by ${kernel.reason}`);
    }
    wasm.flush();

    assert.equal(held, recs.length - wasmAlone.length);
    assert.deepEqual(wasmAlone, jsAlone);
    assert.equal(wasmOut.commands.length, jsOut.commands.length);
    assert.deepEqual(wasmOut.commands, jsOut.commands);
    assert.equal(js.heldKeys + wasm.heldKeys, 0);
    // Every command: one slot, its keys in input order, argc = 1 + 2 × keys, each key once.
    const seen = new Set<string>();
    const order = new Map(recs.map((r, i) => [r.key.toString('latin1'), i]));
    for (const c of wasmOut.commands) {
      const keys: string[] = [];
      const b = Buffer.from(c.bytes, 'latin1');
      for (let p = 0; p < b.length; ) {
        const nl = b.indexOf(10, p);
        const n = Number(b.toString('latin1', p + 1, nl - 1));
        if (keys.length === 0 || (c.argc - 1) / 2 > keys.length) keys.push(b.toString('latin1', nl + 1, nl + 1 + n));
        const vnl = b.indexOf(10, nl + 1 + n + 2);
        p = vnl + 1 + Number(b.toString('latin1', nl + 1 + n + 3, vnl - 1)) + 2;
      }
      assert.equal(keys.length, (c.argc - 1) / 2);
      assert.equal(c.name, keys.length === 1 ? 'SET' : 'MSET');
      assert.ok(keys.length <= maxKeys);
      assert.equal(c.key, keys[0]);
      assert.equal(new Set(keys.map((k) => keySlot(Buffer.from(k, 'latin1')))).size, 1, 'one slot per command');
      assert.equal(c.slot, keySlot(Buffer.from(keys[0]!, 'latin1')), 'routed by the slot of its keys');
      for (let i = 1; i < keys.length; i++) assert.ok(order.get(keys[i - 1]!)! < order.get(keys[i]!)!);
      for (const k of keys) {
        assert.ok(!seen.has(k), `${k} sent twice`);
        seen.add(k);
      }
    }
    assert.equal(seen.size, recs.length - wasmAlone.length);
  });
}
