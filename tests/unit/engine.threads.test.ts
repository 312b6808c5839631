/**
 * The whole engine with its q8 and f16 products on 1, 2 and 3 threads (Node worker_threads sharing
 * the matrix store's memory), on tfjs 'wasm' and 'cpu': the products are split by output channel
 * in the blocks one thread uses, so the logits are bit-identical at every thread count (not merely
 * within the q8 tolerance), the greedy tokens the same, on the fixture's cases and on the built-in
 * model (256 wide, a 50257-token head); the model reports the threads that run.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupNodeBackend, type NodeBackend } from '../../src/backend/node';
import { GPT2 } from '../../src/model';
import type { WeightPrecision } from '../../src/model/precision';
import { greedyThroughCache } from '../helpers/engineSuite';
import { fixtureConfigJson, fixtureExpected, fixtureSafetensors, repoRoot } from '../helpers/fixture';

const BUILT_IN = path.join(repoRoot, 'public/models/sherlock-gpt2');
const THREADS = [1, 2, 3];

async function lastLogits(model: GPT2, ids: number[]): Promise<Float32Array> {
  const all = model.forwardAll(ids);
  const last = all.slice([ids.length - 1, 0], [1, -1]);
  const values = (await last.data()) as Float32Array;
  tf.dispose([all, last]);
  return values;
}

function builtInFiles(): [unknown, ArrayBuffer] {
  const bytes = readFileSync(path.join(BUILT_IN, 'model.safetensors'));
  return [
    JSON.parse(readFileSync(path.join(BUILT_IN, 'config.json'), 'utf8')),
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
  ];
}

for (const backend of ['wasm', 'cpu'] as NodeBackend[]) {
  describe(`q8 and f16 products on 1, 2 and 3 threads, tfjs '${backend}'`, () => {
    const models = new Map<string, GPT2>();
    const key = (precision: WeightPrecision, threads: number, builtIn = false) => `${precision}/${threads}/${builtIn}`;

    beforeAll(async () => {
      await setupNodeBackend(backend);
      for (const precision of ['q8', 'f16'] as const) {
        for (const threads of THREADS) {
          const model = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors(), { precision, threads });
          await model.warmUp(1); // waits for the helper threads to start
          models.set(key(precision, threads), model);
        }
      }
      for (const threads of THREADS) {
        const [config, weights] = builtInFiles();
        const model = await GPT2.fromFiles(config, weights, { precision: 'q8', threads });
        await model.warmUp(1);
        models.set(key('q8', threads, true), model);
      }
    }, 120_000);
    afterAll(() => models.forEach((m) => m.dispose()));

    it('says how many threads run the products', () => {
      for (const threads of THREADS) expect(models.get(key('q8', threads))!.storeThreads).toBe(threads);
    });

    for (const precision of ['q8', 'f16'] as const) {
      it(`${precision}: the fixture's logits are bit-identical and the greedy tokens equal at every thread count`, async () => {
        for (const c of fixtureExpected().cases) {
          const one = models.get(key(precision, 1))!;
          const logits = await lastLogits(one, c.input_ids);
          const tokens = await greedyThroughCache(one, c.input_ids, 8);
          for (const threads of THREADS.slice(1)) {
            const model = models.get(key(precision, threads))!;
            expect(await lastLogits(model, c.input_ids), `${threads} threads`).toEqual(logits);
            expect(await greedyThroughCache(model, c.input_ids, 8)).toEqual(tokens);
          }
        }
      });
    }

    it('the built-in model in q8: bit-identical logits and the same 12 greedy tokens at every thread count', async () => {
      const ids = [2061, 318, 262, 1917, 286, 428, 30, 1375, 1139, 13];
      const one = models.get(key('q8', 1, true))!;
      const logits = await lastLogits(one, ids);
      const tokens = await greedyThroughCache(one, ids, 12);
      for (const threads of THREADS.slice(1)) {
        const model = models.get(key('q8', threads, true))!;
        expect(await lastLogits(model, ids)).toEqual(logits);
        expect(await greedyThroughCache(model, ids, 12)).toEqual(tokens);
      }
    });
  });
}
