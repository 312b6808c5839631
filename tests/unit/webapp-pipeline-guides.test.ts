/**
 * The sampling pipeline's words (src/ui/pipelineGuides.ts) for the warpers beyond the Sampling
 * controls: their thresholds recomputed here from the distribution by hand (Hugging Face's
 * formulas), and the counts they state equal the replay's own kept sets.
 */
import { describe, expect, test } from 'vitest';
import { inspectStep, type SamplerSettings } from '../../src/generation/inspect';
import { summarizeRow } from '../../src/model/stepLogits';
import { GUIDES, LISTED_WHEN_OFF, stageSentence } from '../../src/ui/pipelineGuides';

const row = Float32Array.from([3, 1, 0, -1, -2, -3]);
const OFF: SamplerSettings = { temperature: 1, top_k: 0, top_p: 1, min_p: 0, repetition_penalty: 1 };
/** The row's probabilities and entropy (nats), by hand. */
const z = row.reduce((sum, x) => sum + Math.exp(x), 0);
const probs = Array.from(row, (x) => Math.exp(x) / z);
const entropy = -probs.reduce((sum, p) => sum + p * Math.log(p), 0);

function replay(settings: Partial<SamplerSettings>, history: number[] = []) {
  const view = inspectStep(summarizeRow(row, 6), { ...OFF, ...settings }, history, 6);
  return { view, settings: { ...OFF, ...settings } };
}

describe('pipeline words for the other warpers', () => {
  test('every stage measures the entropy of what it received: the row’s own first, then the renormalised survivors', () => {
    const { view } = replay({ top_k: 3, typical_p: 0.9 });
    const [topK, typical] = view.stages;
    expect(topK.entropyBefore).toBeCloseTo(entropy, 6);
    const kept = probs.slice(0, 3).map((p) => p / (probs[0] + probs[1] + probs[2]));
    expect(typical.entropyBefore).toBeCloseTo(-kept.reduce((sum, p) => sum + p * Math.log(p), 0), 6);
  });

  test('eta states η = min(ε, √ε·e^(−H)) of the distribution it received, and the tokens it keeps are those at or above it', () => {
    const epsilon = 0.3;
    const eta = Math.min(epsilon, Math.sqrt(epsilon) * Math.exp(-entropy));
    expect(eta).toBeLessThan(epsilon); // the entropy term decides here
    const { view, settings } = replay({ eta_cutoff: epsilon });
    const [stage] = view.stages;
    const kept = probs.filter((p) => p >= eta).length;
    expect(stage.kept).toBe(kept);
    const rule = GUIDES.eta_cutoff.rule(stage, settings, undefined);
    expect(rule).toContain(`e^(−${entropy.toFixed(2)})`);
    expect(rule).toMatch(new RegExp(`= ${(eta * 100).toFixed(2)} %$`));
    expect(stageSentence(stage, settings, undefined, 0)).toBe(
      `Eta 0.3: of all 6 tokens, whose entropy is ${entropy.toFixed(2)} nats, those below η = ${(eta * 100).toFixed(2)} % are cut (a flatter distribution cuts less): ${6 - kept} go, ${kept} stay.`,
    );
  });

  test('typical-p names the entropy it centres on and the mass its kept tokens hold', () => {
    const { view, settings } = replay({ typical_p: 0.5 });
    const [stage] = view.stages;
    const sentence = stageSentence(stage, settings, undefined, 0);
    expect(sentence).toContain(`distribution's entropy (${entropy.toFixed(2)} nats)`);
    expect(sentence).toContain(`the ${stage.kept === 1 ? '1 token' : `${stage.kept} tokens`} whose surprise`);
    expect(sentence).toContain(`typical-p asks for 50.00 %`);
  });

  test('epsilon writes a tiny threshold with two significant digits, not 0.00 %', () => {
    const { view, settings } = replay({ epsilon_cutoff: 0.00003 });
    expect(GUIDES.epsilon_cutoff.rule(view.stages[0], settings, undefined)).toBe('probability < ε = 0.0030 %');
  });

  test('no-repeat n-gram counts the tokens that would repeat an n-gram of the text', () => {
    // "1 2 1": token 2 next would repeat the 2-gram "1 2"; it is the only one cut.
    const { view, settings } = replay({ no_repeat_ngram_size: 2 }, [1, 2, 1]);
    const [stage] = view.stages;
    expect(stage.name).toBe('no_repeat_ngram_size');
    expect(stage.received - stage.kept).toBe(1);
    expect(stageSentence(stage, settings, undefined, 3)).toBe(
      `No repeated 2-grams: 1 token would complete a 2-gram the text already has and is cut (${(probs[2] * 100).toFixed(2)} % of the probability).`,
    );
    const none = replay({ no_repeat_ngram_size: 2 }, [1, 2, 3]);
    expect(stageSentence(none.view.stages[0], none.settings, undefined, 3)).toMatch(/so none is cut\.$/);
  });

  test('the pipeline lists the Sampling controls’ stages when off; the other warpers only when they run', () => {
    expect(LISTED_WHEN_OFF).toEqual(['repetition_penalty', 'temperature', 'top_k', 'top_p', 'min_p']);
    for (const name of ['no_repeat_ngram_size', 'top_h', 'typical_p', 'epsilon_cutoff', 'eta_cutoff'])
      expect(GUIDES[name].setting).toBe(name);
  });
});
