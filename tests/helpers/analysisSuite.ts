/**
 * Issue 13's engine checks on the tiny-gpt2 fixture, shared by one test file per tfjs backend:
 * attention probabilities and the logit lens (through the CLI's code path) against the float64
 * reference of reference64.ts; KVCache.fork on each cache kind of the backend; a branch (fork a
 * kept cache, force another token, continue with `prefix`) against a fresh generate(); and no
 * tensors left behind.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { generate, type GenerationControl, type GenerationResult, type TokenEvent } from '../../src/generation/generate';
import type { GenerationOptions } from '../../src/generation/options';
import { GPT2, type ForwardOptions } from '../../src/model/gpt2';
import type { KVCache } from '../../src/model/kvCache';
import { encode } from '../../src/tokenizer';
import { fixtureConfigJson, fixtureDir, fixtureExpected, fixtureSafetensors } from './fixture';
import { modifiedFixtureTensors } from './fixtureCopy';
import { writeSafetensors } from './safetensorsWriter';
import { forward64, loadReference64, logProbs64, topOf, type Forward64, type Reference64 } from './reference64';

/** The bound for attention probabilities against float64. */
const ATTENTION_TOLERANCE = 1e-5;
/** The bound for logit-lens log-probabilities against float64. */
const LOGPROB_TOLERANCE = 1e-4;
/** Two reference log-probabilities closer than this may swap places in float32: ids are compared only where the gap is larger. */
const NEAR_TIE = 2 * LOGPROB_TOLERANCE;

/** 40+ tokens with <|endoftext|> inside (the fixture's context is 64). */
export const ANALYSIS_PROMPT = [
  ...encode('Watson, you are the most careful man I know.'),
  50256,
  ...encode(
    ' Holmes said nothing for a long while; then he looked at the fire, smiled at his old friend and lit his pipe once again, as he always did.',
  ),
];

/** Tokens the small-vocabulary model keeps, and its context (longer than the lens's 128-row chunks). */
const SMALL_VOCAB = 512;
const SMALL_CONTEXT = 160;

/**
 * The fixture's blocks with its vocabulary cut to the first 512 tokens (wte's first rows; bos and
 * eos 511) and its position table tiled to 160 positions: the same caches and code paths with a
 * head 100 times smaller, for the checks that need no float64 reference (fork against a fresh
 * prefill, lens chunks, tensor counts), where SwiftShader would otherwise spend seconds per
 * [rows, 50257] matmul.
 */
async function smallVocabModel(): Promise<GPT2> {
  const tensors = modifiedFixtureTensors({
    edit: (all) =>
      all.map((t) => {
        if (t.name === 'wte.weight') return { ...t, shape: [SMALL_VOCAB, t.shape[1]], data: t.data.slice(0, SMALL_VOCAB * t.shape[1] * 4) };
        if (t.name !== 'wpe.weight') return t;
        const data = new Uint8Array(SMALL_CONTEXT * t.shape[1] * 4);
        for (let at = 0; at < data.length; at += t.data.length) data.set(t.data.subarray(0, Math.min(t.data.length, data.length - at)), at);
        return { ...t, shape: [SMALL_CONTEXT, t.shape[1]], data };
      }),
  });
  const bytes = writeSafetensors(tensors);
  const config = {
    ...fixtureConfigJson(),
    vocab_size: SMALL_VOCAB,
    n_positions: SMALL_CONTEXT,
    n_ctx: SMALL_CONTEXT,
    bos_token_id: SMALL_VOCAB - 1,
    eos_token_id: SMALL_VOCAB - 1,
  };
  return GPT2.fromFiles(config, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

/** Runs the CLI in this process, returning what it wrote to stdout. */
export async function runCliCapturing(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ') + '\n'));
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('\n') };
  } finally {
    write.mockRestore();
    log.mockRestore();
    error.mockRestore();
  }
}

/** Drains a generate() call. */
async function run(model: GPT2, prompt: number[], options: GenerationOptions, control: GenerationControl = {}) {
  const events: TokenEvent[] = [];
  const stream = generate(model, prompt, options, control);
  for (;;) {
    const next = await stream.next();
    if (next.done) return { events, result: next.value as GenerationResult };
    events.push(next.value);
  }
}

