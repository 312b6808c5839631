import type { GPT2Config } from '../model/config';
import { parameterCount } from '../model/memoryPlan';
import type { ModelInfo } from './protocol';
import type { LoadedModel } from '../sources/loadModel';

/** Parameter count of a GPT-2 with this config (tied output head), as Hugging Face counts it (the memory plan's). */
export { parameterCount };

export function modelInfo(
  name: string,
  config: GPT2Config,
  loaded?: Pick<LoadedModel, 'precision' | 'precisionReason' | 'memoryPlan' | 'model'>,
): ModelInfo {
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
    const threads = loaded.model.storeThreads;
    if (threads !== undefined) info.threads = threads;
  }
  return info;
}
