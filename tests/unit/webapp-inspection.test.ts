/**
 * The page's pure helpers around the token inspector: sliders → sampler settings and what differs
 * from the run, the Surprise bands and pane scores, and where a rerun departs from the last run.
 */
import { describe, expect, test } from 'vitest';
import type { TokenInspection } from '../../src/generation/generate';
import { summarizeRow } from '../../src/model/stepLogits';
import type { RunRecord, RunToken } from '../../src/ui/appState';
import { inspectStep, type PipelineStage } from '../../src/generation/inspect';
import {
  departures,
  pipelineRows,
  settingsPatch,
  paneScore,
  percent,
  runSamplerSettings,
  samplerSettings,
  settingChanges,
  surpriseBand,
  SURPRISE_BANDS,
} from '../../src/ui/inspection';
import { DEFAULT_SETTINGS } from '../../src/ui/settings';
import { generateOptions } from '../helpers/appActions';

const OPTIONS = generateOptions({ max_new_tokens: 3, num_return_sequences: 2 });

/** A token whose step had logits [3, 1, 0, ...] over a 6-token vocabulary and that chose `id`. */
function token(id: number, rank: number): RunToken {
  const row = Float32Array.from([3, 1, 0, -1, -2, -3]);
  const logits = summarizeRow(row, 4);
  const inspection: TokenInspection = { logprob: row[id] - logits.logSumExp, rank, draw: 0.5, logits };
  return { id, text: `t${id}`, inspection };
}

describe('inspection helpers', () => {
  test('the sliders and the run as Hugging Face sampler settings, and what differs in words', () => {
    expect(samplerSettings({ ...DEFAULT_SETTINGS, min_p: 0.1 })).toEqual({
      temperature: 1,
      top_k: 50,
      top_p: 0.95,
      min_p: 0.1,
      repetition_penalty: 1,
      // More samplers, at Hugging Face's defaults (off); top_h's 0 on the page is null (off).
      no_repeat_ngram_size: 0,
      top_h: null,
      typical_p: 1,
      epsilon_cutoff: 0,
      eta_cutoff: 0,
    });
    expect(samplerSettings({ ...DEFAULT_SETTINGS, typical_p: 0.5, top_h: 0.3 })).toMatchObject({ typical_p: 0.5, top_h: 0.3 });
    const run = runSamplerSettings(OPTIONS);
    expect(settingChanges(run, run)).toEqual([]);
    expect(settingChanges({ ...run, top_k: 3, temperature: 0.7, typical_p: 0.5 }, run)).toEqual([
      'top-k 3 (the run used 50)',
      'temperature 0.7 (the run used 1)',
      'typical-p 0.5 (the run used 1)',
    ]);
    // The inspector's sliders set the page's settings they stand for; a null top_h is the page's 0.
    expect(settingsPatch({ top_k: 3, typical_p: 0.5, top_h: null })).toEqual({ top_k: 3, typical_p: 0.5, top_h: 0 });
  });

  test('percentages with two decimals', () => {
    expect(percent(0.123449)).toBe('12.34 %');
    expect(percent(0)).toBe('0.00 %');
    expect(percent(1)).toBe('100.00 %');
  });

  test("Surprise bands by model probability, and a pane's mean log-prob, perplexity and top-choice share", () => {
    expect(surpriseBand(Math.log(0.9))).toBe(0);
    expect(surpriseBand(Math.log(0.2))).toBe(1);
    expect(surpriseBand(Math.log(0.05))).toBe(2);
    expect(surpriseBand(Math.log(0.005))).toBe(3);
    expect(surpriseBand(Math.log(1e-6))).toBe(SURPRISE_BANDS.length - 1);
    const tokens = [token(0, 1), token(1, 2), { id: 9, text: 'x' }];
    const score = paneScore(tokens)!;
    const expectedMean = (tokens[0].inspection!.logprob + tokens[1].inspection!.logprob) / 2;
    expect(score.tokens).toBe(2);
    expect(score.meanLogprob).toBeCloseTo(expectedMean, 12);
    expect(score.perplexity).toBeCloseTo(Math.exp(-expectedMean), 12);
    expect(score.topChoiceShare).toBe(0.5);
    expect(paneScore([{ id: 1, text: 'a' }])).toBeNull();
  });

  test('a rerun of the same prompt and seed with other settings says where each pane departs', () => {
    const previous: RunRecord = {
      prompt: 'Hi',
      seed: 42,
      options: OPTIONS,
      ids: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    };
    const now = [
      [
        { id: 1, text: '' },
        { id: 2, text: '' },
        { id: 9, text: '' },
      ],
      [
        { id: 4, text: '' },
        { id: 5, text: '' },
        { id: 6, text: '' },
      ],
    ];
    expect(departures(previous, 'Hi', { ...OPTIONS, top_k: 3 }, now)).toEqual([2, null]);
    expect(departures(previous, 'Hi', { ...OPTIONS, seed: 7, top_k: 3 }, now)).toBeNull(); // another seed: not a repeat
    expect(departures(previous, 'Hello', { ...OPTIONS, top_k: 3 }, now)).toBeNull(); // another prompt
    expect(departures(previous, 'Hi', OPTIONS, now)).toBeNull(); // same settings: nothing to compare
    expect(departures(null, 'Hi', OPTIONS, now)).toBeNull();
    // Pane 1 against the old pane 1; a rerun that only runs longer departs where the old one ended.
    expect(departures(previous, 'Hi', { ...OPTIONS, max_new_tokens: 4 }, [[...now[1], { id: 7, text: '' }]])).toEqual([0]);
    expect(
      departures({ ...previous, ids: [[4, 5, 6]] }, 'Hi', { ...OPTIONS, max_new_tokens: 4 }, [[...now[1], { id: 7, text: '' }]]),
    ).toEqual([3]);
  });
});

