// generate() on WebGPU reads back only the top-k candidates (GPT2.topK) when that is exact, and
// produces the same tokens as reading every logit.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { generate, type GenerationModel, type TokenEvent } from '../../src/generation/generate';
import type { GenerationOptions } from '../../src/generation';
import { GPT2 } from '../../src/model';
import { summarizeRow } from '../../src/model/stepLogits';
import { summarizeLogits } from '../../src/model/topLogits';
import { fixtureConfigJson, fixtureExpected, fixtureSafetensors } from '../helpers/fixture';
import { useWebGPUInNode } from '../helpers/webgpuNode';

const V = 50257;

async function run(model: GenerationModel, prompt: number[], options: GenerationOptions) {
  const tokens = generate(model, prompt, options);
  for (;;) {
    const step = await tokens.next();
    if (step.done) return step.value;
  }
}

describe('generate() with GPU top-k on webgpu', () => {
  const c = fixtureExpected().cases[1];
  let model: GPT2;
  let topKCalls = 0;
  /** The model as generate() sees it, counting top-k read-backs. */
  let counted: GenerationModel;
  /** The same model without topK: generate() reads every logit back. */
  let fullLogits: GenerationModel;

  beforeAll(async () => {
    await useWebGPUInNode();
    model = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
    const base = { config: model.config, newCache: model.newCache.bind(model), forward: model.forward.bind(model) };
    fullLogits = base;
    counted = {
      ...base,
      topK: (logits, k) => {
        topKCalls++;
        return model.topK(logits, k);
      },
    };
  });

  afterAll(() => model?.dispose());

  it('greedy: uses top-1 read-backs and equals the fixture', async () => {
    expect(tf.getBackend()).toBe('webgpu');
    topKCalls = 0;
    const result = await run(counted, c.input_ids, { max_new_tokens: 8, do_sample: false });
    expect(result.sequences[0].ids).toEqual(c.greedy_ids.slice(0, 8));
    expect(topKCalls).toBe(8); // prefill + 7 decode steps
  });

  it('sampling (top_k 50, top_p 0.95, temperature 0.8, 3 sequences): same tokens as reading all logits', async () => {
    const options: GenerationOptions = {
      max_new_tokens: 5,
      do_sample: true,
      top_k: 50,
      top_p: 0.95,
      temperature: 0.8,
      num_return_sequences: 3,
      seed: 7,
    };
    topKCalls = 0;
    const viaTopK = await run(counted, c.input_ids, options);
    expect(topKCalls).toBeGreaterThan(0);
    const viaAll = await run(fullLogits, c.input_ids, options);
    expect(viaTopK.sequences.map((s) => s.ids)).toEqual(viaAll.sequences.map((s) => s.ids));
  });

  it('reads every logit when a repetition penalty or top_k = 0 needs them', async () => {
    topKCalls = 0;
    await run(counted, c.input_ids, { max_new_tokens: 2, do_sample: false, repetition_penalty: 1.3 });
    await run(counted, c.input_ids, { max_new_tokens: 2, do_sample: true, top_k: 0, seed: 1 });
    expect(topKCalls).toBe(0);
  });
});

describe('generate() with the token inspector on webgpu', () => {
  const c = fixtureExpected().cases[1];
  let model: GPT2;
  let fullReads = 0;
  /** The model as generate() sees it, counting full-row read-backs (logits.data() on forward's output). */
  let counted: GenerationModel;

  beforeAll(async () => {
    await useWebGPUInNode();
    model = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
    counted = {
      config: model.config,
      newCache: model.newCache.bind(model),
      forward: (ids, cache) => {
        const logits = model.forward(ids, cache);
        const data = logits.data.bind(logits);
        logits.data = (() => {
          fullReads++;
          return data();
        }) as typeof logits.data;
        return logits;
      },
      topK: model.topK.bind(model),
    };
  });

  afterAll(() => model?.dispose());

  async function events(options: GenerationOptions, inspectTop: number) {
    const out: TokenEvent[] = [];
    const tokens = generate(counted, c.input_ids, options, { inspectTop });
    for (;;) {
      const step = await tokens.next();
      if (step.done) return out;
      out.push(step.value);
    }
  }

  it('summarises each step on the GPU (no full read-back) with the same tokens, matching a CPU summary of the same row', async () => {
    const options: GenerationOptions = { max_new_tokens: 4, do_sample: true, top_k: 50, top_p: 0.95, num_return_sequences: 2, seed: 3 };
    const plain = await events(options, 0);
    fullReads = 0;
    const inspected = await events(options, 256);
    expect(fullReads).toBe(0);
    expect(inspected.map((e) => e.tokenId)).toEqual(plain.map((e) => e.tokenId));
    for (const e of inspected) {
      const step = e.inspection!.logits;
      expect(step.top).toBe(256);
      expect(step.histogram.reduce((a, b) => a + b, 0)).toBe(V);
      expect(e.inspection!.rank).toBe(step.ids.indexOf(e.tokenId) + 1);
      expect(e.inspection!.logprob).toBeCloseTo(step.logits[step.ids.indexOf(e.tokenId)] - step.logSumExp, 6);
    }

    // The same row summarised on the CPU: same ids, log-sum-exp and entropy to float32 accuracy.
    const cache = model.newCache(1, c.input_ids.length);
    const logits = model.forward([c.input_ids], cache);
    const row = (await logits.data()) as Float32Array;
    const [gpu] = await summarizeLogits(logits, 256, [c.input_ids]);
    logits.dispose();
    cache.dispose();
    const cpu = summarizeRow(row, 256, c.input_ids);
    expect(Array.from(gpu.ids)).toEqual(Array.from(cpu.ids));
    expect(Array.from(gpu.logits)).toEqual(Array.from(cpu.logits));
    expect(Math.abs(gpu.logSumExp - cpu.logSumExp)).toBeLessThan(1e-4);
    expect(Math.abs(gpu.entropy - cpu.entropy)).toBeLessThan(1e-3);
    const binsOff = gpu.histogram.reduce((n, count, i) => n + Math.abs(count - cpu.histogram[i]), 0);
    expect(binsOff).toBeLessThanOrEqual(4); // float32 vs float64 at a bin edge, at most a value or two
    expect(inspected[0].inspection!.logits.logSumExp).toBeCloseTo(cpu.logSumExp, 4);
  });

  it('falls back to reading every logit, and summarising on the CPU, when the run needs them (repetition penalty)', async () => {
    fullReads = 0;
    const inspected = await events({ max_new_tokens: 3, do_sample: true, top_k: 50, repetition_penalty: 1.2, seed: 3 }, 256);
    expect(fullReads).toBe(3);
    for (const e of inspected) expect(e.inspection!.logits.ids.length).toBeGreaterThanOrEqual(256);
  });
});
