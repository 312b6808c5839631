/**
 * What the fused WebGPU programs read for a weight matrix: f32 as it is, or q8 / f16 packed into
 * u32 words along the input dimension (4 int8 or 2 halves a word, decoded in the shader with
 * WGSL's unpack4x8snorm / unpack2x16float), so a weight costs 1 or 2 bytes of GPU memory and of
 * memory traffic instead of 4.
 */
import type * as tf from '@tensorflow/tfjs';

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
