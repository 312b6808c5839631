/**
 * loadModel(spec, options): a ready GPT2 from the hub, a folder URL, local files or the embedded
 * model, with progress, the cache and resume. Runs where tfjs runs (the worker, Node).
 */
import * as tf from '@tensorflow/tfjs';
import { WeightsBuilder } from '../model/checkpoint';
import { bytesSource, readCheckpoint, type ByteSource, type ReadOptions } from '../model/checkpointStream';
import { mlpWidth, parseGPT2Config, type GPT2Config } from '../model/config';
import { measurePrecisions } from '../backend/simd/calibrate';
import { CheckpointError } from '../model/errors';
import { GPT2_VOCAB_SIZE } from '../tokenizer/vocabulary';
import { GPT2 } from '../model/gpt2';
import { choosePrecision, type BackendMemory, type MemoryPlan, type PrecisionChoice, type PrecisionRequest } from '../model/memoryPlan';
import type { WeightPrecision } from '../model/weights';
import { CONFIG_FILE, WEIGHTS_FILE, putText, quotaError, readText, type CacheKey, type ModelCache } from './cache';
import { DigestMismatchError, RemoteFile, checkedAgainstSha256, fetchText, tooLargeError, type RemoteOptions } from './download';
import { embeddedModelUrl } from './embedded';
import { DownloadConfirmationError, ModelSourceError, abortedError, isAbortError } from './errors';
import { DEFAULT_HUB_URL, folderFileUrl, hubCacheId, hubFileUrl, hubRepoUrl } from './hub';
import { PRESETS } from './presets';
import { ProgressTracker, type LoadOrigin, type ProgressListener } from './progress';
import { describeModelSpec, type ModelSpec } from './spec';
import { CachedCopyError, WeightsCacheSession, type ModelKey, isComplete, openCachedWeights, readManifest } from './cachedWeights';
import { MAX_CONFIG_BYTES, checkConfigFitsWeights } from './bounds';
import { errorMessage } from '../util/errorMessage';

export interface LoadOptions {
  /** Hub base URL; default https://huggingface.co. */
  hubUrl?: string;
  /** Where hub downloads are kept and looked up (BrowserModelCache in the app). Omit: no caching. */
  cache?: ModelCache | null;
  /** The page's URL, to resolve relative url: specs and the embedded model from a worker. */
  pageUrl?: string;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  /** Retries per byte span after a dropped connection (default 4). */
  maxRetries?: number;
  /** Base wait between retries in ms (default 500; retry n waits n times this). */
  retryDelayMs?: number;
  /** A request that gets no answer, or no byte of its body, for this long is retried (default 30 s). */
  idleTimeoutMs?: number;
  /**
   * Stop with a DownloadConfirmationError before downloading more than this many bytes of weights
   * (known once the safetensors header is in; cached and local files never ask). Default: never ask.
   */
  askAboveBytes?: number;
  /** Size the cached weights are split into (default 64 MiB): an interrupted download resumes from the last whole piece. */
  cachePieceBytes?: number;
  /** Gaps up to this many bytes between used tensors are fetched rather than split (default 8 KiB). */
  mergeGapBytes?: number;
  fetch?: typeof fetch;
  /** Clock for speed/ETA (ms). */
  now?: () => number;
  /** Precision of the matrices: 'auto' (default: see choosePrecision) or f32 / f16 / q8. */
  precision?: PrecisionRequest;
  /** What the backend offers, for the memory plan made before the weights are fetched (default: tfjs's backend, no limits known beyond WebAssembly's). */
  memory?: BackendMemory;
  /** Sequences the KV cache must hold at full context in the memory plan (default 4, the page's most). */
  sequences?: number;
  /** Run the model once before reporting it ready (GPT2.warmUp), so the first generation pays no one-time cost (default true). */
  warmUp?: boolean;
  /**
   * Check each cached piece's length and SHA-256 as it is read (default true). false exists only
   * to measure what the check costs (bench/): a copy changed on disk is then used as it is.
   */
  verifyCache?: boolean;
  /** Threads for the q8 / f16 products on wasm and cpu, this one included (default 1). */
  threads?: number;
}

