/** The precisions a model's matrices can be loaded in (no tfjs here: the page imports this). */
export type WeightPrecision = 'f32' | 'f16' | 'q8';
export const WEIGHT_PRECISIONS: readonly WeightPrecision[] = ['f32', 'f16', 'q8'];
