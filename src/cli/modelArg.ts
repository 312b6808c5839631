/**
 * `--model` for every CLI command:
 *   --model DIR                 a folder with config.json + model.safetensors (as before)
 *   --model embedded            the app's built-in public/models/sherlock-gpt2
 *   --model gpt2 | gpt2-medium | gpt2-large | gpt2-xl | distilgpt2
 *   --model hf:owner/name[@rev] any GPT-2 repo on the hub (revision defaults to main)
 *   --model url:http://…/dir/   a folder served over HTTP
 * Hub downloads go through --hub-url URL (or $GPT2_HUB_URL; default https://huggingface.co) and
 * are kept in $GPT2_CACHE_DIR (default ~/.cache/gpt2-browser), so each model downloads once.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelSourceError } from '../sources/errors';
import { FileSystemModelCache, defaultCacheDir, filesFromFolder } from '../sources/fsCache';
import { loadModel, type LoadedModel } from '../sources/loadModel';
import type { LoadProgress } from '../sources/progress';
import { parseModelSpec, type ModelSpec } from '../sources/spec';
import type { PrecisionRequest } from '../model/memoryPlan';

export const EMBEDDED_MODEL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../public/models/sherlock-gpt2');

export interface ModelArgOptions {
  /** --hub-url; falls back to $GPT2_HUB_URL, then huggingface.co. */
  hubUrl?: string;
  /** Where hub files are kept; null: do not cache. Default $GPT2_CACHE_DIR or ~/.cache/gpt2-browser. */
  cacheDir?: string | null;
  /** Progress lines go here (default: stderr, one updating line on a terminal). */
  onProgress?: (progress: LoadProgress) => void;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** --dtype (default auto). */
  precision?: PrecisionRequest;
}

/** Turns a --model value into a spec: an existing folder wins, then the named forms. */
export async function modelArgToSpec(arg: string): Promise<ModelSpec> {
  const value = arg.trim();
  const folder = value === 'embedded' ? EMBEDDED_MODEL_DIR : value;
  const info = await stat(folder).catch(() => null);
  if (info?.isDirectory()) {
    const files = await filesFromFolder(folder).catch((error: unknown) => {
      throw new ModelSourceError(
        'not-found',
        `--model ${arg}: the folder must hold config.json and model.safetensors (${error instanceof Error ? error.message : String(error)}).`,
      );
    });
    return { kind: 'files', ...files, name: value === 'embedded' ? 'sherlock-gpt2 (built in)' : folder };
  }
  if (value === 'embedded') {
    throw new ModelSourceError('not-found', `The built-in model is missing: ${EMBEDDED_MODEL_DIR} does not exist. Pass --model DIR or --model gpt2.`);
  }
  try {
    return parseModelSpec(value);
  } catch (error) {
    if (error instanceof ModelSourceError && (value.includes('/') || value.startsWith('.'))) {
      throw new ModelSourceError('not-found', `--model ${arg}: no such folder. ${error.message}`);
    }
    throw error;
  }
}

/** Resolves --model and loads it: the CLI commands' one call. */
export async function loadModelArg(arg: string, options: ModelArgOptions = {}): Promise<LoadedModel> {
  const env = options.env ?? process.env;
  const spec = await modelArgToSpec(arg);
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir(env) : options.cacheDir;
  return loadModel(spec, {
    hubUrl: options.hubUrl || env.GPT2_HUB_URL || undefined,
    cache: spec.kind === 'hub' && cacheDir ? new FileSystemModelCache(cacheDir) : null,
    onProgress: options.onProgress ?? stderrProgress(),
    signal: options.signal,
    precision: options.precision,
  });
}

/** One updating line on a terminal; on a pipe, a line per tenth so logs stay short. */
export function stderrProgress(stream: NodeJS.WriteStream = process.stderr): (progress: LoadProgress) => void {
  let lastTenth = -1;
  return (progress) => {
    if (progress.stage === 'config') return;
    if (stream.isTTY) {
      stream.write(`\r\x1b[2K${progress.message}${progress.stage === 'ready' ? '\n' : ''}`);
      return;
    }
    const tenth = Math.floor(progress.percent / 10);
    if (progress.stage === 'ready' || tenth > lastTenth) {
      lastTenth = tenth;
      stream.write(`${progress.message}\n`);
    }
  };
}
