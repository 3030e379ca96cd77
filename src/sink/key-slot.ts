import calculateSlot from 'cluster-key-slot';

/**
 * Cluster slot (0–16383) of a key: CRC16/XMODEM of the key, or of its hash tag (the bytes between
 * the first `{` and the next `}`, when not empty), mod 16384 (Redis src/cluster.c `keyHashSlot`).
 *
 * Uses `cluster-key-slot`, except for one case it gets wrong (1.1.2, its last release): an empty
 * first tag (`{}`) followed later by a `}`, e.g. `a{}{b}`. Redis hashes the whole key; the package
 * keeps scanning and hashes `b`. That case goes to {@link keySlotRange}, which follows Redis.
 */
export function keySlot(key: Buffer): number {
  const open = key.indexOf(0x7b /* { */);
  if (open !== -1 && key[open + 1] === 0x7d /* } */ && key.indexOf(0x7d, open + 2) !== -1) {
    return keySlotRange(key, 0, key.length);
  }
  return calculateSlot(key);
}

/**
 * Whether the slot of `key` comes from a hash tag (a non-empty `{…}`, as in {@link keySlot}): only
 * such keys share a slot with their neighbours in practice (keys without one spread uniformly).
 */
export function hasHashTag(key: Buffer): boolean {
  const open = key.indexOf(0x7b /* { */);
  if (open === -1) return false;
  const close = key.indexOf(0x7d /* } */, open + 1);
  return close > open + 1;
}

/** CRC-16/XMODEM lookup table (Redis src/crc16.c `crc16tab`); also the string-run kernel's. */
export const CRC16_TABLE = ((): Uint16Array => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  return t;
})();

/**
 * {@link keySlot} of the key `buf[start, end)` without making a Buffer of it (the full sync's
 * string fast path; ~20 ns for a short key): CRC16 of the hash tag when the key has a non-empty
 * one, else of the whole key, mod 16384 (Redis src/cluster.c `keyHashSlot`, table of src/crc16.c).
 */
export function keySlotRange(buf: Buffer, start: number, end: number): number {
  let from = start;
  let to = end;
  for (let i = start; i < end; i++) {
    if (buf[i] !== 0x7b /* { */) continue;
    for (let j = i + 1; j < end; j++) {
      if (buf[j] !== 0x7d /* } */) continue;
      if (j > i + 1) {
        from = i + 1;
        to = j;
      }
      break;
    }
    break;
  }
  let crc = 0;
  for (let i = from; i < to; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ buf[i]!) & 0xff]!;
  return crc & 0x3fff;
}
