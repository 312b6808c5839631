/// <reference lib="webworker" />
/**
 * The generation worker: owns tfjs, the model and generation, so the page never blocks on
 * compute. It speaks only the messages in ./protocol.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendSelection } from '../backend/select';
import { wasmThreadCount } from '../backend/wasmThreads';
import { generate } from '../generation';
import { nextMacrotask } from '../generation/generate';
import type { GPT2 } from '../model/gpt2';
import type { KVCache } from '../model/kvCache';
import { BrowserModelCache, type ModelCache } from '../sources/cache';
import { DownloadConfirmationError, isAbortError } from '../sources/errors';
import { loadModel } from '../sources/loadModel';
import { describeError } from './errors';
import { modelInfo } from './modelInfo';
import type { AnalyzeRequest, BackendMemory, FromWorker, GenerateRequest, InitRequest, LoadRequest, ToWorker } from './protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

let init: InitRequest | null = null;
/** Resolves true once a backend runs, false if none could start (the page has been told why). */
let backendReady: Promise<boolean> = Promise.resolve(false);
let model: GPT2 | null = null;
/** What the page was told about `model`: sent back when a later load fails and this one stays. */
let modelDescription: ReturnType<typeof modelInfo> | null = null;
/** The request that loaded `model`, replayed if the GPU is lost and the model must move to another backend. */
let lastLoad: LoadRequest | null = null;
let loading: AbortController | null = null;
/** Generations in progress by request id: the main run, and any branches beside it. */
const runs = new Map<number, { controller: AbortController; model: GPT2 }>();
/**
 * Finished runs' KV caches (generate()'s keepCache), newest last, so a branch can fork the prefix it
 * shares with one instead of running it through the model again. Bounded in count and bytes.
 */
const keptCaches = new Map<number, { cache: KVCache; rows: number[][]; bytes: number }>();
const MAX_KEPT_CACHES = 4;
const MAX_KEPT_BYTES = 256 * 2 ** 20;
/** Models replaced while a generation still used them: freed when it ends. */
const retired = new Set<GPT2>();
/** Generate requests stopped before they started. */
const abortedBeforeStart = new Set<number>();
/** Generations run one at a time, in the order they were asked for. */
let queue: Promise<void> = Promise.resolve();
/**
 * Loads run one at a time too, but beside the generations: a load is a transaction, so the
 * current model keeps answering until the new one is ready, and stays if the new one fails.
 */
let loads: Promise<void> = Promise.resolve();

function enqueue(task: () => Promise<void>): void {
  queue = queue.then(task, task);
}

function enqueueLoad(request: LoadRequest): void {
  const task = () => load(request);
  loads = loads.then(task, task);
}

scope.addEventListener('message', (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case 'init':
      init = message;
      backendReady = startBackend(message.backend);
      break;
    case 'load':
      // A new load replaces one still in progress; a running generation finishes on the current model.
      loading?.abort();
      enqueueLoad(message);
      break;
    case 'generate':
      // A branch starts at once, beside a run that may still be streaming; other runs take turns.
      if (message.branchOf) void runGeneration(message);
      else enqueue(() => runGeneration(message));
      break;
    case 'analyze':
      void analyze(message);
      break;
    case 'abort': {
      const run = runs.get(message.id);
      if (run) run.controller.abort();
      else abortedBeforeStart.add(message.id);
      break;
    }
  }
});

/** What the running backend offers, for the memory plan each load makes before its download. */
let backendMemory: BackendMemory | undefined;

