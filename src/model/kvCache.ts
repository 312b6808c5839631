/**
 * The key/value cache: each layer's keys and values for every position processed so far, so a
 * new token attends to the past without recomputing it.
 */
import * as tf from '@tensorflow/tfjs';
import { SimdAttentionStore } from '../backend/simd/attention';
import type { KernelHost } from '../backend/simd/kernels';
import { simdKernelsAvailable } from '../backend/simd/kernels';
import { checkFork, checkReorder, checkRepeat, isIdentity, type KVCache } from '../backend/kvCache';
import type { GPT2Config } from './config';
import { causalSelfAttention, type AttentionStore } from './layers';

export type { KVCache };

/** What the forward pass needs from a cache: attention that also stores this step's keys and values. */
export interface LayerKVCache extends KVCache, AttentionStore {
  /**
   * One layer's attention for the T new positions: stores their keys and values, then lets each
   * new query attend to every cached position up to its own. qkv [B, T, 3C] is c_attn's output
   * (queries, keys, values side by side); returns the heads merged, [B, T, C]. `mask` is the
   * causal mask over all S = length + T positions (undefined when T = 1).
   */
  attend(layer: number, qkv: tf.Tensor3D, nHead: number, mask: tf.Tensor2D | undefined): tf.Tensor3D;
  /** Called once after every layer stored T new positions. */
  advance(t: number): void;
}

/** `concat`: tfjs tensors grown by concatenation each step (the measured baseline); `simd`: preallocated in WebAssembly memory, written in place, SIMD attention (SimdKVCache). */
export type KVCacheKind = 'concat' | 'simd';

/** Backends whose tensors the page reads synchronously and cheaply (wasm heap, JS arrays): where `simd` is the default. */
const HOST_MEMORY_BACKENDS = ['wasm', 'cpu'];

export function defaultKVCacheKind(backend = tf.getBackend(), shape?: CacheShape): KVCacheKind {
  const fits = !shape || (shape.nEmbd / shape.nHead) % 4 === 0; // the SIMD kernels read heads 4 floats at a time
  return HOST_MEMORY_BACKENDS.includes(backend) && fits && simdKernelsAvailable() ? 'simd' : 'concat';
}

/** The model dimensions a cache is sized by (`nInner`: the MLP's width, 4·nEmbd when absent). */
export type CacheShape = Pick<GPT2Config, 'nLayer' | 'nHead' | 'nEmbd' | 'nInner'>;

/** A cache of the given kind for tfjs's generic (non-fused) forward pass. */
export function createKVCache(kind: KVCacheKind, shape: CacheShape, batchSize: number, capacity: number): LayerKVCache {
  if (kind === 'concat') return new ConcatKVCache(shape.nLayer, batchSize, capacity);
  return new SimdKVCache(shape, batchSize, capacity);
}