describe('the pipeline view', () => {
  const KNOWN = ['repetition_penalty', 'temperature', 'top_k', 'top_p', 'min_p'];
  const names = (rows: ReturnType<typeof pipelineRows>) => rows.map((r) => ('stage' in r ? r.stage.name : `off:${r.off}`));
  const row = Float32Array.from([3, 1, 0, -1, -2, -3]);
  const settings = { temperature: 1, top_k: 0, top_p: 1, min_p: 0, repetition_penalty: 1 };

  test('the stages that ran, in order, with every known stage the settings turn off where generation would apply it', () => {
    const view = inspectStep(summarizeRow(row, 6), { ...settings, top_k: 3, min_p: 0.1 }, [], 6);
    expect(names(pipelineRows(view.stages, KNOWN))).toEqual(['off:repetition_penalty', 'off:temperature', 'top_k', 'off:top_p', 'min_p']);
    const greedy = inspectStep(summarizeRow(row, 6), { ...settings, temperature: 0, repetition_penalty: 1.2 }, [1], 6);
    expect(names(pipelineRows(greedy.stages, KNOWN))).toEqual([
      'repetition_penalty',
      'off:temperature',
      'off:top_k',
      'off:top_p',
      'off:min_p',
      'greedy',
    ]);
  });

  test('a processor the page does not know is a stage in its place (a new HF processor needs no code here)', () => {
    const view = inspectStep(summarizeRow(row, 6), { ...settings, top_k: 3, top_p: 0.5 }, [], 6);
    const [top_k, top_p] = view.stages;
    const typical: PipelineStage = { ...top_p, name: 'typical_p', label: 'typical-p' };
    expect(names(pipelineRows([top_k, top_p, typical], KNOWN))).toEqual([
      'off:repetition_penalty',
      'off:temperature',
      'top_k',
      'top_p',
      'typical_p',
      'off:min_p',
    ]);
  });

  test('a stage listed only when it runs takes its place in generation’s order: min-p, off, still comes before typical-p', () => {
    const ORDER = ['repetition_penalty', 'temperature', 'top_k', 'top_p', 'min_p', 'typical_p', 'eta_cutoff'];
    const view = inspectStep(summarizeRow(row, 6), { ...settings, top_k: 3, typical_p: 0.5 }, [], 6);
    expect(names(pipelineRows(view.stages, ORDER, KNOWN))).toEqual([
      'off:repetition_penalty',
      'off:temperature',
      'top_k',
      'off:top_p',
      'off:min_p',
      'typical_p',
    ]);
  });

  test('a stage slider moves the page setting that stands for the same Hugging Face option', () => {
    expect(settingsPatch({ top_p: 0.5 })).toEqual({ top_p: 0.5 });
    expect(settingsPatch({ top_k: 3, temperature: 0.7, min_p: 0.1, repetition_penalty: 1.2 })).toEqual({
      top_k: 3,
      temperature: 0.7,
      min_p: 0.1,
      repetition_penalty: 1.2,
    });
    expect(samplerSettings({ ...DEFAULT_SETTINGS, ...settingsPatch({ top_p: 0.5 }) }).top_p).toBe(0.5);
  });
});
