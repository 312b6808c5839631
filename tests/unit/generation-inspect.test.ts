/**
 * The token inspector's numbers (summarizeRow → inspectStep) against Hugging Face's exact sampling
 * distributions for the fixture's last-position logits, and against the float64 reference's
 * log-sum-exp. Statuses are checked against HF's kept sets and the raw ranks, not against our code.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { inspectStep, ReplayCache, type SamplerSettings } from '../../src/generation/inspect';
import { applyProcessors, buildLogitsProcessors } from '../../src/generation/logitsProcessors';
import { sampleAt } from '../../src/generation/sampler';
import { expandRow, HISTOGRAM_BIN_WIDTH, summarizeRow, type StepLogits } from '../../src/model/stepLogits';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtureDir = path.resolve(repoRoot, '../shared/fixtures/tiny-gpt2');

interface SamplingEntry {
  settings: Record<string, number>;
  prev_ids: number[];
  kept_ids: number[];
  probs: number[];
}
const expected = JSON.parse(readFileSync(path.join(fixtureDir, 'expected.json'), 'utf8')) as {
  cases: { last_logits_file: string; positions: { logsumexp: number; top5_ids: number[] }[] }[];
  sampling: { logits_from_case: number; settings: SamplingEntry[] };
};
const fixtureCase = expected.cases[expected.sampling.logits_from_case];
const bytes = readFileSync(path.join(fixtureDir, fixtureCase.last_logits_file));
const row = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
const V = row.length;
const M = 256;

function settingsOf(entry: SamplingEntry): SamplerSettings {
  return { temperature: 1, top_k: 0, top_p: 1, min_p: 0, repetition_penalty: 1, ...entry.settings };
}

/** Raw rank (1-based) of every id, by descending logit, lower id first on ties. */
const rankOf = new Map([...row.keys()].sort((a, b) => row[b] - row[a] || a - b).map((id, i) => [id, i + 1]));

describe('summarizeRow', () => {
  const step = summarizeRow(row, M, [54, 13506, 345, 389]);

  it('lists the top M ids by descending logit, then the extra ids, with their exact logits', () => {
    expect(step.top).toBe(M);
    expect(Array.from(step.ids.subarray(0, 5))).toEqual(expected.cases[0].positions[3].top5_ids);
    for (let i = 0; i < M; i++) expect(rankOf.get(step.ids[i])).toBe(i + 1);
    for (let i = 0; i < step.ids.length; i++) expect(step.logits[i]).toBe(row[step.ids[i]]);
    expect(new Set(step.ids).size).toBe(step.ids.length);
    expect(step.ids.length).toBeGreaterThanOrEqual(M);
  });

  it("carries the whole row's log-sum-exp (float64 reference) and entropy", () => {
    expect(Math.abs(step.logSumExp - fixtureCase.positions[3].logsumexp)).toBeLessThan(1e-4);
    let entropy = 0;
    for (const x of row) {
      const p = Math.exp(x - fixtureCase.positions[3].logsumexp);
      entropy -= p * Math.log(p);
    }
    expect(Math.abs(step.entropy - entropy)).toBeLessThan(1e-4);
  });

  it('counts every logit once in the histogram, in the bin below the largest it belongs to', () => {
    expect(step.histogram.reduce((a, b) => a + b, 0)).toBe(V);
    const max = row[step.ids[0]];
    const lowest = row.reduce((a, b) => Math.min(a, b));
    const lowestBin = Math.floor((max - lowest) / HISTOGRAM_BIN_WIDTH);
    expect(step.histogram[lowestBin]).toBeGreaterThan(0);
    expect(step.histogram.slice(lowestBin + 1).every((c) => c === 0)).toBe(true);
  });

  it('expands back to a row that is exact where listed and never above the M-th logit elsewhere', () => {
    const { scores, exact } = expandRow(step, V);
    const ceiling = step.logits[M - 1];
    let exactCount = 0;
    for (let id = 0; id < V; id++) {
      if (exact[id]) {
        exactCount++;
        expect(scores[id]).toBe(row[id]);
      } else {
        expect(scores[id]).toBeLessThanOrEqual(ceiling);
      }
    }
    expect(exactCount).toBe(step.ids.length);
    // The tail's stand-ins hold the tail's mass to a fraction of a percent.
    let tailTrue = 0;
    let tailApprox = 0;
    for (let id = 0; id < V; id++) {
      if (exact[id]) continue;
      tailTrue += Math.exp(row[id] - step.logSumExp);
      tailApprox += Math.exp(scores[id] - step.logSumExp);
    }
    expect(Math.abs(tailApprox - tailTrue) / tailTrue).toBeLessThan(1e-9); // the stand-ins carry the tail's exact mass
    // At another temperature the stand-ins are estimates, still close.
    let hotTrue = 0;
    let hotApprox = 0;
    for (let id = 0; id < V; id++) {
      if (exact[id]) continue;
      hotTrue += Math.exp((row[id] - step.logSumExp) / 0.5);
      hotApprox += Math.exp((scores[id] - step.logSumExp) / 0.5);
    }
    expect(Math.abs(hotApprox - hotTrue) / hotTrue).toBeLessThan(0.005);
  });
});

