/**
 * The key/value cache: each layer's keys and values for every position processed so far, so a
 * new token attends to the past without recomputing it.
 */
import * as tf from '@tensorflow/tfjs';

/** What callers (generation) see: sizes, sharing a prompt across sequences, and disposal. */
export interface KVCache {
  readonly batchSize: number;
  /** Positions filled so far; the next forward() appends at this position. */
  readonly length: number;
  /** Most positions this cache can hold (at most the model's n_positions). */
  readonly capacity: number;
  /** Batch 1 → n copies (num_return_sequences: prefill the prompt once, then share it). The original stays valid; dispose both. */
  repeat(n: number): KVCache;
  dispose(): void;
}

/**
 * What the forward pass needs from a cache. An implementation may keep tensors however it likes
 * (concatenation here; a preallocated buffer written in place would fit the same interface).
 */
export interface LayerKVCache extends KVCache {
  /**
   * Adds one layer's keys and values for the new positions, each [B, H, T, D], and returns the
   * keys and values of all positions, [B, H, length + T, D]. The cache owns the returned tensors.
   */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D };
  /** Called once after every layer appended T new positions. */
  advance(t: number): void;
}

export function isLayerKVCache(cache: KVCache): cache is LayerKVCache {
  return typeof (cache as LayerKVCache).append === 'function' && typeof (cache as LayerKVCache).advance === 'function';
}

/** Grows by concatenation: simple and exact; each step allocates the longer tensors anew. */
export class ConcatKVCache implements LayerKVCache {
  private keys: (tf.Tensor4D | undefined)[];
  private values: (tf.Tensor4D | undefined)[];
  private filled = 0;
  private disposed = false;

  constructor(
    readonly nLayer: number,
    readonly batchSize: number,
    readonly capacity: number,
  ) {
    this.keys = new Array(nLayer).fill(undefined);
    this.values = new Array(nLayer).fill(undefined);
  }

  get length(): number {
    return this.filled;
  }

  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D } {
    this.assertLive();
    this.keys[layer] = grow(this.keys[layer], k); // [B, H, S, D]
    this.values[layer] = grow(this.values[layer], v); // [B, H, S, D]
    return { k: this.keys[layer]!, v: this.values[layer]! };
  }

  advance(t: number): void {
    this.filled += t;
  }

  repeat(n: number): KVCache {
    this.assertLive();
    if (this.batchSize !== 1) throw new RangeError(`KVCache.repeat needs a batch-1 cache, this one holds ${this.batchSize} sequences`);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`KVCache.repeat(n) needs a positive integer, got ${n}`);
    const copy = new ConcatKVCache(this.nLayer, n, this.capacity);
    const tile = (t: tf.Tensor4D | undefined) => (t ? tf.keep(tf.tile(t, [n, 1, 1, 1])) : undefined); // [n, H, S, D]
    copy.keys = this.keys.map(tile);
    copy.values = this.values.map(tile);
    copy.filled = this.filled;
    return copy;
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(undefined);
    this.values.fill(undefined);
    this.disposed = true;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('this KVCache was disposed');
  }
}

/** past [B, H, S, D] + next [B, H, T, D] → [B, H, S + T, D], kept beyond the caller's tf.tidy. */
function grow(past: tf.Tensor4D | undefined, next: tf.Tensor4D): tf.Tensor4D {
  const all = tf.keep(past ? tf.concat([past, next], 2) : next.clone());
  past?.dispose();
  return all;
}
