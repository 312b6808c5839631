/**
 * A decode step (one new token per sequence) on the SIMD path (wasm, cpu), with the SIMD KV cache.
 * The matmuls stay with the weights (tfjs's XNNPACK for f32, the SIMD matrix store for q8 and f16:
 * src/model/weights.ts); the work between them (layer norms, attention over the cache, gelu_new,
 * residual adds) runs on the SIMD kernels, in the step's own WebAssembly memory (SimdDecodeScratch)
 * where the residual stream x stays for the whole step, and in the cache's for attention. A layer
 * is then 4 matMuls instead of ~35 small tfjs kernels, each of which costs about as much as its
 * arithmetic at this size, and more when it waits for a thread pool. Same math as layers.ts, which
 * stays the reference (prefill, and every other backend).
 */
import * as tf from '@tensorflow/tfjs';
import { SimdKernels } from '../backend/simd/kernels';
import type { Conv1DWeights, GPT2Weights, LayerNormWeights } from './checkpoint';
import { mlpWidth, type GPT2Config } from './config';
import type { SimdKVCache } from './kvCache';

/**
 * The scratch of a decode step, per sequence: the residual stream x, a normalised copy, the MLP's
 * hidden layer, a sublayer's output; and every layer norm's gain and bias ([ln_1, ln_2] per
 * layer, then ln_f; each [gain C | bias C]).
 */
export type DecodeRegion = 'x' | 'normed' | 'hidden' | 'residual' | 'norms';

/**
 * The SIMD kernels over a WebAssembly memory holding a decode step's scratch for up to `rows`
 * sequences and a copy of the model's layer norms: made when a step needs more rows than it has
 * (so a step allocates nothing), the norms copied when it is made.
 */
export class SimdDecodeScratch {
  private kernels: SimdKernels<DecodeRegion> | undefined;
  private rows = 0;
  private normsOf: GPT2Weights | undefined;

  constructor(private readonly config: GPT2Config) {}

  /** The kernels with room for B sequences and `w`'s layer norms. */
  for(w: GPT2Weights, B: number): SimdKernels<DecodeRegion> {
    const { nLayer, nEmbd: C } = this.config;
    if (!this.kernels || B > this.rows) {
      this.kernels = new SimdKernels<DecodeRegion>({
        x: B * C,
        normed: B * C,
        hidden: B * mlpWidth(this.config),
        residual: B * C,
        norms: (2 * nLayer + 1) * 2 * C,
      });
      this.rows = B;
      this.normsOf = undefined;
    }
    if (this.normsOf !== w) {
      copyNorms(this.kernels, w, C);
      this.normsOf = w;
    }
    return this.kernels;
  }
}

function copyNorms(kernels: SimdKernels<DecodeRegion>, w: GPT2Weights, C: number): void {
  const norms: LayerNormWeights[] = [...w.h.flatMap((layer) => [layer.ln_1, layer.ln_2]), w.ln_f];
  norms.forEach(({ weight, bias }, i) => {
    kernels.floats('norms', 2 * i * C, C).set(weight.dataSync());
    kernels.floats('norms', (2 * i + 1) * C, C).set(bias.dataSync());
  });
}

/**
 * ids [B][1] at position cache.length → the last layer norm's output [B, C] (ln_f applied), as a
 * tensor for the head. Stores every layer's keys and values; the caller advances the cache.
 */
export function simdDecodeStep(
  w: GPT2Weights,
  config: GPT2Config,
  ids: number[][],
  cache: SimdKVCache,
  scratch: SimdDecodeScratch,
): tf.Tensor2D {
  const B = ids.length;
  const C = config.nEmbd;
  const inner = mlpWidth(config);
  const eps = config.layerNormEpsilon;
  const k = scratch.for(w, B);
  const { at } = k;

  const region = (name: DecodeRegion, width: number) => k.floats(name, 0, B * width);
  /** y = x·W + b through the weights: x read from a region [B, in], y returned [B, out]. */
  const linear = (input: DecodeRegion, { weight, bias }: Conv1DWeights): Float32Array => {
    const [nIn] = weight.shape;
    return weight.linearRows(region(input, nIn), B, bias); // [B, out]: tfjs for f32, the SIMD store for q8/f16
  };
  /** normed = layer norm number `i` (see DecodeRegion) of x, row by row. */
  const norm = (i: number) => {
    for (let b = 0; b < B; b++)
      k.layerNorm(at.x + 4 * b * C, at.norms + 8 * i * C, at.norms + 4 * (2 * i + 1) * C, at.normed + 4 * b * C, C, eps);
  };

  const embedded = tf.tidy(() => {
    const tokens = tf.tensor1d(
      ids.map((row) => row[0]),
      'int32',
    ); // [B]
    return w.wte.embed(tokens).add(tf.gather(w.wpe, tf.tensor1d([cache.length], 'int32'))); // [B, C]
  });
  region('x', C).set(embedded.dataSync());
  embedded.dispose();

  w.h.forEach(({ attn, mlp }, layer) => {
    norm(2 * layer); // normed = ln_1(x)                                [B, C]
    const qkv = linear('normed', attn.c_attn); // [B, 3C]
    cache.attendRows(layer, qkv, 1, region('normed', C)); // normed = attention over the cache  [B, C]
    region('residual', C).set(linear('normed', attn.c_proj)); // [B, C]
    k.add(at.x, at.residual, B * C); // x += attention
    norm(2 * layer + 1); // normed = ln_2(x)                            [B, C]
    region('hidden', inner).set(linear('normed', mlp.c_fc)); // [B, inner]
    k.geluNew(at.hidden, B * inner);
    region('residual', C).set(linear('hidden', mlp.c_proj)); // [B, C]
    k.add(at.x, at.residual, B * C); // x += mlp
  });
  norm(2 * w.h.length); // normed = ln_f(x)                             [B, C]
  return tf.tensor2d(region('normed', C).slice(), [B, C]);
}