describe('inspectStep against Hugging Face (fixture sampling.settings)', () => {
  for (const entry of expected.sampling.settings) {
    const fits = entry.kept_ids.length <= M;
    it(`${JSON.stringify(entry.settings)}: ${fits ? 'exact from the top 256' : 'exact from the whole row; flagged from the top 256'}`, () => {
      const full = summarizeRow(row, fits ? M : V, entry.prev_ids);
      const view = inspectStep(full, settingsOf(entry), entry.prev_ids, V);
      expect(view.keptOutsideListed).toBe(0);
      expect(view.keptCount).toBe(entry.kept_ids.length);
      const byId = new Map(view.candidates.map((c) => [c.id, c]));
      let worst = 0;
      entry.kept_ids.forEach((id, i) => {
        expect(byId.get(id)?.status, `id ${id}`).toBe('kept');
        worst = Math.max(worst, Math.abs(byId.get(id)!.samplingProbability - entry.probs[i]));
      });
      expect(worst).toBeLessThan(1e-5);
      const keptProbability = view.candidates.filter((c) => c.status === 'kept').reduce((s, c) => s + c.samplingProbability, 0);
      expect(keptProbability).toBeCloseTo(1, 9);
      // Model probabilities are the raw softmax, whatever the settings.
      for (const c of view.candidates.slice(0, 5)) {
        expect(Math.abs(c.modelProbability - Math.exp(row[c.id] - fixtureCase.positions[3].logsumexp))).toBeLessThan(1e-6);
      }

      if (!fits) {
        const partial = inspectStep(summarizeRow(row, M, entry.prev_ids), settingsOf(entry), entry.prev_ids, V);
        expect(partial.keptOutsideListed).toBeGreaterThan(0); // the view must say the list is not the whole story
        expect(Math.abs(partial.keptCount - entry.kept_ids.length) / entry.kept_ids.length).toBeLessThan(0.02);
        expect(Math.abs(partial.keptModelShare - view.keptModelShare)).toBeLessThan(0.002);
      }
    });
  }

  it("names the first processor that cut each token (from HF's kept sets and the raw ranks)", () => {
    const cases: { settings: Record<string, number>; cutBefore: (id: number) => string }[] = [
      { settings: { top_k: 50, top_p: 0.95 }, cutBefore: (id) => (rankOf.get(id)! > 50 ? 'cut by top-k' : 'cut by top-p') },
      { settings: { top_p: 0.95 }, cutBefore: () => 'cut by top-p' },
      { settings: { min_p: 0.05 }, cutBefore: () => 'cut by min-p' },
      { settings: { temperature: 2.0, top_k: 5, top_p: 0.5 }, cutBefore: (id) => (rankOf.get(id)! > 5 ? 'cut by top-k' : 'cut by top-p') },
      { settings: { repetition_penalty: 1.3, top_k: 40 }, cutBefore: () => 'cut by top-k' },
    ];
    const statuses = new Set<string>();
    for (const { settings, cutBefore } of cases) {
      const entry = expected.sampling.settings.find((e) => JSON.stringify(e.settings) === JSON.stringify(settings))!;
      const kept = new Set(entry.kept_ids);
      const view = inspectStep(summarizeRow(row, V, entry.prev_ids), settingsOf(entry), entry.prev_ids, V);
      for (const c of view.candidates.slice(0, 400)) {
        expect(c.status, `${JSON.stringify(settings)} id ${c.id}`).toBe(kept.has(c.id) ? 'kept' : cutBefore(c.id));
        expect(c.samplingProbability === 0).toBe(!kept.has(c.id));
        statuses.add(c.status);
      }
    }
    expect([...statuses].sort()).toEqual(['cut by min-p', 'cut by top-k', 'cut by top-p', 'kept']);
  });

  it('places the seeded draw where the sampler walks: the pick is the token sampleAt returns', () => {
    const entry = expected.sampling.settings.find((e) => JSON.stringify(e.settings) === '{"top_k":50,"top_p":0.95}')!;
    const scores = applyProcessors(
      buildLogitsProcessors({ ...settingsOf(entry), do_sample: true }),
      Float64Array.from(row),
      entry.prev_ids,
    );
    const step = summarizeRow(row, M, entry.prev_ids);
    for (const u of [0, 0.013, 0.25, 0.5, 0.77, 0.999999]) {
      const view = inspectStep(step, settingsOf(entry), entry.prev_ids, V, u);
      expect(view.pick).toBe(sampleAt(scores, u));
      const segment = view.segments.find((s) => u >= s.start && u < s.start + s.width)!;
      expect(segment.id).toBe(view.pick);
    }
    const view = inspectStep(step, settingsOf(entry), entry.prev_ids, V, 0.5);
    expect(view.segments.map((s) => s.id)).toEqual([...entry.kept_ids].sort((a, b) => a - b));
    expect(view.segments.reduce((s, seg) => s + seg.width, 0)).toBeCloseTo(1, 12);
  });

  it('temperature 0 keeps only the likeliest token (greedy), after the repetition penalty', () => {
    const view = inspectStep(summarizeRow(row, M), { temperature: 0, top_k: 50, top_p: 0.95, min_p: 0, repetition_penalty: 1 }, [], V);
    expect(view.greedy).toBe(true);
    expect(view.keptCount).toBe(1);
    expect(view.candidates[0]).toMatchObject({ status: 'kept', samplingProbability: 1 });
    expect(view.candidates.slice(1).every((c) => c.status === 'cut by greedy' && c.samplingProbability === 0)).toBe(true);
    const top = view.candidates[0].id;
    const penalised = inspectStep(
      summarizeRow(row, M, [top]),
      { temperature: 0, top_k: 0, top_p: 1, min_p: 0, repetition_penalty: 2 },
      [top],
      V,
    );
    expect(penalised.candidates.find((c) => c.status === 'kept')!.id).not.toBe(top);
  });
});

