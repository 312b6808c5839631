// Compare strategies (src/ui/strategies.ts): the lesson's six strategies as run options, the
// repetition measure against hand-counted n-grams, the pane measures, and the compare panes' state.
import { describe, expect, test } from 'vitest';
import { validateOptions } from '../../src/generation/options';
import { panesOf } from '../../src/ui/panes';
import { settingsOfOptions, generateOptions as pageOptions, DEFAULT_SETTINGS } from '../../src/ui/settings';
import { repeatedNgramShare, STRATEGIES, strategyOptions, strategyScore } from '../../src/ui/strategies';
import { generateOptions, generationStats, msg, run } from '../helpers/appActions';

describe('strategies', () => {
  test('the lesson’s six, in order, each valid for generate() with the page’s length and seed', () => {
    const page = { max_new_tokens: 40, seed: 7 };
    const all = STRATEGIES.map((s) => strategyOptions(s, page));
    expect(STRATEGIES.map((s) => s.label)).toEqual([
      'Greedy',
      'Beam search (5 beams)',
      'Beam search, no repeated 2-grams',
      'Top-k 50',
      'Top-p 0.92 (top-k 0)',
      'Temperature 0.7',
    ]);
    expect(all.map((o) => [o.do_sample, o.num_beams, o.no_repeat_ngram_size, o.top_k, o.top_p, o.temperature])).toEqual([
      [false, 1, 0, 0, 1, 1],
      [false, 5, 0, 0, 1, 1],
      [false, 5, 2, 0, 1, 1],
      [true, 1, 0, 50, 1, 1],
      [true, 1, 0, 0, 0.92, 1],
      [true, 1, 0, 0, 1, 0.7],
    ]);
    for (const o of all) {
      expect(o).toMatchObject({ max_new_tokens: 40, seed: 7, num_return_sequences: 1, repetition_penalty: 1 });
      expect(() => validateOptions({ ...o, top_h: o.top_h ?? undefined })).not.toThrow();
    }
  });

  test('a strategy’s options opened into the controls give the same run options back', () => {
    for (const strategy of STRATEGIES) {
      const options = strategyOptions(strategy, { max_new_tokens: 12, seed: 3 });
      const settings = { ...DEFAULT_SETTINGS, ...settingsOfOptions(options), num_return_sequences: 1 };
      expect(pageOptions(settings)).toEqual(options);
    }
  });

  test('repeated n-grams: the share of n-grams seen earlier in the sequence', () => {
    expect(repeatedNgramShare([1, 2, 3, 4], 2)).toBe(0);
    // 2-grams: 12 23 31 12 23 → the last two repeat: 2 of 5.
    expect(repeatedNgramShare([1, 2, 3, 1, 2, 3], 2)).toBeCloseTo(2 / 5, 12);
    // 3-grams: 123 231 312 123 → 1 of 4.
    expect(repeatedNgramShare([1, 2, 3, 1, 2, 3], 3)).toBeCloseTo(1 / 4, 12);
    // A loop of one token: every 2-gram after the first repeats.
    expect(repeatedNgramShare([5, 5, 5, 5, 5], 2)).toBeCloseTo(3 / 4, 12);
    expect(repeatedNgramShare([1], 2)).toBeNull();
    expect(strategyScore([1, 2, 1, 2], -4)).toEqual({ meanLogprob: -1, perplexity: Math.E, repeated2: 1 / 3, repeated3: 0 });
    expect(strategyScore([1, 2], null)).toMatchObject({ meanLogprob: null, perplexity: null });
  });

  test('compare panes take their own requests’ messages, a beam pane keeps its hypothesis’s log-probability', () => {
    const beam = strategyOptions(STRATEGIES[1], { max_new_tokens: 2, seed: 1 });
    const state = run([
      { type: 'generate-started', id: 1, prompt: 'Hi', options: generateOptions() },
      {
        type: 'compare-started',
        panes: [
          { requestId: 2, label: 'Greedy', prompt: 'Hi', options: strategyOptions(STRATEGIES[0], { max_new_tokens: 2, seed: 1 }) },
          { requestId: 3, label: 'Beam search (5 beams)', prompt: 'Hi', options: beam },
        ],
      },
      msg({ type: 'token', id: 2, sequence: 0, tokenId: 9, text: ' a', index: 0, elapsedMs: 1 }),
      msg({ type: 'beam', id: 3, event: { type: 'done', ranking: [{ ids: [4, 5], logprob: -3, score: -1.5 }], reason: 'length' } }),
      msg({ type: 'token', id: 3, sequence: 0, tokenId: 4, text: ' b', index: 0, elapsedMs: 1 }),
      msg({ type: 'done', id: 3, stats: generationStats({ finishReasons: ['length'] }) }),
    ]);
    expect(state.run.tokenCount).toBe(0);
    expect(state.compare.map((c) => [c.label, c.tokens.map((t) => t.id), c.status])).toEqual([
      ['Greedy', [9], 'running'],
      ['Beam search (5 beams)', [4], 'done'],
    ]);
    expect(state.compare[1].beamLogprob).toBe(-3);
    expect(panesOf(state).map((p) => p.label)).toEqual(['Output 1', 'Strategy: Greedy', 'Strategy: Beam search (5 beams)']);
    // A new run clears the comparison.
    expect(run([{ type: 'generate-started', id: 4, prompt: 'Hi', options: generateOptions() }], state).compare).toEqual([]);
  });
});
