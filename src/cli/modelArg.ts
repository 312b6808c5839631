/**
 * `--model` for every CLI command:
 *   --model DIR                 a folder with config.json + model.safetensors (as before)
 *   --model embedded            the app's built-in public/models/sherlock-gpt2
 *   --model gpt2 | gpt2-medium | gpt2-large | gpt2-xl | distilgpt2
 *   --model hf:owner/name[@rev] any GPT-2 repo on the hub (revision defaults to main)
 *   --model url:http://…/dir/   a folder served over HTTP
 * Hub downloads go through --hub-url URL (or $GPT2_HUB_URL; default https://huggingface.co) and
 * are kept in $GPT2_CACHE_DIR (default ~/.cache/gpt2-browser), per hub, so each model downloads
 * once. A server that sends nothing for --idle-timeout seconds ($GPT2_IDLE_TIMEOUT, default 30) is
 * given up on and the download retried from where it stopped.
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
import { errorMessage } from '../util/errorMessage';

const MODEL_FILES = ['config.json', 'model.safetensors'] as const;

export const EMBEDDED_MODEL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../public/models/sherlock-gpt2');

export interface ModelArgOptions {
  /** --hub-url; falls back to $GPT2_HUB_URL, then huggingface.co. */
  hubUrl?: string;
  /** Where hub files are kept; null: do not cache. Default $GPT2_CACHE_DIR or ~/.cache/gpt2-browser. */
  cacheDir?: string | null;
  /** Progress lines go here (default: stderr, see stderrProgress). */
  onProgress?: (progress: LoadProgress) => void;
  /** Seconds without a byte before a request is retried; falls back to $GPT2_IDLE_TIMEOUT, then 30. */
  idleTimeoutSeconds?: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** --dtype (default auto). */
  precision?: PrecisionRequest;
  /** --threads: threads for the q8 / f16 products (default 1). */
  threads?: number;
}

/** Turns a --model value into a spec: an existing folder wins, then the named forms. */
export async function modelArgToSpec(arg: string): Promise<ModelSpec> {
  const value = arg.trim();
  const folder = value === 'embedded' ? EMBEDDED_MODEL_DIR : value;
  const info = await stat(folder).catch(() => null);
  if (info?.isDirectory()) {
    const present = await Promise.all(
      MODEL_FILES.map((file) =>
        stat(path.join(folder, file)).then(
          (s) => s.isFile(),
          () => false,
        ),
      ),
    );
    const missing = MODEL_FILES.filter((_, i) => !present[i]);
    if (missing.length > 0) {
      throw new ModelSourceError(
        'not-found',
        `--model ${arg}: ${missing.map((file) => path.join(folder, file)).join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing (a model folder holds config.json and model.safetensors).`,
      );
    }
    const files = await filesFromFolder(folder).catch((error: unknown) => {
      throw new ModelSourceError(
        'not-found',
        `--model ${arg}: the folder must hold config.json and model.safetensors (${errorMessage(error)}).`,
      );
    });
    return { kind: 'files', ...files, name: value === 'embedded' ? 'sherlock-gpt2 (built in)' : folder };
  }
  if (value === 'embedded') {
    throw new ModelSourceError(
      'not-found',
      `The built-in model is missing: ${EMBEDDED_MODEL_DIR} does not exist. Pass --model DIR or --model gpt2.`,
    );
  }
  try {
    return parseModelSpec(value);
  } catch (error) {
    // A path-like value without a spec prefix was meant as a folder; hf:/url: ones get the spec's own message.
    if (error instanceof ModelSourceError && !/^(hf|url):/.test(value) && (value.includes('/') || value.startsWith('.'))) {
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
  const idleSeconds =
    options.idleTimeoutSeconds ?? (env.GPT2_IDLE_TIMEOUT ? idleTimeoutSeconds(env.GPT2_IDLE_TIMEOUT, 'GPT2_IDLE_TIMEOUT') : undefined);
  const printer = options.onProgress ? null : stderrProgress();
  try {
    return await loadModel(spec, {
      hubUrl: options.hubUrl || env.GPT2_HUB_URL || undefined,
      cache: spec.kind === 'hub' && cacheDir ? new FileSystemModelCache(cacheDir) : null,
      onProgress: options.onProgress ?? printer!.onProgress,
      signal: options.signal,
      idleTimeoutMs: idleSeconds === undefined ? undefined : idleSeconds * 1000,
      precision: options.precision,
      threads: options.threads,
    });
  } finally {
    printer?.close();
  }
}

/** `--idle-timeout` / $GPT2_IDLE_TIMEOUT: seconds above 0; throws naming `name` otherwise. */
export function idleTimeoutSeconds(text: string, name: string): number {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a number of seconds above 0, got '${text}'`);
  }
  return value;
}

/** How often a pipe gets a progress line while a download runs (and while it is stuck). */
const PROGRESS_LINE_MS = 5000;

/**
 * Load progress on stderr. On a terminal, one line that updates in place. Elsewhere (a pipe, a
 * log file) downloads get a line when they start, then one every few seconds, also while no byte
 * arrives (so a stuck server is visible), and one when done; local files and cache reads are quick
 * and stay quiet there, so logs hold only results.
 */
export function stderrProgress(
  stream: Pick<NodeJS.WriteStream, 'write' | 'isTTY'> = process.stderr,
  everyMs = PROGRESS_LINE_MS,
  now: () => number = () => Date.now(),
): { onProgress: (progress: LoadProgress) => void; close: () => void } {
  let latest: LoadProgress | null = null;
  let lastLineAt = -Infinity;
  let lastDataAt = now();
  let timer: ReturnType<typeof setInterval> | null = null;
  const line = (progress: LoadProgress, extra = '') => {
    stream.write(`${progress.message}${extra}\n`);
    lastLineAt = now();
  };
  const close = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  const heartbeat = () => {
    if (!latest || now() - lastLineAt < everyMs) return;
    const idle = now() - lastDataAt;
    line(latest, idle >= everyMs ? ` · no data for ${Math.round(idle / 1000)} s` : '');
  };
  const onProgress = (progress: LoadProgress) => {
    const previous = latest;
    latest = progress;
    if (!previous || progress.bytesDone !== previous.bytesDone || progress.stage !== previous.stage) lastDataAt = now();
    if (stream.isTTY) {
      if (progress.stage !== 'config') stream.write(`\r\x1b[2K${progress.message}${progress.stage === 'ready' ? '\n' : ''}`);
      return;
    }
    if (progress.origin !== 'network') return;
    if (progress.stage === 'ready') {
      close();
      line(progress);
      return;
    }
    if (!timer) {
      timer = setInterval(heartbeat, everyMs);
      timer.unref?.();
    }
    if (progress.stage !== previous?.stage || now() - lastLineAt >= everyMs) line(progress);
  };
  return { onProgress, close };
}