export function isLayerKVCache(cache: KVCache): cache is LayerKVCache {
  return typeof (cache as LayerKVCache).attend === 'function' && typeof (cache as LayerKVCache).advance === 'function';
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

  attend(layer: number, qkv: tf.Tensor3D, nHead: number, mask: tf.Tensor2D | undefined): tf.Tensor3D {
    this.assertLive();
    return causalSelfAttention(qkv, nHead, mask, (k, v) => {
      this.keys[layer] = grow(this.keys[layer], k); // [B, H, S, D]
      this.values[layer] = grow(this.values[layer], v); // [B, H, S, D]
      return { k: this.keys[layer]!, v: this.values[layer]! };
    });
  }

  advance(t: number): void {
    this.filled += t;
  }

  repeat(n: number): KVCache {
    this.assertLive();
    checkRepeat(this.batchSize, n);
    const copy = new ConcatKVCache(this.nLayer, n, this.capacity);
    const tile = (t: tf.Tensor4D | undefined) => (t ? tf.keep(tf.tile(t, [n, 1, 1, 1])) : undefined); // [n, H, S, D]
    copy.keys = this.keys.map(tile);
    copy.values = this.values.map(tile);
    copy.filled = this.filled;
    return copy;
  }

  fork(row: number, length: number, capacity: number): KVCache {
    this.assertLive();
    checkFork(this, row, length, capacity);
    const copy = new ConcatKVCache(this.nLayer, 1, capacity);
    // Nothing writes into these tensors (a step concatenates new ones), so slices are safe to share.
    const cut = (t: tf.Tensor4D | undefined) => (t && length > 0 ? tf.keep(tf.slice(t, [row, 0, 0, 0], [1, -1, length, -1])) : undefined); // [1, H, length, D]
    copy.keys = this.keys.map(cut);
    copy.values = this.values.map(cut);
    copy.filled = length;
    return copy;
  }

  reorder(rows: readonly number[]): void {
    this.assertLive();
    checkReorder(this, rows);
    if (isIdentity(rows)) return;
    const take = (t: tf.Tensor4D | undefined) => {
      if (!t) return undefined;
      const gathered = tf.keep(tf.tidy(() => tf.gather(t, tf.tensor1d(rows as number[], 'int32'), 0))); // [B, H, S, D]
      t.dispose();
      return gathered;
    };
    this.keys = this.keys.map(take);
    this.values = this.values.map(take);
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

/**
 * Every layer's keys and values preallocated for `capacity` positions in one WebAssembly memory
 * (SimdAttentionStore); a step writes its new rows there and attention runs as SIMD loops over
 * them. Nothing is reallocated or copied as the text grows, and the cache holds no tfjs tensors.
 * Reading c_attn's output back (dataSync) is cheap on wasm and cpu, where this is the default. The
 * rest of a decode step's state lives apart, in SimdDecodeScratch (simdDecode.ts).
 */
export class SimdKVCache implements LayerKVCache {
  private store: SimdAttentionStore | undefined;
  private filled = 0;
  /** Batch row b's keys and values are in slot `layer * batchSize + slotOf[b]` (reorder permutes this). */
  private slotOf: number[];

  /**
   * `host`: the matrix store's kernel host (q8 / f16 on several threads), where the keys and values
   * are leased so the store's threads split attention over heads; without one, a memory of its own.
   */
  constructor(
    readonly shape: CacheShape,
    readonly batchSize: number,
    readonly capacity: number,
    private readonly host?: KernelHost,
  ) {
    this.store = new SimdAttentionStore(shape.nLayer * batchSize, capacity, shape.nEmbd, shape.nHead, host);
    this.slotOf = Array.from({ length: batchSize }, (_, b) => b);
  }

  get length(): number {
    return this.filled;
  }

  attend(layer: number, qkv: tf.Tensor3D, nHead: number): tf.Tensor3D {
    const [B, T, threeC] = qkv.shape;
    const C = threeC / 3;
    if (nHead !== this.shape.nHead || C !== this.shape.nEmbd || B !== this.batchSize) {
      throw new RangeError(
        `this cache holds ${this.batchSize} × ${this.shape.nHead} heads × ${this.shape.nEmbd}, got ${B} × ${nHead} × ${C}`,
      );
    }
    const out = new Float32Array(B * T * C); // [B, T, C]
    this.attendRows(layer, qkv.dataSync() as Float32Array, T, out);
    return tf.tensor3d(out, [B, T, C]);
  }

  /** attend() on arrays: rows [B, T, 3C] (query | key | value of each position) → out [B, T, C]. */
  attendRows(layer: number, rows: Float32Array, T: number, out: Float32Array): void {
    const store = this.live();
    const B = this.batchSize;
    const C = this.shape.nEmbd;
    const slot = (b: number) => layer * B + this.slotOf[b];
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const at = (b * T + t) * 3 * C;
        store.write(slot(b), this.filled + t, rows.subarray(at + C, at + 2 * C), rows.subarray(at + 2 * C, at + 3 * C));
      }
    }
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const at = (b * T + t) * 3 * C;
        store.attend(slot(b), this.filled + t + 1, rows.subarray(at, at + C), out, (b * T + t) * C); // sees positions 0..filled+t
      }
    }
  }

  advance(t: number): void {
    this.filled += t;
  }

  repeat(n: number): KVCache {
    const store = this.live();
    checkRepeat(this.batchSize, n);
    const copy = new SimdKVCache(this.shape, n, this.capacity, this.host);
    for (let layer = 0; layer < this.shape.nLayer; layer++) {
      for (let b = 0; b < n; b++) copy.store!.copySlot(store, layer + this.slotOf[0], layer * n + b, this.filled);
    }
    copy.filled = this.filled;
    return copy;
  }

  fork(row: number, length: number, capacity: number): KVCache {
    const store = this.live();
    checkFork(this, row, length, capacity);
    const copy = new SimdKVCache(this.shape, 1, capacity, this.host);
    for (let layer = 0; layer < this.shape.nLayer; layer++) {
      copy.store!.copySlot(store, layer * this.batchSize + this.slotOf[row], layer, length);
    }
    copy.filled = length;
    return copy;
  }

  /**
   * Beam search's reorder without moving what stays: each row reads its parent's slot; the first
   * row to take a slot takes it as it is, and only a row whose parent is already taken gets a
   * copy, into a slot no row takes any more (one for each such row).
   */
  reorder(rows: readonly number[]): void {
    const store = this.live();
    checkReorder(this, rows);
    const B = this.batchSize;
    const parents = rows.map((row) => this.slotOf[row]); // the slot each row must continue
    const next: number[] = new Array(B);
    const taken = new Set<number>();
    const copies: number[] = [];
    parents.forEach((slot, b) => {
      if (taken.has(slot)) copies.push(b);
      else {
        taken.add(slot);
        next[b] = slot;
      }
    });
    const free = Array.from({ length: B }, (_, slot) => slot).filter((slot) => !taken.has(slot));
    copies.forEach((b, i) => {
      next[b] = free[i];
      for (let layer = 0; layer < this.shape.nLayer; layer++)
        store.copySlot(store, layer * B + parents[b], layer * B + free[i], this.filled);
    });
    this.slotOf = next;
  }

  /** Whether attention runs on the matrix store's threads (keys and values leased there). */
  get threaded(): boolean {
    return this.store?.threaded ?? false;
  }

  dispose(): void {
    this.store?.release(); // a lease goes back to the host; an own memory goes with the last reference
    this.store = undefined;
  }

  private live(): SimdAttentionStore {
    if (!this.store) throw new Error('this KVCache was disposed');
    return this.store;
  }
}
