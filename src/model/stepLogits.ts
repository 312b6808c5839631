/**
 * One decoding step's logits row, summarised small enough to travel with every token (a few KB
 * instead of the vocabulary's 200 KB), yet enough to replay the sampler on it under any settings:
 *
 *  - the `top` largest raw logits with their ids, exactly;
 *  - the exact logits of the ids the sequence already holds that are not among them (the
 *    repetition penalty changes exactly those);
 *  - the log-sum-exp and the entropy of the whole row, exactly: model probabilities of listed
 *    tokens are exp(logit - logSumExp), with no approximation;
 *  - a histogram of the whole row (bins of 1/8 nat below the largest logit): it stands in for the
 *    unlisted tail when top-p or min-p needs the mass of every token, e.g. at a new temperature.
 *
 * `summarizeRow` builds it from a row in memory; on WebGPU `summarizeLogits` builds the same on the
 * GPU. `expandRow` turns it back into a full row for the logits processors: listed ids keep their
 * exact logits; every other id gets the centre of a histogram bin, so results that depend on the
 * tail are approximate (to a fraction of a percent of the tail's mass), and say so.
 */

/** Width, in nats, of a histogram bin. */
export const HISTOGRAM_BIN_WIDTH = 0.125;
/** Bins: 64 nats below the largest logit; the last bin also counts everything lower. */
export const HISTOGRAM_BINS = 512;
/** How many of the largest logits the page asks for per step. */
export const DEFAULT_INSPECT_TOP = 256;

export interface StepLogits {
  /** The `top` largest logits' ids (descending; equal logits: lower id first), then the extra ids. */
  ids: Int32Array;
  /** Raw logits (no processor applied), one per entry of `ids`. */
  logits: Float32Array;
  /** How many entries of `ids` are the row's largest; the rest are ids of the sequence so far. */
  top: number;
  /** log Σ exp(logit) over the whole row. */
  logSumExp: number;
  /** Entropy of softmax(row), nats. */
  entropy: number;
  /** Counts of the row's logits per bin: bin i holds max - (i+1)·w < x <= max - i·w (w = HISTOGRAM_BIN_WIDTH). */
  histogram: Uint32Array;
}

/** The histogram bin of `value` in a row whose largest logit is `max`. */
export function histogramBin(max: number, value: number): number {
  const bin = Math.floor((max - value) / HISTOGRAM_BIN_WIDTH);
  return bin >= 0 ? Math.min(bin, HISTOGRAM_BINS - 1) : 0; // NaN and -Infinity land in the last bin
}

/**
 * Summarises one logits row: its `top` largest entries, the logits of `extraIds` not among them,
 * log-sum-exp, entropy and histogram. O(V log top) with a bounded heap; no sort of the vocabulary.
 */
export function summarizeRow(row: ArrayLike<number>, top: number, extraIds: Iterable<number> = []): StepLogits {
  const V = row.length;
  const k = Math.min(Math.max(1, Math.floor(top)), V);
  const best = largest(row, k);
  const listed = new Set(best);
  const extras: number[] = [];
  for (const id of extraIds) {
    if (id >= 0 && id < V && !listed.has(id)) {
      listed.add(id);
      extras.push(id);
    }
  }
  const ids = Int32Array.from([...best, ...extras]);
  const logits = Float32Array.from(ids, (id) => row[id]);

  const max = row[best[0]];
  let sum = 0;
  let weighted = 0; // Σ e^(x - max)·(x - max)
  const histogram = new Uint32Array(HISTOGRAM_BINS);
  for (let i = 0; i < V; i++) {
    const shifted = row[i] - max;
    const e = Math.exp(shifted);
    sum += e;
    if (e > 0) weighted += e * shifted;
    histogram[histogramBin(max, row[i])]++;
  }
  const logSumExp = max + Math.log(sum);
  // H = -Σ p log p with p = e^(x-max)/sum: H = log(sum) - Σ e^(x-max)(x-max) / sum.
  const entropy = Math.log(sum) - weighted / sum;
  return { ids, logits, top: k, logSumExp, entropy, histogram };
}

