/**
 * The SIMD KV cache against the concatenating one and against no cache at all, on the tiny
 * fixture model, on tfjs `cpu` and `wasm` (the backends it writes to directly): same logits at
 * every step while it grows chunk by chunk, batches made by repeat(), prefill in pieces, and no
 * tensors left behind.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupNodeBackend, type NodeBackend } from '../../src/backend/node';
import { generate } from '../../src/generation';
import { GPT2 } from '../../src/model';
import { ConcatKVCache, SimdKVCache, createKVCache, defaultKVCacheKind, type LayerKVCache } from '../../src/model/kvCache';
import { fixtureConfigJson, fixtureSafetensors } from '../helpers/fixture';

/** The fixture's tolerance: 1e-4 of the largest |logit|. */
function expectClose(actual: Float32Array, expected: Float32Array): void {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  }
  expect(actual.length).toBe(expected.length);
  expect(worst).toBeLessThanOrEqual(1e-4 * scale);
}

/** A full garbage collection, after the current job (WeakRefs made in it hold their targets until it ends). */
async function collectGarbage(): Promise<void> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  await new Promise((resolve) => setTimeout(resolve, 0));
  gc();
}

const PROMPT = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13];

async function read(t: tf.Tensor): Promise<Float32Array> {
  const values = (await t.data()) as Float32Array;
  t.dispose();
  return values;
}

