/**
 * Dragonfly compressed blobs (opcodes 201 COMPRESSED_ZSTD_BLOB_START, 202 COMPRESSED_LZ4_BLOB_START):
 * one zstd frame or one LZ4 frame whose decompressed bytes are complete top-level records.
 * Upstream: Dragonfly src/server/detail/compressor.cc (`CompressBlob`), decompress.cc. The
 * compressed and decompressed blob are held whole (≤ 1 MiB by the writer's `kMaxStrSizeToCompress`).
 *
 * LZ4: `lz4-napi` `decompressFrameSync` (lz4's own frame decoder) handles linked-block frames
 * (FLG 0x48) and raw (uncompressed) blocks; verified on the `big` recording (test/decode).
 */
import { createRequire } from 'node:module';

/** The codecs, loaded on the first compressed blob (a Redis dump has none): start-up CPU. */
const requireLazily = createRequire(import.meta.url);
let lz4: typeof import('lz4-napi') | undefined;
let zstd: typeof import('fzstd') | undefined;

/** Decompresses one LZ4 frame. Throws whatever the codec throws on corrupt input. */
export function decompressLz4Frame(data: Buffer): Buffer {
  return (lz4 ??= requireLazily('lz4-napi') as typeof import('lz4-napi')).decompressFrameSync(data);
}

/** Decompresses one zstd frame (content size must be present, as Dragonfly writes it). */
export function decompressZstdFrame(data: Buffer): Buffer {
  const out = (zstd ??= requireLazily('fzstd') as typeof import('fzstd')).decompress(data);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
