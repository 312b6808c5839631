/**
 * Picking the next token from processed scores: greedy argmax, or a draw from the softmax of the
 * surviving (finite) scores, computed in float64.
 */

export interface RandomSource {
  /** Uniform in [0, 1). */
  nextFloat(): number;
}

/** The distribution sampling draws from: surviving ids, most likely first. */
export interface TokenDistribution {
  ids: number[];
  probs: number[];
}

/** First index of the largest score, like torch.argmax. */
export function argmax(scores: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  return best;
}

export function distribution(scores: Float64Array): TokenDistribution {
  const max = scores[argmax(scores)];
  const ids: number[] = [];
  const weights: number[] = [];
  let total = 0;
  for (let id = 0; id < scores.length; id++) {
    if (scores[id] === -Infinity) continue;
    const w = Math.exp(scores[id] - max);
    ids.push(id);
    weights.push(w);
    total += w;
  }
  const order = ids.map((_, i) => i).sort((a, b) => weights[b] - weights[a] || ids[a] - ids[b]);
  return { ids: order.map((i) => ids[i]), probs: order.map((i) => weights[i] / total) };
}

/**
 * Draws one id with probability softmax(scores)[id], using the uniform number `u` in [0, 1): walks
 * the vocabulary in id order and returns the id whose share of the cumulative mass holds u·total.
 * No sort on the hot path, and the same u always gives the same id.
 */
export function sampleAt(scores: Float64Array, u: number): number {
  const max = scores[argmax(scores)];
  // Two passes recomputing each weight instead of an array of them: no allocation per token.
  let total = 0;
  for (let id = 0; id < scores.length; id++) if (scores[id] !== -Infinity) total += Math.exp(scores[id] - max);
  let remaining = u * total;
  let last = -1;
  for (let id = 0; id < scores.length; id++) {
    if (scores[id] === -Infinity) continue;
    const weight = Math.exp(scores[id] - max);
    if (weight === 0) continue;
    remaining -= weight;
    if (remaining < 0) return id;
    last = id;
  }
  return last; // rounding left a sliver of mass past the end: it belongs to the last surviving id
}

/** Draws one id with probability softmax(scores)[id], with the next number of `random`. */
export function sample(scores: Float64Array, random: RandomSource): number {
  return sampleAt(scores, random.nextFloat());
}
