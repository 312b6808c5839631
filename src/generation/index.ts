export {
  validateOptions,
  isSampling,
  GenerationOptionError,
  HF_DEFAULTS,
  MAX_RETURN_SEQUENCES,
  type GenerationOptions,
  type ResolvedGenerationOptions,
} from './options';
export {
  buildLogitsProcessors,
  applyProcessors,
  softmaxInPlace,
  RepetitionPenaltyLogitsProcessor,
  TemperatureLogitsWarper,
  TopKLogitsWarper,
  TopPLogitsWarper,
  MinPLogitsWarper,
  type LogitsProcessor,
} from './logitsProcessors';
export { argmax, sample, distribution, type TokenDistribution, type RandomSource } from './sampler';
export { Xoshiro128StarStar, SplitMix64, randomSeed } from './random';
export { StoppingCriteria, type FinishReason } from './stopping';
export { NonFiniteLogitsError, checkFiniteLogits } from './finiteLogits';
export {
  generate,
  planGeneration,
  type GenerationModel,
  type TokenEvent,
  type GeneratedSequence,
  type GenerationTimings,
  type GenerationResult,
  type GenerationPlan,
} from './generate';