/** Largest |a - b| over the first `n` entries, and the scale (largest |b|). */
function worstDifference(a: ArrayLike<number>, b: ArrayLike<number>): { worst: number; scale: number } {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { worst, scale };
}

async function read(t: tf.Tensor): Promise<Float32Array> {
  const values = (await t.data()) as Float32Array;
  t.dispose();
  return values;
}

/** Checks [layer][head][query][key] against the reference: within 1e-5, rows sum to 1, the future exactly 0. */
function expectAttentionLikeReference(attention: number[][][][], reference: Forward64, nHead: number): void {
  const T = reference.T;
  expect(attention).toHaveLength(reference.attention.length);
  attention.forEach((heads, layer) => {
    expect(heads).toHaveLength(nHead);
    heads.forEach((rows, h) => {
      expect(rows).toHaveLength(T);
      rows.forEach((row, q) => {
        expect(row).toHaveLength(T);
        const expected = reference.attention[layer].subarray((h * T + q) * T, (h * T + q + 1) * T);
        expect(worstDifference(row, expected).worst).toBeLessThanOrEqual(ATTENTION_TOLERANCE);
        expect(Math.abs(row.reduce((s, p) => s + p, 0) - 1)).toBeLessThanOrEqual(ATTENTION_TOLERANCE);
        for (let k = q + 1; k < T; k++) expect(row[k]).toBe(0);
      });
    });
  });
}

export interface CacheKindCase {
  name: string;
  options: ForwardOptions;
  /** The class newCache must make with these options. */
  className: string;
}

export interface AnalysisSuiteOptions {
  /** Positions of ANALYSIS_PROMPT the logit lens is checked on (default: all). SwiftShader's WebGPU is slow at [T, vocab]. */
  lensPositions?: number;
}

