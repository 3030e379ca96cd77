/**
 * lz4-napi's `decompressFrameSync` (used for COMPRESSED_LZ4_BLOB_START) against every LZ4 frame of
 * the `big` and `types` recordings, including the linked-block frames (FLG 0x48) and frames with
 * raw (uncompressed, size bit 31) blocks Dragonfly writes: output size must equal the frame's
 * content size. (The full decode of those sessions is checked in dragonfly-recordings.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSession } from '../helpers/recording.js';
import { decompressLz4Frame } from '../../src/decode/rdb/compressed-blob.js';

const MAGIC = Buffer.from([0x04, 0x22, 0x4d, 0x18]);

/** PUINT before `at` (the blob length) is 1, 2 or 5 bytes; returns the frame length or -1. */
function lengthBefore(buf: Buffer, at: number): number {
  if (buf[at - 2] === 0xca && buf[at - 1]! < 0x40) return buf[at - 1]!;
  if (buf[at - 3] === 0xca && (buf[at - 2]! & 0xc0) === 0x40) return ((buf[at - 2]! & 0x3f) << 8) | buf[at - 1]!;
  if (buf[at - 6] === 0xca && buf[at - 5] === 0x80) return buf.readUInt32BE(at - 4);
  return -1;
}

test('lz4-napi decodes Dragonfly LZ4 frames: linked blocks (FLG 0x48) and raw blocks', () => {
  let linked = 0;
  let rawBlocks = 0;
  let frames = 0;
  for (const name of ['big', 'types']) {
    for (const conn of loadSession(name)) {
      const buf = conn.masterBytes;
      for (let at = buf.indexOf(MAGIC); at >= 0; at = buf.indexOf(MAGIC, at + 1)) {
        const n = lengthBefore(buf, at);
        if (n < 0 || at + n > buf.length) continue;
        const frame = buf.subarray(at, at + n);
        const flg = frame[4]!;
        if ((flg & 0x08) === 0) continue; // Dragonfly always sets content size
        const contentSize = Number(frame.readBigUInt64LE(6));
        // walk blocks: header is magic(4) FLG BD size(8) HC(1)
        let p = 15;
        let blocks = 0;
        for (;;) {
          const bs = frame.readUInt32LE(p);
          if (bs === 0) break;
          if (bs & 0x80000000) rawBlocks++;
          p += 4 + (bs & 0x7fffffff);
          blocks++;
        }
        assert.equal(p + 4, frame.length, 'frame ends with the end mark');
        if (flg === 0x48 && blocks > 1) linked++;
        const out = decompressLz4Frame(frame);
        assert.equal(out.length, contentSize);
        frames++;
      }
    }
  }
  assert.ok(frames > 100, `${frames} frames`);
  assert.ok(linked > 0, 'some frames have linked blocks');
  assert.ok(rawBlocks > 0, 'some frames have raw blocks');
});
