/**
 * GPT-2's building blocks (Radford et al. 2019), as in picoGPT/nanoGPT: one small function per
 * idea, a shape comment per line. B = batch, T = new positions, S = all positions (past + new),
 * C = n_embd, H = n_head, D = C / H.
 */
import * as tf from '@tensorflow/tfjs';
import type { Conv1DWeights, LayerNormWeights, BlockWeights } from './checkpoint';
import type { GPT2Config } from './config';

const TWO_SQRT_2_OVER_PI = 2 * Math.sqrt(2 / Math.PI);

/**
 * gelu_new, the tanh approximation GPT-2 was trained with: ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
 * Written with ½·(1 + tanh(z)) = sigmoid(2z), which is the same function in 6 kernels instead of 8
 * (each kernel call costs about as much as its arithmetic at decode sizes).
 */
export function geluNew(x: tf.Tensor): tf.Tensor {
  const z2 = x.mul(
    x
      .square()
      .mul(0.044715 * TWO_SQRT_2_OVER_PI)
      .add(TWO_SQRT_2_OVER_PI),
  ); // 2·√(2/π)·(x + 0.044715·x³)
  return x.mul(z2.sigmoid()); // x·sigmoid(2z) = ½·x·(1 + tanh(z))
}

/** gelu: the exact form, ½·x·(1 + erf(x/√2)). */
export function geluExact(x: tf.Tensor): tf.Tensor {
  return x.mul(0.5).mul(x.mul(Math.SQRT1_2).erf().add(1));
}

export function gelu(x: tf.Tensor, activation: GPT2Config['activation']): tf.Tensor {
  return activation === 'gelu_new' ? geluNew(x) : geluExact(x);
}

/** Normalises each position over its C features, then scales and shifts. */
export function layerNorm<R extends tf.Rank>(x: tf.Tensor<R>, { weight, bias }: LayerNormWeights, eps: number): tf.Tensor<R> {
  const centered = x.sub(x.mean(-1, true)); // [..., C]
  const variance = centered.square().mean(-1, true); // [..., 1]
  const normalized = centered.mul(variance.add(eps).rsqrt()); // [..., C]
  return normalized.mul(weight).add(bias) as tf.Tensor<R>; // [..., C]
}

/** Hugging Face's Conv1D is a linear layer with the weight stored [in, out]: y = x·W + b. */
export function conv1d(x: tf.Tensor3D, { weight, bias }: Conv1DWeights): tf.Tensor3D {
  const [B, T, nIn] = x.shape;
  const flat = x.reshape([B * T, nIn]) as tf.Tensor2D; // [B·T, in]
  const y = weight.linear(flat, bias); // [B·T, out], in the weights' precision
  return y.reshape([B, T, weight.shape[1]]); // [B, T, out]
}

/**
 * Additive attention mask [T, S] for T new positions after S - T cached ones: position i may see
 * keys 0..(S - T + i). Undefined when nothing is hidden (T = 1).
 */
export function causalMask(T: number, S: number): tf.Tensor2D | undefined {
  if (T === 1) return undefined;
  const past = S - T;
  const mask = new Float32Array(T * S);
  for (let i = 0; i < T; i++) mask.fill(-1e9, i * S + past + i + 1, (i + 1) * S);
  return tf.tensor2d(mask, [T, S]);
}

/** Keys and values [B, H, T, D] of new positions → those of every position, [B, H, S, D] (a cache's append). */
export type RememberKV = (k: tf.Tensor4D, v: tf.Tensor4D) => { k: tf.Tensor4D; v: tf.Tensor4D };

/** c_attn's output qkv [B, T, 3C] → queries, keys and values split into heads, 3 × [B, H, T, D]. */
export function splitHeads(qkv: tf.Tensor3D, nHead: number): tf.Tensor4D[] {
  const [B, T, threeC] = qkv.shape;
  const D = threeC / 3 / nHead;
  // [B, T, C] → [B, H, T, D]. With one new position the transpose only relabels axes, so a
  // reshape does it without a copy (tfjs-wasm's Transpose costs as much as a small matmul).
  const split = (t: tf.Tensor) =>
    (T === 1 ? t.reshape([B, nHead, 1, D]) : t.reshape([B, T, nHead, D]).transpose([0, 2, 1, 3])) as tf.Tensor4D; // [B, H, T, D]
  return tf.split(qkv, 3, -1).map(split); // 3 × [B, H, T, D]
}

