/**
 * generate(): the streaming loop, with a scripted model (forces chosen token ids, to test text
 * streaming, stopping and abort exactly) and with the real engine on the tiny fixture (tfjs cpu).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  generate,
  type GenerationControl,
  type GenerationModel,
  type GenerationResult,
  type GenerationStart,
  type TokenEvent,
} from '../../src/generation/generate';
import { Xoshiro128StarStar } from '../../src/generation/random';
import { GenerationOptionError, type GenerationOptions } from '../../src/generation/options';
import type { GPT2Config } from '../../src/model/config';
import type { KVCache } from '../../src/model/kvCache';
import { GPT2 } from '../../src/model/gpt2';
import { decode, encode, EOS_TOKEN_ID } from '../../src/tokenizer/tokenizer';
import { fixtureConfigJson, fixtureExpected, fixtureSafetensors } from '../helpers/fixture';
import { useBackend } from '../helpers/webgpuNode';

const VOCAB = 50257;

async function run(
  model: GenerationModel,
  prompt: string | number[],
  options: GenerationOptions,
  signal?: AbortSignal,
  onEvent?: (e: TokenEvent) => void,
): Promise<{ events: TokenEvent[]; result: GenerationResult }> {
  const events: TokenEvent[] = [];
  const stream = generate(model, prompt, options, { signal });
  for (;;) {
    const next = await stream.next();
    if (next.done) return { events, result: next.value };
    events.push(next.value);
    onEvent?.(next.value);
  }
}

/** A stand-in model whose logits make `script(row, step)` the only possible next token. */
class ScriptedModel implements GenerationModel {
  readonly config: GPT2Config = {
    vocabSize: VOCAB,
    nPositions: 64,
    nEmbd: 8,
    nLayer: 1,
    nHead: 1,
    layerNormEpsilon: 1e-5,
    activation: 'gelu_new',
    bosTokenId: EOS_TOKEN_ID,
    eosTokenId: EOS_TOKEN_ID,
  };
  forwardCalls = 0;
  liveCaches = 0;
  seenInputs: number[][][] = [];

  constructor(private readonly script: (row: number, step: number) => number) {}

  newCache(batchSize: number, capacity = this.config.nPositions): KVCache {
    return this.makeCache(batchSize, capacity, 0);
  }

  forward(ids: number[][], cache: KVCache): tf.Tensor2D {
    this.forwardCalls++;
    this.seenInputs.push(ids);
    const c = cache as KVCache & { advanceTo(n: number): void; promptLength: number; steps: number };
    const logits = new Float32Array(ids.length * VOCAB).fill(-1e4);
    ids.forEach((_, row) => {
      logits[row * VOCAB + this.script(row, c.steps)] = 10;
    });
    c.advanceTo(cache.length + ids[0].length);
    return tf.tensor2d(logits, [ids.length, VOCAB]);
  }

  private makeCache(batchSize: number, capacity: number, length: number, steps = 0): KVCache {
    this.liveCaches++;
    let disposed = false;
    const cache = {
      batchSize,
      capacity,
      length,
      steps,
      advanceTo(n: number) {
        if (n > capacity) throw new RangeError('over capacity');
        this.length = n;
        this.steps++;
      },
      repeat: (n: number) => this.makeCache(n, capacity, cache.length, cache.steps),
      fork: (_row: number, length: number, forkCapacity: number) => this.makeCache(1, forkCapacity, length, cache.steps),
      reorder: () => undefined, // the script's logits depend on the row and step only
      dispose: () => {
        if (!disposed) {
          disposed = true;
          this.liveCaches--;
        }
      },
    };
    return cache;
  }
}

