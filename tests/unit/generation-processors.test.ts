import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  applyProcessors,
  buildLogitsProcessors,
  kthLargest,
  MinPLogitsWarper,
  RepetitionPenaltyLogitsProcessor,
  TopKLogitsWarper,
  TopPLogitsWarper,
  type ProcessorName,
} from '../../src/generation/logitsProcessors';
import { HF_DEFAULTS } from '../../src/generation/options';
import { distribution, sample } from '../../src/generation/sampler';
import { MAX_SEED, randomSeed, Xoshiro128StarStar } from '../../src/generation/random';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtureDir = path.resolve(repoRoot, '../shared/fixtures/tiny-gpt2');

interface SamplingEntry {
  settings: Record<string, number>;
  prev_ids: number[];
  kept_ids: number[];
  probs: number[];
}
const expected = JSON.parse(readFileSync(path.join(fixtureDir, 'expected.json'), 'utf8')) as {
  cases: { last_logits_file: string }[];
  sampling: { logits_from_case: number; settings: SamplingEntry[] };
};

function fixtureLogits(): Float32Array {
  const file = expected.cases[expected.sampling.logits_from_case].last_logits_file;
  const bytes = readFileSync(path.join(fixtureDir, file));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Each fixture entry names only the warpers it turns on; everything else is off. */
function processorsFor(settings: Record<string, number>) {
  return buildLogitsProcessors({
    do_sample: true,
    temperature: 1,
    top_k: 0,
    top_p: 1,
    min_p: 0,
    repetition_penalty: 1,
    ...settings,
  });
}

function distributionFor(entry: SamplingEntry) {
  const scores = Float64Array.from(fixtureLogits());
  return distribution(applyProcessors(processorsFor(entry.settings), scores, entry.prev_ids));
}

describe('logits processors against Hugging Face (fixture sampling.settings)', () => {
  it('builds exactly the processors each entry turns on, in HF order, and the entries cover every processor', () => {
    const order: ProcessorName[] = ['repetition_penalty', 'temperature', 'top_k', 'top_p', 'min_p'];
    const off: Partial<Record<ProcessorName, number>> = { repetition_penalty: 1, temperature: 1, top_k: 0, top_p: 1, min_p: 0 };
    const built = new Set<ProcessorName>();
    for (const { settings } of expected.sampling.settings) {
      const names = processorsFor(settings).map((p) => p.name);
      expect(names).toEqual(order.filter((name) => name in settings && settings[name] !== off[name]));
      names.forEach((name) => built.add(name));
    }
    expect([...built].sort()).toEqual([...order].sort());
  });

  for (const entry of expected.sampling.settings) {
    it(`matches HF for ${JSON.stringify(entry.settings)}`, () => {
      const got = distributionFor(entry);
      expect([...got.ids].sort((a, b) => a - b)).toEqual([...entry.kept_ids].sort((a, b) => a - b));
      const gotProb = new Map(got.ids.map((id, i) => [id, got.probs[i]]));
      let worst = 0;
      entry.kept_ids.forEach((id, i) => {
        worst = Math.max(worst, Math.abs(gotProb.get(id)! - entry.probs[i]));
      });
      expect(worst).toBeLessThan(1e-5);
    });
  }
});

describe('sampling draws', () => {
  it('lands only on kept ids, with frequencies matching the probabilities (chi-square, fixed seed)', () => {
    const entry =
      expected.sampling.settings.find((e) => JSON.stringify(e.settings) === '{"top_k":50,"top_p":0.95}') ?? expected.sampling.settings[0];
    const scores = applyProcessors(processorsFor(entry.settings), Float64Array.from(fixtureLogits()), entry.prev_ids);
    const kept = new Set(entry.kept_ids);
    const random = Xoshiro128StarStar.fromSeed(42);

    // Over the full vocabulary: every draw is a kept id.
    for (let i = 0; i < 300; i++) expect(kept.has(sample(scores, random))).toBe(true);

    // The frequencies: the surviving scores alone (sample skips -Infinity, so this is the same walk, faster).
    const survivors = [...scores.keys()].filter((id) => scores[id] !== -Infinity);
    const compact = Float64Array.from(survivors, (id) => scores[id]);
    const draws = 20_000;
    const counts = new Map<number, number>();
    for (let i = 0; i < draws; i++) {
      const id = survivors[sample(compact, random)];
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const id of counts.keys()) expect(kept.has(id)).toBe(true);

    // Pool rare ids so every expected count is >= 5, then compare with the chi-square critical value.
    let chiSquare = 0;
    let bins = 0;
    let pooledExpected = 0;
    let pooledObserved = 0;
    entry.kept_ids.forEach((id, i) => {
      const exp = entry.probs[i] * draws;
      const obs = counts.get(id) ?? 0;
      if (exp >= 5) {
        chiSquare += (obs - exp) ** 2 / exp;
        bins++;
      } else {
        pooledExpected += exp;
        pooledObserved += obs;
      }
    });
    if (pooledExpected > 0) {
      chiSquare += (pooledObserved - pooledExpected) ** 2 / pooledExpected;
      bins++;
    }
    expect(bins).toBeGreaterThan(10);
    // 99.9th percentile of chi-square with `bins - 1` degrees of freedom (Wilson–Hilferty approximation).
    const df = bins - 1;
    const critical = df * (1 - 2 / (9 * df) + 3.09 * Math.sqrt(2 / (9 * df))) ** 3;
    expect(chiSquare).toBeLessThan(critical);
  });

  it('the same random stream gives the same draws', () => {
    const scores = Float64Array.from(fixtureLogits());
    const a = Xoshiro128StarStar.fromSeed(7);
    const b = Xoshiro128StarStar.fromSeed(7);
    const drawsA = Array.from({ length: 50 }, () => sample(scores, a));
    const drawsB = Array.from({ length: 50 }, () => sample(scores, b));
    expect(drawsA).toEqual(drawsB);
  });
});

describe('processor details', () => {
  it('top-k keeps every token tied with the k-th largest', () => {
    const scores = Float64Array.from([1, 3, 2, 2, 0]);
    new TopKLogitsWarper(2).apply(scores);
    expect([...scores]).toEqual([-Infinity, 3, 2, 2, -Infinity]);
  });

  it('top-k never keeps fewer than one token and ignores k beyond the vocabulary', () => {
    const a = Float64Array.from([1, 3, 2]);
    new TopKLogitsWarper(10).apply(a);
    expect([...a]).toEqual([1, 3, 2]);
    expect(kthLargest(Float64Array.from([5, 1, 4, 2, 3]), 2)).toBe(4);
  });

  it('top-p = 0 keeps exactly the most likely token, top-p = 1 keeps everything', () => {
    const zero = Float64Array.from([1, 3, 2]);
    new TopPLogitsWarper(0).apply(zero);
    expect([...zero]).toEqual([-Infinity, 3, -Infinity]);
    const one = Float64Array.from([1, 3, 2]);
    new TopPLogitsWarper(1).apply(one);
    expect([...one]).toEqual([1, 3, 2]);
  });

  it('top-p equals a literal transcription of HF (full ascending sort + cumsum) on varied distributions', () => {
    /** HF TopPLogitsWarper, line by line: sort ascending, cumulative softmax, remove <= 1 - top_p, keep the last. */
    function hfTopP(scores: Float64Array, topP: number): Set<number> {
      const order = [...scores.keys()].sort((a, b) => scores[a] - scores[b]);
      const max = Math.max(...scores);
      const exps = order.map((i) => Math.exp(scores[i] - max));
      const total = exps.reduce((a, b) => a + b, 0);
      const kept = new Set<number>();
      let cumulative = 0;
      order.forEach((id, rank) => {
        cumulative += exps[rank] / total;
        if (!(cumulative <= 1 - topP) || rank === order.length - 1) kept.add(id);
      });
      return kept;
    }
    const random = Xoshiro128StarStar.fromSeed(99);
    for (let trial = 0; trial < 60; trial++) {
      const scale = [0.1, 1, 5, 20][trial % 4];
      const scores = Float64Array.from({ length: 2000 }, () => scale * Math.log(-Math.log(random.nextFloat() + 1e-300)) * -1);
      const topP = [0, 0.1, 0.5, 0.9, 0.95, 0.999][trial % 6];
      const warped = Float64Array.from(scores);
      new TopPLogitsWarper(topP).apply(warped);
      const kept = new Set([...warped.keys()].filter((i) => warped[i] !== -Infinity));
      expect(kept).toEqual(hfTopP(scores, topP));
    }
  });

  it('min-p drops tokens below min_p times the top probability', () => {
    const scores = Float64Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);
    new MinPLogitsWarper(0.5).apply(scores); // threshold 0.25
    expect(scores[2]).toBe(-Infinity);
    expect(Number.isFinite(scores[1])).toBe(true);
  });

  it('repetition penalty divides positive and multiplies negative logits, once per distinct id', () => {
    const scores = Float64Array.from([2, -2, 2]);
    new RepetitionPenaltyLogitsProcessor(2).apply(scores, [0, 1, 1, 1]);
    expect([...scores]).toEqual([1, -4, 2]);
  });

  it('greedy builds no warpers, only the repetition penalty', () => {
    const greedy = buildLogitsProcessors({ ...HF_DEFAULTS, do_sample: false, repetition_penalty: 1.2 });
    expect(greedy.map((p) => p.constructor.name)).toEqual(['RepetitionPenaltyLogitsProcessor']);
    const sampling = buildLogitsProcessors({
      ...HF_DEFAULTS,
      do_sample: true,
      temperature: 0.7,
      top_p: 0.9,
      min_p: 0.1,
      repetition_penalty: 1.1,
    });
    expect(sampling.map((p) => p.constructor.name)).toEqual([
      'RepetitionPenaltyLogitsProcessor',
      'TemperatureLogitsWarper',
      'TopKLogitsWarper',
      'TopPLogitsWarper',
      'MinPLogitsWarper',
    ]);
  });
});

