/**
 * Beam search's rules beyond the fixture: early_stopping true / false / "never" on a scripted
 * distribution (BeamSearch alone), and through generate() on the tiny model: beam sampling
 * (seeded, min_tokens_to_keep 2), stop strings, and an abort mid-search.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupNodeBackend } from '../../src/backend/node';
import { BeamSearch, type BeamEvent } from '../../src/generation/beamSearch';
import { GPT2 } from '../../src/model/gpt2';
import { decode } from '../../src/tokenizer';
import { runBeams, type BeamCase } from '../helpers/beamSuite';
import { fixtureConfigJson, fixtureSafetensors } from '../helpers/fixture';

const EOS = 3;
/** Step 1, from the one real beam: EOS is the likeliest (0.6), then 1 (0.2), then 0 and 2 (0.1). */
const FIRST = Float64Array.from([0.1, 0.2, 0.1, 0.6], Math.log);
/** Every later step, every beam: EOS 0.5, 1 0.4, 0 and 2 0.05. */
const LATER = Float64Array.from([0.05, 0.4, 0.05, 0.5], Math.log);

/**
 * Runs BeamSearch with 2 beams on FIRST, then LATER, until it stops. Step 1 finishes [EOS]; step 2
 * finishes [1, EOS] and keeps [1, 1] running (its log-probability −2.53 against [1, EOS]'s −2.30).
 */
function search(earlyStopping: boolean | 'never', lengthPenalty: number, maxNewTokens = 6) {
  const beams = new BeamSearch({ numBeams: 2, lengthPenalty, earlyStopping, maxNewTokens, random: null });
  const stops = (ids: readonly number[]) => ids[ids.length - 1] === EOS || ids.length >= maxNewTokens;
  for (let step = 1; ; step++) {
    const row = step === 1 ? FIRST : LATER;
    const outcome = beams.step([row, row], stops);
    if (outcome.done) return { steps: step, done: outcome.done, ranking: beams.ranking(2) };
  }
}

describe('BeamSearch: early_stopping', () => {
  it('true stops as soon as num_beams hypotheses finished', () => {
    const run = search(true, 3);
    expect(run).toMatchObject({ steps: 2, done: 'early_stopping' });
    // [1, EOS] scores (log 0.2 + log 0.5) / 2³, above [EOS]'s log 0.6 / 1³ under length_penalty 3.
    expect(run.ranking.map((h) => h.ids)).toEqual([[1, EOS], [EOS]]);
    expect(run.ranking[0].score).toBeCloseTo((Math.log(0.2) + Math.log(0.5)) / 8, 12);
    expect(run.ranking[1].score).toBeCloseTo(Math.log(0.6), 12);
  });

  it('false goes on while the best running beam, at its current length, could still beat the worst finished one', () => {
    // length_penalty 3: [1, 1] at length 2 scores −2.53 / 8 = −0.32, above [EOS]'s −0.51: go on.
    const run = search(false, 3);
    expect(run.steps).toBeGreaterThan(2);
    // length_penalty 1: −2.53 / 2 = −1.26, below [1, EOS]'s −1.15: nothing running can win, stop.
    expect(search(false, 1)).toMatchObject({ steps: 2, done: 'early_stopping' });
  });

  it('"never" with a positive length penalty assumes the longest possible beam: it runs to the budget', () => {
    const run = search('never', 3, 6);
    expect(run).toMatchObject({ steps: 6, done: 'length' });
    expect(run.steps).toBeGreaterThanOrEqual(search(false, 3, 6).steps);
  });
});

describe('beam search through generate() on the tiny model (cpu)', () => {
  let model: GPT2;
  beforeAll(async () => {
    await setupNodeBackend('cpu');
    model = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
  });
  afterAll(() => model?.dispose());

  const prompt = [54, 13506, 345, 389];
  const beamCase = (settings: BeamCase['settings']): BeamCase => ({ settings, input_ids: prompt, sequences: [], sequences_scores: [] });

  it('beam sampling (do_sample) draws 2 × num_beams distinct candidates per step, reproducibly for a seed; top_k keeps 2 per beam', async () => {
    const settings = { num_beams: 2, max_new_tokens: 6, do_sample: true, top_k: 1, seed: 5 };
    const events: BeamEvent[] = [];
    const first = await runBeams(model, beamCase(settings), { onBeam: (e) => events.push(e) });
    const second = await runBeams(model, beamCase(settings));
    expect(second.result.sequences).toEqual(first.result.sequences);
    expect(first.result.seed).toBe(5);
    for (const e of events) {
      if (e.type !== 'step') continue;
      // top_k 1 under beam sampling keeps min_tokens_to_keep = 2 per beam: 2 beams × 2 tokens = every candidate drawn.
      const pairs = e.candidates.map((c) => `${c.parent}:${c.tokenId}`);
      expect(new Set(pairs).size).toBe(e.step === 0 ? 2 : 4); // step 0: only beam 0 is real
    }
    const other = await runBeams(model, beamCase({ ...settings, seed: 6 }));
    expect(other.result.seed).toBe(6);
  });

  it('a stop string finishes a hypothesis whose text reaches it', async () => {
    // The first step's best token, as a stop string; length_penalty 0 ranks by log-probability, where one token wins.
    const stop = decode([5978]);
    const { result } = await runBeams(model, beamCase({ num_beams: 3, max_new_tokens: 8, length_penalty: 0, stop: [stop] }));
    expect(result.sequences[0]).toMatchObject({ ids: [5978], text: stop, finishReason: 'stop' });
  });

  it('an abort mid-search returns the running beams unscored, with finish reason abort, and frees the cache', async () => {
    const controller = new AbortController();
    const before = tf.memory().numTensors;
    const events: BeamEvent[] = [];
    const { result } = await runBeams(model, beamCase({ num_beams: 3, max_new_tokens: 10, num_return_sequences: 2 }), {
      signal: controller.signal,
      onBeam: (e) => {
        events.push(e);
        if (e.type === 'step' && e.step === 2) controller.abort();
      },
    });
    expect(result.sequences).toHaveLength(2);
    for (const s of result.sequences) {
      expect(s.ids).toHaveLength(3);
      expect(s.finishReason).toBe('abort');
      expect(s.score).toBeUndefined();
    }
    expect(events.at(-1)).toEqual({ type: 'done', ranking: [], reason: 'abort' });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('hands the cache to keepCache with each beam row holding its own ids', async () => {
    let kept: { batch: number; length: number; rows: number[][] } | null = null;
    const { result } = await runBeams(model, beamCase({ num_beams: 2, max_new_tokens: 5, num_return_sequences: 2 }), {
      keepCache: (cache, rows) => {
        kept = { batch: cache.batchSize, length: cache.length, rows };
        cache.dispose();
      },
    });
    expect(kept).not.toBeNull();
    const { batch, length, rows } = kept!;
    expect(batch).toBe(2);
    expect(rows.map((r) => r.length)).toEqual([length, length]);
    // The last step's tokens are not fed: each row is the prompt plus the first 4 tokens of a running beam.
    for (const r of rows) expect(r.slice(0, 4)).toEqual(prompt);
    expect(result.sequences).toHaveLength(2);
  });
});