describe('generate() with a scripted model', () => {
  it('streams multi-byte text (emoji, CJK, accents) whole, and the deltas add up to the decoded output', async () => {
    const text = ' Café 😀 日本語 naïve résumé';
    const ids = encode(text);
    const model = new ScriptedModel((_, step) => ids[step]);
    const { events, result } = await run(model, 'Hi', { max_new_tokens: ids.length, do_sample: true, seed: 1 });
    expect(events.map((e) => e.tokenId)).toEqual(ids);
    expect(events.map((e) => e.index)).toEqual(ids.map((_, i) => i));
    expect(events.map((e) => e.text).join('')).toBe(text);
    expect(result.sequences[0].text).toBe(text);
    expect(decode(result.sequences[0].ids)).toBe(text);
    expect(events.some((e) => e.text === '')).toBe(true); // a split character was held back...
    expect(events.filter((e) => e.text.includes('😀'))).toHaveLength(1); // ...and came out whole
    for (const e of events) expect(e.text).not.toContain('\uFFFD');
    expect(result.sequences[0].finishReason).toBe('length');
    expect(model.liveCaches).toBe(0);
  });

  it('stops at EOS: the EOS id ends the ids, adds no text, and nothing follows', async () => {
    const ids = [...encode(' Elementary'), EOS_TOKEN_ID, ...encode(' more')];
    const { events, result } = await run(new ScriptedModel((_, s) => ids[s]), 'x', { max_new_tokens: 10 });
    const eosAt = ids.indexOf(EOS_TOKEN_ID);
    expect(result.sequences[0].ids).toEqual(ids.slice(0, eosAt + 1));
    expect(result.sequences[0].finishReason).toBe('eos');
    expect(result.sequences[0].text).toBe(' Elementary');
    expect(events.at(-1)).toMatchObject({ tokenId: EOS_TOKEN_ID, text: '', finishReason: 'eos' });
    expect(events.slice(0, -1).every((e) => e.finishReason === undefined)).toBe(true);
  });

  it('generates through EOS when eos_token_id is null', async () => {
    const { result } = await run(new ScriptedModel(() => EOS_TOKEN_ID), 'x', { max_new_tokens: 3, eos_token_id: null });
    expect(result.sequences[0]).toMatchObject({ ids: [EOS_TOKEN_ID, EOS_TOKEN_ID, EOS_TOKEN_ID], finishReason: 'length' });
    expect(result.sequences[0].text).toBe('<|endoftext|>'.repeat(3));
  });

  it('stops at a stop string spanning tokens, keeping the whole last token like HF', async () => {
    const ids = encode(' said Sherlock Holmes. Watson');
    const { result } = await run(new ScriptedModel((_, s) => ids[s]), 'x', { max_new_tokens: 20, stop: ['ck Hol'] });
    expect(result.sequences[0].finishReason).toBe('stop');
    expect(result.sequences[0].text).toContain('ck Hol');
    expect(result.sequences[0].text).not.toContain('Watson');
  });

  it('decodes sequences as one batch: prefill once, repeat the cache, finished rows stop emitting', async () => {
    const a = encode(' one two three four');
    const b = [a[0], EOS_TOKEN_ID]; // step 0 comes from the shared prefill row: same first token
    const model = new ScriptedModel((row, step) => (row === 1 ? b[Math.min(step, b.length - 1)] : a[step]));
    const { events, result } = await run(model, 'Start', { max_new_tokens: a.length, num_return_sequences: 2, do_sample: true, seed: 3 });
    expect(model.seenInputs[0]).toEqual([encode('Start')]); // the prompt went through once, batch 1
    expect(model.seenInputs.slice(1).every((ids) => ids.length === 2 && ids[0].length === 1)).toBe(true);
    expect(result.sequences[0]).toMatchObject({ ids: a, finishReason: 'length' });
    expect(result.sequences[1]).toMatchObject({ ids: b, finishReason: 'eos', text: ' one' });
    expect(events.filter((e) => e.sequence === 1)).toHaveLength(b.length);
    expect(events.filter((e) => e.sequence === 0)).toHaveLength(a.length);
    expect(events.filter((e) => e.finishReason).map((e) => [e.sequence, e.finishReason])).toEqual([
      [1, 'eos'],
      [0, 'length'],
    ]);
    expect(result.timings.newTokens).toBe(a.length + b.length);
    expect(model.liveCaches).toBe(0);
  });

  it('stops within one step when aborted mid-stream, and frees the cache', async () => {
    const model = new ScriptedModel(() => 11);
    const controller = new AbortController();
    const { events, result } = await run(model, 'x', { max_new_tokens: 40 }, controller.signal, (e) => {
      if (e.index === 2) controller.abort();
    });
    expect(events).toHaveLength(3);
    expect(result.sequences[0].finishReason).toBe('abort');
    expect(result.sequences[0].ids).toHaveLength(3);
    expect(model.forwardCalls).toBe(3); // no forward pass after the abort
    expect(model.liveCaches).toBe(0);
  });

  it('lets an abort from elsewhere (a timer, a worker message) in between steps', async () => {
    const model = new ScriptedModel(() => 11);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const { result } = await run(model, 'x', { max_new_tokens: 63 }, controller.signal, () => {
      const until = Date.now() + 2; // a consumer that takes a little time per token
      while (Date.now() < until);
    });
    expect(result.sequences[0].finishReason).toBe('abort');
    expect(result.sequences[0].ids.length).toBeLessThan(63);
    expect(model.liveCaches).toBe(0);
  });

  it('returns at once when the signal is already aborted', async () => {
    const model = new ScriptedModel(() => 11);
    const { events, result } = await run(model, 'x', {}, AbortSignal.abort());
    expect(events).toHaveLength(0);
    expect(result.sequences[0]).toMatchObject({ ids: [], finishReason: 'abort' });
    expect(model.forwardCalls).toBe(0);
  });

  it('starts an empty prompt from <|endoftext|>, as HF does', async () => {
    const model = new ScriptedModel(() => 11);
    const { result } = await run(model, '', { max_new_tokens: 2 });
    expect(result.promptIds).toEqual([EOS_TOKEN_ID]);
    expect(model.seenInputs[0]).toEqual([[EOS_TOKEN_ID]]);
  });

  it('fits a prompt longer than the context: keeps the newest tokens, reports the dropped ones', async () => {
    const model = new ScriptedModel(() => 11);
    const prompt = Array.from({ length: 80 }, (_, i) => 100 + i);
    const { result } = await run(model, prompt, { max_new_tokens: 10 });
    expect(result.droppedPromptTokens).toBe(80 - 54);
    expect(result.promptIds).toEqual(prompt.slice(-54));
    expect(result.sequences[0].ids).toHaveLength(10);
    expect(result.warnings.join(' ')).toMatch(/26 prompt tokens were left out/);
  });

  it('clamps max_new_tokens beyond the context and says so', async () => {
    const { result } = await run(new ScriptedModel(() => 11), 'a b c', { max_new_tokens: 1000 });
    expect(result.maxNewTokens).toBe(63);
    expect(result.sequences[0].ids).toHaveLength(63);
    expect(result.warnings[0]).toMatch(/1000 new tokens do not fit/);
  });

  it('rejects invalid options before touching the model', async () => {
    const model = new ScriptedModel(() => 11);
    await expect(run(model, 'x', { top_p: 2 })).rejects.toThrow(GenerationOptionError);
    await expect(run(model, 'x', { eos_token_id: VOCAB })).rejects.toThrow(/eos_token_id = 50257.*vocabulary size/);
    await expect(run(model, 'a b c d e f', { max_length: 3 })).rejects.toThrow(/max_length = 3/);
    expect(model.forwardCalls).toBe(0);
  });
});

