/**
 * The same GPT-2 blocks as layers.ts, for tfjs on WebGPU: each step is one fused WGSL program
 * (src/backend/webgpu/), 6 dispatches per layer. Rows are flattened to [B·T, C]; the new
 * positions of every sequence are start..start+T-1 and their keys/values go into the cache.
 * The pre-norms (ln_1, ln_2) run inside the projection that follows them. The matrices are
 * whatever precision the model was loaded in (f32, or q8/f16 packed): the programs unpack them.
 */
import * as tf from '@tensorflow/tfjs';
import { causalAttention, embed, layerNormRows, linear, lmHead, writeKVCache } from '../backend/webgpu';
import type { BlockWeights, GPT2Weights } from './checkpoint';
import type { GPT2Config } from './config';
import type { WebGPUKVCache } from './webgpuKVCache';

/** Where this forward pass writes: the cache, the first new position, and T new positions per sequence. */
export interface Step {
  cache: WebGPUKVCache;
  start: number;
  newPositions: number;
}

/** Attention sublayer with its residual: x + c_proj(attend(c_attn(ln_1(x)))). */
function attentionSublayer(x: tf.Tensor2D, weights: BlockWeights, config: GPT2Config, step: Step, layer: number): tf.Tensor2D {
  const { c_attn, c_proj } = weights.attn;
  const { cache, start, newPositions } = step;
  const ln_1 = { ...weights.ln_1, eps: config.layerNormEpsilon };
  const qkv = linear(x, c_attn.weight.gpu(), c_attn.bias, { layerNorm: ln_1 }); // [B·T, 3C]
  writeKVCache(qkv, cache.layer(layer), start, newPositions, config.nHead, cache.capacity); // cache[.., start..start+T-1] = k, v
  const heads = causalAttention(qkv, cache.layer(layer), start, newPositions, config.nHead, cache.capacity); // [B·T, C]
  return linear(heads, c_proj.weight.gpu(), c_proj.bias, { residual: x }); // [B·T, C]
}

/** MLP sublayer with its residual: x + c_proj(gelu(c_fc(ln_2(x)))). */
function mlpSublayer(x: tf.Tensor2D, weights: BlockWeights, config: GPT2Config): tf.Tensor2D {
  const { c_fc, c_proj } = weights.mlp;
  const ln_2 = { ...weights.ln_2, eps: config.layerNormEpsilon };
  const hidden = linear(x, c_fc.weight.gpu(), c_fc.bias, { layerNorm: ln_2, activation: config.activation }); // [B·T, inner] (inner = n_inner, 4C by default)
  return linear(hidden, c_proj.weight.gpu(), c_proj.bias, { residual: x }); // [B·T, C]
}

/** One transformer block (layers.ts's block: the same math, its layer norms and residual adds fused into the linears). */
function block(x: tf.Tensor2D, weights: BlockWeights, config: GPT2Config, step: Step, layer: number): tf.Tensor2D {
  return mlpSublayer(attentionSublayer(x, weights, config, step, layer), weights, config); // [B·T, C]
}

/** ids [B][T] → logits of each sequence's last new position [B, vocab]; fills the cache. Call inside tf.tidy. */
export function fusedForward(w: GPT2Weights, config: GPT2Config, ids: number[][], step: Step): tf.Tensor2D {
  const tokens = tf.tensor1d(ids.flat(), 'int32'); // [B·T]
  let x = embed(tokens, w.wte.gpu(), w.wpe, step.start, step.newPositions); // [B·T, C]
  w.h.forEach((weights, layer) => {
    x = block(x, weights, config, step, layer); // [B·T, C]
  });
  const last = layerNormRows(x, w.ln_f.weight, w.ln_f.bias, config.layerNormEpsilon, step.newPositions); // [B, C]
  return lmHead(last, w.lm_head.gpu()); // [B, vocab]
}
