/**
 * What the sampler did, and would do, at one step: the token inspector's numbers. It replays the
 * generation module's own logits processors (buildLogitsProcessors, in Hugging Face's order) on a
 * step's logits (a StepLogits summary expanded to a full row), one processor at a time, so each cut
 * token is attributed to the first processor that removed it (its `label`: "cut by top-p"), and
 * each processor is a stage of the pipeline view, measured against the distribution it received.
 * Nothing here names a processor: a new one in buildLogitsProcessors is a new stage. No tfjs: the
 * page runs it on every slider move.
 *
 * Exactness: model probabilities of listed tokens are exact (the summary carries the row's exact
 * log-sum-exp). Sampling probabilities and the kept set are exact whenever every kept token is
 * listed, which `keptOutsideListed === 0` says; otherwise tokens beyond the listed ones are stood
 * in for by the summary's histogram.
 */
import { buildLogitsProcessors, type LogitsProcessor } from './logitsProcessors';
import { isSampling, type ResolvedGenerationOptions } from './options';
import { argmax, sampleAt } from './sampler';
import { expandRow, type ExpandedRow, type StepLogits } from '../model/stepLogits';

/** The sampling settings the inspector replays: generate()'s own options, with Hugging Face's names. */
export type SamplerSettings = Pick<ResolvedGenerationOptions, 'temperature' | 'top_k' | 'top_p' | 'min_p' | 'repetition_penalty'> &
  Partial<Pick<ResolvedGenerationOptions, 'no_repeat_ngram_size' | 'top_h' | 'typical_p' | 'epsilon_cutoff' | 'eta_cutoff'>>;

/** Kept, or the label of the first stage that removed the token ("cut by top-p"). */
export type CandidateStatus = 'kept' | `cut by ${string}`;

export interface Candidate {
  id: number;
  /** 1-based rank by the raw logit. */
  rank: number;
  logit: number;
  /** softmax of the raw logits (temperature 1, no processors). */
  modelProbability: number;
  /** After every processor, renormalised: what the sampler draws from; 0 when cut. */
  samplingProbability: number;
  status: CandidateStatus;
}

/** A token the step summary carries beyond the listed top ones (an id already in the sequence): no exact rank. */
export type ExtraCandidate = Omit<Candidate, 'rank'>;

/**
 * One stage of the sampling pipeline: a logits processor as the inspector replayed it, with the
 * distribution it received (softmax of the scores it was given: renormalised after earlier cuts)
 * and what it removed from it.
 */
