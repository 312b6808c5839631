// generate() on WebGPU reads back only the top-k candidates (GPT2.topK) when that is exact, and
// produces the same tokens as reading every logit.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { generate, type GenerationModel } from '../../src/generation/generate';
import type { GenerationOptions } from '../../src/generation';
import { GPT2 } from '../../src/model';
import { fixtureConfigJson, fixtureExpected, fixtureSafetensors } from '../helpers/fixture';
import { useWebGPUInNode } from '../helpers/webgpuNode';

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
    counted = { ...base, topK: (logits, k) => { topKCalls++; return model.topK(logits, k); } };
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
    const options: GenerationOptions = { max_new_tokens: 5, do_sample: true, top_k: 50, top_p: 0.95, temperature: 0.8, num_return_sequences: 3, seed: 7 };
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