export function describeAnalysisOnFixture(
  backend: string,
  setup: () => Promise<void>,
  cacheKinds: CacheKindCase[],
  suite: AnalysisSuiteOptions = {},
): void {
  const lensIds = ANALYSIS_PROMPT.slice(0, suite.lensPositions ?? ANALYSIS_PROMPT.length);
  describe(`issue 13 engine (attention, logit lens, fork, branch) on tfjs '${backend}' against tiny-gpt2`, () => {
    let model: GPT2;
    let small: GPT2;
    let reference: Reference64;
    let forward: Forward64;

    beforeAll(async () => {
      await setup();
      expect(tf.getBackend()).toBe(backend);
      model = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
      small = await smallVocabModel();
      reference = loadReference64(fixtureConfigJson(), fixtureSafetensors());
      forward = forward64(reference, ANALYSIS_PROMPT);
    });
    afterAll(() => {
      model?.dispose();
      small?.dispose();
    });

    it("the prompt has 40+ tokens and <|endoftext|>; the float64 reference reproduces the fixture's own reference", () => {
      expect(ANALYSIS_PROMPT.length).toBeGreaterThanOrEqual(40);
      expect(ANALYSIS_PROMPT).toContain(50256);
      for (const c of fixtureExpected().cases) {
        const { residuals } = forward64(reference, c.input_ids);
        c.positions.forEach((position, t) => {
          const logprobs = logProbs64(reference, residuals[residuals.length - 1], t);
          expect(topOf(logprobs, 5).ids).toEqual(position.top5_ids);
          position.top5_ids.forEach((id, j) =>
            expect(Math.abs(logprobs[id] - (position.top5_logits[j] - position.logsumexp))).toBeLessThan(1e-5),
          );
        });
      }
    });

    it('attention from the CLI equals the float64 reference within 1e-5, rows sum to 1, the future is exactly 0', async () => {
      const cli = await runCliCapturing([
        'attention',
        '--model',
        fixtureDir,
        '--backend',
        backend,
        '--ids',
        ANALYSIS_PROMPT.join(','),
        '--json',
      ]);
      expect(cli.stderr).toBe('');
      expect(cli.code).toBe(0);
      const { attention } = JSON.parse(cli.stdout) as { attention: number[][][][] };
      expectAttentionLikeReference(attention, forward, model.config.nHead);

      const one = await runCliCapturing(['attention', '--model', fixtureDir, '--backend', backend, '--ids', '50256', '--json']);
      expect(JSON.parse(one.stdout).attention).toEqual(
        Array.from({ length: model.config.nLayer }, () => Array.from({ length: model.config.nHead }, () => [[1]])),
      );
    });

    it('attentionProbabilities(ids, layer) is [nHead, T, T] and equals attentionLayers(ids) layer by layer', async () => {
      const T = ANALYSIS_PROMPT.length;
      const layers: Float32Array[] = [];
      for (const probs of model.attentionLayers(ANALYSIS_PROMPT)) layers.push(await read(probs));
      expect(layers).toHaveLength(model.config.nLayer);
      for (let layer = 0; layer < model.config.nLayer; layer++) {
        const probs = model.attentionProbabilities(ANALYSIS_PROMPT, layer);
        expect(probs.shape).toEqual([model.config.nHead, T, T]);
        const values = await read(probs);
        expect(worstDifference(values, layers[layer]).worst).toBeLessThanOrEqual(1e-6);
        expect(worstDifference(values, forward.attention[layer]).worst).toBeLessThanOrEqual(ATTENTION_TOLERANCE);
      }
    });

    it('refuses a bad layer or bad ids with a RangeError that says what is allowed', () => {
      const bad = (f: () => unknown, message: RegExp) => expect(f).toThrow(message);
      bad(() => model.attentionProbabilities([1, 2], -1), /layer must be an integer from 0 to 1 .*this model has 2 layers.*got -1/);
      bad(() => model.attentionProbabilities([1, 2], 2), /from 0 to 1 .*got 2/);
      bad(() => model.attentionProbabilities([1, 2], 0.5), /got 0\.5/);
      bad(() => model.attentionProbabilities([], 0), /attentionProbabilities\(\) needs a sequence of at least one token id/);
      bad(() => model.attentionProbabilities([1, 50257], 0), /token id 50257 is outside the vocabulary/);
      bad(() => model.attentionProbabilities(new Array(65).fill(1), 0), /65 tokens long.*n_positions=64/);
      bad(() => model.attentionLayers([]), /attentionLayers\(\) needs a sequence/);
      return Promise.all([
        expect(model.logitLens([1], 0)).rejects.toThrow(/top from 1 to 50257, got 0/),
        expect(model.logitLens([-1])).rejects.toThrow(/token id -1 is outside the vocabulary/),
      ]);
    });

    it("the logit lens from the CLI equals the float64 reference (top-5 ids where not near-tied, logprobs within 1e-4); its last layer is the model's own output", async () => {
      const cli = await runCliCapturing(['lens', '--model', fixtureDir, '--backend', backend, '--ids', lensIds.join(','), '--json']);
      expect(cli.stderr).toBe('');
      expect(cli.code).toBe(0);
      const { layers } = JSON.parse(cli.stdout) as { layers: { id: number; logprob: number }[][][] };
      expect(layers).toHaveLength(model.config.nLayer);
      let comparedIds = 0;
      layers.forEach((positions, layer) => {
        expect(positions).toHaveLength(lensIds.length);
        positions.forEach((entries, t) => {
          expect(entries).toHaveLength(5);
          const logprobs = logProbs64(reference, forward.residuals[layer], t); // the reference is causal: a prefix's positions are the prompt's
          const best = topOf(logprobs, 6);
          entries.forEach(({ id, logprob }, j) => {
            expect(Math.abs(logprob - logprobs[id])).toBeLessThanOrEqual(LOGPROB_TOLERANCE); // its own logprob
            expect(Math.abs(logprob - best.values[j])).toBeLessThanOrEqual(LOGPROB_TOLERANCE); // the j-th best
            const gap = Math.min(j > 0 ? best.values[j - 1] - best.values[j] : Infinity, best.values[j] - best.values[j + 1]);
            if (gap > NEAR_TIE) {
              expect(id).toBe(best.ids[j]);
              comparedIds++;
            }
          });
        });
      });
      expect(comparedIds).toBeGreaterThan(0.9 * model.config.nLayer * lensIds.length * 5);

      // The last layer is the model's own prediction: forwardAll's log softmax.
      const logits = model.forwardAll(lensIds);
      const own = await read(tf.tidy(() => tf.logSoftmax(logits)));
      logits.dispose();
      const V = model.config.vocabSize;
      layers[layers.length - 1].forEach((entries, t) => {
        const best = topOf(Float64Array.from(own.subarray(t * V, (t + 1) * V)), 5);
        entries.forEach((e, j) => expect(Math.abs(e.logprob - best.values[j])).toBeLessThanOrEqual(1e-5));
        expect(entries.map((e) => e.id)).toEqual(best.ids);
      });
    });

    it('the lens works through sequences longer than its 128-row chunks (small-vocabulary model, 150 tokens)', async () => {
      const ids = Array.from({ length: 150 }, (_, i) => (i * 37 + 11) % SMALL_VOCAB);
      const lens = await small.logitLens(ids, 3);
      expect(lens.map((positions) => positions.length)).toEqual([150, 150]);
      const logits = small.forwardAll(ids);
      const own = await read(tf.tidy(() => tf.logSoftmax(logits)));
      logits.dispose();
      lens[1].forEach((entries, t) => {
        const best = topOf(Float64Array.from(own.subarray(t * SMALL_VOCAB, (t + 1) * SMALL_VOCAB)), 3);
        expect(entries.map((e) => e.id)).toEqual(best.ids);
        entries.forEach((e, j) => expect(Math.abs(e.logprob - best.values[j])).toBeLessThanOrEqual(1e-5));
      });
    });

    for (const kind of cacheKinds) {
      it(`fork(row, length, capacity) on the ${kind.name} cache: a batch-1 copy whose logits equal a fresh prefill; the original stays usable (small-vocabulary model)`, async () => {
        const view = small.withForward(kind.options); // the path that makes this kind of cache
        const rows = [ANALYSIS_PROMPT.slice(0, 12), ANALYSIS_PROMPT.slice(13, 25)].map((r) => r.map((id) => id % SMALL_VOCAB));
        const cache = view.newCache(2, 40);
        expect(cache.constructor.name).toBe(kind.className);
        view.forward(rows, cache).dispose();
        const fork = cache.fork(1, 9, 16);
        expect(fork.constructor.name).toBe(kind.className);
        expect([fork.batchSize, fork.length, fork.capacity]).toEqual([1, 9, 16]);
        expect([cache.batchSize, cache.length]).toEqual([2, 12]);

        /** The last logits of `ids` from a fresh cache of this kind, prefilled in one pass. */
        const fresh = async (ids: number[]) => {
          const c = view.newCache(1, 40);
          const logits = await read(view.forward([ids], c));
          c.dispose();
          return logits;
        };
        const compare = async (actual: Promise<Float32Array>, ids: number[]) => {
          const { worst, scale } = worstDifference(await actual, await fresh(ids));
          expect(worst).toBeLessThanOrEqual(1e-4 * scale);
        };
        // The fork continues row 1's first 9 positions: one token, then three more at once.
        const branch = [...rows[1].slice(0, 9), 464];
        await compare(read(view.forward([[464]], fork)), branch);
        await compare(read(view.forward([[11, 100, 511]], fork)), [...branch, 11, 100, 511]);
        expect(fork.length).toBe(13);
        // The original is unchanged: both rows continue as if nothing happened.
        const next = await read(view.forward([[290], [13]], cache));
        const V = view.config.vocabSize;
        await compare(Promise.resolve(next.subarray(0, V)), [...rows[0], 290]);
        await compare(Promise.resolve(next.subarray(V)), [...rows[1], 13]);
        // A fork of a fork, and an empty fork.
        const again = fork.fork(0, fork.length, fork.length + 1);
        await compare(read(view.forward([[7]], again)), [...branch, 11, 100, 511, 7]);
        const empty = cache.fork(0, 0, 4);
        expect(empty.length).toBe(0);
        await compare(read(view.forward([[54, 135]], empty)), [54, 135]);

        expect(() => cache.fork(2, 1, 8)).toThrow(/row must be an integer from 0 to 1 .*got 2/);
        expect(() => cache.fork(0, 14, 20)).toThrow(/length must be an integer from 0 to 13 .*got 14/);
        expect(() => cache.fork(0, 10, 9)).toThrow(/capacity must be an integer of at least 10 .*got 9/);
        for (const c of [cache, fork, again, empty]) c.dispose();
        expect(() => cache.fork(0, 1, 4)).toThrow(/disposed/);
      });
    }

    it('a branch: fork a kept cache at a step, force another token, continue with `prefix` = generate() on prefix ids + that token', async () => {
      const prompt = ANALYSIS_PROMPT.slice(0, 10);
      const options: GenerationOptions = {
        do_sample: true,
        top_k: 50,
        top_p: 0.95,
        temperature: 0.9,
        seed: 7,
        max_new_tokens: 8,
        num_return_sequences: 2,
        eos_token_id: null,
      };
      let kept: { cache: KVCache; rows: number[][] } | undefined;
      const first = await run(model, prompt, options, { inspectTop: 10, keepCache: (cache, rows) => (kept = { cache, rows }) });
      expect(kept).toBeDefined();
      const { cache, rows } = kept!;
      const sequences = first.result.sequences;
      // The cache holds the prompt and every token fed: all but each sequence's last.
      expect(rows).toEqual(sequences.map((s) => [...prompt, ...s.ids.slice(0, -1)]));
      expect([cache.batchSize, cache.length]).toEqual([2, prompt.length + 7]);

      // Branch from sequence 2 at its 4th token: its third candidate (another token than the one chosen).
      const step = 3;
      const event = first.events.find((e) => e.sequence === 1 && e.index === step)!;
      const forced = event.inspection!.logits.ids.find((id, rank) => rank >= 2 && id !== event.tokenId)!;
      const prefixIds = [...prompt, ...sequences[1].ids.slice(0, step)];
      const branchOptions: GenerationOptions = { ...options, num_return_sequences: 1, max_new_tokens: 6 };
      const fresh = await run(model, [...prefixIds, forced], branchOptions, { inspectTop: 5 });

      // Reusing the cache: only the forced token runs through the model.
      const fork = cache.fork(1, prefixIds.length, prefixIds.length + 7);
      const branched = await run(model, [...prefixIds, forced], branchOptions, { inspectTop: 5, prefix: fork });
      expect(branched.result.sequences[0].ids).toEqual(fresh.result.sequences[0].ids);
      expect(branched.result.promptIds).toEqual([...prefixIds, forced]);
      branched.events.forEach((e, i) =>
        expect(Math.abs(e.inspection!.logprob - fresh.events[i].inspection!.logprob)).toBeLessThanOrEqual(1e-4),
      );

      // A shorter fork (the last 3 prefix ids and the forced token run again), too small: generate() forks it larger.
      const short = cache.fork(1, prefixIds.length - 3, prefixIds.length);
      let handed: { cache: KVCache; rows: number[][] } | undefined;
      const again = await run(model, [...prefixIds, forced], branchOptions, {
        prefix: short,
        keepCache: (c, r) => (handed = { cache: c, rows: r }),
      });
      expect(again.result.sequences[0].ids).toEqual(fresh.result.sequences[0].ids);
      expect(handed!.rows).toEqual([[...prefixIds, forced, ...fresh.result.sequences[0].ids.slice(0, -1)]]);
      expect(handed!.cache.length).toBe(handed!.rows[0].length);
      handed!.cache.dispose();
      cache.dispose();
    });

    it('leaves no tensors behind: 20 attention analyses, 20 lens runs, 20 forks and 20 branches (small-vocabulary model)', async () => {
      const ids = ANALYSIS_PROMPT.slice(0, 6).map((id) => id % SMALL_VOCAB);
      await small.logitLens(ids, 1); // warm-up: a backend may keep a copy of the head made on first use
      const baseline = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) {
        small.attentionProbabilities(ids, i % small.config.nLayer).dispose();
        for (const probs of small.attentionLayers(ids)) {
          probs.dispose();
          if (i % 2 === 1) break; // stopping early frees the rest
        }
      }
      for (let i = 0; i < 20; i++) await small.logitLens(ids);
      for (const kind of cacheKinds) {
        const view = small.withForward(kind.options);
        for (let i = 0; i < 20; i++) {
          const cache = view.newCache(2, 16);
          view.forward([ids, ids], cache).dispose();
          const fork = cache.fork(i % 2, 4, 8);
          view.forward([[13]], fork).dispose();
          cache.dispose();
          fork.dispose();
        }
      }
      for (let i = 0; i < 20; i++) {
        const cache = small.newCache(1, 16);
        small.forward([ids], cache).dispose();
        const fork = cache.fork(0, 5, 12);
        cache.dispose();
        await run(
          small,
          [...ids.slice(0, 5), 11],
          { do_sample: true, seed: i, max_new_tokens: 2 },
          { prefix: fork, keepCache: (kept) => kept.dispose() },
        );
      }
      expect(tf.memory().numTensors).toBe(baseline);
    });
  });
}
