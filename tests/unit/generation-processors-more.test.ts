/**
 * The warpers beyond temperature / top-k / top-p / min-p (top-h, typical-p, epsilon, eta) and the
 * no-repeat n-gram block, against Hugging Face (fixture `sampling_more`: kept ids exactly,
 * probabilities within 1e-5), then their edge cases as HF handles them: ties, everything cut,
 * min_tokens_to_keep.
 */
import { describe, expect, it } from 'vitest';
import {
  applyProcessors,
  buildLogitsProcessors,
  EpsilonLogitsWarper,
  EtaLogitsWarper,
  NoRepeatNGramLogitsProcessor,
  TopHLogitsWarper,
  TypicalLogitsWarper,
  type ProcessorName,
} from '../../src/generation/logitsProcessors';
import { validateOptions } from '../../src/generation/options';
import { distribution } from '../../src/generation/sampler';
import { fixtureExpected, fixtureLastLogits, type FixtureCase } from '../helpers/fixture';

interface MoreEntry {
  settings: Record<string, number>;
  case: number;
  prev_ids: number[];
  kept_ids: number[];
  probs: number[];
}
const expected = fixtureExpected() as unknown as { cases: FixtureCase[]; sampling_more: MoreEntry[] };

/** Each fixture entry names only what it turns on; everything else is off (HF's defaults, top_k 0). */
function processorsFor(settings: Record<string, number>) {
  return buildLogitsProcessors({ ...validateOptions({ do_sample: true, top_k: 0, ...settings }) });
}

const kept = (scores: Float64Array) => [...scores.keys()].filter((id) => scores[id] !== -Infinity);

describe('more processors against Hugging Face (fixture sampling_more)', () => {
  it('the entries cover every new processor, each built in HF order', () => {
    const order: ProcessorName[] = [
      'repetition_penalty',
      'no_repeat_ngram_size',
      'temperature',
      'top_h',
      'top_k',
      'top_p',
      'min_p',
      'typical_p',
      'epsilon_cutoff',
      'eta_cutoff',
    ];
    const built = new Set<ProcessorName>();
    for (const { settings } of expected.sampling_more) {
      const names = processorsFor(settings).map((p) => p.name);
      expect(names).toEqual(order.filter((name) => name in settings));
      names.forEach((name) => built.add(name));
    }
    for (const name of ['no_repeat_ngram_size', 'top_h', 'typical_p', 'epsilon_cutoff', 'eta_cutoff'] as const)
      expect(built).toContain(name);
  });

  for (const entry of expected.sampling_more) {
    it(`matches HF for ${JSON.stringify(entry.settings)} (case ${entry.case})`, () => {
      const scores = Float64Array.from(fixtureLastLogits(expected.cases[entry.case]));
      const got = distribution(applyProcessors(processorsFor(entry.settings), scores, entry.prev_ids));
      expect([...got.ids].sort((a, b) => a - b)).toEqual([...entry.kept_ids].sort((a, b) => a - b));
      const gotProb = new Map(got.ids.map((id, i) => [id, got.probs[i]]));
      let worst = 0;
      entry.kept_ids.forEach((id, i) => (worst = Math.max(worst, Math.abs(gotProb.get(id)! - entry.probs[i]))));
      expect(worst).toBeLessThan(1e-5);
    });
  }

  it('every processor says its inspector label', () => {
    const labels = buildLogitsProcessors({
      ...validateOptions({
        do_sample: true,
        repetition_penalty: 1.2,
        no_repeat_ngram_size: 2,
        temperature: 0.9,
        top_h: 0.5,
        top_p: 0.9,
        min_p: 0.1,
        typical_p: 0.9,
        epsilon_cutoff: 0.001,
        eta_cutoff: 0.001,
      }),
    }).map((p) => p.label);
    expect(labels).toEqual([
      'repetition penalty',
      'no-repeat n-gram',
      'temperature',
      'top-h',
      'top-k',
      'top-p',
      'min-p',
      'typical-p',
      'epsilon',
      'eta',
    ]);
  });
});