/**
 * The pipeline's stages against an independent float64 replay of Hugging Face's processors (sorts,
 * no shortcuts), in HF's order; the last stage's kept set is HF's own (the fixture's kept_ids).
 */
describe('inspectStep stages: each processor against the distribution it received', () => {
  interface ReferenceStage {
    name: string;
    kept: number;
    mass: number;
    /** Received probability per id. */
    received: Float64Array;
  }

  function softmax(scores: Float64Array): Float64Array {
    let max = -Infinity;
    for (const s of scores) max = Math.max(max, s);
    const out = scores.map((s) => (s === -Infinity ? 0 : Math.exp(s - max)));
    const sum = out.reduce((a, b) => a + b, 0);
    return out.map((p) => p / sum);
  }

  /** Applies `cut` (returns the ids to remove given the received probabilities) and measures it. */
  function stage(name: string, scores: Float64Array, change: (p: Float64Array) => Set<number> | null): ReferenceStage {
    const received = softmax(scores);
    const removed = change(received) ?? new Set<number>();
    for (const id of removed) scores[id] = -Infinity;
    let kept = 0;
    let mass = 0;
    scores.forEach((s, id) => {
      if (s === -Infinity) return;
      kept++;
      mass += received[id];
    });
    return { name, kept, mass, received };
  }

  function reference(settings: SamplerSettings, prev: number[]): ReferenceStage[] {
    const scores = Float64Array.from(row);
    const out: ReferenceStage[] = [];
    const byProbability = (p: Float64Array) => [...p.keys()].filter((id) => scores[id] !== -Infinity).sort((a, b) => p[b] - p[a]);
    if (settings.repetition_penalty !== 1) {
      out.push(
        stage('repetition_penalty', scores, () => {
          for (const id of new Set(prev))
            scores[id] = scores[id] < 0 ? scores[id] * settings.repetition_penalty : scores[id] / settings.repetition_penalty;
          return null;
        }),
      );
    }
    if (settings.temperature !== 1) {
      out.push(
        stage('temperature', scores, () => {
          scores.forEach((s, id) => (scores[id] = s / settings.temperature));
          return null;
        }),
      );
    }
    if (settings.top_k !== 0) {
      out.push(
        stage('top_k', scores, (p) => {
          const order = byProbability(p);
          const kth = p[order[Math.min(settings.top_k, order.length) - 1]];
          return new Set(order.filter((id) => p[id] < kth));
        }),
      );
    }
    if (settings.top_p < 1) {
      out.push(
        stage('top_p', scores, (p) => {
          // HF: ascending order, cumulative sum, remove where it is <= 1 - top_p, always keep the likeliest.
          const ascending = byProbability(p).reverse();
          const removed = new Set<number>();
          let cumulative = 0;
          for (const id of ascending.slice(0, -1)) {
            cumulative += p[id];
            if (cumulative <= 1 - settings.top_p) removed.add(id);
          }
          return removed;
        }),
      );
    }
    if (settings.min_p > 0) {
      out.push(
        stage('min_p', scores, (p) => {
          const top = Math.max(...p);
          return new Set([...p.keys()].filter((id) => scores[id] !== -Infinity && p[id] < settings.min_p * top));
        }),
      );
    }
    return out;
  }

  for (const entry of expected.sampling.settings) {
    it(`${JSON.stringify(entry.settings)}: every stage's kept count and kept mass (1e-6); the last stage keeps HF's set`, () => {
      const settings = settingsOf(entry);
      const view = inspectStep(summarizeRow(row, V, entry.prev_ids), settings, entry.prev_ids, V);
      const ref = reference(settings, entry.prev_ids);
      expect(view.stages.map((s) => s.name)).toEqual(ref.map((s) => s.name));
      view.stages.forEach((s, i) => {
        expect(s.kept, s.name).toBe(ref[i].kept);
        expect(Math.abs(s.keptMass - ref[i].mass), s.name).toBeLessThan(1e-6);
        expect(s.received, s.name).toBe(i === 0 ? V : ref[i - 1].kept);
        expect(Math.abs(s.topBefore - Math.max(...ref[i].received)), s.name).toBeLessThan(1e-9);
        // The distribution the stage received, for the listed candidates.
        for (const [j, c] of view.candidates.slice(0, 50).entries())
          expect(Math.abs(s.before[j] - ref[i].received[c.id])).toBeLessThan(1e-9);
      });
      // Hugging Face's own kept set is what the last stage leaves, and its mass is what the last stage kept.
      const last = view.stages[view.stages.length - 1];
      expect(last.kept).toBe(entry.kept_ids.length);
      const lastReceived = ref[ref.length - 1].received;
      expect(Math.abs(last.keptMass - entry.kept_ids.reduce((sum, id) => sum + lastReceived[id], 0))).toBeLessThan(1e-6);
    });
  }

  it('top-p after top-k measures the renormalised top-k distribution (top-k 50, top-p 0.95)', () => {
    const entry = expected.sampling.settings.find((e) => JSON.stringify(e.settings) === '{"top_k":50,"top_p":0.95}')!;
    const view = inspectStep(summarizeRow(row, M, entry.prev_ids), settingsOf(entry), entry.prev_ids, V);
    const [topK, topP] = view.stages;
    expect([topK.name, topK.label, topK.kept, topP.name, topP.label, topP.received]).toEqual(['top_k', 'top-k', 50, 'top_p', 'top-p', 50]);
    // Top-50 by raw logit, renormalised: the received distribution sums to 1 over them.
    const top50 = [...rankOf.entries()].filter(([, r]) => r <= 50).map(([id]) => id);
    const z = top50.reduce((s, id) => s + Math.exp(row[id] - fixtureCase.positions[3].logsumexp), 0);
    view.candidates.slice(0, 50).forEach((c, j) => {
      expect(Math.abs(topP.before[j] - c.modelProbability / z)).toBeLessThan(1e-6);
    });
    expect(topP.before.slice(50).every((p) => p === 0)).toBe(true);
    // HF's kept set (43 tokens) holds at least 0.95 of that distribution, and less without its last token.
    const kept = entry.kept_ids.map((id) => Math.exp(row[id] - fixtureCase.positions[3].logsumexp) / z).sort((a, b) => a - b);
    const mass = kept.reduce((a, b) => a + b, 0);
    expect(Math.abs(topP.keptMass - mass)).toBeLessThan(1e-6);
    expect(mass).toBeGreaterThanOrEqual(0.95);
    expect(mass - kept[0]).toBeLessThan(0.95);
    expect(topP.kept).toBe(43);
  });

  it('temperature 0 ends in a greedy stage that keeps one token; statuses name it', () => {
    const view = inspectStep(summarizeRow(row, M), { temperature: 0, top_k: 50, top_p: 0.95, min_p: 0, repetition_penalty: 1 }, [], V);
    expect(view.stages.map((s) => [s.name, s.kept])).toEqual([['greedy', 1]]);
    expect(view.stages[0].keptMass).toBeCloseTo(view.candidates[0].modelProbability, 9);
  });
});

