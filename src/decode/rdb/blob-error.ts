/**
 * Maps a malformed container blob (listpack, ziplist, intset, zipmap, stream node) to a typed
 * RdbError at the reader's position.
 */
import { BlobFormatError } from './listpack.js';
import type { RdbReader } from './rdb-reader.js';

/** Runs `parse` and turns a {@link BlobFormatError} into RdbError BAD_ENCODING naming `what`. */
export function parseBlob<T>(r: RdbReader, what: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof BlobFormatError) throw r.error('BAD_ENCODING', `${what}: ${e.message}`);
    throw e;
  }
}
