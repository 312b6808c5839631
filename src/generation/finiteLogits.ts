/**
 * Generation stops, with a message, when a model's scores stop being numbers: NaN or +Infinity
 * anywhere, or no finite score at all (Hugging Face raises "probability tensor contains either
 * inf, nan or element < 0" there). -Infinity alone is a legitimate score (a token filtered out).
 */

export class NonFiniteLogitsError extends Error {
  constructor(
    readonly sequence: number,
    readonly step: number,
    message: string,
  ) {
    super(message);
    this.name = 'NonFiniteLogitsError';
  }
}

/** Throws NonFiniteLogitsError if `scores` (one row, before any processor) cannot be sampled from. */
export function checkFiniteLogits(scores: ArrayLike<number>, sequence: number, step: number, sequences = 1): void {
  let nan = 0;
  let infinite = 0;
  let finite = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (Number.isNaN(s)) nan++;
    else if (s === Infinity) infinite++;
    else if (s !== -Infinity) finite++;
  }
  if (nan === 0 && infinite === 0 && finite > 0) return;
  const what =
    nan + infinite > 0
      ? [nan ? `${nan} NaN` : '', infinite ? `${infinite} +Infinity` : ''].filter(Boolean).join(' and ') + ` among ${scores.length}`
      : `all ${scores.length} are -Infinity`;
  throw new NonFiniteLogitsError(
    sequence,
    step,
    `Generation stopped: the model's scores for new token ${step + 1}${sequences > 1 ? ` of sequence ${sequence + 1}` : ''} are not numbers (${what}), ` +
      "so no token can be drawn. The weights or this backend's arithmetic overflowed: try another backend (wasm or cpu), or check the checkpoint.",
  );
}
