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
   * keys and values of all positions (and any spare rows, see reserve). The cache owns them.
   */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): CachedKV;
  /**
   * Called once per forward pass, before any layer appends, with the length the cache will have
   * after it (`length + T`). Returns how many key positions append() will hand back: exactly that
   * length, or more when the cache keeps spare rows, which attention must mask out.
   */
  reserve(total: number): number;
  /** Called once after every layer appended T new positions. */
  advance(t: number): void;
}

/** `concat`: grows by concatenation each step (the measured baseline); `inplace`: preallocated, written in place. */
export type KVCacheKind = 'concat' | 'inplace';

/** tfjs backends whose tensor memory the page can write (wasm heap, JS arrays): where `inplace` works. */
const HOST_MEMORY_BACKENDS = ['wasm', 'cpu'];

export function defaultKVCacheKind(backend = tf.getBackend()): KVCacheKind {
  return HOST_MEMORY_BACKENDS.includes(backend) ? 'inplace' : 'concat';
}

/** A cache of the given kind for tfjs's generic (non-fused) forward pass. */
export function createKVCache(kind: KVCacheKind, nLayer: number, batchSize: number, capacity: number): LayerKVCache {
  if (kind === 'concat') return new ConcatKVCache(nLayer, batchSize, capacity);
  if (!HOST_MEMORY_BACKENDS.includes(tf.getBackend())) {
    throw new Error(`the in-place KV cache needs the wasm or cpu backend, not '${tf.getBackend()}'`);
  }
  return new InPlaceKVCache(nLayer, batchSize, capacity);
}

/**
 * One layer's keys [B, H, S, D] and values, either as they are, [B, H, S, D], or transposed,
 * `vT` [B, H, D, S] (so attention can reduce over positions along the last axis).
 */
export type CachedKV = { k: tf.Tensor4D; v: tf.Tensor4D } | { k: tf.Tensor4D; vT: tf.Tensor4D };

