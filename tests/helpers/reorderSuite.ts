/**
 * KVCache.reorder (beam search's gather) on one backend and forward path: after a reorder, each
 * row's next logits equal a full recompute of the sequence that row now continues; repeated rows
 * diverge independently; no tensor is left behind; bad rows are refused.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2, type ForwardOptions } from '../../src/model/gpt2';
import { fixtureConfigJson, fixtureSafetensors } from './fixture';

const PROMPT = [464, 2068, 7586, 21831, 18045];

async function read(t: tf.Tensor): Promise<Float32Array> {
  const values = (await t.data()) as Float32Array;
  t.dispose();
  return values;
}

export function describeReorder(backend: string, setup: () => Promise<void>, forward: ForwardOptions | null, cacheName: string): void {
  describe(`KVCache.reorder on tfjs '${backend}' (${cacheName})`, () => {
    let base: GPT2;
    let model: GPT2;

    beforeAll(async () => {
      await setup();
      base = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
      model = forward ? base.withForward(forward) : base;
    });
    afterAll(() => {
      if (model !== base) model?.dispose();
      base?.dispose();
    });

    it('each row continues the row it took, exactly like a recompute of that sequence', async () => {
      const one = model.newCache(1, 24);
      expect(one.constructor.name).toBe(cacheName);
      await read(model.forward([PROMPT], one));
      const cache = one.repeat(3);
      one.dispose();
      let sequences = [11, 12, 13].map((id) => [...PROMPT, id]);
      await read(model.forward([[11], [12], [13]], cache));
      const V = model.config.vocabSize;
      const before = tf.memory().numTensors;
      for (const [step, rows] of [
        [0, [2, 0, 0]],
        [1, [1, 2, 1]],
        [2, [0, 1, 2]],
      ] as const) {
        cache.reorder(rows);
        expect(tf.memory().numTensors).toBe(before); // the old buffers are released
        sequences = rows.map((row) => sequences[row]);
        const next = [[20 + step], [30 + step], [40 + step]];
        const logits = await read(model.forward(next, cache));
        sequences = sequences.map((seq, b) => [...seq, next[b][0]]);
        for (let b = 0; b < 3; b++) {
          const all = base.forwardAll(sequences[b]); // no cache: the reference
          const expected = await read(all.slice([sequences[b].length - 1, 0], [1, -1]));
          all.dispose();
          const got = logits.subarray(b * V, (b + 1) * V);
          let worst = 0;
          let scale = 0;
          for (let i = 0; i < V; i++) {
            worst = Math.max(worst, Math.abs(got[i] - expected[i]));
            scale = Math.max(scale, Math.abs(expected[i]));
          }
          expect(worst).toBeLessThanOrEqual(1e-4 * scale);
        }
      }
      expect(cache.length).toBe(PROMPT.length + 4);
      // A fork after reorders copies the row as it now is: it continues that row's sequence.
      const fork = cache.fork(1, cache.length, 24);
      const forked = await read(model.forward([[50]], fork));
      const all = base.forwardAll([...sequences[1], 50]);
      const expected = await read(all.slice([sequences[1].length, 0], [1, -1]));
      all.dispose();
      let worst = 0;
      for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(forked[i] - expected[i]));
      expect(worst).toBeLessThanOrEqual(1e-4 * Math.max(...expected.map(Math.abs)));
      fork.dispose();
      expect(() => cache.reorder([0, 1])).toThrow(/one source row per batch row \(3\), got 2/);
      expect(() => cache.reorder([0, 1, 3])).toThrow(/from 0 to 2, got 3/);
      cache.dispose();
      expect(() => cache.reorder([0, 1, 2])).toThrow(/disposed/);
    });
  });
}
