// Each fused WGSL program (src/backend/webgpu/) against the same computation in plain tfjs ops,
// on real WebGPU, with small odd shapes (sizes not multiples of the workgroup tiles).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { causalAttention, embed, layerNormRows, linear, lmHead, writeKVCache } from '../../src/backend/webgpu';
import { geluNew } from '../../src/model/layers';
import { backendHolding, useWebGPUInNode } from '../helpers/webgpuNode';
import { expectClose } from '../helpers/tensorClose';

function referenceLayerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).mul(variance.add(eps).rsqrt()).mul(gamma).add(beta);
}

describe('fused WebGPU programs against plain tfjs ops', () => {
  beforeAll(async () => {
    await useWebGPUInNode(); // random inputs below are seeded, so a failure reproduces
  });

  it("runs on webgpu: a program's output is made there", () => {
    const [x, W, b] = [tf.ones([2, 8]) as tf.Tensor2D, tf.ones([8, 4]) as tf.Tensor2D, tf.zeros([4]) as tf.Tensor1D];
    const y = linear(x, W, b);
    expect(backendHolding(y)).toBe('webgpu');
    tf.dispose([x, W, b, y]);
  });

  it('linear: x·W + b, with layer norm in front, gelu_new / gelu, residual; 1 to 6 rows', async () => {
    for (const M of [1, 3, 6]) {
      const [K, N] = [40, 70];
      const x = tf.randomNormal([M, K], 1, 2, 'float32', M) as tf.Tensor2D;
      const W = tf.randomNormal([K, N], 0, 1, 'float32', 2) as tf.Tensor2D;
      const b = tf.randomNormal([N], 0, 1, 'float32', 3) as tf.Tensor1D;
      const gamma = tf.randomNormal([K], 1, 0.5, 'float32', 4) as tf.Tensor1D;
      const beta = tf.randomNormal([K], 0, 0.5, 'float32', 5) as tf.Tensor1D;
      const residual = tf.randomNormal([M, N], 0, 1, 'float32', 6) as tf.Tensor2D;
      const ln = { weight: gamma, bias: beta, eps: 1e-5 };
      const normed = referenceLayerNorm(x, gamma, beta, 1e-5);
      await expectClose(linear(x, W, b), tf.matMul(x, W).add(b));
      await expectClose(linear(x, W, b, { layerNorm: ln }), tf.matMul(normed, W).add(b));
      await expectClose(linear(x, W, b, { layerNorm: ln, activation: 'gelu_new' }), geluNew(tf.matMul(normed, W).add(b)));
      const pre = tf.matMul(x, W).add(b);
      await expectClose(linear(x, W, b, { activation: 'gelu' }), pre.mul(0.5).mul(pre.mul(Math.SQRT1_2).erf().add(1)));
      await expectClose(linear(x, W, b, { residual }), tf.matMul(x, W).add(b).add(residual));
      tf.dispose([x, W, b, gamma, beta, residual, normed, pre]);
    }
  });

  it('layer norm of every row, and of only the last of every T rows', async () => {
    const x = tf.randomNormal([6, 37], 2, 3, 'float32', 8) as tf.Tensor2D;
    const gamma = tf.randomNormal([37], 1, 0.5, 'float32', 9) as tf.Tensor1D;
    const beta = tf.randomNormal([37], 0, 0.5, 'float32', 10) as tf.Tensor1D;
    await expectClose(layerNormRows(x, gamma, beta, 1e-5), referenceLayerNorm(x, gamma, beta, 1e-5));
    const lastOfThree = tf.gather(referenceLayerNorm(x, gamma, beta, 1e-5), [2, 5]);
    await expectClose(layerNormRows(x, gamma, beta, 1e-5, 3), lastOfThree);
    tf.dispose([x, gamma, beta]);
  });

  it('embedding: token plus position rows, positions counted from start for each sequence', async () => {
    const wte = tf.randomNormal([50, 12], 0, 1, 'float32', 11) as tf.Tensor2D;
    const wpe = tf.randomNormal([16, 12], 0, 1, 'float32', 12) as tf.Tensor2D;
    const ids = tf.tensor1d([3, 49, 0, 7, 7, 1], 'int32'); // B = 2, T = 3
    await expectClose(embed(ids, wte, wpe, 5, 3), tf.gather(wte, ids).add(tf.gather(wpe, [5, 6, 7, 5, 6, 7])));
    tf.dispose([wte, wpe, ids]);
  });

  it('LM head: x · wteᵀ for 1 to 6 rows', async () => {
    const wte = tf.randomNormal([301, 24], 0, 1, 'float32', 13) as tf.Tensor2D;
    for (const M of [1, 5, 6]) {
      const x = tf.randomNormal([M, 24], 0, 1, 'float32', 14) as tf.Tensor2D;
      await expectClose(lmHead(x, wte), tf.matMul(x, wte, false, true));
      x.dispose();
    }
    wte.dispose();
  });

  it('KV write in place + causal attention over the cache: B = 2, a cached past, then T = 3 new positions', async () => {
    const [B, H, D, capacity, past, T] = [2, 3, 5, 13, 4, 3];
    const C = H * D;
    const cache = tf.zeros([2, B, H * capacity * D]) as tf.Tensor3D;
    const first = tf.randomNormal([B * past, 3 * C], 0, 1, 'float32', 15) as tf.Tensor2D;
    const second = tf.randomNormal([B * T, 3 * C], 0, 1, 'float32', 16) as tf.Tensor2D;
    writeKVCache(first, cache, 0, past, H, capacity);
    causalAttention(first, cache, 0, past, H, capacity).dispose();
    writeKVCache(second, cache, past, T, H, capacity);
    const attended = causalAttention(second, cache, past, T, H, capacity); // [B·T, C]

    // Reference: the same sequences' q, k, v as [B, H, S, D] and a causal mask for the new rows.
    const S = past + T;
    const all = tf.concat([first.reshape([B, past, 3 * C]), second.reshape([B, T, 3 * C])], 1); // [B, S, 3C]
    const heads = (t: tf.Tensor) => t.reshape([B, S, H, D]).transpose([0, 2, 1, 3]); // [B, H, S, D]
    const [q, k, v] = tf.split(all, 3, -1).map(heads);
    const inCache = cache.reshape([2, B, H, capacity, D]).slice([0, 0, 0, 0, 0], [2, B, H, S, D]);
    await expectClose(inCache, tf.stack([k, v]), 0);
    const mask = tf.linalg
      .bandPart(tf.ones([S, S]), -1, 0)
      .sub(1)
      .mul(1e9)
      .slice([past, 0], [T, S]); // [T, S]
    const newQ = q.slice([0, 0, past, 0], [B, H, T, D]);
    const weights = tf.softmax(tf.matMul(newQ.mul(1 / Math.sqrt(D)), k, false, true).add(mask)); // [B, H, T, S]
    const expected = tf
      .matMul(weights, v)
      .transpose([0, 2, 1, 3])
      .reshape([B * T, C]);
    await expectClose(attended, expected);
    tf.dispose([cache, first, second, all, q, k, v, mask, newQ, weights]);
  });
});