describe('no_repeat_ngram_size', () => {
  it('bans the token that would repeat an n-gram already in the sequence, prompt included', () => {
    const scores = new Float64Array(10);
    new NoRepeatNGramLogitsProcessor(2).apply(scores, [1, 2, 3, 1, 4, 1]); // bigrams (1,2) and (1,4) exist
    expect(kept(scores)).toEqual([0, 1, 3, 5, 6, 7, 8, 9]);
  });

  it('size 1 bans every id already present; nothing is banned before an n-gram can complete', () => {
    const one = new Float64Array(5);
    new NoRepeatNGramLogitsProcessor(1).apply(one, [0, 3]);
    expect(kept(one)).toEqual([1, 2, 4]);
    const three = new Float64Array(5);
    new NoRepeatNGramLogitsProcessor(3).apply(three, [2]);
    expect(kept(three)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('top_h', () => {
  it('always keeps the likeliest token, and cuts everything beyond the 100 likeliest', () => {
    const scores = Float64Array.from({ length: 300 }, (_, i) => -i / 1000); // nearly flat: 300 candidates
    new TopHLogitsWarper(1).apply(scores);
    expect(kept(scores).length).toBeLessThanOrEqual(TopHLogitsWarper.CANDIDATES);
    const tiny = Float64Array.from([0, 0, 0]);
    new TopHLogitsWarper(1e-9).apply(tiny);
    expect(kept(tiny)).toEqual([0]); // ties: the lower id is the likeliest, as torch.topk returns it
  });
});

describe('typical_p', () => {
  it('keeps the min_tokens_to_keep closest to the entropy even when the first already reaches the mass', () => {
    const scores = Float64Array.from([Math.log(0.9), Math.log(0.05), Math.log(0.05)]);
    const one = Float64Array.from(scores);
    new TypicalLogitsWarper(0.01).apply(one);
    expect(kept(one).length).toBe(1);
    const two = Float64Array.from(scores);
    new TypicalLogitsWarper(0.01, 2).apply(two);
    expect(kept(two).length).toBe(2);
  });

  it('keeps every token as close to the entropy as the one that reaches the mass (ties)', () => {
    const scores = Float64Array.from([0, 0, 0, 0]); // uniform: every surprise equals the entropy
    new TypicalLogitsWarper(0.3).apply(scores);
    expect(kept(scores)).toEqual([0, 1, 2, 3]);
  });

  it('leaves cut tokens cut and keeps all the others when the mass is never reached', () => {
    const scores = Float64Array.from([1, -Infinity, 2]);
    new TypicalLogitsWarper(1.5).apply(scores); // a mass the probabilities never reach (validateOptions refuses it; the warper copes)
    expect(kept(scores)).toEqual([0, 2]);
  });
});

describe('epsilon_cutoff and eta_cutoff', () => {
  it('epsilon: drops tokens below epsilon; when all are below, keeps the likeliest (and its ties)', () => {
    const scores = Float64Array.from([Math.log(0.6), Math.log(0.3), Math.log(0.1)]);
    new EpsilonLogitsWarper(0.2).apply(scores);
    expect(kept(scores)).toEqual([0, 1]);
    const flat = Float64Array.from([0, 0, 0, -1]);
    new EpsilonLogitsWarper(0.9).apply(flat); // every probability < 0.9
    expect(kept(flat)).toEqual([0, 1, 2]);
    const two = Float64Array.from([2, 1, 0, -1]);
    new EpsilonLogitsWarper(0.99, 2).apply(two);
    expect(kept(two)).toEqual([0, 1]);
  });

  it('eta: the cutoff is min(eta, sqrt(eta)·e^-entropy), so a flat distribution keeps more', () => {
    const peaked = Float64Array.from([Math.log(0.97), Math.log(0.02), Math.log(0.01)]);
    new EtaLogitsWarper(0.015).apply(peaked); // low entropy: cutoff = 0.015, drops 0.01
    expect(kept(peaked)).toEqual([0, 1]);
    const entropy = -(0.4 * Math.log(0.4) + 0.35 * Math.log(0.35) + 0.25 * Math.log(0.25));
    const eta = 0.3;
    const cutoff = Math.min(eta, Math.sqrt(eta) * Math.exp(-entropy)); // ≈ 0.18: keeps all three
    expect(cutoff).toBeLessThan(0.25);
    const flat = Float64Array.from([Math.log(0.4), Math.log(0.35), Math.log(0.25)]);
    new EtaLogitsWarper(eta).apply(flat);
    expect(kept(flat)).toEqual([0, 1, 2]);
    const all = Float64Array.from([0, -5, -5]);
    new EtaLogitsWarper(0.999, 1).apply(all); // everything below the cutoff: the likeliest stays
    expect(kept(all)).toEqual([0]);
  });
});

describe('min_tokens_to_keep under beam sampling', () => {
  it('is 2 with num_beams > 1 and do_sample, for every warper that takes it', () => {
    const options = validateOptions({ do_sample: true, num_beams: 2, top_k: 1, top_p: 0.01, typical_p: 0.01, epsilon_cutoff: 0.9 });
    const scores = Float64Array.from([3, 2, 1, 0]);
    applyProcessors(buildLogitsProcessors(options), scores, []);
    expect(kept(scores)).toEqual([0, 1]);
    const single = Float64Array.from([3, 2, 1, 0]);
    applyProcessors(buildLogitsProcessors({ ...options, num_beams: 1 }), single, []);
    expect(kept(single)).toEqual([0]);
  });
});
