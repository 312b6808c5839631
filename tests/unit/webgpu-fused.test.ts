// The fused WGSL decode path (src/backend/webgpu/) on real WebGPU (Dawn on SwiftShader) against
// the tiny-gpt2 fixture and against the generic tfjs path on the same backend.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2 } from '../../src/model';
import { countDispatches, startDispatchCounter } from '../../src/backend/webgpu';
import { WebGPUKVCache } from '../../src/model/webgpuKVCache';
import { fixtureConfigJson, fixtureExpected, fixtureLastLogits, fixtureSafetensors } from '../helpers/fixture';
import { useWebGPUInNode } from '../helpers/webgpuNode';
import { greedyThroughCache } from '../helpers/engineSuite';

const RELATIVE_TOLERANCE = 1e-4; // of the largest |logit|, per the fixture

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

function worstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

async function read(t: tf.Tensor): Promise<Float32Array> {
  const values = (await t.data()) as Float32Array;
  t.dispose();
  return values;
}

describe('fused WebGPU decoding on tiny-gpt2', () => {
  const expected = fixtureExpected();
  let model: GPT2;
  /** The same weights through tfjs ops (the generic path). */
  let tfjsPath: GPT2;

  beforeAll(async () => {
    await useWebGPUInNode();
    model = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
    tfjsPath = model.withForward({ fusedWebGPU: false });
  });

  afterAll(() => model?.dispose());

  it('runs on webgpu and picks the fused cache there (generic one on request)', () => {
    expect(tf.getBackend()).toBe('webgpu');
    const fused = model.newCache(1);
    const generic = tfjsPath.newCache(1);
    expect(fused).toBeInstanceOf(WebGPUKVCache);
    expect(generic).not.toBeInstanceOf(WebGPUKVCache);
    fused.dispose();
    generic.dispose();
  });

  it('prefill logits match the fixture reference (every case) and the generic tfjs path', async () => {
    for (const [i, c] of expected.cases.entries()) {
      const fusedCache = model.newCache(1);
      const fused = await read(model.forward([c.input_ids], fusedCache));
      fusedCache.dispose();
      const reference = fixtureLastLogits(c);
      const tolerance = RELATIVE_TOLERANCE * maxAbs(reference);
      expect(worstDifference(fused, reference)).toBeLessThanOrEqual(tolerance);
      if (i !== 1) continue; // the generic path itself is checked against every case in engine.webgpu.test.ts
      const genericCache = tfjsPath.newCache(1);
      const generic = await read(tfjsPath.forward([c.input_ids], genericCache));
      genericCache.dispose();
      expect(worstDifference(fused, generic)).toBeLessThanOrEqual(tolerance);
    }
  });

  it('token-by-token decoding matches forwardAll at every step (cache written and read in place)', async () => {
    const c = expected.cases[1];
    const cache = model.newCache(1);
    await read(model.forward([c.input_ids.slice(0, 5)], cache)); // prefill 5, then 1 at a time
    const all = await read(model.forwardAll(c.input_ids)); // [T, vocab]
    const V = model.config.vocabSize;
    const tolerance = RELATIVE_TOLERANCE * maxAbs(fixtureLastLogits(c));
    for (let t = 5; t < c.input_ids.length; t++) {
      const step = await read(model.forward([[c.input_ids[t]]], cache));
      expect(worstDifference(step, all.subarray(t * V, (t + 1) * V))).toBeLessThanOrEqual(tolerance);
    }
    expect(cache.length).toBe(c.input_ids.length);
    cache.dispose();
  });

  // The engine's fixture suite (engine.webgpu.test.ts) runs every case through this path too.
  it('greedy ids through the fused cache equal the fixture (longest prompt)', async () => {
    for (const c of [expected.cases[1]]) {
      expect(await greedyThroughCache(model, c.input_ids, c.greedy_ids.length)).toEqual(c.greedy_ids);
    }
  });

  it('batch 3: each sequence gets its own logits, in prefill and in decoding', async () => {
    const rows = expected.cases.slice(0, 3).map((c) => c.input_ids.slice(0, 4)); // same length
    const next = [[11], [220], [13]];
    const batch = model.newCache(3);
    const prefill = await read(model.forward(rows, batch));
    const step = await read(model.forward(next, batch));
    batch.dispose();
    const V = model.config.vocabSize;
    for (let r = 0; r < 3; r++) {
      const all = await read(model.forwardAll([...rows[r], next[r][0]])); // [5, vocab]
      const tolerance = 1e-3;
      expect(worstDifference(prefill.subarray(r * V, (r + 1) * V), all.subarray(3 * V, 4 * V))).toBeLessThan(tolerance);
      expect(worstDifference(step.subarray(r * V, (r + 1) * V), all.subarray(4 * V, 5 * V))).toBeLessThan(tolerance);
    }
  });

  it('repeat(3) after a batch-1 prefill continues all three sequences greedily like the fixture', async () => {
    const c = expected.cases[2];
    const prompt = model.newCache(1);
    const first = model.forward([c.input_ids], prompt).argMax(-1);
    const [firstId] = await first.data();
    first.dispose();
    const three = prompt.repeat(3);
    prompt.dispose();
    expect(three).toBeInstanceOf(WebGPUKVCache);
    const rows = [[firstId], [firstId], [firstId]];
    for (let step = 0; step < 5; step++) {
      const best = tf.tidy(() =>
        model
          .forward(
            rows.map((r) => [r[r.length - 1]]),
            three,
          )
          .argMax(-1),
      );
      const ids = await best.data();
      best.dispose();
      rows.forEach((r, i) => r.push(ids[i]));
    }
    three.dispose();
    for (const row of rows) expect(row).toEqual(c.greedy_ids.slice(0, 6));
  });

  it('one decode step takes at most 10 GPU dispatches per layer (counted, B = 1 and B = 3)', async () => {
    const { nLayer } = model.config;
    for (const B of [1, 3]) {
      const cache = model.newCache(B);
      await read(
        model.forward(
          Array.from({ length: B }, () => [1, 2, 3]),
          cache,
        ),
      );
      const { result, dispatches } = await countDispatches(() =>
        model.forward(
          Array.from({ length: B }, () => [4]),
          cache,
        ),
      );
      await read(result);
      cache.dispose();
      expect(dispatches).toBe(6 * nLayer + 3); // per layer 6, plus embedding, final layer norm, head
      expect(dispatches / nLayer).toBeLessThanOrEqual(10);
    }
    // The counter sees tfjs's own kernels too: the generic path needs many more.
    const generic = tfjsPath.newCache(1);
    await read(tfjsPath.forward([[1, 2, 3]], generic));
    const counter = startDispatchCounter();
    await read(tfjsPath.forward([[4]], generic));
    expect(counter.stop()).toBeGreaterThan(10 * nLayer);
    generic.dispose();
  });

  it('leaks no tensors or GPU buffers: generations, repeat, dispose, back to baseline', async () => {
    // Buffers freed while commands are queued are released at the next submit, which reading a
    // GPU-resident tensor forces (4096 elements: above tfjs's hand-off to the CPU for tiny ops).
    const settle = async () => read(tf.tidy(() => tf.ones([4096]).mul(2)));
    const gpuBytes = () => (tf.memory() as tf.MemoryInfo & { numBytesInGPU: number }).numBytesInGPU;
    await settle();
    const tensors = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    const buffers = gpuBytes();
    for (let g = 0; g < 5; g++) {
      const c = expected.cases[g % expected.cases.length];
      const prompt = model.newCache(1);
      model.forward([c.input_ids], prompt).dispose();
      const pair = prompt.repeat(2);
      prompt.dispose();
      for (let step = 0; step < 3; step++) model.forward([[c.greedy_ids[step]], [c.greedy_ids[step]]], pair).dispose();
      pair.dispose();
    }
    await settle();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.memory().numBytes).toBe(bytes);
    expect(gpuBytes()).toBe(buffers); // bytes in GPU buffers held by live tensors (tfjs's buffer manager)
  });
});
