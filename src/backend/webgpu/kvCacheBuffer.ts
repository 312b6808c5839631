/**
 * The KV cache of the fused WebGPU path: per layer one preallocated tensor [2, B, H·capacity·D]
 * (keys, then values; see kvCacheWrite.ts for the layout), filled in place by the kv-write
 * program and read by the attention program over the filled length only.
 */
import * as tf from '@tensorflow/tfjs';
import { checkRepeat, type KVCache } from '../../model/kvCache';
import { webgpuBackend } from './program';

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
