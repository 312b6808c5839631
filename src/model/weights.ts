/**
 * The model's matrices in whichever precision they were loaded: f32 tfjs tensors, or q8 / f16
 * weights in the WebAssembly matrix store (wasm and cpu) or in packed GPU tensors (WebGPU). The
 * forward passes call these methods and never look at the storage: one precision, one place.
 */
import * as tf from '@tensorflow/tfjs';
import type { PackedHandle, SimdMatmulStore } from '../backend/simd/matmul';
import { embed as gpuEmbed, linear as gpuLinear, lmHead as gpuLmHead } from '../backend/webgpu';
import type { GpuMatrix } from '../backend/webgpu/packedWeights';

import type { WeightPrecision } from './precision';

export type { WeightPrecision } from './precision';

/** A Conv1D weight W [in, out]: y = x·W + b. */
export interface Matrix {
  readonly precision: WeightPrecision;
  /** [in, out]. */
  readonly shape: readonly [number, number];
  /** x [M, in] → x·W + bias [M, out] (a tfjs tensor, tracked by tf.tidy). */
  linear(x: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D;
  /** The same over host rows, x [M·in] → [M·out], written into `out` when given: the wasm/cpu decode step. */
  linearRows(x: Float32Array, M: number, bias: tf.Tensor1D, out?: Float32Array): Float32Array;
  /** What the fused WebGPU programs read. */
  gpu(): GpuMatrix;
  dispose(): void;
}

/** The token embedding table [vocab, C], also read as the tied head: logits = x·tableᵀ. */
export interface TokenTable {
  readonly precision: WeightPrecision;
  /** [vocab, C]. */
  readonly shape: readonly [number, number];
  /** ids [n] (int32) → rows [n, C]. */
  embed(ids: tf.Tensor1D): tf.Tensor2D;
  /** x [M, C] → x·tableᵀ [M, vocab]. */
  logits(x: tf.Tensor2D): tf.Tensor2D;
  /** What the fused WebGPU programs read (an 'out-in' matrix: row v is token v). */
  gpu(): GpuMatrix;
  dispose(): void;
}

/** f32: a tfjs tensor, multiplied by tfjs (XNNPACK on wasm). */
export class TensorMatrix implements Matrix {
  readonly precision = 'f32';
  readonly shape: readonly [number, number];

  constructor(readonly tensor: tf.Tensor2D) {
    this.shape = [tensor.shape[0], tensor.shape[1]];
  }

  linear(x: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
    return tf.fused.matMul({ a: x, b: this.tensor, bias }) as tf.Tensor2D;
  }

  linearRows(x: Float32Array, M: number, bias: tf.Tensor1D, out?: Float32Array): Float32Array {
    const input = tf.tensor2d(x.slice(0, M * this.shape[0]), [M, this.shape[0]]); // a copy: tfjs may keep the array it is given
    const y = this.linear(input, bias);
    const values = y.dataSync() as Float32Array;
    tf.dispose([input, y]);
    if (!out) return values;
    out.set(values);
    return out;
  }

  gpu(): GpuMatrix {
    return { format: 'f32', weight: this.tensor };
  }

  dispose(): void {
    this.tensor.dispose();
  }
}

/** f32 table: gather for the embedding; the head as a tfjs matMul. */
export class TensorTable implements TokenTable {
  readonly precision = 'f32';
  readonly shape: readonly [number, number];
  /** The table transposed to [C, vocab], made on first use on wasm. */
  private transposed: tf.Tensor2D | undefined;

  constructor(readonly tensor: tf.Tensor2D) {
    this.shape = [tensor.shape[0], tensor.shape[1]];
  }

  embed(ids: tf.Tensor1D): tf.Tensor2D {
    return tf.gather(this.tensor, ids);
  }

  logits(x: tf.Tensor2D): tf.Tensor2D {
    if (tf.getBackend() !== 'wasm') return tf.matMul(x, this.tensor, false, true); // [M, vocab]
    // tfjs-wasm sends transposed matMuls to a scalar loop and only plain ones to XNNPACK: keep a
    // [C, vocab] copy of the head, made once (the head is the largest matmul of a decode step).
    this.transposed ??= tf.keep(tf.transpose(this.tensor)) as tf.Tensor2D;
    return tf.matMul(x, this.transposed); // [M, vocab]
  }

  gpu(): GpuMatrix {
    return { format: 'f32', weight: this.tensor };
  }

  dispose(): void {
    this.tensor.dispose();
    this.transposed?.dispose();
    this.transposed = undefined;
  }
}

/** A bias copied into the store's memory once, the first time a matrix sees it. */
class StoreBias {
  private readonly offsets = new WeakMap<tf.Tensor1D, number>();

