/**
 * The engine's checks against the tiny-gpt2 fixture (float64 reference from Hugging Face), shared
 * by one test file per tfjs backend. Tolerance, per the fixture: 1e-4 of the largest |logit|.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2 } from '../../src/model';
import type { WeightPrecision } from '../../src/model/weights';
import { encode } from '../../src/tokenizer';
import { fixtureConfigJson, fixtureExpected, fixtureLastLogits, fixtureSafetensors, type FixtureCase } from './fixture';
import { q8LogitTolerance, worstShare } from './precision';
import { randomCheckpoint } from './randomCheckpoint';
import { backendHolding } from './webgpuNode';
import { forward64, loadReference64, logits64, type Reference64 } from './reference64';

const RELATIVE_TOLERANCE = 1e-4;

/** Greedy decoding through the KV cache: prefill once, then one token per step. */
export async function greedyThroughCache(model: GPT2, promptIds: number[], newTokens: number): Promise<number[]> {
  const cache = model.newCache(1);
  const ids: number[] = [];
  try {
    let input = [promptIds];
    for (let i = 0; i < newTokens; i++) {
      const logits = model.forward(input, cache); // [1, vocab]
      const best = logits.argMax(-1);
      const [id] = await best.data();
      tf.dispose([logits, best]);
      ids.push(id);
      input = [[id]];
    }
  } finally {
    cache.dispose();
  }
  return ids;
}

function topK(values: Float32Array | number[], k: number): number[] {
  return [...values.keys()].sort((a, b) => values[b] - values[a]).slice(0, k);
}

function logSumExp(values: Float32Array): number {
  let max = -Infinity;
  for (const v of values) max = Math.max(max, v);
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  return max + Math.log(sum);
}

