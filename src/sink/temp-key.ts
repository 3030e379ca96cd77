import calculateSlot from 'cluster-key-slot';
import { keySlot } from './key-slot.js';

/**
 * Temporary key names for writes that must not touch an existing key (`onExisting` skip/fail): an
 * object is built under a temporary key and moved into place by one atomic script at the end.
 * The temporary key hashes to the same cluster slot as the real key (Redis src/cluster.c
 * `keyHashSlot`: the hash tag is the text between the first `{` and the next `}`, when not empty),
 * so the script's two keys are on one node.
 */

/** Prefix of every temporary key (a crash may leave some behind: `SCAN MATCH *df2redis:tmp:*`). */
export const TEMP_KEY_MARK = 'df2redis:tmp:';

const SLOTS = 16384;
let slotTags: string[] | undefined;

/** A short tag string per slot, found by enumeration once (≈ 160 k CRC16 of ≤ 4 bytes). */
function tagForSlot(slot: number): string {
  if (slotTags === undefined) {
    const tags = new Array<string>(SLOTS);
    let found = 0;
    for (let i = 0; found < SLOTS; i++) {
      const t = i.toString(36);
      const s = calculateSlot(t);
      if (tags[s] === undefined) {
        tags[s] = t;
        found++;
      }
    }
    slotTags = tags;
  }
  return slotTags[slot]!;
}

/** The hash tag of `key` (Redis `keyHashSlot` rules), or undefined when the whole key is hashed. */
function hashTag(key: Buffer): Buffer | undefined {
  const open = key.indexOf(123 /* { */);
  if (open === -1) return undefined;
  const close = key.indexOf(125 /* } */, open + 1);
  if (close === -1 || close === open + 1) return undefined;
  return key.subarray(open + 1, close);
}

/** `{<tag>}df2redis:tmp:<key>` where `<tag>` puts it in the slot of `key`. */
export function tempKeyFor(key: Buffer): Buffer {
  const tag = hashTag(key) ?? Buffer.from(tagForSlot(keySlot(key)), 'latin1');
  return Buffer.concat([Buffer.from('{'), tag, Buffer.from(`}${TEMP_KEY_MARK}`), key]);
}
