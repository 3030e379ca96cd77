/**
 * Dragonfly compressed blobs (opcodes 201 COMPRESSED_ZSTD_BLOB_START, 202 COMPRESSED_LZ4_BLOB_START):
 * one zstd frame or one LZ4 frame whose decompressed bytes are complete top-level records.
 * Upstream: Dragonfly src/server/detail/compressor.cc (`CompressBlob`), decompress.cc. The
 * compressed and decompressed blob are held whole (≤ 1 MiB by the writer's `kMaxStrSizeToCompress`).
 *
 * LZ4: `lz4-napi` `decompressFrameSync` (lz4's own frame decoder) handles linked-block frames
 * (FLG 0x48) and raw (uncompressed) blocks; verified on the `big` recording (test/decode).
 */
import { decompress as zstdDecompress } from 'fzstd';
import { decompressFrameSync } from 'lz4-napi';

/** Decompresses one LZ4 frame. Throws whatever the codec throws on corrupt input. */
export function decompressLz4Frame(data: Buffer): Buffer {
  return decompressFrameSync(data);
}

/** Decompresses one zstd frame (content size must be present, as Dragonfly writes it). */
export function decompressZstdFrame(data: Buffer): Buffer {
  const out = zstdDecompress(data);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
