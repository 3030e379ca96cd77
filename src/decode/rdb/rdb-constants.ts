/**
 * RDB opcodes and encodings, with their upstream names.
 * Upstream: Redis src/rdb.h (`RDB_OPCODE_*`, `RDB_ENC_*`, `RDB_*BITLEN`, `RDB_MODULE_OPCODE_*`),
 * Redis src/quicklist.h (`QUICKLIST_NODE_CONTAINER_*`), Dragonfly src/server/rdb_extensions.h.
 */

/** Redis src/rdb.h */
export const RDB_OPCODE_SLOT_INFO = 244;
export const RDB_OPCODE_FUNCTION2 = 245;
export const RDB_OPCODE_FUNCTION_PRE_GA = 246;
export const RDB_OPCODE_MODULE_AUX = 247;
export const RDB_OPCODE_IDLE = 248;
export const RDB_OPCODE_FREQ = 249;
export const RDB_OPCODE_AUX = 250;
export const RDB_OPCODE_RESIZEDB = 251;
export const RDB_OPCODE_EXPIRETIME_MS = 252;
export const RDB_OPCODE_EXPIRETIME = 253;
export const RDB_OPCODE_SELECTDB = 254;
export const RDB_OPCODE_EOF = 255;

/** Dragonfly src/server/rdb_extensions.h */
export const RDB_OPCODE_FULLSYNC_END = 200;
export const RDB_OPCODE_COMPRESSED_ZSTD_BLOB_START = 201;
export const RDB_OPCODE_COMPRESSED_LZ4_BLOB_START = 202;
export const RDB_OPCODE_COMPRESSED_BLOB_END = 203;
export const RDB_OPCODE_JOURNAL_BLOB = 210;
export const RDB_OPCODE_JOURNAL_OFFSET = 211;
export const RDB_OPCODE_DF_MASK = 220;
export const RDB_OPCODE_VECTOR_INDEX = 222;
export const RDB_OPCODE_SHARD_DOC_INDEX = 223;
export const RDB_OPCODE_TAGGED_CHUNK = 224;

/** Dragonfly DF_MASK flag bits (src/server/rdb_extensions.h `DF_MASK_FLAG_*`). */
export const DF_MASK_FLAG_STICKY = 1;
export const DF_MASK_FLAG_MC_FLAGS = 2;

/** Redis src/rdb.h: first byte of the 32- and 64-bit length forms (6- and 14-bit forms: top bits 00, 01). */
export const RDB_32BITLEN = 0x80;
export const RDB_64BITLEN = 0x81;
/** Redis src/rdb.h: special string encodings (`RDB_ENC_*`, after the `11` marker). */
export const RDB_ENC_INT8 = 0;
export const RDB_ENC_INT16 = 1;
export const RDB_ENC_INT32 = 2;
export const RDB_ENC_LZF = 3;

/** Redis src/rdb.h: module value opcodes. */
export const RDB_MODULE_OPCODE_EOF = 0;
export const RDB_MODULE_OPCODE_SINT = 1;
export const RDB_MODULE_OPCODE_UINT = 2;
export const RDB_MODULE_OPCODE_FLOAT = 3;
export const RDB_MODULE_OPCODE_DOUBLE = 4;
export const RDB_MODULE_OPCODE_STRING = 5;

/** Redis src/quicklist.h */
export const QUICKLIST_NODE_CONTAINER_PLAIN = 1;
export const QUICKLIST_NODE_CONTAINER_PACKED = 2;

/** Redis src/t_stream.c: stream node entry flags. */
export const STREAM_ITEM_FLAG_DELETED = 1;
export const STREAM_ITEM_FLAG_SAMEFIELDS = 2;

/** Highest Redis RDB format version this decoder reads (Redis 7.4 / 8.x write 12). */
export const RDB_VERSION_MAX = 12;

/** Dragonfly: field/member expiry epoch of types 31/32, 2023-02-01T00:00:00Z in Unix seconds
 *  (src/server/tiering or `kMemberExpiryBase` in src/core/dense_set.h). */
export const DF_MEMBER_EXPIRY_BASE_S = 1675209600;

/** Largest string length accepted before failing with BAD_LENGTH (4 GiB; Redis caps bulk strings at 512 MB). */
export const MAX_STRING_LENGTH = 2 ** 32;

/**
 * Largest compressed blob (opcodes 201/202) accepted before failing with BAD_LENGTH: 64 MiB. The
 * blob is held whole; Dragonfly only compresses flush buffers of at most 1 MiB
 * (`kMaxStrSizeToCompress`, src/server/rdb_save.h), so a bigger declared length is corruption.
 */
export const MAX_COMPRESSED_BLOB_BYTES = 64 * 1024 * 1024;
