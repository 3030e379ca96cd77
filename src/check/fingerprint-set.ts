/**
 * The keys already compared, as 64-bit fingerprints in an open-addressing table (16 bytes per key
 * at most): the one structure of `check` that grows with the key count (8 MiB per million keys at
 * half load), instead of the keys themselves. Two keys sharing a fingerprint (probability about
 * n² / 2^65: 3·10⁻⁸ for a million keys) would hide an extra key on the target.
 */

/** 64-bit fingerprint of (db, key) as two 32-bit halves: FNV-1a and a multiplicative mix, seeded. */
export function fingerprint(db: number, key: Buffer, seed: number): [number, number] {
  let h1 = (0x811c9dc5 ^ seed ^ db) >>> 0;
  let h2 = (0x9747b28c ^ Math.imul(seed, 0x85ebca6b) ^ db) >>> 0;
  for (let i = 0; i < key.length; i++) {
    const c = key[i]!;
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h2 = Math.imul(h2 ^ (h2 >>> 16), 0xc2b2ae35);
  h2 ^= h2 >>> 16;
  return [h1 >>> 0, h2 >>> 0];
}

/** A growable set of 64-bit fingerprints. */
export class FingerprintSet {
  #hi = new Uint32Array(1 << 12);
  #lo = new Uint32Array(1 << 12);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(hi: number, lo: number): void {
    if (hi === 0 && lo === 0) lo = 1;
    if ((this.#size + 1) * 2 > this.#hi.length) this.#grow();
    if (this.#insert(this.#hi, this.#lo, hi, lo)) this.#size++;
  }

  has(hi: number, lo: number): boolean {
    if (hi === 0 && lo === 0) lo = 1;
    const mask = this.#hi.length - 1;
    for (let i = (hi ^ Math.imul(lo, 0x9e3779b1)) & mask; ; i = (i + 1) & mask) {
      const h = this.#hi[i]!;
      const l = this.#lo[i]!;
      if (h === 0 && l === 0) return false;
      if (h === hi && l === lo) return true;
    }
  }

  #insert(hs: Uint32Array, ls: Uint32Array, hi: number, lo: number): boolean {
    const mask = hs.length - 1;
    for (let i = (hi ^ Math.imul(lo, 0x9e3779b1)) & mask; ; i = (i + 1) & mask) {
      const h = hs[i]!;
      const l = ls[i]!;
      if (h === 0 && l === 0) {
        hs[i] = hi;
        ls[i] = lo;
        return true;
      }
      if (h === hi && l === lo) return false;
    }
  }

  #grow(): void {
    const hs = new Uint32Array(this.#hi.length * 2);
    const ls = new Uint32Array(this.#lo.length * 2);
    for (let i = 0; i < this.#hi.length; i++) {
      if (this.#hi[i] !== 0 || this.#lo[i] !== 0) this.#insert(hs, ls, this.#hi[i]!, this.#lo[i]!);
    }
    this.#hi = hs;
    this.#lo = ls;
  }
}

/**
 * One-sided upper confidence bound of a proportion (Clopper–Pearson): the largest share p of
 * differing keys for which seeing at most `k` differences in `n` uniformly sampled keys still has
 * probability ≥ 1 − confidence. For k = 0 it is 1 − (1 − confidence)^(1/n) ≈ 3/n at 95 % (the
 * "rule of three").
 */
export function upperBound(k: number, n: number, confidence = 0.95): number {
  if (n === 0) return 1;
  if (k >= n) return 1;
  const alpha = 1 - confidence;
  if (k === 0) return 1 - Math.pow(alpha, 1 / n);
  // P(X ≤ k; n, p) decreases in p: bisect for the p where it equals alpha (log-space terms).
  const cdf = (p: number): number => {
    const lp = Math.log(p);
    const lq = Math.log1p(-p);
    let term = n * lq; // log P(X = 0)
    let sum = Math.exp(term);
    for (let i = 1; i <= k; i++) {
      term += Math.log((n - i + 1) / i) + lp - lq;
      sum += Math.exp(term);
    }
    return sum;
  };
  let lo = k / n;
  let hi = 1;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) > alpha) lo = mid;
    else hi = mid;
  }
  return hi;
}
