/**
 * q8 logits may differ from the same model's f32 logits by this share of the position's largest
 * |logit|. docs/precision.md derives it: about 1/127 of relative error per quantized product
 * (weights per output channel, activations per row to 7 bits), over the 4·n_layer + 1 products a
 * token passes, adding up in quadrature as independent rounding errors do, with a 3× margin.
 */
export const Q8_LOGIT_TOLERANCE = 0.05;
