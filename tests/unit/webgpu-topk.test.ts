// GPU top-k (src/backend/webgpu/topK.ts via GPT2.topK) on real WebGPU against a plain CPU sort,
// including Hugging Face's tie rule (every logit >= the k-th largest is kept).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { topKCandidates } from '../../src/backend/webgpu';
import { GPT2 } from '../../src/model';
import { topLogits } from '../../src/model/topLogits';
import { fixtureConfigJson, fixtureExpected, fixtureSafetensors } from '../helpers/fixture';
import { backendHolding, useWebGPUInNode } from '../helpers/webgpuNode';

const V = 50257;

/** Every id with a logit >= the k-th largest, by descending logit then ascending id. */
function expectedTop(row: Float32Array, k: number): number[] {
  const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b);
  const threshold = row[order[k - 1]];
  return order.filter((id) => row[id] >= threshold);
}

/** Deterministic pseudo-random logits (xorshift), so a failure reproduces. */
function randomLogits(rows: number, seed: number): Float32Array {
  const out = new Float32Array(rows * V);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 2 ** 32) * 20 - 10;
  }
  return out;
}

describe('GPU top-k on webgpu', () => {
  beforeAll(async () => {
    await useWebGPUInNode();
  });

  it('runs on webgpu: the selection is made there', () => {
    const logits = tf.tensor2d(randomLogits(1, 5), [1, V]);
    const candidates = topKCandidates(logits, 4);
    expect(backendHolding(candidates)).toBe('webgpu');
    tf.dispose([logits, candidates]);
  });

  it('returns the k best ids and values per row, for k = 1, 50 and 200 on 3 rows', async () => {
    const data = randomLogits(3, 7);
    const logits = tf.tensor2d(data, [3, V]);
    const model = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
    for (const k of [1, 50, 200]) {
      const rows = await model.topK(logits, k);
      rows.forEach((row, b) => {
        const full = data.subarray(b * V, (b + 1) * V);
        expect(row.ids).toEqual(expectedTop(full, k));
        expect(row.values).toEqual(row.ids.map((id) => full[id]));
      });
    }
    logits.dispose();
    model.dispose();
  });

  it('reads back only 2(k+1) floats per row from the GPU selection', async () => {
    const logits = tf.tensor2d(randomLogits(2, 3), [2, V]);
    const candidates = topKCandidates(logits, 6);
    expect(candidates.shape).toEqual([2, 12]);
    tf.dispose([logits, candidates]);
  });

  it('keeps every logit tied at the k-th value, and prefers lower ids among equals', async () => {
    const data = randomLogits(1, 11).map((v) => Math.min(v, 5));
    data[40000] = 9;
    data[123] = 8;
    data[7] = 8;
    data[50000] = 8; // k = 2 cuts through a three-way tie at 8
    const logits = tf.tensor2d(data, [1, V]);
    const [row] = await topLogits(logits, 2);
    expect(row.ids).toEqual([40000, 7, 123, 50000]);
    logits.dispose();
  });

  it('greedy through the cache with topK(…, 1) equals the fixture, and no tensors leak', async () => {
    const model = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
    const c = fixtureExpected().cases[0];
    const before = tf.memory().numTensors;
    const cache = model.newCache(1);
    const ids: number[] = [];
    let input = [c.input_ids];
    for (let i = 0; i < 8; i++) {
      const logits = model.forward(input, cache);
      const [best] = await model.topK(logits, 1);
      logits.dispose();
      ids.push(best.ids[0]);
      input = [[best.ids[0]]];
    }
    cache.dispose();
    expect(ids).toEqual(c.greedy_ids.slice(0, 8));
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