/** Each query's softmaxed weights over the keys: q [B, H, T, D], k [B, H, S, D] → [B, H, T, S]; the mask hides the future. */
export function attentionWeights(q: tf.Tensor4D, k: tf.Tensor4D, mask: tf.Tensor2D | undefined): tf.Tensor4D {
  const D = q.shape[3];
  const scores = tf.matMul(q.mul(1 / Math.sqrt(D)), k, false, true); // [B, H, T, S]
  return tf.softmax(mask ? scores.add(mask) : scores) as tf.Tensor4D; // [B, H, T, S]
}

/**
 * Scaled dot-product attention per head, in tfjs ops: qkv [B, T, 3C] (c_attn's output) → [B, T, C].
 * `remember` adds the new keys and values to the past ones (the concat cache); without it the
 * T positions attend among themselves.
 */
export function causalSelfAttention(qkv: tf.Tensor3D, nHead: number, mask: tf.Tensor2D | undefined, remember?: RememberKV): tf.Tensor3D {
  const [B, T, threeC] = qkv.shape;
  const C = threeC / 3;
  const [q, k, v] = splitHeads(qkv, nHead); // 3 × [B, H, T, D]
  const past = remember ? remember(k, v) : { k, v }; // [B, H, S, D] each
  const attended = attentionWeights(q, past.k, mask); // [B, H, T, S]
  const heads = tf.matMul(attended, past.v); // [B, H, T, D]
  return (T === 1 ? heads : heads.transpose([0, 2, 1, 3])).reshape([B, T, C]) as tf.Tensor3D; // [B, T, C]
}

/**
 * What a block's attention looks at, for the analysis pass: x [B, T, C], the residual stream
 * entering the block → the softmaxed probabilities of every head, [B, H, T, T].
 */
export function attentionProbabilities(
  x: tf.Tensor3D,
  { ln_1, attn }: BlockWeights,
  config: GPT2Config,
  mask: tf.Tensor2D | undefined,
): tf.Tensor4D {
  const qkv = conv1d(layerNorm(x, ln_1, config.layerNormEpsilon), attn.c_attn); // [B, T, 3C]
  const [q, k] = splitHeads(qkv, config.nHead); // 2 × [B, H, T, D]
  return attentionWeights(q, k, mask); // [B, H, T, T]
}

/** What attention needs of a KV cache (kvCache.ts LayerKVCache): store layer `layer`'s new keys and values, attend over all of them. */
export interface AttentionStore {
  attend(layer: number, qkv: tf.Tensor3D, nHead: number, mask: tf.Tensor2D | undefined): tf.Tensor3D;
}

/** Masked multi-head self-attention; with a cache, over every cached position too (and it stores this step's keys and values). */
export function attention(
  x: tf.Tensor3D,
  { c_attn, c_proj }: BlockWeights['attn'],
  nHead: number,
  mask: tf.Tensor2D | undefined,
  cache?: { store: AttentionStore; layer: number },
): tf.Tensor3D {
  const qkv = conv1d(x, c_attn); // [B, T, 3C]
  const heads = cache ? cache.store.attend(cache.layer, qkv, nHead, mask) : causalSelfAttention(qkv, nHead, mask); // [B, T, C]
  return conv1d(heads, c_proj); // [B, T, C]
}

/** Position-wise feed-forward network: expand, gelu, project back. */
export function mlp(x: tf.Tensor3D, { c_fc, c_proj }: BlockWeights['mlp'], activation: GPT2Config['activation']): tf.Tensor3D {
  const hidden = gelu(conv1d(x, c_fc), activation) as tf.Tensor3D; // [B, T, inner]
  return conv1d(hidden, c_proj); // [B, T, C]
}

/** One pre-norm transformer block with residual connections. */
export function block(
  x: tf.Tensor3D,
  weights: BlockWeights,
  config: GPT2Config,
  mask: tf.Tensor2D | undefined,
  cache?: { store: AttentionStore; layer: number },
): tf.Tensor3D {
  const eps = config.layerNormEpsilon;
  const a: tf.Tensor3D = x.add(attention(layerNorm(x, weights.ln_1, eps), weights.attn, config.nHead, mask, cache)); // [B, T, C]
  return a.add(mlp(layerNorm(a, weights.ln_2, eps), weights.mlp, config.activation)); // [B, T, C]
}
