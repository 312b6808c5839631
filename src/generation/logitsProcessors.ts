/**
 * Logits processors and warpers, one class per Hugging Face class of the same name and semantics.
 *
 * Each one edits a row of scores in place (Float64Array, one entry per vocabulary id); a token that
 * is filtered out gets -Infinity, exactly like HF's `filter_value`. They run in HF's order:
 * repetition penalty, no-repeat n-gram, then (sampling only) temperature, top-h, top-k, top-p,
 * min-p, typical-p, epsilon, eta. Under beam search the scores they edit are log-softmax values
 * (as in HF), which the warpers treat like logits.
 */
import { isSampling, type ResolvedGenerationOptions } from './options';

/** Each processor's Hugging Face option name: what the page and the inspector call it. */
export type ProcessorName =
  | 'repetition_penalty'
  | 'no_repeat_ngram_size'
  | 'temperature'
  | 'top_h'
  | 'top_k'
  | 'top_p'
  | 'min_p'
  | 'typical_p'
  | 'epsilon_cutoff'
  | 'eta_cutoff';

export interface LogitsProcessor {
  /** The Hugging Face option that turns it on. */
  readonly name: ProcessorName;
  /** Short human name, as the inspector's statuses say it (`cut by top-k`). */
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

/** HF NoRepeatNGramLogitsProcessor: a token that would complete an n-gram already in the sequence is banned. */
export class NoRepeatNGramLogitsProcessor implements LogitsProcessor {
  readonly name = 'no_repeat_ngram_size';
  readonly label = 'no-repeat n-gram';
  constructor(readonly ngramSize: number) {}

  apply(scores: Float64Array, previousIds: readonly number[]): void {
    const n = this.ngramSize;
    const length = previousIds.length;
    if (length + 1 < n) return; // no n-gram can be completed yet
    const tail = length + 1 - n; // the last n - 1 ids: what the next token would extend
    for (let start = 0; start + n <= length; start++) {
      let same = true;
      for (let j = 0; j < n - 1 && same; j++) same = previousIds[start + j] === previousIds[tail + j];
      const banned = previousIds[start + n - 1];
      if (same && banned < scores.length) scores[banned] = -Infinity;
    }
  }
}

/**
 * HF TopHLogitsWarper: among the 100 likeliest tokens (renormalised), keep them in order of
 * probability while their cumulative entropy terms (−p·log p) stay within top_h × the entropy of
 * those 100; the likeliest always stays. Every token outside the 100 is cut.
 */
export class TopHLogitsWarper implements LogitsProcessor {
  readonly name = 'top_h';
  readonly label = 'top-h';
  /** How many of the likeliest tokens the entropy is measured over (HF's top_n). */
  static readonly CANDIDATES = 100;
  constructor(readonly topH: number) {}

  apply(scores: Float64Array): void {
    const top = largestIds(scores, Math.min(TopHLogitsWarper.CANDIDATES, scores.length));
    const logits = Float64Array.from(top, (id) => scores[id]);
    const probs = softmaxInPlace(Float64Array.from(logits));
    const terms = Float64Array.from(probs, (p) => -p * Math.log(p)); // NaN where p = 0, as in HF: never kept
    let entropy = 0;
    for (const term of terms) if (!Number.isNaN(term)) entropy += term;
    const budget = entropy * this.topH;
    const keep = new Set<number>([top[0]]);
    let cumulative = 0;
    top.forEach((id, i) => {
      cumulative += terms[i];
      if (cumulative <= budget) keep.add(id);
    });
    for (let id = 0; id < scores.length; id++) if (!keep.has(id)) scores[id] = -Infinity;
  }
}

/**
 * HF TypicalLogitsWarper: rank tokens by how far their surprise (−log p) is from the entropy, keep
 * the closest ones until their probability reaches typical_p (the token that reaches it included,
 * and every token as close as it), and always the `minTokensToKeep` closest.
 */
export class TypicalLogitsWarper implements LogitsProcessor {
  readonly name = 'typical_p';
  readonly label = 'typical-p';
  constructor(
    readonly mass: number,
    readonly minTokensToKeep = 1,
  ) {}

  apply(scores: Float64Array): void {
    const probs = softmaxInPlace(Float64Array.from(scores));
    let entropy = 0;
    for (const p of probs) if (p > 0) entropy -= p * Math.log(p);
    const finite = finiteIds(scores);
    const distance = new Float64Array(scores.length).fill(Infinity); // |surprise − entropy|; Infinity for cut tokens
    for (const id of finite) distance[id] = Math.abs(-Math.log(probs[id]) - entropy);
    const order = finite.sort((a, b) => distance[a] - distance[b] || a - b);
    let reached = 0; // tokens whose cumulative probability is still below the mass
    let cumulative = 0;
    for (const id of order) {
      cumulative += probs[id];
      if (!(cumulative < this.mass)) break;
      reached++;
    }
    // HF's last_ind: the first token that reaches the mass; past the finite tokens nothing is cut.
    const threshold = reached < order.length ? distance[order[reached]] : Infinity;
    const protectedIds = new Set(order.slice(0, this.minTokensToKeep));
    for (const id of order) if (distance[id] > threshold && !protectedIds.has(id)) scores[id] = -Infinity;
  }
}

/** HF EpsilonLogitsWarper: drop tokens whose probability is below epsilon, keeping the `minTokensToKeep` likeliest. */
export class EpsilonLogitsWarper implements LogitsProcessor {
  readonly name = 'epsilon_cutoff';
  readonly label = 'epsilon';
  constructor(
    readonly epsilon: number,
    readonly minTokensToKeep = 1,
  ) {}