describe('ReplayCache: a slider move replays from the first stage it changes', () => {
  it('gives the same inspection as a replay from scratch, whatever moved, and never mixes steps', () => {
    const prev = [54, 13506, 345, 389];
    const step = summarizeRow(row, M, prev);
    const other = summarizeRow(
      row.map((x, i) => (i % 7 === 0 ? x + 1 : x)),
      M,
      prev,
    );
    const cache = new ReplayCache();
    const base: SamplerSettings = { temperature: 0.8, top_k: 50, top_p: 0.9, min_p: 0.02, repetition_penalty: 1.2 };
    const moves: [StepLogits, SamplerSettings][] = [
      [step, base],
      [step, { ...base, top_p: 0.5 }], // only top-p and min-p replay
      [step, { ...base, top_p: 0.5, min_p: 0 }], // min-p off: a stage fewer
      [step, { ...base, top_k: 10 }], // top-k onwards
      [step, { ...base, temperature: 1.3 }],
      [step, { ...base, temperature: 0 }], // greedy
      [other, base], // another step: nothing reused
      [step, base],
    ];
    for (const [s, settings] of moves) {
      const cached = inspectStep(s, settings, prev, V, 0.4, cache);
      const fresh = inspectStep(s, settings, prev, V, 0.4);
      expect(cached, JSON.stringify(settings)).toEqual(fresh);
    }
  });
});