function describeBackendMemory(backend: string): BackendMemory {
  const memory: BackendMemory = { backend };
  const deviceMemory = (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
  if (typeof deviceMemory === 'number') memory.deviceMemoryGb = deviceMemory;
  if (backend === 'webgpu') {
    const limits = (tf.backend() as unknown as { device?: GPUDevice }).device?.limits;
    if (limits) {
      memory.maxBufferSize = limits.maxBufferSize;
      memory.maxStorageBufferBindingSize = limits.maxStorageBufferBindingSize;
    }
  }
  return memory;
}

async function startBackend(request: string | undefined, overrideReason?: string): Promise<boolean> {
  try {
    const selection: BackendSelection = await selectBackend(request, {
      appBaseUrl: new URL(import.meta.env.BASE_URL, init?.pageUrl ?? scope.location.href).href,
      onDeviceLost: onDeviceLost,
      threads: init?.threads,
    });
    backendMemory = describeBackendMemory(selection.backend);
    post({
      type: 'backend',
      info: {
        ...selection,
        reason: overrideReason ?? selection.reason,
        crossOriginIsolated: scope.crossOriginIsolated,
        memory: backendMemory,
      },
    });
    return true;
  } catch (error) {
    post({ type: 'error', phase: 'backend', message: describeError(error, 'backend') });
    return false;
  }
}

/** The browser took the GPU away: move to WebAssembly and load the same model there. */
function onDeviceLost(why: string): void {
  const reason = `Not WebGPU because the WebGPU device was lost (${why}). Running on WebAssembly (tfjs wasm) instead.`;
  post({ type: 'error', phase: 'backend', message: `${reason} Reloading the model…` });
  for (const run of runs.values()) run.controller.abort();
  dropKeptCaches();
  model = null; // its tensors lived on the lost device
  modelDescription = null;
  backendReady = startBackend('wasm', reason);
  if (lastLoad) enqueueLoad(lastLoad);
}

function disposeQuietly(old: GPT2): void {
  try {
    old.dispose();
  } catch {
    // Disposing after a device loss can throw; the tensors are gone either way.
  }
}

/** Makes `next` the model, freeing the old one now, or when the generation still using it ends. */
function replaceModel(next: GPT2): void {
  const old = model;
  model = next;
  dropKeptCaches(); // they hold the old model's keys and values
  if (!old) return;
  if ([...runs.values()].some((run) => run.model === old)) retired.add(old);
  else disposeQuietly(old);
}

function keepCache(id: number, cache: KVCache, rows: number[][], owner: GPT2): void {
  if (owner !== model) {
    cache.dispose(); // the model changed while this run finished
    return;
  }
  const c = owner.config;
  const bytes = 2 * c.nLayer * cache.capacity * c.nEmbd * 4 * cache.batchSize;
  keptCaches.set(id, { cache, rows, bytes });
  let total = [...keptCaches.values()].reduce((sum, k) => sum + k.bytes, 0);
  for (const [oldest, kept] of keptCaches) {
    if (keptCaches.size <= 1 || (keptCaches.size <= MAX_KEPT_CACHES && total <= MAX_KEPT_BYTES)) break;
    kept.cache.dispose();
    keptCaches.delete(oldest);
    total -= kept.bytes;
  }
}

function dropKeptCaches(): void {
  for (const kept of keptCaches.values()) {
    try {
      kept.cache.dispose();
    } catch {
      // After a device loss the buffers are gone anyway.
    }
  }
  keptCaches.clear();
}

/**
 * For a branch: a fork of the kept cache of the run it branches from, holding every prompt id but
 * the last (the forced token), when that run's row starts with them; otherwise null (prefill).
 */
function prefixFor(request: GenerateRequest, promptIds: number[]): KVCache | null {
  const from = request.branchOf && keptCaches.get(request.branchOf.request);
  const row = from?.rows[request.branchOf!.sequence];
  const shared = promptIds.length - 1;
  if (!from || !row || shared < 1 || row.length < shared) return null;
  for (let i = 0; i < shared; i++) if (row[i] !== promptIds[i]) return null;
  const capacity = Math.min(model!.config.nPositions, promptIds.length + request.options.max_new_tokens);
  return from.cache.fork(request.branchOf!.sequence, shared, capacity);
}

async function load(request: LoadRequest): Promise<void> {
  if (!(await backendReady)) {
    post({
      type: 'error',
      id: request.id,
      phase: 'load',
      message: 'No compute backend is running, so no model can load (see the message above).',
    });
    return;
  }
  const controller = new AbortController();
  loading = controller;
  const started = performance.now();
  try {
    const loaded = await loadModel(request.spec, {
      hubUrl: request.hubUrl ?? init?.hubUrl,
      cache: await openCache(),
      pageUrl: init?.pageUrl,
      signal: controller.signal,
      onProgress: (progress) => post({ type: 'load-progress', id: request.id, progress }),
      askAboveBytes: request.askAboveBytes,
      precision: request.precision,
      memory: backendMemory,
      threads: wasmThreadCount(init?.threads),
    });
    if (controller.signal.aborted) {
      loaded.model.dispose();
      return;
    }
    replaceModel(loaded.model);
    modelDescription = modelInfo(loaded.label, loaded.model.config, loaded);
    lastLoad = request;
    post({
      type: 'loaded',
      id: request.id,
      model: modelDescription,
      loadMs: performance.now() - started,
      ...(loaded.cacheNote ? { cacheNote: loaded.cacheNote } : {}),
    });
  } catch (error) {
    // Superseded by a newer load: that one reports.
    if (controller.signal.aborted && isAbortError(error)) return;
    post({
      type: 'error',
      id: request.id,
      phase: 'load',
      message: describeError(error, 'load'),
      ...(model && modelDescription ? { kept: modelDescription } : {}),
      ...(error instanceof DownloadConfirmationError ? { downloadBytes: error.bytes } : {}),
    });
  } finally {
    if (loading === controller) loading = null;
  }
}

/** The Cache Storage model cache, or none where the browser offers no Cache Storage. */
async function openCache(): Promise<ModelCache | undefined> {
  try {
    return await BrowserModelCache.open();
  } catch {
    return undefined;
  }
}

async function runGeneration(request: GenerateRequest): Promise<void> {
  const { id } = request;
  if (!model) {
    post({ type: 'error', id, phase: 'generate', message: 'No model is loaded yet: wait for it to finish loading, or load one above.' });
    return;
  }
  const controller = new AbortController();
  if (abortedBeforeStart.delete(id)) controller.abort();
  const runModel = model;
  runs.set(id, { controller, model: runModel });
  try {
    const prefix = request.promptIds ? prefixFor(request, request.promptIds) : null;
    const reusedPositions = prefix?.length ?? 0;
    const tokens = generate(runModel, request.promptIds ?? request.prompt, request.options, {
      signal: controller.signal,
      inspectTop: request.inspectTop,
      onStart: ({ promptIds, droppedPromptTokens, seed }) => post({ type: 'started', id, promptIds, droppedPromptTokens, seed }),
      ...(prefix ? { prefix } : {}),
      keepCache: (cache, rows) => keepCache(id, cache, rows, runModel),
    });
    let step = await tokens.next();
    while (!step.done) {
      const event = step.value;
      post({
        type: 'token',
        id,
        sequence: event.sequence,
        tokenId: event.tokenId,
        text: event.text,
        index: event.index,
        elapsedMs: event.elapsedMs,
        ...(event.inspection ? { inspection: event.inspection } : {}),
      });
      await nextMacrotask();
      step = await tokens.next();
    }
    const result = step.value;
    post({
      type: 'done',
      id,
      stats: {
        ...result.timings,
        promptTokens: result.promptIds.length,
        reusedPositions: result.droppedPromptTokens > 0 ? 0 : reusedPositions,
        droppedPromptTokens: result.droppedPromptTokens,
        finishReasons: result.sequences.map((s) => s.finishReason),
        warnings: result.warnings,
      },
    });
  } catch (error) {
    post({ type: 'error', id, phase: 'generate', message: describeError(error, 'generate') });
  } finally {
    runs.delete(id);
    postMemory();
    for (const old of retired) {
      if ([...runs.values()].some((run) => run.model === old)) continue;
      disposeQuietly(old);
      retired.delete(old);
    }
  }
}

/** An analysis pass on demand: one layer's attention, or the logit lens; beside any generation. */
async function analyze(request: AnalyzeRequest): Promise<void> {
  const { id } = request;
  if (!model) {
    post({ type: 'error', id, phase: 'analyze', message: 'No model is loaded yet: wait for it to finish loading, or load one above.' });
    return;
  }
  try {
    if (request.analysis === 'attention') {
      const layer = request.layer ?? 0;
      const probabilities = model.attentionProbabilities(request.ids, layer); // [H, T, T]
      const [heads, length] = probabilities.shape;
      try {
        const data = (await probabilities.data()) as Float32Array;
        post({ type: 'attention', id, layer, heads, length, probabilities: data }, [data.buffer]);
      } finally {
        probabilities.dispose();
      }
    } else {
      post({ type: 'lens', id, layers: await model.logitLens(request.ids, 5) });
    }
  } catch (error) {
    post({ type: 'error', id, phase: 'analyze', message: describeError(error, 'analyze') });
  }
  postMemory();
}

/** Tells the page what tfjs holds now (after a generation or an analysis). */
function postMemory(): void {
  const { numTensors, numBytes } = tf.memory();
  post({ type: 'memory', tensors: numTensors, bytes: numBytes });
}