export interface PipelineStage {
  /** The processor's Hugging Face option name (`top_p`); `greedy` for temperature 0's argmax. */
  name: string;
  /** Its short human name (`top-p`), as statuses say it. */
  label: string;
  /** Tokens (whole vocabulary) still in play when the stage ran, and after it. */
  received: number;
  kept: number;
  /** Share, 0–1, of the distribution the stage received that sits on the tokens it kept. */
  keptMass: number;
  /** The likeliest token's probability in the distribution the stage received, and after it (renormalised). */
  topBefore: number;
  topAfter: number;
  /** The smallest received probability among the tokens it kept. */
  lowestKept: number;
  /** Entropy, in nats, of the distribution the stage received (what typical-p and eta measure against). */
  entropyBefore: number;
  /** Each listed candidate's probability in the distribution the stage received, in `candidates` order (0: cut earlier). */
  before: Float64Array;
  /** Kept tokens outside the listed ones: > 0 means the stage's numbers lean on the histogram. */
  keptOutsideListed: number;
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
  /** The summary's other tokens (ids already in the sequence), by id order in the summary. */
  extras: ExtraCandidate[];
  /** The processors in the order generation applies them, each with what it received and removed. */
  stages: PipelineStage[];
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

/** What temperature 0 does after the processors: keeps the argmax (a stage of its own in the pipeline). */
const GREEDY: Replayable = {
  name: 'greedy',
  label: 'greedy',
  apply(scores: Float64Array): void {
    const best = argmax(scores);
    for (let id = 0; id < scores.length; id++) if (id !== best) scores[id] = -Infinity;
  },
};

/**
 * What one inspector keeps between replays of the same step: the scores after each stage of the
 * last replay, so that moving one setting replays only from the first stage it changes (dragging
 * Top-p replays top-p and what follows, not the whole vocabulary through top-k again). One per
 * view; it holds one step at a time.
 */
export class ReplayCache {
  step: StepLogits | null = null;
  history: readonly number[] | null = null;
  /** Each replayed stage's processor as JSON (its class fields: name, label and parameters). */
  keys: string[] = [];
  /** Buffers for the row being replayed and for a stage's input. */
  work: Float64Array | null = null;
  received: Float64Array | null = null;
  /** Scores after each stage, its normaliser, the statuses so far, and the stage's numbers. */
  after: Float64Array[] = [];
  normalisers: number[] = [];
  statuses: Map<number, CandidateStatus>[] = [];
  stages: PipelineStage[] = [];
}

type Replayable = Pick<LogitsProcessor, 'label' | 'apply'> & { name: string };

/**
 * Replays the processors for `settings` on `step`. `history` is the sequence before this step
 * (prompt and earlier tokens), which the repetition penalty reads; `draw` the step's uniform number.
 * With a `cache` that last replayed this step, the stages whose processors are unchanged are reused.
 */
export function inspectStep(
  step: StepLogits,
  settings: SamplerSettings,
  history: readonly number[],
  vocabSize: number,
  draw: number | null = null,
  cache: ReplayCache | null = null,
): StepInspection {
  // The expanded row depends on the step alone: made once per step, so a slider move only replays the processors.
  const { scores: raw, exact } = expandedRow(step, vocabSize);
  const greedy = !isSampling({ do_sample: true, temperature: settings.temperature }); // the inspector shows sampling's view
  const processors: Replayable[] = buildLogitsProcessors({ ...settings, do_sample: !greedy });
  if (greedy) processors.push(GREEDY);
  const keys = processors.map((processor) => JSON.stringify(processor));

  const tracked = Array.from(step.ids);
  const listed = tracked.slice(0, step.top);
  const sameStep = cache !== null && cache.step === step && cache.history === history && cache.after[0]?.length === raw.length;
  let reused = 0;
  while (sameStep && reused < keys.length && reused < cache.keys.length && keys[reused] === cache.keys[reused]) reused++;
  // The working row and each stage's input copy: the cache's own buffers when there is one (no garbage per slider move).
  const scores = workBuffer(cache, 'work', raw.length);
  scores.set(reused > 0 ? cache!.after[reused - 1] : raw);
  const status = reused > 0 ? new Map(cache!.statuses[reused - 1]) : new Map<number, CandidateStatus>();
  // Each stage's normaliser is the one the stage before it computed for what it left.
  let normaliser = reused > 0 ? cache!.normalisers[reused - 1] : logSumExp(scores).logSumExp;
  const received = workBuffer(cache, 'received', raw.length);
  const stages = cache && reused > 0 ? cache.stages.slice(0, reused) : [];
  for (let i = reused; i < processors.length; i++) {
    received.set(scores);
    const replayed = replayStage(processors[i], scores, received, normaliser, history, exact, listed, tracked, status);
    normaliser = replayed.normaliser;
    stages.push(replayed.stage);
    if (cache) {
      if (cache.after[i]?.length !== scores.length) cache.after[i] = new Float64Array(scores.length);
      cache.after[i].set(scores);
      cache.normalisers[i] = normaliser;
      cache.statuses[i] = new Map(status);
    }
  }
  if (cache) {
    cache.step = step;
    cache.history = history;
    cache.keys = keys;
    cache.stages = stages.slice();
  }

  // One pass over what the sampler draws from: probabilities, the kept set, its share and entropy,
  // and the kept tokens in the sampler's order (ascending id) for the draw bar.
  const inListed = new Set(listed);
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
    if (p === 0) continue;
    const shown = inListed.has(id) ? id : -1;
    const last = segments[segments.length - 1];
    if (shown === -1 && last?.id === -1) last.width += p;
    else segments.push({ id: shown, start, width: p });
    start += p;
  }