/** repeat(n) shares one prompt's cache: it needs a batch-1 cache and a positive integer n. */
export function checkRepeat(batchSize: number, n: number): void {
  if (batchSize !== 1) throw new RangeError(`KVCache.repeat needs a batch-1 cache, this one holds ${batchSize} sequences`);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`KVCache.repeat(n) needs a positive integer, got ${n}`);
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

  reserve(total: number): number {
    return total;
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
 * Positions the in-place cache adds at a time. Attention reads whole chunks (the unfilled tail
 * masked), so a step costs at most CHUNK - 1 extra key rows; regrowing copies the cache once per
 * CHUNK steps instead of every step.
 */
export const INPLACE_CHUNK = 64;

/**
 * Keys live in one [B, H, rows, D] tensor per layer and values, transposed, in one [B, H, D, rows]
 * tensor; each step writes its new rows straight into the tensors' backing memory (the wasm heap,
 * or the cpu backend's arrays) instead of allocating longer copies. tfjs treats tensors as
 * immutable, so this is safe only because the cache owns these tensors, the kernels that read them
 * run synchronously on wasm and cpu, and attention reads them only through transposed matMuls or
 * elementwise ops (a plain matMul on wasm would hand them to XNNPACK, which packs a copy once).
 */
export class InPlaceKVCache implements LayerKVCache {
  private keys: (tf.Tensor4D | undefined)[];
  private valuesT: (tf.Tensor4D | undefined)[];
  private filled = 0;
  /** Positions allocated per sequence (a multiple of chunk, at most capacity). */
  private rows = 0;
  private disposed = false;

  constructor(
    readonly nLayer: number,
    readonly batchSize: number,
    readonly capacity: number,
    /** Positions added per growth step (a test may shrink it to exercise growing). */
    readonly chunk = INPLACE_CHUNK,
  ) {
    this.keys = new Array(nLayer).fill(undefined);
    this.valuesT = new Array(nLayer).fill(undefined);
  }

  get length(): number {
    return this.filled;
  }

  reserve(total: number): number {
    this.assertLive();
    if (total > this.rows) this.rows = Math.min(this.capacity, Math.ceil(total / this.chunk) * this.chunk);
    return Math.max(this.rows, total);
  }

  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): CachedKV {
    this.assertLive();
    const end = this.filled + k.shape[2];
    if (end > this.rows) this.reserve(end);
    this.keys[layer] = this.writeKeys(this.keys[layer], k); // [B, H, rows, D]
    this.valuesT[layer] = this.writeValues(this.valuesT[layer], v); // [B, H, D, rows]
    return { k: this.keys[layer]!, vT: this.valuesT[layer]! };
  }

  advance(t: number): void {
    this.filled += t;
  }

  repeat(n: number): KVCache {
    this.assertLive();
    checkRepeat(this.batchSize, n);
    const copy = new InPlaceKVCache(this.nLayer, n, this.capacity, this.chunk);
    const tile = (t: tf.Tensor4D | undefined) => (t ? tf.keep(tf.tile(t, [n, 1, 1, 1])) : undefined); // [n, ...]
    copy.keys = this.keys.map(tile);
    copy.valuesT = this.valuesT.map(tile);
    copy.filled = this.filled;
    copy.rows = this.rows;
    return copy;
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.valuesT]) t?.dispose();
    this.keys.fill(undefined);
    this.valuesT.fill(undefined);
    this.disposed = true;
  }

  /** Writes k [B, H, T, D] at rows filled..filled+T-1 of [B, H, rows, D]. */
  private writeKeys(buffer: tf.Tensor4D | undefined, k: tf.Tensor4D): tf.Tensor4D {
    const [B, H, T, D] = k.shape;
    const target = this.grown(buffer, [B, H, this.rows, D], B * H, this.filled * D);
    const from = hostMemory(k); // [B, H, T, D], read in place
    const into = hostMemory(target);
    for (let bh = 0; bh < B * H; bh++) {
      into.set(from.subarray(bh * T * D, (bh + 1) * T * D), (bh * this.rows + this.filled) * D);
    }
    return target;
  }

  /** Writes v [B, H, T, D] at columns filled..filled+T-1 of vT [B, H, D, rows]. */
  private writeValues(buffer: tf.Tensor4D | undefined, v: tf.Tensor4D): tf.Tensor4D {
    const [B, H, T, D] = v.shape;
    const target = this.grown(buffer, [B, H, D, this.rows], B * H * D, this.filled);
    const from = hostMemory(v); // [B, H, T, D], read in place
    const into = hostMemory(target);
    const rows = this.rows;
    for (let bh = 0; bh < B * H; bh++) {
      for (let t = 0; t < T; t++) {
        const src = (bh * T + t) * D;
        let dst = bh * D * rows + this.filled + t;
        for (let d = 0; d < D; d++, dst += rows) into[dst] = from[src + d];
      }
    }
    return target;
  }

  /**
   * `buffer` if it already has `rows` positions, else a larger zeroed tensor of `shape` holding
   * its filled part: `blocks` runs, each the first `keep` floats of a run of the old tensor.
   */
  private grown(buffer: tf.Tensor4D | undefined, shape: [number, number, number, number], blocks: number, keep: number): tf.Tensor4D {
    if (buffer && buffer.size === shape.reduce((a, b) => a * b, 1)) return buffer;
    const target = tf.keep(tf.zeros(shape)) as tf.Tensor4D;
    if (buffer) {
      const from = hostMemory(buffer);
      const into = hostMemory(target);
      const fromRun = from.length / blocks;
      const toRun = into.length / blocks;
      for (let b = 0; b < blocks; b++) into.set(from.subarray(b * fromRun, b * fromRun + keep), b * toRun);
      buffer.dispose();
    }
    return target;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('this KVCache was disposed');
  }
}

interface WasmBackendMemory { typedArrayFromHeap(t: tf.TensorInfo): Float32Array }
interface CpuBackendMemory { data: { get(dataId: tf.DataId): { values: Float32Array } } }

/** The live float32 storage of a tensor on wasm or cpu: writes to it change the tensor. */
function hostMemory(t: tf.Tensor): Float32Array {
  const backend = tf.backend();
  switch (tf.getBackend()) {
    case 'wasm':
      return (backend as unknown as WasmBackendMemory).typedArrayFromHeap(t); // a view over the wasm heap
    case 'cpu':
      return (backend as unknown as CpuBackendMemory).data.get(t.dataId).values;
    default:
      throw new Error(`no host memory for tensors on '${tf.getBackend()}'`);
  }
}