function maxAbs(values: Float32Array): number {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

export function describeEngineOnFixture(backend: string, setup: () => Promise<void>): void {
  describe(`GPT-2 engine on tfjs '${backend}' against tiny-gpt2`, () => {
    const expected = fixtureExpected();
    let model: GPT2;
    let tensorsBeforeModel: number;

    beforeAll(async () => {
      await setup();
      expect(tf.getBackend()).toBe(backend);
      tensorsBeforeModel = tf.memory().numTensors;
      model = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
    });

    afterAll(() => model?.dispose());

    it("runs on the backend it was asked for: the model's output is made there", () => {
      const logits = model.forwardAll([464, 2068]);
      expect(backendHolding(logits)).toBe(backend);
      logits.dispose();
    });

    it('tokenizes the fixture texts to the reference ids', () => {
      for (const { text, ids } of expected.tokenizer) expect(encode(text)).toEqual(ids);
    });

    it.each(expected.cases.map((c, i) => [i, c] as [number, FixtureCase]))(
      'case %i: top-5, logsumexp at every position and last-position logits match',
      async (_, c) => {
        const logits = model.forwardAll(c.input_ids); // [T, vocab]
        const all = (await logits.data()) as Float32Array;
        logits.dispose();
        const V = model.config.vocabSize;
        const reference = fixtureLastLogits(c);
        const tolerance = RELATIVE_TOLERANCE * maxAbs(reference);

        c.positions.forEach((position, t) => {
          const row = all.subarray(t * V, (t + 1) * V);
          expect(topK(row, 5)).toEqual(position.top5_ids);
          position.top5_ids.forEach((id, j) => expect(Math.abs(row[id] - position.top5_logits[j])).toBeLessThanOrEqual(tolerance));
          expect(Math.abs(logSumExp(row) - position.logsumexp)).toBeLessThanOrEqual(tolerance);
        });

        const last = all.subarray((c.input_ids.length - 1) * V);
        let worst = 0;
        for (let j = 0; j < V; j++) worst = Math.max(worst, Math.abs(last[j] - reference[j]));
        expect(worst).toBeLessThanOrEqual(tolerance);
      },
    );

    it.each(expected.cases.map((c, i) => [i, c] as [number, FixtureCase]))(
      'case %i: 20 greedy tokens through the KV cache equal the reference',
      async (_, c) => {
        expect(await greedyThroughCache(model, c.input_ids, c.greedy_ids.length)).toEqual(c.greedy_ids);
      },
    );

    it('cached forward equals uncached forwardAll at the last position', async () => {
      const c = expected.cases[1];
      const split = 7;
      const cache = model.newCache(1);
      model.forward([c.input_ids.slice(0, split)], cache).dispose();
      const stepped = model.forward([c.input_ids.slice(split)], cache); // several new tokens after a cached past
      expect(cache.length).toBe(c.input_ids.length);
      const full = model.forwardAll(c.input_ids);
      const lastRow = full.slice([c.input_ids.length - 1, 0], [1, -1]);
      const [a, b] = [await stepped.data(), await lastRow.data()];
      tf.dispose([stepped, full, lastRow]);
      cache.dispose();
      const tolerance = RELATIVE_TOLERANCE * maxAbs(fixtureLastLogits(c));
      let worst = 0;
      for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j] - b[j]));
      expect(worst).toBeLessThanOrEqual(tolerance);
    });

    it('a batch of different sequences gives each its own logits', async () => {
      const rows = [expected.cases[0].input_ids, expected.cases[1].input_ids.slice(0, 4)];
      const batch = model.newCache(2);
      const logits = model.forward(rows, batch); // [2, vocab]
      expect(logits.shape).toEqual([2, model.config.vocabSize]);
      const batched = await logits.data();
      logits.dispose();
      batch.dispose();
      for (let r = 0; r < rows.length; r++) {
        const alone = model.forwardAll(rows[r]);
        const lastRow = alone.slice([rows[r].length - 1, 0], [1, -1]);
        const single = await lastRow.data();
        tf.dispose([alone, lastRow]);
        const V = model.config.vocabSize;
        let worst = 0;
        for (let j = 0; j < V; j++) worst = Math.max(worst, Math.abs(batched[r * V + j] - single[j]));
        expect(worst).toBeLessThan(1e-3);
      }
    });

    it('cache.repeat(3) after a batch-1 prefill gives three identical greedy continuations', async () => {
      const c = expected.cases[0];
      const prompt = model.newCache(1);
      const first = model.forward([c.input_ids], prompt);
      const firstIds = first.argMax(-1);
      const [firstId] = await firstIds.data();
      tf.dispose([first, firstIds]);
      const three = prompt.repeat(3);
      prompt.dispose();
      expect([three.batchSize, three.length]).toEqual([3, c.input_ids.length]);
      const rows: number[][] = [[firstId], [firstId], [firstId]];
      for (let step = 0; step < 3; step++) {
        const logits = model.forward(
          rows.map((r) => [r[r.length - 1]]),
          three,
        );
        const best = logits.argMax(-1);
        const ids = await best.data();
        tf.dispose([logits, best]);
        rows.forEach((r, i) => r.push(ids[i]));
      }
      three.dispose();
      for (const row of rows) expect(row).toEqual(c.greedy_ids.slice(0, 4));
    });

    it('refuses input past the context and leaves the cache usable', () => {
      const cache = model.newCache(1, 8);
      model.forward([[1, 2, 3, 4, 5, 6]], cache).dispose();
      expect(() => model.forward([[1, 2, 3]], cache)).toThrow(/9 tokens long, more than this cache holds \(8/);
      expect(cache.length).toBe(6);
      model.forward([[7, 8]], cache).dispose();
      expect(cache.length).toBe(8);
      cache.dispose();
      expect(() => model.forwardAll(new Array(65).fill(1))).toThrow(/65 tokens long.*n_positions=64/);
      expect(() => model.forwardAll([50257])).toThrow(/token id 50257 is outside the vocabulary/);
    });

    it('leaks no tensors: 20 short generations, then dispose, back to baseline', async () => {
      const generationBaseline = tf.memory().numTensors;
      for (let g = 0; g < 20; g++) {
        const c = expected.cases[g % expected.cases.length];
        const prefill = model.newCache(1);
        model.forward([c.input_ids], prefill).dispose();
        const pair = prefill.repeat(2);
        prefill.dispose();
        for (let step = 0; step < 3; step++) model.forward([[c.greedy_ids[step]], [c.greedy_ids[step]]], pair).dispose();
        pair.dispose();
      }
      expect(tf.memory().numTensors).toBe(generationBaseline);
      model.dispose();
      expect(tf.memory().numTensors).toBe(tensorsBeforeModel);
      expect(() => model.forwardAll([1])).toThrow(/disposed/);
    });
  });
}