for (const backend of ['cpu', 'wasm'] as NodeBackend[]) {
  describe(`SIMD KV cache on tfjs '${backend}'`, () => {
    let model: GPT2;

    beforeAll(async () => {
      await setupNodeBackend(backend);
      expect(tf.getBackend()).toBe(backend);
      model = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
    });
    afterAll(() => model?.dispose());

    it('is the default cache here, and concat stays selectable', () => {
      expect(defaultKVCacheKind()).toBe('simd');
      // A head size the SIMD kernels cannot read 4 at a time falls back to the concat cache.
      expect(defaultKVCacheKind(backend, { nLayer: 2, nHead: 5, nEmbd: 30 })).toBe('concat');
      expect(defaultKVCacheKind('webgl', model.config)).toBe('concat');
      const simd = model.newCache(1);
      const concat = model.withForward({ kind: 'concat' }).newCache(1, 64);
      expect(simd).toBeInstanceOf(SimdKVCache);
      expect(concat).toBeInstanceOf(ConcatKVCache);
      simd.dispose();
      concat.dispose();
    });

    it('the model picks its forward path once (simd here; tfjs with the concat cache on request) and refuses a cache another path made', async () => {
      expect(model.forwardPath).toBe('simd');
      const concatPath = model.withForward({ kind: 'concat' });
      expect(concatPath.forwardPath).toBe('tfjs');
      const concat = concatPath.newCache(1, 64);
      concatPath.forward([PROMPT], concat).dispose();
      // The simd path's one-token step attends in the SIMD cache's memory: a concat cache is refused, and left as it was.
      expect(() => model.forward([[11]], concat)).toThrow(
        /needs a cache made by this model's newCache\(\) \(its simd path\), got a ConcatKVCache/,
      );
      expect(concat.length).toBe(PROMPT.length);
      concat.dispose();
      concatPath.dispose(); // a view: the weights stay with the model
      const cache = model.newCache(1, 16);
      await read(model.forward([PROMPT], cache));
      cache.dispose();
    });

    it('gives the logits of the concat cache and of a full recompute at every step', async () => {
      const simd = new SimdKVCache(model.config, 1, 64);
      const concat = createKVCache('concat', model.config, 1, 64);
      const concatPath = model.withForward({ kind: 'concat' }); // tfjs ops for every step
      const ids = [...PROMPT];
      let input = [PROMPT];
      for (let step = 0; step < 30; step++) {
        const a = await read(model.forward(input, simd));
        const b = await read(concatPath.forward(input, concat));
        expectClose(a, b);
        if (step % 3 === 0) {
          const all = model.forwardAll(ids); // [T, vocab], no cache
          const last = await read(all.slice([ids.length - 1, 0], [1, -1]));
          all.dispose();
          expectClose(a, last);
        }
        let best = 0;
        for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        // Feed a varied token (not only the greedy one) so positions differ.
        const next = (best + step * 7919) % model.config.vocabSize;
        ids.push(next);
        input = [[next]];
      }
      expect(simd.length).toBe(ids.length - 1);
      simd.dispose();
      concat.dispose();
    });

    it('decodes a token with 4 matMuls per layer and the head, the rest in the SIMD kernels', async () => {
      const cache = model.newCache(1, 64);
      await read(model.forward([PROMPT], cache)); // prefill: tfjs ops at f32 (q8 / f16 prompts take the SIMD step)
      const { kernels } = await tf.profile(() => model.forward([[11]], cache));
      const count: Record<string, number> = {};
      for (const { name } of kernels) if (name !== 'Reshape') count[name] = (count[name] ?? 0) + 1; // Reshape only relabels
      const L = model.config.nLayer;
      // The embedding (2 gathers, 1 add), 4 matMuls per layer (tfjs's op wrapper and its kernel), the head.
      expect(count).toEqual({ GatherV2: 2, Add: 1, fusedMatMul__op: 4 * L, _FusedMatMul: 4 * L, BatchMatMul: 1 });
      expect(cache.length).toBe(PROMPT.length + 1);
      cache.dispose();
    });

    it("a q8 prompt longer than one SIMD piece (2 sequences × 40 tokens: pieces of 64 rows) gives the tfjs path's logits", async () => {
      const q8 = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors(), { precision: 'q8' });
      const concatPath = q8.withForward({ kind: 'concat' }); // the same q8 products, through tfjs ops and a concat cache
      const prompts = [0, 1].map((b) => Array.from({ length: 40 }, (_, t) => (PROMPT[t % PROMPT.length] + 37 * t + 101 * b) % 50257));
      const simd = q8.newCache(2, 64);
      const concat = concatPath.newCache(2, 64);
      expectClose(await read(q8.forward(prompts, simd)), await read(concatPath.forward(prompts, concat)));
      expect(simd.length).toBe(40);
      // The cache holds every position: the next step still agrees.
      expectClose(await read(q8.forward([[11], [12]], simd)), await read(concatPath.forward([[11], [12]], concat)));
      simd.dispose();
      concat.dispose();
      q8.dispose();
    });

    it('prefills in pieces (several new positions after cached ones) like one prefill', async () => {
      const pieces = new SimdKVCache(model.config, 1, 64);
      const concatPath = model.withForward({ kind: 'concat' });
      const whole = concatPath.newCache(1, 64);
      const ids = [...PROMPT, ...PROMPT, ...PROMPT.slice(0, 5)]; // 25 tokens
      await read(model.forward([ids.slice(0, 7)], pieces));
      await read(model.forward([ids.slice(7, 19)], pieces));
      const a = await read(model.forward([ids.slice(19)], pieces));
      const b = await read(concatPath.forward([ids], whole));
      expectClose(a, b);
      pieces.dispose();
      whole.dispose();
    });

    it('repeat(n) shares the prompt across a batch whose sequences then diverge', async () => {
      const one = new SimdKVCache(model.config, 1, 64);
      await read(model.forward([PROMPT], one));
      const three = one.repeat(3) as LayerKVCache;
      const steps = [[11], [12], [13]];
      for (let s = 0; s < 6; s++) {
        const logits = model.forward(steps, three); // [3, vocab]
        const rows = await read(logits);
        const V = model.config.vocabSize;
        for (let b = 0; b < 3; b++) {
          const seq = [...PROMPT, ...Array.from({ length: s + 1 }, (_, i) => 11 + b + i * 3)];
          const all = model.forwardAll(seq);
          const expected = await read(all.slice([seq.length - 1, 0], [1, -1]));
          all.dispose();
          expectClose(rows.subarray(b * V, (b + 1) * V), expected);
        }
        for (let b = 0; b < 3; b++) steps[b] = [steps[b][0] + 3];
      }
      one.dispose();
      three.dispose();
    });

    it('leaves no tensors behind over 20 generations, and frees its memory on dispose', async () => {
      const run = async (i: number) => {
        const stream = generate(model, 'The quick brown fox', {
          max_new_tokens: 8,
          do_sample: i % 2 === 0,
          top_k: 50,
          top_p: 0.95,
          num_return_sequences: i % 2 === 0 ? 3 : 1,
          seed: i,
        });
        while (!(await stream.next()).done);
      };
      await run(0); // the first run may keep a lazily made tensor (the transposed head on wasm)
      const before = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) await run(i);
      expect(tf.memory().numTensors).toBe(before);

      const cache = model.newCache(1) as SimdKVCache;
      const kept = model.newCache(1) as SimdKVCache;
      await read(model.forward([PROMPT], cache));
      await read(model.forward([PROMPT], kept));
      expect(tf.memory().numTensors).toBe(before); // keys and values live in the kernel's memory, not in tensors
      // The store's WebAssembly memory is collectable once the cache is disposed (the cache object
      // itself is still referenced here); the memory of a live cache stays. (`store` is private.)
      const storeOf = (c: SimdKVCache) => (c as unknown as { store: object }).store;
      const memory = new WeakRef(storeOf(cache));
      const keptMemory = new WeakRef(storeOf(kept));
      cache.dispose();
      await collectGarbage();
      expect(memory.deref()).toBeUndefined();
      expect(keptMemory.deref()).toBeDefined();
      expect(() => model.forward([[1]], cache)).toThrow(/disposed/);
      kept.dispose();
    });
  });
}