  constructor(private readonly store: SimdMatmulStore) {}

  offset(bias: tf.Tensor1D): number {
    let at = this.offsets.get(bias);
    if (at === undefined) {
      at = this.store.addFloats(bias.dataSync() as Float32Array);
      this.offsets.set(bias, at);
    }
    return at;
  }
}

const storeBiases = new WeakMap<SimdMatmulStore, StoreBias>();
function biasIn(store: SimdMatmulStore, bias: tf.Tensor1D): number {
  let b = storeBiases.get(store);
  if (!b) storeBiases.set(store, (b = new StoreBias(store)));
  return b.offset(bias);
}

function notOnWebGPU(precision: WeightPrecision): never {
  throw new Error(
    `these ${precision} weights live in WebAssembly memory (loaded for wasm/cpu) and cannot run on WebGPU: load the model again on this backend`,
  );
}

/** q8 or f16 in the WebAssembly matrix store (wasm and cpu backends). */
export class SimdMatrix implements Matrix {
  readonly precision: WeightPrecision;
  readonly shape: readonly [number, number];

  constructor(
    private readonly store: SimdMatmulStore,
    private readonly handle: PackedHandle,
  ) {
    this.precision = handle.format;
    this.shape = [handle.K, handle.N];
  }

  linear(x: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
    const [M] = x.shape;
    return tf.tensor2d(this.linearRows(x.dataSync() as Float32Array, M, bias), [M, this.handle.N]);
  }

  linearRows(x: Float32Array, M: number, bias: tf.Tensor1D, out?: Float32Array): Float32Array {
    return this.store.matmul(this.handle, x, M, biasIn(this.store, bias), out);
  }

  gpu(): GpuMatrix {
    return notOnWebGPU(this.precision);
  }

  dispose(): void {
    // The store's memory goes with the model.
  }
}

/** A q8 or f16 embedding table in the WebAssembly matrix store. */
export class SimdTable implements TokenTable {
  readonly precision: WeightPrecision;
  readonly shape: readonly [number, number];

  constructor(
    private readonly store: SimdMatmulStore,
    private readonly handle: PackedHandle,
  ) {
    this.precision = handle.format;
    this.shape = [handle.N, handle.K];
  }

  embed(ids: tf.Tensor1D): tf.Tensor2D {
    const values = ids.dataSync();
    return tf.tensor2d(this.store.rows(this.handle, values), [values.length, this.handle.K]);
  }

  logits(x: tf.Tensor2D): tf.Tensor2D {
    const [M] = x.shape;
    return tf.tensor2d(this.store.matmul(this.handle, x.dataSync() as Float32Array, M), [M, this.handle.N]);
  }

  gpu(): GpuMatrix {
    return notOnWebGPU(this.precision);
  }

  dispose(): void {
    // The store's memory goes with the model.
  }
}

type PackedGpu = Extract<GpuMatrix, { format: 'q8' | 'f16' }>;

/** q8 or f16 packed into GPU tensors (WebGPU): multiplied by the fused linear program. */
export class GpuPackedMatrix implements Matrix {
  readonly precision: WeightPrecision;
  readonly shape: readonly [number, number];

  constructor(private readonly packed: PackedGpu) {
    this.precision = packed.format;
    this.shape = [packed.K, packed.N];
  }

  linear(x: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
    return gpuLinear(x, this.packed, bias);
  }

  linearRows(x: Float32Array, M: number, bias: tf.Tensor1D, out?: Float32Array): Float32Array {
    const values = tf.tidy(
      () => this.linear(tf.tensor2d(x.slice(0, M * this.shape[0]), [M, this.shape[0]]), bias).dataSync() as Float32Array,
    );
    if (!out) return values;
    out.set(values);
    return out;
  }

  gpu(): GpuMatrix {
    return this.packed;
  }

  dispose(): void {
    this.packed.packed.dispose();
    this.packed.scale?.dispose();
  }
}

/** A q8 or f16 token table packed into GPU tensors: the embedding and head programs unpack it. */
export class GpuPackedTable implements TokenTable {
  readonly precision: WeightPrecision;
  readonly shape: readonly [number, number];

  constructor(private readonly packed: PackedGpu) {
    this.precision = packed.format;
    this.shape = [packed.N, packed.K];
  }

  embed(ids: tf.Tensor1D): tf.Tensor2D {
    return gpuEmbed(ids, this.packed, null);
  }

  logits(x: tf.Tensor2D): tf.Tensor2D {
    return gpuLmHead(x, this.packed);
  }

  gpu(): GpuMatrix {
    return this.packed;
  }

  dispose(): void {
    this.packed.packed.dispose();
    this.packed.scale?.dispose();
  }
}