  const candidateOf = (i: number): ExtraCandidate => {
    const id = tracked[i];
    return {
      id,
      logit: step.logits[i],
      modelProbability: Math.exp(step.logits[i] - step.logSumExp),
      samplingProbability: scores[id] === -Infinity ? 0 : Math.exp(scores[id] - normaliser),
      status: status.get(id) ?? 'kept',
    };
  };
  const candidates = listed.map((_, i): Candidate => ({ ...candidateOf(i), rank: i + 1 }));
  const extras = tracked.slice(step.top).map((_, j) => candidateOf(step.top + j));

  const picked = draw === null ? null : sampleAt(scores, draw);
  return {
    candidates,
    extras,
    stages,
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

/** The cache's buffer `which` of `length` entries (made when missing or of another length), or a new one without a cache. */
function workBuffer(cache: ReplayCache | null, which: 'work' | 'received', length: number): Float64Array {
  if (!cache) return new Float64Array(length);
  if (cache[which]?.length !== length) cache[which] = new Float64Array(length);
  return cache[which]!;
}

/**
 * Applies one processor to `scores` in place and measures it against the distribution it received
 * (`received`, a copy of `scores` before; `normaliser`: its log-sum-exp); tracked tokens it removed get its `cut by …`
 * status unless an earlier stage cut them. Returns the stage and the log-sum-exp of what it left.
 */
function replayStage(
  processor: Replayable,
  scores: Float64Array,
  received: Float64Array,
  normaliser: number,
  history: readonly number[],
  exact: Uint8Array,
  listed: readonly number[],
  tracked: readonly number[],
  status: Map<number, CandidateStatus>,
): { stage: PipelineStage; normaliser: number } {
  processor.apply(scores, history);
  let inPlay = 0;
  let kept = 0;
  let keptMass = 0;
  let keptOutsideListed = 0;
  let topBefore = 0;
  let lowestKept = Infinity;
  let entropyBefore = 0;
  for (let id = 0; id < received.length; id++) {
    if (received[id] === -Infinity) continue;
    inPlay++;
    const p = Math.exp(received[id] - normaliser);
    if (p > 0) entropyBefore -= p * (received[id] - normaliser);
    if (p > topBefore) topBefore = p;
    if (scores[id] === -Infinity) continue;
    kept++;
    keptMass += p;
    if (p < lowestKept) lowestKept = p;
    if (!exact[id]) keptOutsideListed++;
  }
  const cut: CandidateStatus = `cut by ${processor.label}`;
  for (const id of tracked) if (scores[id] === -Infinity && received[id] !== -Infinity && !status.has(id)) status.set(id, cut);
  const after = logSumExp(scores);
  const stage: PipelineStage = {
    name: processor.name,
    label: processor.label,
    received: inPlay,
    kept,
    keptMass: Math.min(1, keptMass),
    topBefore,
    topAfter: Math.exp(after.max - after.logSumExp),
    lowestKept: kept > 0 ? lowestKept : 0,
    entropyBefore,
    before: Float64Array.from(listed, (id) => (received[id] === -Infinity ? 0 : Math.exp(received[id] - normaliser))),
    keptOutsideListed,
  };
  return { stage, normaliser: after.logSumExp };
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

/** log Σ exp(x) over the finite entries (-Infinity when there are none), and the largest entry. */
function logSumExp(values: Float64Array): { max: number; logSumExp: number } {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  if (max === -Infinity) return { max, logSumExp: -Infinity };
  let sum = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== -Infinity) sum += Math.exp(values[i] - max);
  return { max, logSumExp: max + Math.log(sum) };
}
