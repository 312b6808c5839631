/** Starting tfjs and loading the model for a CLI command. */
import * as tf from '@tensorflow/tfjs';
import { availableParallelism } from 'node:os';
import { setupNodeBackend, type NodeBackend } from '../backend/node';
import type { GPT2 } from '../model/gpt2';
import { paddedVocabularyNote } from '../tokenizer/vocabulary';
import { loadModelArg } from './modelArg';
import type { PrecisionRequest } from '../model/memoryPlan';

/** Starts the backend; output stays clean (no tfjs "install tfjs-node" banner). */
export async function startBackend(backend: NodeBackend): Promise<void> {
  tf.env().set('PROD', true);
  await setupNodeBackend(backend);
}

/** --dtype and --threads: the precision of the matrices, and the threads of the q8 / f16 products (default: every core). */
export interface ModelLoad {
  precision?: PrecisionRequest;
  threads?: number;
}

/**
 * Loads --model (a folder with config.json + model.safetensors, or any form modelArg.ts knows);
 * without --model, the app's built-in model in public/models/sherlock-gpt2/.
 */
export async function openModel(modelArg: string | undefined, load: PrecisionRequest | ModelLoad = 'auto'): Promise<GPT2> {
  const { precision = 'auto', threads = availableParallelism() } = typeof load === 'string' ? { precision: load } : load;
  // Progress goes to stderr (stdout keeps only the result): see stderrProgress.
  const { model, cacheNote } = await loadModelArg(modelArg ?? 'embedded', { precision, threads });
  if (cacheNote) console.error(`note: ${cacheNote}`);
  const note = paddedVocabularyNote(model.config.vocabSize);
  if (note) console.error(`note: ${note}`);
  return model;
}

/** Runs `body` with the model (matrices in `load`'s precision, or `load` itself) and disposes it afterwards, whatever happens. */
export async function withModel<T>(
  modelArg: string | undefined,
  body: (model: GPT2) => Promise<T>,
  load: PrecisionRequest | ModelLoad = 'auto',
): Promise<T> {
  const model = await openModel(modelArg, load);
  try {
    return await body(model);
  } finally {
    model.dispose();
  }
}