export interface LoadedModel {
  model: GPT2;
  config: GPT2Config;
  spec: ModelSpec;
  /** 'GPT-2 medium (openai-community/gpt2-medium)'. */
  label: string;
  /** Where the weights came from this time: the network, the cache or local files. */
  origin: LoadOrigin;
  /** Bytes of model.safetensors read (header + used tensors when Range works). */
  bytesRead: number;
  /** Bytes of unused tensors that were not read. */
  bytesSkipped: number;
  /** Present when the model loaded but something about keeping it went wrong (quota, a damaged cached copy). */
  cacheNote?: string;
  /** The precision the matrices were loaded in, and why. */
  precision: WeightPrecision;
  precisionReason: string;
  /** What the model was expected to need on this backend (made from config.json before the download). */
  memoryPlan: MemoryPlan;
}

export async function loadModel(spec: ModelSpec, options: LoadOptions = {}): Promise<LoadedModel> {
  const label = describeModelSpec(spec);
  switch (spec.kind) {
    case 'hub':
      return loadFromHub(spec, label, options);
    case 'url':
      return loadFromFolder(
        spec,
        resolveUrl(spec.baseUrl, options.pageUrl),
        label,
        options,
        'Check the folder URL: it must hold config.json and model.safetensors.',
      );
    case 'embedded':
      return loadFromFolder(
        spec,
        embeddedModelUrl(options.pageUrl),
        label,
        options,
        'The built-in model is missing from this build of the app; choose a hub model, or rebuild the app with public/models/sherlock-gpt2/.',
      );
    case 'files': {
      const tracker = new ProgressTracker('file', options.onProgress, options.now);
      tracker.begin('config', CONFIG_FILE, spec.config.size);
      if (spec.config.size > MAX_CONFIG_BYTES) throw tooLargeError(`The ${CONFIG_FILE} of ${label}`, spec.config.size, MAX_CONFIG_BYTES);
      const configText = await spec.config.text();
      tracker.addBytes(spec.config.size);
      const { config, choice } = configAndPlan(configText, spec, label, options);
      return build(spec, label, config, choice, bytesSource(spec.weights), tracker, options);
    }
  }
}

async function loadFromHub(spec: Extract<ModelSpec, { kind: 'hub' }>, label: string, options: LoadOptions): Promise<LoadedModel> {
  const { repo, revision } = spec;
  const cache = options.cache ?? null;
  // Files are cached per hub: a mirror's copy of a repo is never what another hub's load gets.
  const hub = hubCacheId(options.hubUrl || DEFAULT_HUB_URL);
  const model: ModelKey = { ...(hub ? { hub } : {}), repo, revision };
  let cacheNote: string | undefined;

  if (cache) {
    try {
      const loaded = await loadFromCache(spec, label, cache, model, options);
      if (loaded) return loaded;
    } catch (error) {
      if (isAbortError(error) || isRefusal(error)) throw error;
      // A damaged cached copy is dropped and fetched again rather than failing forever.
      await cache.delete(repo, revision, hub).catch(() => undefined);
      cacheNote = `The cached copy of ${label} could not be read (${messageOf(error)}), so it was dropped and downloaded again.`;
    }
  }

  try {
    const loaded = await downloadFromHub(spec, label, options, model);
    return { ...loaded, cacheNote: cacheNote ?? loaded.cacheNote };
  } catch (error) {
    // The stored part of an interrupted download failed its check: dropped (storedTensors), so download it all.
    if (!(error instanceof CachedCopyError) || !cache) throw error;
    const loaded = await downloadFromHub(spec, label, options, model);
    const note = `The stored part of an interrupted download of ${label} could not be read (${messageOf(error)}), so it was dropped and downloaded again.`;
    return { ...loaded, cacheNote: loaded.cacheNote ?? note };
  }
}

