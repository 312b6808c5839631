/**
 * q8 and f16 weights on real WebGPU in Node (Dawn on SwiftShader), tiny shapes:
 * - each packed program (linear with layer norm / gelu / residual, LM head, embedding) against the
 *   same computation in plain tfjs ops on the dequantized f32 weights, odd sizes (K not a multiple
 *   of 4 or 2, so padding words are exercised);
 * - the fixture through the fused path: f16 keeps every case's 20 greedy tokens, q8 logits within
 *   the derived tolerance of f32 (tests/helpers/precision.ts), decode equals a full recompute, and a step still makes exactly
 *   6·n_layer + 3 dispatches.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countDispatches, embed, linear, lmHead } from '../../src/backend/webgpu';
import { packForGpu } from '../../src/backend/webgpu/packedWeights';
import { quantizeQ8, toF16, type MatrixLayout } from '../../src/backend/quantize';
import { GPT2 } from '../../src/model';
import { geluNew } from '../../src/model/layers';
import { greedyThroughCache } from '../helpers/engineSuite';
import { fixtureConfigJson, fixtureExpected, fixtureSafetensors } from '../helpers/fixture';
import { useWebGPUInNode } from '../helpers/webgpuNode';
import { expectClose } from '../helpers/tensorClose';
import { q8LogitTolerance, worstShare } from '../helpers/precision';

function halfToFloat(h: number): number {
  const e = (h >> 10) & 0x1f;
  const m = e === 0 ? 0 : 2 ** (e - 15) * (1 + (h & 0x3ff) / 1024);
  return h & 0x8000 ? -m : m;
}

/** The f32 values a format keeps of W (K × N in `layout`), as a [K, N] ('in-out') or [N, K] ('out-in') tensor. */
function dequantized(values: Float32Array, K: number, N: number, layout: MatrixLayout, format: 'q8' | 'f16'): tf.Tensor2D {
  const out = new Float32Array(K * N);
  const put = (k: number, n: number, v: number) => (out[layout === 'in-out' ? k * N + n : n * K + k] = v);
  if (format === 'q8') {
    const q = { w: new Int8Array(N * K), scale: new Float32Array(N), wsum: new Int32Array(N) };
    quantizeQ8(values, K, N, layout, K, q);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) put(k, n, q.w[n * K + k] * q.scale[n]);
  } else {
    const h = new Uint16Array(N * K);
    toF16(values, K, N, layout, K, h);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) put(k, n, halfToFloat(h[n * K + k]));
  }
  return tf.tensor2d(out, layout === 'in-out' ? [K, N] : [N, K]);
}

describe('q8 / f16 packed weights in the fused WebGPU programs', () => {
  beforeAll(async () => {
    await useWebGPUInNode();
  });

  it.each(['q8', 'f16'] as const)(
    '%s linear: plain, layer norm + gelu_new, residual; K = 41 (padded words), 1 to 6 rows',
    async (format) => {
      const [K, N] = [41, 70];
      const values = (await tf.randomNormal([K, N], 0, 1, 'float32', 21).data()) as Float32Array;
      const packed = packForGpu(values, K, N, 'in-out', format);
      const W = dequantized(values, K, N, 'in-out', format);
      for (const M of [1, 3, 6]) {
        const x = tf.randomNormal([M, K], 1, 2, 'float32', M) as tf.Tensor2D;
        const b = tf.randomNormal([N], 0, 1, 'float32', 3) as tf.Tensor1D;
        const gamma = tf.randomNormal([K], 1, 0.5, 'float32', 4) as tf.Tensor1D;
        const beta = tf.randomNormal([K], 0, 0.5, 'float32', 5) as tf.Tensor1D;
        const residual = tf.randomNormal([M, N], 0, 1, 'float32', 6) as tf.Tensor2D;
        const { mean, variance } = tf.moments(x, -1, true);
        const normed = x.sub(mean).mul(variance.add(1e-5).rsqrt()).mul(gamma).add(beta) as tf.Tensor2D;
        await expectClose(linear(x, packed, b), tf.matMul(x, W).add(b));
        await expectClose(
          linear(x, packed, b, { layerNorm: { weight: gamma, bias: beta, eps: 1e-5 }, activation: 'gelu_new' }),
          geluNew(tf.matMul(normed, W).add(b)),
        );
        await expectClose(linear(x, packed, b, { residual }), tf.matMul(x, W).add(b).add(residual));
        tf.dispose([x, b, gamma, beta, residual, mean, variance, normed]);
      }
      tf.dispose([W, packed.packed, ...(packed.scale ? [packed.scale] : [])]);
    },
  );

  it.each(['q8', 'f16'] as const)('%s LM head and embedding over a table with C = 23 (padded words)', async (format) => {
    const [V, C] = [301, 23];
    const values = (await tf.randomNormal([V, C], 0, 1, 'float32', 13).data()) as Float32Array;
    const packed = packForGpu(values, C, V, 'out-in', format);
    const table = dequantized(values, C, V, 'out-in', format); // [V, C]
    for (const M of [1, 5]) {
      const x = tf.randomNormal([M, C], 0, 1, 'float32', 14) as tf.Tensor2D;
      await expectClose(lmHead(x, packed), tf.matMul(x, table, false, true));
      x.dispose();
    }
    const wpe = tf.randomNormal([16, C], 0, 1, 'float32', 12) as tf.Tensor2D;
    const ids = tf.tensor1d([3, 300, 0, 7, 7, 1], 'int32');
    await expectClose(embed(ids, packed, wpe, 5, 3), tf.gather(table, ids).add(tf.gather(wpe, [5, 6, 7, 5, 6, 7])));
    await expectClose(embed(ids, packed, null), tf.gather(table, ids));
    tf.dispose([wpe, ids, table, packed.packed, ...(packed.scale ? [packed.scale] : [])]);
  });
});