/** A random GPT-2 whose MLP is wider than 4·n_embd (n_inner = 200, n_embd = 32), with a small vocabulary. */
const WIDE_MLP = { vocabSize: 300, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 4, nInner: 200, seed: 16 };

/** How far each precision's logits may be from float64, as a share of the row's largest |logit|. */
const PRECISION_TOLERANCE: Record<WeightPrecision, number> = {
  f32: RELATIVE_TOLERANCE,
  f16: 2e-3,
  q8: q8LogitTolerance(WIDE_MLP.nLayer),
};

/**
 * A checkpoint with a non-default n_inner on this backend, in every precision: a prefill, then
 * decode steps (the path that sizes its own MLP buffers) for two sequences that share the prompt
 * and then diverge, each step's logits against the float64 reference.
 */
export function describeWideMlp(backend: string, setup: () => Promise<void>): void {
  describe(`a GPT-2 with n_inner = ${WIDE_MLP.nInner} (> 4·n_embd) on tfjs '${backend}'`, () => {
    const { config, safetensors } = randomCheckpoint(WIDE_MLP);
    const reference: Reference64 = loadReference64(config, safetensors);
    const prompt = [5, 77, 123, 9, 250, 31];
    const continuations = [
      [17, 290, 44, 3, 199, 60, 121, 8],
      [140, 2, 266, 91, 33, 180, 75, 12],
    ];
    /** The float64 logits after each prefix of prompt + continuation, from the prompt's last position on. */
    const expectedLogits = continuations.map((rest) => {
      const ids = [...prompt, ...rest];
      const { residuals } = forward64(reference, ids);
      const last = residuals[residuals.length - 1];
      return Array.from({ length: rest.length + 1 }, (_, i) => Float32Array.from(logits64(reference, last, prompt.length - 1 + i)));
    });

    beforeAll(setup);

    it.each(['f32', 'f16', 'q8'] as WeightPrecision[])(
      '%s: prefill and every decode step match the float64 reference',
      async (precision) => {
        const model = await GPT2.fromFiles(config, safetensors.slice(0), { precision });
        expect(model.config.nInner).toBe(WIDE_MLP.nInner);
        const V = WIDE_MLP.vocabSize;
        const read = async (logits: tf.Tensor2D) => {
          const values = (await logits.data()) as Float32Array;
          logits.dispose();
          return values;
        };
        const one = model.newCache(1);
        const shares = [worstShare(await read(model.forward([prompt], one)), expectedLogits[0][0])];
        const two = one.repeat(2); // the sequences share the prompt, then diverge
        one.dispose();
        for (let step = 0; step < continuations[0].length; step++) {
          const rows = await read(
            model.forward(
              continuations.map((rest) => [rest[step]]),
              two,
            ),
          ); // [2, V]
          continuations.forEach((_, b) => shares.push(worstShare(rows.subarray(b * V, (b + 1) * V), expectedLogits[b][step + 1])));
        }
        two.dispose();
        model.dispose();
        expect(shares).toHaveLength(1 + 2 * continuations[0].length);
        expect(Math.max(...shares)).toBeLessThanOrEqual(PRECISION_TOLERANCE[precision]);
      },
    );
  });
}