/** A complete cached copy, verified as it is read; null when none is stored. */
async function loadFromCache(
  spec: Extract<ModelSpec, { kind: 'hub' }>,
  label: string,
  cache: ModelCache,
  model: ModelKey,
  options: LoadOptions,
): Promise<LoadedModel | null> {
  const [manifest, configFile] = await Promise.all([readManifest(cache, model), cache.open({ ...model, file: CONFIG_FILE })]);
  if (!manifest || !isComplete(manifest) || !configFile) return null;
  const tracker = new ProgressTracker('cache', options.onProgress, options.now);
  tracker.begin('config', CONFIG_FILE, configFile.size);
  const configText = await readText(configFile);
  tracker.addBytes(configFile.size);
  const { config, choice } = configAndPlan(configText, spec, label, options);
  const source = await openCachedWeights(cache, model, manifest, options.verifyCache !== false);
  return build(spec, label, config, choice, source, tracker, options);
}

/** Downloads the hub model, keeping a copy in the cache (resuming a stored partial download). */
async function downloadFromHub(
  spec: Extract<ModelSpec, { kind: 'hub' }>,
  label: string,
  options: LoadOptions,
  model: ModelKey,
): Promise<LoadedModel> {
  const { repo, revision } = spec;
  const { hub } = model;
  const hubUrl = options.hubUrl || DEFAULT_HUB_URL;
  const cache = options.cache ?? null;
  const key = (file: string): CacheKey => ({ ...model, file });
  let cacheNote: string | undefined;
  const hints: Record<string, string> = {
    [CONFIG_FILE]: `Check the repo id "${repo}" and the revision "${revision}" (see ${hubRepoUrl(hubUrl, repo)}). Presets: ${PRESETS.map((p) => p.id).join(', ')}.`,
    [WEIGHTS_FILE]: `${repo} has no model.safetensors at revision "${revision}" (it may have only PyTorch .bin or sharded weights). Pick a repo with a single model.safetensors.`,
  };
  const {
    configText,
    config,
    choice,
    source: remote,
    tracker,
  } = await openOnServer(spec, label, options, (file) => ({
    url: hubFileUrl(hubUrl, repo, revision, file),
    what: `${file} of ${repo}@${revision}`,
    notFoundHint: hints[file],
  }));
  // A read of the whole file is checked against the SHA-256 the hub states for it.
  const source = remote.sha256 ? checkedAgainstSha256(remote, remote.sha256, `${WEIGHTS_FILE} of ${repo}@${revision}`) : remote;

  let cacheFailure: unknown = null;
  let session: WeightsCacheSession | null = null;
  const loaded = await build(
    spec,
    label,
    config,
    choice,
    source,
    tracker,
    options,
    cache &&
      (async (header, used) => {
        const started = await WeightsCacheSession.begin(
          cache,
          model,
          header,
          used,
          remote.etag,
          (error) => (cacheFailure ??= error),
          options.cachePieceBytes,
        );
        session = started.session;
        return { held: started.resumed, copy: started.session };
      }),
  ).catch(async (error: unknown) => {
    // Pieces stored before the file failed the hub's digest came from bad bytes: none is kept for a resume.
    if (error instanceof DigestMismatchError) await cache?.delete(repo, revision, hub).catch(() => undefined);
    throw error;
  });
  if (cache && !cacheFailure && !(session as WeightsCacheSession | null)?.complete)
    cacheFailure = new Error('the weights were not all stored');
  if (cache && !cacheFailure) {
    // config.json goes last: a model counts as cached only once both files are in.
    try {
      await putText(cache, key(CONFIG_FILE), configText);
    } catch (error) {
      // Storage full names what the model needs (its pieces and config.json), not the small file that did not fit.
      const quota = error instanceof ModelSourceError && error.kind === 'quota';
      const bytes = (session as WeightsCacheSession | null)?.totalBytes ?? 0;
      cacheFailure = quota ? quotaError(key(WEIGHTS_FILE), bytes + new TextEncoder().encode(configText).byteLength, error) : error;
    }
  }
  if (cacheFailure) {
    await cache?.delete(repo, revision, hub).catch(() => undefined);
    cacheNote = `${label} loaded but was not kept for offline use: ${messageOf(cacheFailure)}`;
  }
  return cacheNote ? { ...loaded, cacheNote } : loaded;
}

async function loadFromFolder(
  spec: ModelSpec,
  baseUrl: string,
  label: string,
  options: LoadOptions,
  notFoundHint: string,
): Promise<LoadedModel> {
  const { config, choice, source, tracker } = await openOnServer(spec, label, options, (file) => ({
    url: folderFileUrl(baseUrl, file),
    what: `${file} of ${label}`,
    notFoundHint,
  }));
  return build(spec, label, config, choice, source, tracker, options);
}

