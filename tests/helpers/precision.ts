/**
 * How far q8 logits may be from the same model's f32 logits, derived (docs/precision.md):
 *
 * One q8 product rounds each weight to 1/127 of its output channel's largest |weight| (about 3.5σ
 * for normally spread weights: a uniform error of RMS 3.5σ/127/√12 = 0.8% of the weights' RMS) and
 * each input row to 1/127 of its range (about 7σ: 7/127/√12 = 1.6%); independent, they add up to
 * √(0.8² + 1.6²) ≈ 1.8% of an output's RMS. A token's logits come through 4·n_layer + 1 such
 * products (c_attn, attn.c_proj, c_fc, mlp.c_proj per layer, the head) whose errors add up in the
 * residual stream in quadrature: 1.8%·√(4·n_layer + 1) of the logits' RMS, and the largest error
 * of a row stands to the row's largest |logit| as RMS to RMS. The tolerance is 1.5× that.
 */
export const Q8_PRODUCT_ERROR = 0.018;

/** The share of a position's largest |logit| that q8 logits may differ from f32 by. */
export function q8LogitTolerance(nLayer: number): number {
  return 1.5 * Q8_PRODUCT_ERROR * Math.sqrt(4 * nLayer + 1);
}

/** max |a − b| over max |b|: how far a row of logits is from a reference row, as a share of its scale. */
export function worstShare(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
  }
  return worst / scale;
}
