export { CheckpointError } from './errors';
export { parseGPT2Config, mlpWidth, type GPT2Config } from './config';
export {
  parseSafetensorsHeader,
  readHeaderLength,
  decodeToFloat32,
  f16ToF32,
  bf16ToF32,
  type SafetensorsDType,
  type TensorEntry,
  type SafetensorsHeader,
} from './safetensors';
export { WeightsBuilder, loadCheckpoint, canonicalName, type TensorPlan, type GPT2Weights } from './checkpoint';
export { GPT2, chooseForwardPath, type ForwardChoice, type ForwardOptions, type ForwardPathName, type LensEntry } from './gpt2';
export type { KVCache, LayerKVCache } from './kvCache';
export type { TopLogits } from './topLogits';
