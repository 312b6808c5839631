/**
 * What the fused WebGPU programs read for a weight matrix: f32 as it is, or q8 / f16 packed into
 * u32 words along the input dimension (4 int8 or 2 halves a word, decoded in the shader with
 * WGSL's unpack4x8snorm / unpack2x16float), so a weight costs 1 or 2 bytes of GPU memory and of
 * memory traffic instead of 4.
 */
import type * as tf from '@tensorflow/tfjs';
import * as tfjs from '@tensorflow/tfjs';
import { quantizeQ8, toF16, type MatrixLayout } from '../quantize';

export type GpuMatrix =
  | { format: 'f32'; weight: tf.Tensor2D }
  | {
      format: 'q8' | 'f16';
      /** int32 words; for [in, out] matrices [ceil(K / per word), N], for tables [vocab, ceil(C / per word)]. */
      packed: tf.Tensor2D;
      /** q8: per output channel (per token for a table), 127 · the quantization scale (unpack4x8snorm divides by 127). */
      scale?: tf.Tensor1D;
      /** Inputs per output before packing (K; C for a table). */
      K: number;
      /** Outputs (N; vocab for a table). */
      N: number;
    };

/** A matrix given as a tfjs tensor is f32. */
export function asGpuMatrix(weight: tfjs.Tensor2D | GpuMatrix): GpuMatrix {
  return weight instanceof tfjs.Tensor ? { format: 'f32', weight } : weight;
}

/** Values per u32 word. */
export const PER_WORD = { q8: 4, f16: 2 } as const;

/**
 * Packs W (K inputs × N outputs, given in `layout`) for the shaders. 'in-out' matrices pack along
 * K: word [k / per word, n]; 'out-in' tables keep a token's row together: word [v, c / per word].
 */
export function packForGpu(
  values: Float32Array,
  K: number,
  N: number,
  layout: MatrixLayout,
  format: 'q8' | 'f16',
): Extract<GpuMatrix, { format: 'q8' | 'f16' }> {
  const per = PER_WORD[format];
  const Kw = Math.ceil(K / per);
  const stride = Kw * per;
  const words = new Int32Array(Kw * N);
  // word index of (k-group kw, output n) in the packed tensor
  const wordAt = layout === 'in-out' ? (kw: number, n: number) => kw * N + n : (kw: number, n: number) => n * Kw + kw;
  let scale: tfjs.Tensor1D | undefined;
  if (format === 'q8') {
    const q = { w: new Int8Array(N * stride), scale: new Float32Array(N), wsum: new Int32Array(N) };
    quantizeQ8(values, K, N, layout, stride, q);
    for (let n = 0; n < N; n++) {
      for (let kw = 0; kw < Kw; kw++) {
        const at = n * stride + 4 * kw;
        words[wordAt(kw, n)] = (q.w[at] & 0xff) | ((q.w[at + 1] & 0xff) << 8) | ((q.w[at + 2] & 0xff) << 16) | ((q.w[at + 3] & 0xff) << 24);
      }
    }
    scale = tfjs.tensor1d(q.scale.map((s) => s * 127)); // unpack4x8snorm gives w / 127
  } else {
    const h = new Uint16Array(N * stride);
    toF16(values, K, N, layout, stride, h);
    for (let n = 0; n < N; n++) {
      for (let kw = 0; kw < Kw; kw++) words[wordAt(kw, n)] = h[n * stride + 2 * kw] | (h[n * stride + 2 * kw + 1] << 16);
    }
  }
  const packed = tfjs.tensor2d(words, layout === 'in-out' ? [Kw, N] : [N, Kw], 'int32');
  return { format, packed, scale, K, N };
}
