/**
 * The KV cache of the fused WebGPU path: per layer one preallocated tensor [2, B, H·capacity·D]
 * (keys, then values; see src/backend/webgpu/kvCacheWrite.ts for the layout), filled in place by the kv-write
 * program and read by the attention program over the filled length only.
 */
import * as tf from '@tensorflow/tfjs';
import { checkFork, checkReorder, checkRepeat, isIdentity, type KVCache } from '../backend/kvCache';
import { MAX_ATTENTION_POSITIONS } from '../backend/webgpu/attention';
import { forkKVCacheBuffer } from '../backend/webgpu/kvCacheFork';
import { webgpuBackend } from '../backend/webgpu/program';

export class WebGPUKVCache implements KVCache {
  private buffers: tf.Tensor3D[];
  private filled = 0;
  private disposed = false;

  constructor(
    readonly nLayer: number,
    readonly nHead: number,
    readonly headDim: number,
    readonly batchSize: number,
    readonly capacity: number,
    buffers?: tf.Tensor3D[],
  ) {
    const size = nHead * capacity * headDim;
    this.buffers = buffers ?? Array.from({ length: nLayer }, () => tf.keep(uninitializedGPUTensor([2, batchSize, size])));
  }

  get length(): number {
    return this.filled;
  }

  /** Layer `layer`'s buffer [2, B, H·capacity·D]; the programs write and read it in place. */
  layer(layer: number): tf.Tensor3D {
    this.assertLive();
    return this.buffers[layer];
  }

  /** Called once after every layer wrote T new positions. */
  advance(t: number): void {
    this.filled += t;
  }

  repeat(n: number): KVCache {
    this.assertLive();
    checkRepeat(this.batchSize, n);
    const tiled = this.buffers.map((b) => tf.keep(tf.tile(b, [1, n, 1]))); // [2, n, H·capacity·D]
    const copy = new WebGPUKVCache(this.nLayer, this.nHead, this.headDim, n, this.capacity, tiled);
    copy.filled = this.filled;
    return copy;
  }

  /** A batch-1 copy of row `row`'s first `length` positions, in new buffers of `capacity` positions (one copy program per layer). */
  fork(row: number, length: number, capacity: number): KVCache {
    this.assertLive();
    checkFork(this, row, length, capacity);
    if (capacity > MAX_ATTENTION_POSITIONS) {
      throw new RangeError(`KVCache.fork: the WebGPU cache holds at most ${MAX_ATTENTION_POSITIONS} positions, got capacity ${capacity}`);
    }
    const buffers = this.buffers.map((b) =>
      tf.keep(
        length > 0
          ? forkKVCacheBuffer(b, row, length, this.nHead, this.headDim, this.capacity, capacity)
          : uninitializedGPUTensor([2, 1, this.nHead * capacity * this.headDim]),
      ),
    );
    const copy = new WebGPUKVCache(this.nLayer, this.nHead, this.headDim, 1, capacity, buffers);
    copy.filled = length;
    return copy;
  }

  /** Beam search's reorder: one gather per layer along the batch axis, into a new buffer that replaces the old one. */
  reorder(rows: readonly number[]): void {
    this.assertLive();
    checkReorder(this, rows);
    if (isIdentity(rows)) return;
    this.buffers = this.buffers.map((buffer) => {
      const gathered = tf.keep(tf.tidy(() => tf.gather(buffer, tf.tensor1d(rows as number[], 'int32'), 1))); // [2, B, H·capacity·D]
      buffer.dispose();
      return gathered;
    });
  }

  dispose(): void {
    if (this.disposed) return;
    for (const b of this.buffers) b.dispose();
    this.buffers = [];
    this.disposed = true;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('this KVCache was disposed');
  }
}

/**
 * A GPU tensor with no initial contents: only filled positions are ever read, so the cache skips
 * tf.zeros' CPU zero array and its upload (75 MB for 12 layers at 1024 positions).
 */
function uninitializedGPUTensor(shape: [number, number, number]): tf.Tensor3D {
  const info = webgpuBackend().makeTensorInfo(shape, 'float32');
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor3D;
}
