/**
 * What the sampler did, and would do, at one step: the token inspector's numbers. It replays the
 * generation module's own logits processors (buildLogitsProcessors, in Hugging Face's order) on a
 * step's logits (a StepLogits summary expanded to a full row), one processor at a time, so each cut
 * token is attributed to the first processor that removed it. No tfjs: the page runs it on every
 * slider move.
 *
 * Exactness: model probabilities of listed tokens are exact (the summary carries the row's exact
 * log-sum-exp). Sampling probabilities and the kept set are exact whenever every kept token is
 * listed, which `keptOutsideListed === 0` says; otherwise tokens beyond the listed ones are stood
 * in for by the summary's histogram.
 */
import { buildLogitsProcessors, type ProcessorName } from './logitsProcessors';
import { isSampling } from './options';
import { argmax, sampleAt } from './sampler';
import { expandRow, type ExpandedRow, type StepLogits } from '../model/stepLogits';

/** The sampling settings the inspector replays, with Hugging Face's names. */
export interface SamplerSettings {
  temperature: number;
  top_k: number;
  top_p: number;
  min_p: number;
  repetition_penalty: number;
}

export type CandidateStatus = 'kept' | 'cut by top-k' | 'cut by top-p' | 'cut by min-p' | 'cut by greedy';

const CUT_BY: Partial<Record<ProcessorName, CandidateStatus>> = {
  top_k: 'cut by top-k',
  top_p: 'cut by top-p',
  min_p: 'cut by min-p',
};

export interface Candidate {
  id: number;
  /** 1-based rank by the raw logit. */
  rank: number;
  logit: number;
  /** softmax of the raw logits (temperature 1, no processors). */
  modelProbability: number;
  /** After repetition penalty and temperature, before top-k / top-p / min-p: what the filters look at. */
  warpedProbability: number;
  /** After every processor, renormalised: what the sampler draws from; 0 when cut. */
  samplingProbability: number;
  status: CandidateStatus;
}

/** A stretch of the sampler's walk (ascending ids) over the kept tokens: [start, start + width) of 1. */
export interface DrawSegment {
  /** The token, or -1 for kept tokens outside the listed ones (merged). */
  id: number;
  start: number;
  width: number;
}

export interface StepInspection {
  /** The listed top tokens, by rank. */
  candidates: Candidate[];
  /** Tokens with a non-zero sampling probability, in the whole vocabulary. */
  keptCount: number;
  /** The model's probability mass on the kept tokens. */
  keptModelShare: number;
  /** Kept tokens that are not listed: > 0 means the numbers above lean on the histogram. */
  keptOutsideListed: number;
  /** Entropy of the model's distribution (exact) and of the sampling distribution, nats. */
  modelEntropy: number;
  samplingEntropy: number;
  /** The kept tokens in the sampler's order, for drawing where a uniform draw falls. */
  segments: DrawSegment[];
  /** The token the uniform number `draw` picks under these settings (-1: one outside the listed ones); null without a draw. */
  pick: number | null;
  /** Greedy (temperature 0): only the likeliest token is kept. */
  greedy: boolean;
}

/**
 * Replays the processors for `settings` on `step`. `history` is the sequence before this step
 * (prompt and earlier tokens), which the repetition penalty reads; `draw` the step's uniform number.
 */
export function inspectStep(
  step: StepLogits,
  settings: SamplerSettings,
  history: readonly number[],
  vocabSize: number,
  draw: number | null = null,
): StepInspection {
  // The expanded row depends on the step alone: made once per step, so a slider move only replays the processors.
  const { scores: raw, exact } = expandedRow(step, vocabSize);
  const scores = Float64Array.from(raw);
  const greedy = !isSampling({ do_sample: true, temperature: settings.temperature }); // the inspector shows sampling's view
  const processors = buildLogitsProcessors({
    do_sample: !greedy,
    temperature: settings.temperature,
    top_k: settings.top_k,
    top_p: settings.top_p,
    min_p: settings.min_p,
    repetition_penalty: settings.repetition_penalty,
  });

  const listed = Array.from(step.ids.subarray(0, step.top));
  const status = new Map<number, CandidateStatus>();
  let warpedLogSumExp: number | null = null;
  for (const processor of processors) {
    if (warpedLogSumExp === null && CUT_BY[processor.name]) warpedLogSumExp = logSumExp(scores);
    processor.apply(scores, history);
    const cut = CUT_BY[processor.name];
    if (!cut) continue;
    for (const id of listed) if (scores[id] === -Infinity && !status.has(id)) status.set(id, cut);
  }
  warpedLogSumExp ??= logSumExp(scores);
  const warped = listed.map((id) => Math.exp(scores[id] - warpedLogSumExp));
  if (greedy) {
    const best = argmax(scores);
    for (const id of listed) if (id !== best && !status.has(id)) status.set(id, 'cut by greedy');
    for (let id = 0; id < scores.length; id++) if (id !== best) scores[id] = -Infinity;
  }

  // One pass over what the sampler draws from: probabilities, the kept set, its share and entropy,
  // and the kept tokens in the sampler's order (ascending id) for the draw bar.
  const normaliser = logSumExp(scores);
  const inListed = new Set(listed);
  const sampling = new Map<number, number>();
  const segments: DrawSegment[] = [];
  let start = 0;
  let keptCount = 0;
  let keptOutsideListed = 0;
  let keptModelShare = 0;
  let samplingEntropy = 0;
  for (let id = 0; id < scores.length; id++) {
    if (scores[id] === -Infinity) continue;
    const logp = scores[id] - normaliser;
    const p = Math.exp(logp);
    keptCount++;
    if (!exact[id]) keptOutsideListed++;
    keptModelShare += Math.exp(raw[id] - step.logSumExp);
    if (p > 0) samplingEntropy -= p * logp;
    if (inListed.has(id)) sampling.set(id, p);
    if (p === 0) continue;
    const shown = inListed.has(id) ? id : -1;
    const last = segments[segments.length - 1];
    if (shown === -1 && last?.id === -1) last.width += p;
    else segments.push({ id: shown, start, width: p });
    start += p;
  }

  const candidates = listed.map((id, i): Candidate => ({
    id,
    rank: i + 1,
    logit: step.logits[i],
    modelProbability: Math.exp(step.logits[i] - step.logSumExp),
    warpedProbability: warped[i],
    samplingProbability: sampling.get(id) ?? 0,
    status: status.get(id) ?? 'kept',
  }));

  const picked = draw === null ? null : sampleAt(scores, draw);
  return {
    candidates,
    keptCount,
    keptModelShare: Math.min(1, keptModelShare),
    keptOutsideListed,
    modelEntropy: step.entropy,
    samplingEntropy,
    segments,
    pick: picked === null ? null : inListed.has(picked) ? picked : -1,
    greedy,
  };
}

const expanded = new WeakMap<StepLogits, ExpandedRow>();

function expandedRow(step: StepLogits, vocabSize: number): ExpandedRow {
  let row = expanded.get(step);
  if (!row || row.scores.length !== vocabSize) {
    row = expandRow(step, vocabSize);
    expanded.set(step, row);
  }
  return row;
}

/** log Σ exp(x) over the finite entries (-Infinity when there are none). */
function logSumExp(values: Float64Array): number {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (const v of values) if (v !== -Infinity) sum += Math.exp(v - max);
  return max + Math.log(sum);
}