describe('xoshiro128** seeded by SplitMix64', () => {
  it("a fresh seed is an integer the page's Seed field takes (0..2^32-1), different each time", () => {
    const seeds = Array.from({ length: 20 }, () => randomSeed());
    for (const seed of seeds) expect(Number.isInteger(seed) && seed >= 0 && seed <= MAX_SEED).toBe(true);
    expect(new Set(seeds).size).toBeGreaterThan(1);
    expect(randomSeed(() => 0)).toBe(0);
    expect(randomSeed(() => 0.999999999999)).toBe(MAX_SEED);
  });

  it('matches the reference output of xoshiro128** for state [1, 2, 3, 4]', () => {
    const x = new Xoshiro128StarStar([1, 2, 3, 4]);
    expect(Array.from({ length: 6 }, () => x.nextUint32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('gives different streams per sequence index and floats in [0, 1)', () => {
    const a = Xoshiro128StarStar.fromSeed(1, 0);
    const b = Xoshiro128StarStar.fromSeed(1, 1);
    const fa = Array.from({ length: 1000 }, () => a.nextFloat());
    const fb = Array.from({ length: 1000 }, () => b.nextFloat());
    expect(fa).not.toEqual(fb);
    for (const f of [...fa, ...fb]) expect(f >= 0 && f < 1).toBe(true);
    const mean = fa.reduce((s, f) => s + f, 0) / fa.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
  });
});
