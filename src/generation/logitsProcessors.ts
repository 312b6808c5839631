/**
 * Logits processors and warpers, one class per Hugging Face class of the same name and semantics.
 *
 * Each one edits a row of scores in place (Float64Array, one entry per vocabulary id); a token that
 * is filtered out gets -Infinity, exactly like HF's `filter_value`. They run in HF's order:
 * repetition penalty, then (sampling only) temperature, top-k, top-p, min-p.
 */
import { isSampling, type ResolvedGenerationOptions } from './options';

/** Each processor's Hugging Face option name: what the page and the inspector call it. */
export type ProcessorName = 'repetition_penalty' | 'temperature' | 'top_k' | 'top_p' | 'min_p';

export interface LogitsProcessor {
  readonly name: ProcessorName;
  /** Its short human name, as statuses say it ("cut by top-k"). */
  readonly label: string;
  /** `previousIds` is the whole sequence so far: prompt and generated tokens. */
  apply(scores: Float64Array, previousIds: readonly number[]): void;
}

/** HF RepetitionPenaltyLogitsProcessor: every id already seen is made less likely, once. */
export class RepetitionPenaltyLogitsProcessor implements LogitsProcessor {
  readonly name = 'repetition_penalty';
  readonly label = 'repetition penalty';
  constructor(readonly penalty: number) {}

  apply(scores: Float64Array, previousIds: readonly number[]): void {
    for (const id of new Set(previousIds)) {
      const score = scores[id];
      // Dividing a negative logit would raise it, so negatives are multiplied instead.
      scores[id] = score < 0 ? score * this.penalty : score / this.penalty;
    }
  }
}

/** HF TemperatureLogitsWarper. */
export class TemperatureLogitsWarper implements LogitsProcessor {
  readonly name = 'temperature';
  readonly label = 'temperature';
  constructor(readonly temperature: number) {}

  apply(scores: Float64Array): void {
    for (let i = 0; i < scores.length; i++) scores[i] /= this.temperature;
  }
}

/** HF TopKLogitsWarper: keeps every score >= the k-th largest, so ties with the k-th all survive. */
export class TopKLogitsWarper implements LogitsProcessor {
  readonly name = 'top_k';
  readonly label = 'top-k';
  readonly topK: number;

  constructor(
    topK: number,
    readonly minTokensToKeep = 1,
  ) {
    this.topK = Math.max(topK, minTokensToKeep);
  }

  apply(scores: Float64Array): void {
    if (this.topK >= scores.length) return;
    const threshold = kthLargest(scores, this.topK);
    for (let i = 0; i < scores.length; i++) if (scores[i] < threshold) scores[i] = -Infinity;
  }
}

/**
 * HF TopPLogitsWarper: sort ascending, take the cumulative softmax, and drop every token whose
 * cumulative probability is <= 1 - top_p; the most likely `minTokensToKeep` always stay.
 */
export class TopPLogitsWarper implements LogitsProcessor {
  readonly name = 'top_p';
  readonly label = 'top-p';
  constructor(
    readonly topP: number,
    readonly minTokensToKeep = 1,
  ) {}

  apply(scores: Float64Array): void {
    const budget = 1 - this.topP; // probability mass that may be removed
    let max = -Infinity;
    let finite = 0;
    for (const s of scores) {
      if (s === -Infinity) continue;
      finite++;
      if (s > max) max = s;
    }
    let total = 0;
    for (const s of scores) if (s !== -Infinity) total += Math.exp(s - max);

    // Tokens with probability below budget / finite hold less than the budget together, so every
    // one of them is removed: only the others need sorting (HF sorts the whole vocabulary).
    const cutoff = finite > this.minTokensToKeep ? budget / finite : 0;
    let massBelow = 0;
    let countBelow = 0;
    const candidates: number[] = [];
    for (const s of scores) {
      if (s === -Infinity) continue;
      const p = Math.exp(s - max) / total;
      if (p < cutoff) {
        massBelow += p;
        countBelow++;
      } else candidates.push(s);
    }
    const ascending = Float64Array.from(candidates).sort();
    const removable = finite - this.minTokensToKeep - countBelow;
    let removed = 0;
    let cumulative = massBelow;
    while (removed < removable) {
      cumulative += Math.exp(ascending[removed] - max) / total;
      if (cumulative > budget) break;
      removed++;
    }
    if (removed > 0) removeLowest(scores, ascending, removed);
    else if (countBelow > 0) {
      for (let i = 0; i < scores.length; i++) if (scores[i] < ascending[0]) scores[i] = -Infinity;
    }
  }
}

