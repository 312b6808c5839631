import { mlpWidth, type GPT2Config } from '../model/config';
import type { ModelInfo } from './protocol';
import type { LoadedModel } from '../sources/loadModel';

/** Parameter count of a GPT-2 with this config (tied output head), as Hugging Face counts it. */
export function parameterCount(config: GPT2Config): number {
  const e = config.nEmbd;
  const inner = mlpWidth(config);
  const embeddings = config.vocabSize * e + config.nPositions * e;
  const layerNorms = 2 * 2 * e;
  const attention = e * 3 * e + 3 * e + e * e + e;
  const mlp = e * inner + inner + inner * e + e;
  return embeddings + config.nLayer * (layerNorms + attention + mlp) + 2 * e;
}

export function modelInfo(name: string, config: GPT2Config, loaded?: Pick<LoadedModel, 'precision' | 'precisionReason' | 'memoryPlan'>): ModelInfo {
  const info: ModelInfo = {
    name,
    nLayer: config.nLayer,
    nHead: config.nHead,
    nEmbd: config.nEmbd,
    nPositions: config.nPositions,
    vocabSize: config.vocabSize,
    parameters: parameterCount(config),
  };
  if (loaded) {
    info.precision = loaded.precision;
    info.precisionReason = loaded.precisionReason;
    info.weightBytes = loaded.memoryPlan.weightBytes;
    info.plannedBytes = loaded.memoryPlan.totalBytes;
  }
  return info;
}