/** Ids of the k largest values, descending; equal values: lower id first. */
function largest(row: ArrayLike<number>, k: number): number[] {
  // A min-heap of the best k so far: its root is the worst kept entry.
  const heap: number[] = [];
  const worse = (a: number, b: number) => row[a] < row[b] || (row[a] === row[b] && a > b);
  const siftDown = (i: number) => {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let worst = i;
      if (left < heap.length && worse(heap[left], heap[worst])) worst = left;
      if (right < heap.length && worse(heap[right], heap[worst])) worst = right;
      if (worst === i) return;
      [heap[worst], heap[i]] = [heap[i], heap[worst]];
      i = worst;
    }
  };
  for (let id = 0; id < row.length; id++) {
    if (heap.length < k) {
      heap.push(id);
      let i = heap.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!worse(heap[i], heap[parent])) break;
        [heap[parent], heap[i]] = [heap[i], heap[parent]];
        i = parent;
      }
    } else if (worse(heap[0], id)) {
      heap[0] = id;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => row[b] - row[a] || a - b);
}

/** A full row rebuilt from a summary: exact where listed, histogram bin centres elsewhere. */
export interface ExpandedRow {
  scores: Float64Array;
  /** 1 where the id's logit is exact (listed in the summary). */
  exact: Uint8Array;
}

/**
 * Rebuilds a vocabulary-sized row. Unlisted ids get the centres of the histogram's bins once the
 * listed entries are taken out, shifted together so that their total probability is the exact one
 * (1 minus the listed tokens'), and capped at the smallest of the `top` logits (every unlisted
 * logit is at most that); which unlisted id gets which value is arbitrary (ascending ids, highest
 * values first), since only their values matter to the processors.
 */
export function expandRow(step: StepLogits, vocabSize: number): ExpandedRow {
  const scores = new Float64Array(vocabSize);
  const exact = new Uint8Array(vocabSize);
  const max = step.logits[0];
  const tail = Uint32Array.from(step.histogram);
  for (let i = 0; i < step.ids.length; i++) {
    const id = step.ids[i];
    if (id < 0 || id >= vocabSize) continue;
    scores[id] = step.logits[i];
    exact[id] = 1;
    const bin = histogramBin(max, step.logits[i]);
    if (tail[bin] > 0) tail[bin]--;
  }
  // Each bin's stand-in value: its centre, capped at the smallest listed top logit (every unlisted
  // logit is at most that). The row's exact log-sum-exp fixes the unlisted ids' total probability,
  // so one shift of all stand-ins makes their mass exact at temperature 1.
  const ceiling = step.logits[step.top - 1];
  const standIn = (bin: number) => Math.min(ceiling, max - (bin + 0.5) * HISTOGRAM_BIN_WIDTH);
  let listedMass = 0;
  for (let i = 0; i < step.ids.length; i++) listedMass += Math.exp(step.logits[i] - step.logSumExp);
  let standInMass = 0;
  for (let bin = 0; bin < HISTOGRAM_BINS; bin++) if (tail[bin] > 0) standInMass += tail[bin] * Math.exp(standIn(bin) - step.logSumExp);
  const tailMass = 1 - listedMass;
  const shift = tailMass > 1e-12 && standInMass > 0 ? Math.log(tailMass / standInMass) : 0;

  let bin = 0;
  for (let id = 0; id < vocabSize; id++) {
    if (exact[id]) continue;
    while (bin < HISTOGRAM_BINS - 1 && tail[bin] === 0) bin++;
    if (tail[bin] > 0) tail[bin]--;
    scores[id] = Math.min(ceiling, standIn(bin) + shift);
  }
  return { scores, exact };
}
