/**
 * Beam search against Hugging Face `generate(num_beams=…)` on the tiny fixture (expected.json
 * `beam_search`: ids exactly, sequences_scores within 1e-4), on one backend, plus the beam events
 * and the cache bookkeeping.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BeamEvent } from '../../src/generation/beamSearch';
import { generate, type GenerationControl, type GenerationResult, type TokenEvent } from '../../src/generation/generate';
import type { GenerationOptions } from '../../src/generation/options';
import { GPT2 } from '../../src/model/gpt2';
import { fixtureConfigJson, fixtureExpected, fixtureSafetensors } from './fixture';

export interface BeamCase {
  settings: GenerationOptions & { num_beams: number; max_new_tokens: number };
  input_ids: number[];
  sequences: number[][];
  sequences_scores: number[];
}

export function beamCases(): BeamCase[] {
  return (fixtureExpected() as unknown as { beam_search: BeamCase[] }).beam_search;
}

export async function runBeams(model: GPT2, c: BeamCase, control: GenerationControl = {}) {
  const events: TokenEvent[] = [];
  const stream = generate(model, c.input_ids, c.settings, control);
  let step = await stream.next();
  while (!step.done) {
    events.push(step.value);
    step = await stream.next();
  }
  return { events, result: step.value as GenerationResult };
}

/** `cases`: which fixture cases to run (all by default; WebGPU on SwiftShader is slow). */
export function describeBeamSearch(
  backend: string,
  setup: () => Promise<void>,
  cases: (c: BeamCase, i: number) => boolean = () => true,
): void {
  describe(`beam search on tfjs '${backend}' against Hugging Face (fixture beam_search)`, () => {
    let model: GPT2;
    beforeAll(async () => {
      await setup();
      model = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
    });
    afterAll(() => model?.dispose());

    beamCases().forEach((c, i) => {
      if (!cases(c, i)) return;
      it(`matches generate(${JSON.stringify(c.settings)})`, async () => {
        const { result, events } = await runBeams(model, c);
        expect(result.sequences.map((s) => s.ids)).toEqual(c.sequences);
        result.sequences.forEach((s, j) => expect(Math.abs(s.score! - c.sequences_scores[j])).toBeLessThan(1e-4));
        // The tokens are yielded once the search ends, sequence by sequence, and add up to the texts.
        for (const [j, seq] of result.sequences.entries()) {
          const mine = events.filter((e) => e.sequence === j);
          expect(mine.map((e) => e.tokenId)).toEqual(seq.ids);
          expect(mine.map((e) => e.text).join('')).toBe(seq.text);
        }
      });
    });

    it('reports every step as beam events: 2 × num_beams candidates, num_beams kept, then the final ranking', async () => {
      const c = beamCases().find(
        (x) => x.settings.num_beams === 4 && x.settings.num_return_sequences === 4 && x.settings.eos_token_id === 1158,
      )!;
      const beams: BeamEvent[] = [];
      const before = tf.memory().numTensors;
      const { result } = await runBeams(model, c, { onBeam: (e) => beams.push(e) });
      expect(tf.memory().numTensors).toBe(before);
      const steps = beams.filter((e) => e.type === 'step');
      expect(steps.length).toBe(c.settings.max_new_tokens);
      for (const [s, step] of steps.entries()) {
        expect(step.step).toBe(s);
        expect(step.candidates).toHaveLength(8);
        const last = s === steps.length - 1; // every candidate reaches the budget: none runs on
        expect(step.candidates.filter((x) => x.status === 'kept').map((x) => x.beam)).toEqual(last ? [] : [0, 1, 2, 3]);
        for (const x of step.candidates) expect(x.logprob).toBeLessThanOrEqual(0);
        // Candidates are ranked by cumulative log-probability and extend this step's beams.
        expect(step.candidates.map((x) => x.logprob)).toEqual([...step.candidates.map((x) => x.logprob)].sort((a, b) => b - a));
        for (const x of step.candidates) expect(x.parent).toBeLessThan(step.beams.length);
      }
      // Step 0 extends the one real beam; EOS (1158) finishes hypotheses with their normalised scores.
      expect(new Set(steps[0].candidates.map((x) => x.parent))).toEqual(new Set([0]));
      const finished = steps.flatMap((x) => x.candidates.filter((y) => y.status === 'finished'));
      expect(finished.some((x) => x.tokenId === 1158)).toBe(true);
      for (const x of finished) expect(x.score).toBeDefined();
      const done = beams.at(-1)!;
      expect(done.type).toBe('done');
      if (done.type === 'done') {
        expect(done.reason).toBe('length');
        expect(done.ranking.map((h) => h.ids)).toEqual(result.sequences.map((s) => s.ids));
        expect(done.ranking.map((h) => h.score)).toEqual(result.sequences.map((s) => s.score));
      }
      expect(result.sequences[1].finishReason).toBe('eos');
      expect(result.sequences[0].finishReason).toBe('length');
    });
  });
}