describe('the fixture model with q8 and f16 weights on WebGPU (fused path)', () => {
  const expected = fixtureExpected();
  const models = {} as Record<'f32' | 'f16' | 'q8', GPT2>;

  beforeAll(async () => {
    await useWebGPUInNode();
    for (const precision of ['f32', 'f16', 'q8'] as const)
      models[precision] = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors(), { precision });
  });
  afterAll(() => Object.values(models).forEach((m) => m.dispose()));

  async function lastLogits(model: GPT2, ids: number[]): Promise<Float32Array> {
    const cache = model.newCache(1);
    const logits = model.forward([ids], cache);
    const values = (await logits.data()) as Float32Array;
    logits.dispose();
    cache.dispose();
    return values;
  }

  it.each(expected.cases.map((c, i) => [i, c] as const))(
    'case %i: f16 keeps the greedy tokens; q8 logits within the tolerance',
    async (_, c) => {
      expect(await greedyThroughCache(models.f16, c.input_ids, c.greedy_ids.length)).toEqual(c.greedy_ids);
      const f32 = await lastLogits(models.f32, c.input_ids);
      expect(worstShare(await lastLogits(models.f16, c.input_ids), f32)).toBeLessThan(2e-3);
      const q8 = worstShare(await lastLogits(models.q8, c.input_ids), f32);
      expect(q8).toBeLessThanOrEqual(q8LogitTolerance(models.q8.config.nLayer));
      expect(q8).toBeGreaterThan(0);
    },
  );

  it('q8: decoding through the fused cache equals forwardAll (the generic path) at the last position', async () => {
    const ids = expected.cases[1].input_ids;
    const cache = models.q8.newCache(1);
    models.q8.forward([ids.slice(0, 5)], cache).dispose();
    let stepped: Float32Array = new Float32Array();
    for (let t = 5; t < ids.length; t++) {
      const logits = models.q8.forward([[ids[t]]], cache);
      stepped = (await logits.data()) as Float32Array;
      logits.dispose();
    }
    cache.dispose();
    const all = models.q8.forwardAll(ids);
    const last = all.slice([ids.length - 1, 0], [1, -1]);
    expect(worstShare(stepped, (await last.data()) as Float32Array)).toBeLessThan(1e-4);
    tf.dispose([all, last]);
  });

  it.each(['q8', 'f16'] as const)('%s: a decode step makes 6·n_layer + 3 dispatches, as f32 does', async (precision) => {
    const model = models[precision];
    const cache = model.newCache(1);
    model.forward([[464, 2068]], cache).dispose();
    const { dispatches } = await countDispatches(async () => {
      const logits = model.forward([[7586]], cache);
      await logits.data();
      logits.dispose();
    });
    cache.dispose();
    expect(dispatches).toBe(6 * model.config.nLayer + 3);
  });
});
