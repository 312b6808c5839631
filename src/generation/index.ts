export {
  validateOptions,
  isSampling,
  GenerationOptionError,
  HF_DEFAULTS,
  MAX_RETURN_SEQUENCES,
  MAX_BEAMS,
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
  NoRepeatNGramLogitsProcessor,
  TopHLogitsWarper,
  TypicalLogitsWarper,
  EpsilonLogitsWarper,
  EtaLogitsWarper,
  type LogitsProcessor,
  type ProcessorName,
} from './logitsProcessors';
export { OPTION_SPECS, optionSpec, type OptionSpec, type OptionName, type CliValue } from './optionSpecs';
export { BeamSearch, type BeamEvent, type Beam, type BeamCandidate, type BeamCandidateStatus, type BeamHypothesis } from './beamSearch';
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
  type GenerationControl,
} from './generate';