/** HF MinPLogitsWarper: drop tokens whose probability is below min_p × the top probability. */
export class MinPLogitsWarper implements LogitsProcessor {
  readonly name = 'min_p';
  readonly label = 'min-p';
  constructor(
    readonly minP: number,
    readonly minTokensToKeep = 1,
  ) {}

  apply(scores: Float64Array): void {
    const probabilities = softmaxInPlace(Float64Array.from(scores));
    let topProbability = 0;
    for (const p of probabilities) if (p > topProbability) topProbability = p;
    const threshold = this.minP * topProbability;
    let kept = 0;
    for (const p of probabilities) if (p >= threshold) kept++;
    if (kept < this.minTokensToKeep) {
      // Only reachable with minTokensToKeep > 1: keep the best ones regardless of the threshold.
      const ascending = finiteScores(scores).sort();
      removeLowest(scores, ascending, ascending.length - this.minTokensToKeep);
      return;
    }
    for (let i = 0; i < scores.length; i++) if (probabilities[i] < threshold) scores[i] = -Infinity;
  }
}

/** The processors HF's generate() would build for these options, in HF's order. */
export function buildLogitsProcessors(
  o: Pick<ResolvedGenerationOptions, 'do_sample' | 'temperature' | 'top_k' | 'top_p' | 'min_p' | 'repetition_penalty'>,
): LogitsProcessor[] {
  const processors: LogitsProcessor[] = [];
  if (o.repetition_penalty !== 1) processors.push(new RepetitionPenaltyLogitsProcessor(o.repetition_penalty));
  if (!isSampling(o)) return processors; // greedy: warpers would not change the argmax
  if (o.temperature !== 1) processors.push(new TemperatureLogitsWarper(o.temperature));
  if (o.top_k !== 0) processors.push(new TopKLogitsWarper(o.top_k));
  if (o.top_p < 1) processors.push(new TopPLogitsWarper(o.top_p));
  if (o.min_p > 0) processors.push(new MinPLogitsWarper(o.min_p));
  return processors;
}

export function applyProcessors(
  processors: readonly LogitsProcessor[],
  scores: Float64Array,
  previousIds: readonly number[],
): Float64Array {
  for (const processor of processors) processor.apply(scores, previousIds);
  return scores;
}

/** Numerically stable softmax in float64; -Infinity becomes probability 0. */
export function softmaxInPlace(values: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const e = Math.exp(values[i] - max);
    values[i] = e;
    sum += e;
  }
  for (let i = 0; i < values.length; i++) values[i] /= sum;
  return values;
}

function finiteScores(scores: Float64Array): Float64Array {
  let count = 0;
  for (const s of scores) if (s !== -Infinity) count++;
  const out = new Float64Array(count);
  let j = 0;
  for (const s of scores) if (s !== -Infinity) out[j++] = s;
  return out;
}

/**
 * Filters the `count` lowest finite scores, given those scores sorted ascending. Tokens tied at the
 * boundary value are removed in id order, so the result is deterministic.
 */
function removeLowest(scores: Float64Array, ascending: Float64Array, count: number): void {
  if (count <= 0) return;
  const boundary = ascending[count - 1];
  let tiesToRemove = 0;
  for (let i = count - 1; i >= 0 && ascending[i] === boundary; i--) tiesToRemove++;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i] < boundary) scores[i] = -Infinity;
    else if (scores[i] === boundary && tiesToRemove > 0) {
      scores[i] = -Infinity;
      tiesToRemove--;
    }
  }
}

/** The k-th largest value (1-based), via a size-k min-heap: O(n log k) without sorting the vocabulary. */
export function kthLargest(values: Float64Array, k: number): number {
  const heap = new Float64Array(k);
  let size = 0;
  for (const v of values) {
    if (size < k) {
      let i = size++;
      heap[i] = v;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (heap[parent] <= heap[i]) break;
        [heap[parent], heap[i]] = [heap[i], heap[parent]];
        i = parent;
      }
    } else if (v > heap[0]) {
      heap[0] = v;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < k && heap[left] < heap[smallest]) smallest = left;
        if (right < k && heap[right] < heap[smallest]) smallest = right;
        if (smallest === i) break;
        [heap[smallest], heap[i]] = [heap[i], heap[smallest]];
        i = smallest;
      }
    }
  }
  return heap[0];
}
