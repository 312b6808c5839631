/**
 * q8 and f16 weights through the whole engine on tfjs 'wasm' and 'cpu' (the SIMD matrix store),
 * against the same model in f32:
 * - f16: the fixture's 20 greedy tokens are unchanged for every case, logits within 2e-3 of the
 *   largest |logit|;
 * - q8: logits within the derived tolerance (tests/helpers/precision.ts, docs/precision.md), on the
 *   fixture and at all 256 positions of held-out text through the built-in model;
 * - the built-in model's loss on held-out text within 0.02 nats/token of f32 under q8;
 * - decoding through the KV cache equals a full recompute in the same precision; batches and
 *   repeat() work; nothing leaks; a q8 model needs a quarter of f32's bytes for its matrices.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupNodeBackend, type NodeBackend } from '../../src/backend/node';
import { windowedLoss } from '../../src/cli/commands/loss';
import { generate } from '../../src/generation';
import { GPT2 } from '../../src/model';
import { encode } from '../../src/tokenizer';
import { greedyThroughCache } from '../helpers/engineSuite';
import { fixtureConfigJson, fixtureExpected, fixtureSafetensors, repoRoot } from '../helpers/fixture';
import { q8LogitTolerance, worstShare } from '../helpers/precision';

async function lastLogits(model: GPT2, ids: number[]): Promise<Float32Array> {
  const all = model.forwardAll(ids);
  const last = all.slice([ids.length - 1, 0], [1, -1]);
  const values = (await last.data()) as Float32Array;
  tf.dispose([all, last]);
  return values;
}

for (const backend of ['wasm', 'cpu'] as NodeBackend[]) {
  describe(`q8 and f16 weights on tfjs '${backend}'`, () => {
    const expected = fixtureExpected();
    const models: Record<'f32' | 'f16' | 'q8', GPT2> = {} as never;

    beforeAll(async () => {
      await setupNodeBackend(backend);
      for (const precision of ['f32', 'f16', 'q8'] as const)
        models[precision] = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors(), { precision });
    });
    afterAll(() => Object.values(models).forEach((m) => m.dispose()));

    it('reports the precision it loaded, and keeps q8/f16 matrices out of tfjs', () => {
      expect(models.q8.precision).toBe('q8');
      expect(models.f16.precision).toBe('f16');
      expect(models.f32.precision).toBe('f32');
    });

    it.each(expected.cases.map((c, i) => [i, c] as const))(
      'case %i: f16 greedy tokens equal the fixture, logits within 2e-3',
      async (_, c) => {
        expect(await greedyThroughCache(models.f16, c.input_ids, c.greedy_ids.length)).toEqual(c.greedy_ids);
        expect(worstShare(await lastLogits(models.f16, c.input_ids), await lastLogits(models.f32, c.input_ids))).toBeLessThan(2e-3);
      },
    );

    it.each(expected.cases.map((c, i) => [i, c] as const))('case %i: q8 logits within the derived tolerance of f32', async (_, c) => {
      const share = worstShare(await lastLogits(models.q8, c.input_ids), await lastLogits(models.f32, c.input_ids));
      expect(share).toBeLessThanOrEqual(q8LogitTolerance(models.q8.config.nLayer));
      expect(share).toBeGreaterThan(0); // it really is quantized
    });

    it.each(['q8', 'f16'] as const)('%s: decoding through the KV cache equals a full recompute', async (precision) => {
      const model = models[precision];
      const ids = expected.cases[1].input_ids;
      const cache = model.newCache(1);
      model.forward([ids.slice(0, 5)], cache).dispose();
      let stepped: Float32Array = new Float32Array();
      for (let t = 5; t < ids.length; t++) {
        const logits = model.forward([[ids[t]]], cache);
        stepped = (await logits.data()) as Float32Array;
        logits.dispose();
      }
      cache.dispose();
      expect(worstShare(stepped, await lastLogits(model, ids))).toBeLessThan(1e-4);
    });

    it('q8: sampling three sequences (repeat) and greedy decoding leave no tensors behind', async () => {
      const before = tf.memory().numTensors;
      for (const options of [
        { max_new_tokens: 8, do_sample: true, top_k: 50, top_p: 0.95, num_return_sequences: 3, seed: 42 },
        { max_new_tokens: 8, do_sample: false },
      ]) {
        const stream = generate(models.q8, 'Watson, you are', options);
        let step = await stream.next();
        while (!step.done) step = await stream.next();
        expect(step.value.sequences).toHaveLength(options.num_return_sequences ?? 1);
        expect(step.value.sequences.every((s) => s.ids.length === 8)).toBe(true);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('the built-in model under q8 (wasm)', () => {
  const dir = path.join(repoRoot, 'public/models/sherlock-gpt2');
  const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const bytes = readFileSync(path.join(dir, 'model.safetensors'));
  const load = (precision: 'f32' | 'q8') =>
    GPT2.fromFiles(config, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, { precision });
  // The model card's held-out stories start at "THE ADVENTURE OF THE CREEPING MAN"; 4 windows of 256 tokens.
  const corpus = readFileSync(path.join(repoRoot, '../shared/corpus/sherlock-holmes-canon.txt'), 'utf8');
  const heldOut = encode(corpus.slice(corpus.indexOf('\nTHE ADVENTURE OF THE CREEPING MAN\n') + 1)).slice(0, 4 * 256);
  const models = {} as Record<'f32' | 'q8', GPT2>;

  beforeAll(async () => {
    await setupNodeBackend('wasm');
    models.f32 = await load('f32');
    models.q8 = await load('q8');
  });
  afterAll(() => Object.values(models).forEach((m) => m.dispose()));

  it('loses at most 0.02 nats/token against f32 on held-out text', async () => {
    const f32 = (await windowedLoss(models.f32, heldOut, 256)).loss;
    const q8 = (await windowedLoss(models.q8, heldOut, 256)).loss;
    expect(Math.abs(q8 - f32)).toBeLessThanOrEqual(0.02);
    expect(q8).not.toBe(f32);
  });

  it("keeps every one of 256 positions' logits within the derived tolerance", async () => {
    const ids = heldOut.slice(0, 256);
    const [a, b] = [models.q8.forwardAll(ids), models.f32.forwardAll(ids)];
    const [q8, f32] = [(await a.data()) as Float32Array, (await b.data()) as Float32Array];
    tf.dispose([a, b]);
    const V = config.vocab_size;
    let worst = 0;
    for (let t = 0; t < ids.length; t++)
      worst = Math.max(worst, worstShare(q8.subarray(t * V, (t + 1) * V), f32.subarray(t * V, (t + 1) * V)));
    expect(worst).toBeLessThanOrEqual(q8LogitTolerance(config.n_layer));
  });
});
