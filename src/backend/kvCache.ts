/**
 * The contract every KV cache keeps, whichever backend holds it (src/model's caches for tfjs's
 * generic path, src/backend/webgpu's for the fused one), and the argument checks they share.
 * It sits here, below the model, so that backends implement it without importing the model.
 */

/** What callers (generation) see: sizes, sharing a prompt across sequences, forking a branch, reordering beams, and disposal. */
export interface KVCache {
  readonly batchSize: number;
  /** Positions filled so far; the next forward() appends at this position. */
  readonly length: number;
  /** Most positions this cache can hold (at most the model's n_positions). */
  readonly capacity: number;
  /** Batch 1 → n copies (num_return_sequences: prefill the prompt once, then share it). The original stays valid; dispose both. */
  repeat(n: number): KVCache;
  /**
   * A new batch-1 cache holding the first `length` positions of batch row `row` (0-based), with
   * room for `capacity` positions (>= length), of the same kind as this one: a branch continues
   * from there without running those positions through the model again. This cache is unchanged
   * and stays usable; dispose both.
   */
  fork(row: number, length: number, capacity: number): KVCache;
  /**
   * Beam search's reorder, in place: batch row b takes the keys and values of row `rows[b]`
   * (its parent beam; a row may be taken by several), every position held. The batch size stays;
   * nothing is recomputed. `rows` is read as a whole before any row is overwritten.
   */
  reorder(rows: readonly number[]): void;
  dispose(): void;
}

/** reorder(rows) names one source row, of this cache, for every batch row. */
export function checkReorder(cache: KVCache, rows: readonly number[]): void {
  if (rows.length !== cache.batchSize) {
    throw new RangeError(`KVCache.reorder needs one source row per batch row (${cache.batchSize}), got ${rows.length}`);
  }
  for (const row of rows) {
    if (!Number.isInteger(row) || row < 0 || row >= cache.batchSize) {
      throw new RangeError(`KVCache.reorder: every source row must be an integer from 0 to ${cache.batchSize - 1}, got ${row}`);
    }
  }
}

/** Whether reorder(rows) leaves every row where it is. */
export function isIdentity(rows: readonly number[]): boolean {
  return rows.every((row, b) => row === b);
}

/** repeat(n) shares one prompt's cache: it needs a batch-1 cache and a positive integer n. */
export function checkRepeat(batchSize: number, n: number): void {
  if (batchSize !== 1) throw new RangeError(`KVCache.repeat needs a batch-1 cache, this one holds ${batchSize} sequences`);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`KVCache.repeat(n) needs a positive integer, got ${n}`);
}

/** fork(row, length, capacity) copies a row that exists, at most the positions it holds, into room for them. */
export function checkFork(cache: KVCache, row: number, length: number, capacity: number): void {
  if (!Number.isInteger(row) || row < 0 || row >= cache.batchSize) {
    throw new RangeError(
      `KVCache.fork: row must be an integer from 0 to ${cache.batchSize - 1} (this cache holds ${cache.batchSize} sequences), got ${row}`,
    );
  }
  if (!Number.isInteger(length) || length < 0 || length > cache.length) {
    throw new RangeError(
      `KVCache.fork: length must be an integer from 0 to ${cache.length} (the positions this cache holds), got ${length}`,
    );
  }
  if (!Number.isInteger(capacity) || capacity < Math.max(1, length)) {
    throw new RangeError(
      `KVCache.fork: capacity must be an integer of at least ${Math.max(1, length)} (the positions copied), got ${capacity}`,
    );
  }
}
