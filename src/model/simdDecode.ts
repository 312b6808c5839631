/**
 * A forward step on the SIMD path (wasm, cpu), with the SIMD KV cache: a decode step (one new token
 * per sequence) or a prefill (a piece of a prompt, every token a row of the same products).
 * The matmuls stay with the weights (tfjs's XNNPACK for f32, the SIMD matrix store for q8 and f16:
 * src/model/weights.ts); the work between them (layer norms, attention over the cache, gelu_new,
 * residual adds) runs on the SIMD kernels, in the step's own WebAssembly memory (SimdDecodeScratch)
 * where the residual stream x stays for the whole step, and in the cache's for attention. A layer
 * is then 4 matMuls instead of ~35 small tfjs kernels, each of which costs about as much as its
 * arithmetic at this size, and more when it waits for a thread pool. Same math as layers.ts, which
 * stays the reference (every other backend, and the analyses).
 */
import * as tf from '@tensorflow/tfjs';
import { SimdKernels } from '../backend/simd/kernels';
import type { Conv1DWeights, GPT2Weights, LayerNormWeights } from './checkpoint';
import { mlpWidth, type GPT2Config } from './config';
import type { SimdKVCache } from './kvCache';

/**
 * The scratch of a step, per row (a sequence's token): the residual stream x, a normalised copy, the MLP's
 * hidden layer, a sublayer's output; and every layer norm's gain and bias ([ln_1, ln_2] per
 * layer, then ln_f; each [gain C | bias C]).
 */
export type DecodeRegion = 'x' | 'normed' | 'hidden' | 'residual' | 'norms';

/**
 * The SIMD kernels over a WebAssembly memory holding a step's scratch for up to `rows` rows and a
 * copy of the model's layer norms: made when a step needs more rows than it has
 * (so a step allocates nothing), the norms copied when it is made.
 */
export class SimdDecodeScratch {
  private kernels: SimdKernels<DecodeRegion> | undefined;
  private rows = 0;
  private normsOf: GPT2Weights | undefined;
  /** c_attn's output [rows, 3C], which attention reads from this side (the cache has its own memory). */
  private qkv = new Float32Array(0);

  constructor(private readonly config: GPT2Config) {}

  /** The kernels with room for B rows and `w`'s layer norms. */
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

  /** A view of `length` floats for c_attn's output, grown (never shrunk) as steps need. */
  qkvRows(length: number): Float32Array {
    if (this.qkv.length < length) this.qkv = new Float32Array(length);
    return this.qkv.subarray(0, length);
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
 * ids [B][T] at positions cache.length..cache.length+T-1 → the last layer norm's output of each
 * sequence's last new position [B, C] (ln_f applied), as a tensor for the head. A decode step when
 * T = 1, a prefill (or a piece of one) when T > 1: every row goes through the same kernels, the
 * matmuls over all B·T rows at once. Stores every layer's keys and values; the caller advances the
 * cache.
 */
export function simdDecodeStep(
  w: GPT2Weights,
  config: GPT2Config,
  ids: number[][],
  cache: SimdKVCache,
  scratch: SimdDecodeScratch,
): tf.Tensor2D {
  const B = ids.length;
  const T = ids[0].length;
  const R = B * T; // rows: sequence-major, as the cache's attendRows reads them
  const C = config.nEmbd;
  const inner = mlpWidth(config);
  const eps = config.layerNormEpsilon;
  const k = scratch.for(w, R);
  const { at } = k;

  const region = (name: DecodeRegion, width: number) => k.floats(name, 0, R * width);
  /** y = x·W + b through the weights: x read from a region [R, in], y written into a region [R, out]. */
  const linear = (input: DecodeRegion, { weight, bias }: Conv1DWeights, output: Float32Array): void => {
    const [nIn] = weight.shape;
    weight.linearRows(region(input, nIn), R, bias, output); // tfjs for f32, the SIMD store for q8/f16
  };
  /** normed row r = layer norm number `i` (see DecodeRegion) of x row `from(r)`, for r < rows. */
  const norm = (i: number, rows = R, from = (r: number) => r) => {
    for (let r = 0; r < rows; r++)
      k.layerNorm(at.x + 4 * from(r) * C, at.norms + 8 * i * C, at.norms + 4 * (2 * i + 1) * C, at.normed + 4 * r * C, C, eps);
  };

  const embedded = tf.tidy(() => {
    const tokens = tf.tensor1d(ids.flat(), 'int32'); // [R]
    const positions = tf.tensor1d(
      Int32Array.from({ length: R }, (_, r) => cache.length + (r % T)),
      'int32',
    ); // [R]
    return w.wte.embed(tokens).add(tf.gather(w.wpe, positions)); // [R, C]
  });
  region('x', C).set(embedded.dataSync());
  embedded.dispose();

  const qkv = scratch.qkvRows(R * 3 * C); // [R, 3C]
  w.h.forEach(({ attn, mlp }, layer) => {
    norm(2 * layer); // normed = ln_1(x)                                [R, C]
    linear('normed', attn.c_attn, qkv); // [R, 3C]
    cache.attendRows(layer, qkv, T, region('normed', C)); // normed = attention over the cache  [R, C]
    linear('normed', attn.c_proj, region('residual', C)); // [R, C]
    k.add(at.x, at.residual, R * C); // x += attention
    norm(2 * layer + 1); // normed = ln_2(x)                            [R, C]
    linear('normed', mlp.c_fc, region('hidden', inner)); // [R, inner]
    k.geluNew(at.hidden, R * inner);
    linear('hidden', mlp.c_proj, region('residual', C)); // [R, C]
    k.add(at.x, at.residual, R * C); // x += mlp
  });
  norm(2 * w.h.length, B, (b) => b * T + T - 1); // normed row b = ln_f(x of sequence b's last position)  [B, C]
  return tf.tensor2d(k.floats('normed', 0, B * C).slice(), [B, C]);
}