/** config.json and the plan from a server (the hub or a folder URL), then model.safetensors opened for reading. */
async function openOnServer(spec: ModelSpec, label: string, options: LoadOptions, file: (name: string) => RemoteOptions & { url: string }) {
  const { fetch, signal, maxRetries, retryDelayMs, idleTimeoutMs } = options;
  const remote = (name: string) => ({ ...file(name), fetch, signal, maxRetries, retryDelayMs, idleTimeoutMs });
  const tracker = new ProgressTracker('network', options.onProgress, options.now);
  tracker.begin('config', CONFIG_FILE, 0);
  const config = remote(CONFIG_FILE);
  const configText = await fetchText(config.url, config, MAX_CONFIG_BYTES);
  const weights = remote(WEIGHTS_FILE);
  const planned = configAndPlan(configText, spec, label, options);
  const source = await RemoteFile.open(weights.url, { ...weights, onResume: () => tracker.resumed() });
  return { ...planned, configText, source, tracker };
}

/**
 * config.json → the config and the precision to load with its memory plan, before any weight is
 * fetched: a model that cannot fit on this backend is refused here, naming the numbers.
 */
function configAndPlan(
  text: string,
  spec: ModelSpec,
  label: string,
  options: LoadOptions,
): { config: GPT2Config; choice: PrecisionChoice } {
  const config = readConfig(text, label);
  try {
    const memory = options.memory ?? { backend: tf.getBackend() };
    return {
      config,
      choice: choosePrecision(options.precision ?? 'auto', config, memory, {
        builtIn: spec.kind === 'embedded',
        sequences: options.sequences,
        label,
        measure: (c) => measurePrecisions(c.nEmbd, mlpWidth(c)),
      }),
    };
  } catch (error) {
    throw new ModelSourceError('unsupported', `${messageOf(error)}`, false, { cause: error });
  }
}

/** A precision or memory refusal (configAndPlan): nothing is wrong with a cached copy. */
function isRefusal(error: unknown): boolean {
  return error instanceof ModelSourceError && error.kind === 'unsupported';
}

/** Streams the weights into a WeightsBuilder (the one checkpoint loader) and assembles the model. */
async function build(
  spec: ModelSpec,
  label: string,
  config: GPT2Config,
  choice: PrecisionChoice,
  source: ByteSource,
  tracker: ProgressTracker,
  options: LoadOptions,
  onHeader?: ReadOptions['onHeader'] | null,
): Promise<LoadedModel> {
  const origin = tracker.origin;
  let result;
  try {
    tracker.begin('weights', WEIGHTS_FILE, Number.isFinite(source.size) ? source.size : 0);
    result = await readCheckpoint(
      source,
      (header) => {
        checkConfigFitsWeights(config, header, WEIGHTS_FILE);
        return new WeightsBuilder(config, header, WEIGHTS_FILE, { precision: choice.plan.precision, threads: options.threads });
      },
      {
        file: WEIGHTS_FILE,
        signal: options.signal,
        mergeGapBytes: options.mergeGapBytes,
        checked: origin === 'cache', // checked for NaN and ±Infinity when it was downloaded
        onHeader: onHeader ?? undefined,
        onPlan: (plan) => {
          if (origin === 'network' && options.askAboveBytes !== undefined && plan.tensorBytes > options.askAboveBytes)
            throw new DownloadConfirmationError(label, plan.tensorBytes);
          tracker.setTotals({ bytesTotal: plan.bytesTotal, bytesSkipped: plan.bytesSkipped, tensorsTotal: plan.tensors });
          if (plan.held > 0) tracker.resumed();
        },
        onBytes: (n) => tracker.addBytes(n),
        onTensor: () => tracker.tensorDone(),
      },
    );
  } catch (error) {
    throw asSourceError(error, label, origin);
  }
  let model: GPT2;
  try {
    model = new GPT2(config, result.sink.finish());
  } catch (error) {
    result.sink.dispose();
    throw asSourceError(error, label, origin);
  }
  if (options.warmUp !== false) {
    tracker.warmingUp();
    await model.warmUp();
  }
  tracker.finish();
  return {
    model,
    config,
    spec,
    label,
    origin,
    bytesRead: result.bytesRead,
    bytesSkipped: result.bytesSkipped,
    precision: choice.plan.precision,
    precisionReason: choice.reason,
    memoryPlan: choice.plan,
  };
}