describe('generate() with a prefix cache and keepCache (scripted model)', () => {
  /** Drains generate() with a control bag; `onEvent` may abort. */
  async function runWith(
    model: GenerationModel,
    prompt: number[],
    options: GenerationOptions,
    control: GenerationControl,
    onEvent?: (e: TokenEvent) => void,
  ) {
    const events: TokenEvent[] = [];
    const stream = generate(model, prompt, options, control);
    for (;;) {
      const next = await stream.next();
      if (next.done) return { events, result: next.value };
      events.push(next.value);
      onEvent?.(next.value);
    }
  }
  /** A cache of `model` already holding `ids`. */
  function filled(model: ScriptedModel, ids: number[], capacity = 64): KVCache {
    const cache = model.newCache(1, capacity);
    model.forward([ids], cache).dispose();
    return cache;
  }

  it('keepCache gets the cache and, per row, the ids it holds: the prompt, then every token fed (a finished row keeps being fed its last)', async () => {
    const a = encode(' one two three four');
    const b = [a[0], EOS_TOKEN_ID];
    const model = new ScriptedModel((row, step) => (row === 1 ? b[Math.min(step, b.length - 1)] : a[step]));
    let kept: { cache: KVCache; rows: number[][] } | undefined;
    const prompt = encode('Start');
    const { result } = await runWith(
      model,
      prompt,
      { max_new_tokens: a.length, num_return_sequences: 2, do_sample: true, seed: 3 },
      { keepCache: (cache, rows) => (kept = { cache, rows }) },
    );
    expect(result.sequences.map((s) => s.ids)).toEqual([a, b]);
    const fed = a.length - 1; // the last token of the longest row is chosen but not fed
    expect(kept!.rows).toEqual([
      [...prompt, ...a.slice(0, fed)],
      [...prompt, b[0], EOS_TOKEN_ID, EOS_TOKEN_ID],
    ]);
    expect([kept!.cache.batchSize, kept!.cache.length]).toEqual([2, prompt.length + fed]);
    expect(model.liveCaches).toBe(1); // handed over, not disposed
    kept!.cache.dispose();
    expect(model.liveCaches).toBe(0);
  });

  it('keepCache also gets the cache when aborted, but not after an error (then the cache is disposed)', async () => {
    const model = new ScriptedModel(() => 11);
    const controller = new AbortController();
    let kept: number[][] | undefined;
    await runWith(
      model,
      [5, 6],
      { max_new_tokens: 10 },
      {
        signal: controller.signal,
        keepCache: (cache, rows) => {
          kept = rows;
          cache.dispose();
        },
      },
      (e) => {
        if (e.index === 2) controller.abort();
      },
    );
    expect(kept).toEqual([[5, 6, 11, 11]]);

    let calls = 0;
    const failing = new ScriptedModel(() => 11);
    failing.forward = () => {
      throw new RangeError('token id 99999 is outside the vocabulary');
    };
    await expect(runWith(failing, [5], { max_new_tokens: 3 }, { keepCache: () => calls++ })).rejects.toThrow(/outside the vocabulary/);
    expect(calls).toBe(0);
    expect(failing.liveCaches).toBe(0);
  });

  it('a prefix: only the remaining prompt ids run through the model, the rest as usual; the prefix is owned (handed over or disposed)', async () => {
    const model = new ScriptedModel((_, step) => 100 + step);
    const prompt = [1, 2, 3, 4, 5];
    const prefix = filled(model, prompt.slice(0, 3));
    const before = model.seenInputs.length;
    let kept: { cache: KVCache; rows: number[][] } | undefined;
    const { result } = await runWith(
      model,
      prompt,
      { max_new_tokens: 3 },
      { prefix, keepCache: (cache, rows) => (kept = { cache, rows }) },
    );
    expect(model.seenInputs.slice(before)).toEqual([[[4, 5]], [[101]], [[102]]]);
    expect(result.promptIds).toEqual(prompt);
    expect(result.sequences[0].ids).toEqual([101, 102, 103]);
    expect(kept!.rows).toEqual([[1, 2, 3, 4, 5, 101, 102]]);
    expect(kept!.cache).toBe(prefix); // it had room: used as it is
    kept!.cache.dispose();
    expect(model.liveCaches).toBe(0);
  });

  it('a prefix too small for the run is forked larger; one whose positions the context cut moved is dropped for a full prefill', async () => {
    const model = new ScriptedModel(() => 7);
    const small = filled(model, [1, 2], 3);
    let kept: KVCache | undefined;
    await runWith(model, [1, 2, 3], { max_new_tokens: 4 }, { prefix: small, keepCache: (cache) => (kept = cache) });
    expect(kept).not.toBe(small);
    expect(kept!.capacity).toBe(7);
    kept!.dispose();
    expect(model.liveCaches).toBe(0); // the small one was disposed

    const long = Array.from({ length: 60 }, (_, i) => 100 + i);
    const prefix = filled(model, long.slice(0, 50));
    const before = model.seenInputs.length;
    const { result } = await runWith(model, long, { max_new_tokens: 10 }, { prefix });
    expect(result.droppedPromptTokens).toBe(6);
    expect(model.seenInputs[before]).toEqual([long.slice(6)]); // the whole fitted prompt, prefilled
    expect(model.liveCaches).toBe(0);
  });

  it('refuses a prefix that leaves no prompt id or holds several rows, and disposes it; an early abort hands it back', async () => {
    const model = new ScriptedModel(() => 7);
    await expect(runWith(model, [1, 2], {}, { prefix: filled(model, [1, 2]) })).rejects.toThrow(
      /prefix holds 2 positions but the prompt has 2 ids: at least one prompt id must remain/,
    );
    const pair = model.newCache(2);
    await expect(runWith(model, [1, 2], {}, { prefix: pair })).rejects.toThrow(
      /prefix must be a batch-1 cache, this one holds 2 sequences/,
    );
    await expect(runWith(model, [1, 2], { top_p: 2 }, { prefix: filled(model, [1]) })).rejects.toThrow(GenerationOptionError);
    expect(model.liveCaches).toBe(0);

    let kept: number[][] | undefined;
    await runWith(
      model,
      [1, 2, 3],
      {},
      {
        prefix: filled(model, [1, 2]),
        signal: AbortSignal.abort(),
        keepCache: (cache, rows) => {
          kept = rows;
          cache.dispose();
        },
      },
    );
    expect(kept).toEqual([[1, 2]]);
    expect(model.liveCaches).toBe(0);
  });
});