  apply(scores: Float64Array): void {
    cutBelow(scores, softmaxInPlace(Float64Array.from(scores)), this.epsilon, this.minTokensToKeep);
  }
}

/**
 * HF EtaLogitsWarper: drop tokens whose probability is below eta = min(ε, √ε · e^(−entropy)), so
 * the cutoff falls as the distribution spreads; the `minTokensToKeep` likeliest always stay.
 */
export class EtaLogitsWarper implements LogitsProcessor {
  readonly name = 'eta_cutoff';
  readonly label = 'eta';
  constructor(
    readonly epsilon: number,
    readonly minTokensToKeep = 1,
  ) {}

  apply(scores: Float64Array): void {
    const probs = softmaxInPlace(Float64Array.from(scores));
    let entropy = 0;
    for (const p of probs) if (p > 0) entropy -= p * Math.log(p);
    const eta = Math.min(this.epsilon, Math.sqrt(this.epsilon) * Math.exp(-entropy));
    cutBelow(scores, probs, eta, this.minTokensToKeep);
  }
}

/** Cuts every token with probability below `cutoff` unless its score is among the `minTokensToKeep` largest (ties kept). */
function cutBelow(scores: Float64Array, probs: Float64Array, cutoff: number, minTokensToKeep: number): void {
  const floor = kthLargest(scores, Math.min(minTokensToKeep, scores.length));
  for (let id = 0; id < scores.length; id++) if (probs[id] < cutoff && scores[id] < floor) scores[id] = -Infinity;
}

/** The options buildLogitsProcessors reads; the ones added after the inspector's first version may be absent (off). */
export type ProcessorOptions = Pick<
  ResolvedGenerationOptions,
  'do_sample' | 'temperature' | 'top_k' | 'top_p' | 'min_p' | 'repetition_penalty'
> &
  Partial<Pick<ResolvedGenerationOptions, 'no_repeat_ngram_size' | 'top_h' | 'typical_p' | 'epsilon_cutoff' | 'eta_cutoff' | 'num_beams'>>;

/**
 * The processors HF's generate() would build for these options, in HF's order. Under beam
 * sampling (num_beams > 1) the warpers keep at least 2 tokens, as HF's min_tokens_to_keep (one
 * more than the EOS ids) does, so a beam can always continue past an EOS.
 */
export function buildLogitsProcessors(o: ProcessorOptions): LogitsProcessor[] {
  const processors: LogitsProcessor[] = [];
  if (o.repetition_penalty !== 1) processors.push(new RepetitionPenaltyLogitsProcessor(o.repetition_penalty));
  if ((o.no_repeat_ngram_size ?? 0) > 0) processors.push(new NoRepeatNGramLogitsProcessor(o.no_repeat_ngram_size!));
  if (!isSampling(o)) return processors; // greedy and beam search: warpers do not apply (as in HF)
  const keep = (o.num_beams ?? 1) > 1 ? 2 : 1;
  if (o.temperature !== 1) processors.push(new TemperatureLogitsWarper(o.temperature));
  if (o.top_h !== undefined && o.top_h !== null) processors.push(new TopHLogitsWarper(o.top_h));
  if (o.top_k !== 0) processors.push(new TopKLogitsWarper(o.top_k, keep));
  if (o.top_p < 1) processors.push(new TopPLogitsWarper(o.top_p, keep));
  if (o.min_p > 0) processors.push(new MinPLogitsWarper(o.min_p, keep));
  if (o.typical_p !== undefined && o.typical_p < 1) processors.push(new TypicalLogitsWarper(o.typical_p, keep));
  if ((o.epsilon_cutoff ?? 0) > 0) processors.push(new EpsilonLogitsWarper(o.epsilon_cutoff!, keep));
  if ((o.eta_cutoff ?? 0) > 0) processors.push(new EtaLogitsWarper(o.eta_cutoff!, keep));
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

/** The ids whose score is not -Infinity, ascending. */
function finiteIds(scores: Float64Array): number[] {
  const ids: number[] = [];
  for (let id = 0; id < scores.length; id++) if (scores[id] !== -Infinity) ids.push(id);
  return ids;
}

/** The `n` ids with the largest scores, largest first (ties: the lower id first). */
export function largestIds(scores: Float64Array, n: number): number[] {
  const threshold = kthLargest(scores, n);
  const ids: number[] = [];
  for (let id = 0; id < scores.length; id++) if (scores[id] >= threshold) ids.push(id);
  return ids.sort((a, b) => scores[b] - scores[a] || a - b).slice(0, n);
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