/** config.json text → GPT2Config, or a message saying why this is not a GPT-2 we can run. */
export function readConfig(text: string, label: string): GPT2Config {
  let json: unknown;
  if (text.trimStart().startsWith('<')) {
    throw new ModelSourceError(
      'not-gpt2',
      `The config.json of ${label} is an HTML page, not JSON: the server answered with a web page (a missing file, a login or error page). Check the address.`,
    );
  }
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelSourceError(
      'not-gpt2',
      `The config.json of ${label} is not valid JSON (${messageOf(error)}); this does not look like a Hugging Face model folder.`,
    );
  }
  const fields = (json ?? {}) as { model_type?: unknown; architectures?: unknown };
  if (typeof json === 'object' && json !== null && fields.model_type !== 'gpt2') {
    const arch = Array.isArray(fields.architectures) && fields.architectures.length ? ` (${fields.architectures.join(', ')})` : '';
    const type = fields.model_type === undefined ? 'no model_type' : `model_type "${String(fields.model_type)}"`;
    throw new ModelSourceError(
      'not-gpt2',
      `${label} is not a GPT-2 model: its config.json says ${type}${arch}. This app runs GPT-2 checkpoints only: pick one of ${PRESETS.map((p) => p.id).join(', ')} or a GPT-2 fine-tune.`,
    );
  }
  let config: GPT2Config;
  try {
    config = parseGPT2Config(json, CONFIG_FILE);
  } catch (error) {
    throw new ModelSourceError('not-gpt2', `${label} cannot be run: ${messageOf(error)}.`, false, { cause: error });
  }
  checkVocabulary(config, label);
  return config;
}

/**
 * Text goes through GPT-2's tokenizer, so the model must have a row for each of its 50257 ids: a
 * smaller vocabulary belongs to another tokenizer. A larger one (nanoGPT pads to 50304) is fine:
 * the extra ids are never sampled (src/generation/generate.ts).
 */
function checkVocabulary(config: GPT2Config, label: string): void {
  if (config.vocabSize < GPT2_VOCAB_SIZE) {
    throw new ModelSourceError(
      'not-gpt2',
      `${label} cannot be run: its config.json has vocab_size ${config.vocabSize}, fewer than the ${GPT2_VOCAB_SIZE} tokens of GPT-2's tokenizer, ` +
        "which this app reads and writes text with. It was trained with another tokenizer; pick a checkpoint with GPT-2's vocabulary.",
    );
  }
  for (const [key, id] of [
    ['bos_token_id', config.bosTokenId],
    ['eos_token_id', config.eosTokenId],
  ] as const) {
    if (id >= config.vocabSize) {
      throw new ModelSourceError(
        'not-gpt2',
        `${label} cannot be run: its config.json has ${key} ${id}, outside its vocabulary of ${config.vocabSize} ids.`,
      );
    }
  }
}

/** What to do about a broken checkpoint depends on where it came from: files on disk are not downloaded again. */
function asSourceError(error: unknown, label: string, origin: LoadOrigin): unknown {
  if (error instanceof ModelSourceError) return error;
  if (isAbortError(error)) return abortedError(label);
  if (error instanceof CheckpointError) {
    const advice =
      origin === 'file'
        ? 'Check the files: pick the config.json and model.safetensors of one model, as saved by save_pretrained.'
        : 'If the download went wrong, a retry fetches it again; if it fails the same way, the files on the server are broken.';
    return new ModelSourceError('corrupt', `${label} cannot be loaded: ${error.message}. ${advice}`, origin !== 'file', { cause: error });
  }
  return error;
}

function resolveUrl(url: string, pageUrl?: string): string {
  const base = pageUrl ?? (globalThis as { location?: { href: string } }).location?.href;
  return base ? new URL(url, base).href : url;
}

function messageOf(error: unknown): string {
  return errorMessage(error);
}
