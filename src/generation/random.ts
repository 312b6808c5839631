/**
 * Seeded pseudo-random numbers: xoshiro128** (Blackman & Vigna, 2018), seeded through SplitMix64,
 * the seeding the xoshiro authors recommend. Small, fast on 32-bit integer math, and identical in
 * Node, the browser and a worker, so a seed gives the same text everywhere.
 *
 * Parallel sequences get separate generators: sequence i takes SplitMix64 outputs 2i and 2i+1 of the
 * seed (128 bits) as its state. A sequence's draws therefore depend only on (seed, i), never on how many
 * other sequences run beside it.
 */

const MASK_64 = (1n << 64n) - 1n;

/** SplitMix64 (Steele, Lea & Flood); BigInt is fine here since it only runs when seeding. */
export class SplitMix64 {
  private state: bigint;

  constructor(seed: number | bigint) {
    this.state = BigInt.asUintN(64, BigInt(seed));
  }

  next(): bigint {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & MASK_64;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK_64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK_64;
    return z ^ (z >> 31n);
  }
}

export class Xoshiro128StarStar {
  private readonly s: Uint32Array;

  /** Four 32-bit state words, not all zero. */
  constructor(state: ArrayLike<number>) {
    this.s = Uint32Array.from(state);
    if (this.s.length !== 4 || this.s.every((w) => w === 0)) {
      throw new Error('xoshiro128** needs four state words, not all zero');
    }
  }

  /** The i-th independent stream of a seed (i = sequence index). */
  static fromSeed(seed: number, stream = 0): Xoshiro128StarStar {
    const seeder = new SplitMix64(seed);
    for (let skip = 0; skip < 2 * stream; skip++) seeder.next();
    const a = seeder.next();
    const b = seeder.next();
    // SplitMix64 never yields a run of zeros long enough to make all four words zero.
    return new Xoshiro128StarStar([Number(a & 0xffffffffn), Number(a >> 32n), Number(b & 0xffffffffn), Number(b >> 32n)]);
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The largest seed the page's Seed field and ?seed= take: a fresh seed fits there, so any run's seed can be typed in again. */
export const MAX_SEED = 2 ** 32 - 1;

/**
 * The one rule for seeds everywhere (generate()'s seed, the CLI's --seed, the page's Seed box and
 * ?seed=): a 32-bit unsigned integer. Anything else is refused with this range, never clamped.
 */
export const SEED_RANGE = `an integer from 0 to ${MAX_SEED} (a 32-bit unsigned integer)`;

export function isSeed(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_SEED;
}

/** Seed text as a seed: decimal digits only (no sign, fraction, exponent or 0x), at most MAX_SEED; null otherwise. */
export function parseSeed(text: string): number | null {
  const digits = text.trim();
  if (!/^\d{1,10}$/.test(digits)) return null;
  const seed = Number(digits);
  return isSeed(seed) ? seed : null;
}

/**
 * A fresh seed when the caller gave none (0..MAX_SEED), reported back so the run can be repeated.
 * `random` (a float in [0, 1)) replaces the crypto source, for tests.
 */
export function randomSeed(random?: () => number): number {
  if (random) return Math.floor(random() * (MAX_SEED + 1));
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0];
}