describe('generate() with the real engine (tiny fixture, tfjs cpu)', () => {
  let model: GPT2;
  beforeAll(async () => {
    await useBackend('cpu');
    model = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
  });

  it('greedy decoding reproduces Hugging Face greedy ids and text (fixture case 0)', async () => {
    const c = fixtureExpected().cases[0];
    const { result } = await run(model, c.input_ids, { max_new_tokens: c.greedy_ids.length, eos_token_id: null });
    expect(result.sequences[0].ids).toEqual(c.greedy_ids);
    expect(result.sequences[0].text).toBe(c.greedy_text);
    expect(result.seed).toBeNull();
  });

  it('the notebook sampling: same seed → same text; the parallel sequences differ; no tensor leaks', async () => {
    const notebook = { do_sample: true, max_length: 20, top_k: 50, top_p: 0.95, num_return_sequences: 3, seed: 42 };
    const before = tf.memory().numTensors;
    const first = await run(model, 'Watson you are', notebook);
    const second = await run(model, 'Watson you are', notebook);
    expect(tf.memory().numTensors).toBe(before);
    expect(second.result.sequences).toEqual(first.result.sequences);
    expect(second.events.map((e) => [e.sequence, e.tokenId])).toEqual(first.events.map((e) => [e.sequence, e.tokenId]));
    const texts = first.result.sequences.map((s) => s.text);
    expect(new Set(texts).size).toBe(3);
    for (const s of first.result.sequences) expect(s.ids).toHaveLength(20 - 4); // max_length counts the prompt
    const other = await run(model, 'Watson you are', { ...notebook, seed: 43, max_length: 8 });
    expect(other.result.sequences.map((s) => s.ids)).not.toEqual(first.result.sequences.map((s) => s.ids.slice(0, 4)));
    expect(first.result.seed).toBe(42);
  });

  it('never crashes on the context window: long prompts are cut, long budgets clamped', async () => {
    const longPrompt = 'Holmes and Watson walked down Baker Street in the fog, talking of crime. '.repeat(8);
    expect(encode(longPrompt).length).toBeGreaterThan(64);
    const cut = await run(model, longPrompt, { max_new_tokens: 10 });
    expect(cut.result.promptIds).toHaveLength(54);
    expect(cut.result.droppedPromptTokens).toBe(encode(longPrompt).length - 54);
    expect(cut.result.sequences[0].ids).toHaveLength(10);
    const clamped = await run(model, 'Holmes', { max_new_tokens: 500, do_sample: true, seed: 2, eos_token_id: null });
    expect(clamped.result.maxNewTokens).toBe(63);
    expect(clamped.result.sequences[0].ids).toHaveLength(63);
    expect(clamped.result.warnings[0]).toMatch(/500 new tokens do not fit/);
  });

  it('inspectTop: the same tokens, each with its raw log-probability, rank and seeded draw (checked by a full recomputation)', async () => {
    const options = { do_sample: true, max_new_tokens: 5, top_k: 40, top_p: 0.9, num_return_sequences: 2, seed: 11 };
    const plain = await run(model, 'Watson you are', options);
    let start: GenerationStart | null = null;
    const events: TokenEvent[] = [];
    const stream = generate(model, 'Watson you are', options, {
      inspectTop: 256,
      onStart: (s) => {
        start = s;
      },
    });
    for (let next = await stream.next(); !next.done; next = await stream.next()) events.push(next.value);
    expect(start).toEqual({ promptIds: [54, 13506, 345, 389], droppedPromptTokens: 0, maxNewTokens: 5, seed: 11 });
    expect(events.map((e) => e.tokenId)).toEqual(plain.events.map((e) => e.tokenId));

    const randoms = [0, 1].map((s) => Xoshiro128StarStar.fromSeed(11, s));
    for (const e of events) {
      const ids = [54, 13506, 345, 389, ...events.filter((o) => o.sequence === e.sequence && o.index < e.index).map((o) => o.tokenId)];
      const all = model.forwardAll(ids);
      const row = (await all.data()) as Float32Array;
      all.dispose();
      const last = row.subarray((ids.length - 1) * VOCAB);
      let sum = 0;
      for (const x of last) sum += Math.exp(x);
      const inspection = e.inspection!;
      expect(inspection.logprob).toBeCloseTo(last[e.tokenId] - Math.log(sum), 4);
      expect(inspection.rank).toBe(1 + [...last].filter((x) => x > last[e.tokenId]).length);
      expect(inspection.draw).toBe(randoms[e.sequence].nextFloat());
      expect(inspection.logits.top).toBe(256);
      expect(new Set(inspection.logits.ids)).toContain(e.tokenId);
      for (const id of ids) expect(new Set(inspection.logits.ids)).toContain(id); // the repetition penalty's ids
    }
    const greedy: TokenEvent[] = [];
    const greedyStream = generate(model, 'Watson you are', { max_new_tokens: 2 }, { inspectTop: 10 });
    for (let next = await greedyStream.next(); !next.done; next = await greedyStream.next()) greedy.push(next.value);
    expect(greedy.map((e) => [e.inspection!.draw, e.inspection!.rank])).toEqual([
      [null, 1],
      [null, 1],
    ]);
  });

  it('reports measured timings and frees every tensor when aborted', async () => {
    const before = tf.memory().numTensors;
    const { result } = await run(model, 'Holmes', { do_sample: true, max_new_tokens: 8, seed: 5 });
    const t = result.timings;
    expect(t.newTokens).toBe(8);
    expect(t.prefillMs).toBeGreaterThan(0);
    expect(t.firstTokenMs).toBeGreaterThanOrEqual(t.prefillMs);
    expect(t.totalMs).toBeGreaterThanOrEqual(t.firstTokenMs);
    expect(t.decodeTokensPerSecond).toBeGreaterThan(0);

    const controller = new AbortController();
    const aborted = await run(
      model,
      'Holmes',
      { do_sample: true, max_new_tokens: 30, num_return_sequences: 2, seed: 5 },
      controller.signal,
      (e) => {
        if (e.index === 1) controller.abort();
      },
    );
    expect(aborted.result.sequences.map((s) => s.finishReason)).toEqual(['abort', 'abort']);
    expect(tf.memory().numTensors).toBe(before);
  });
});
