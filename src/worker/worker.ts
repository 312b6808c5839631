/// <reference lib="webworker" />
/**
 * The generation worker: owns tfjs, the model and generation, so the page never blocks on
 * compute. It speaks only the messages in ./protocol.ts.
 */
import { selectBackend, type BackendSelection } from '../backend/select';
import { generate } from '../generation';
import type { GPT2 } from '../model/gpt2';
import { BrowserModelCache, type ModelCache } from '../sources/cache';
import { isAbortError } from '../sources/errors';
import { loadModel } from '../sources/loadModel';
import { describeError } from './errors';
import { modelInfo } from './modelInfo';
import type { BackendMemory, FromWorker, GenerateRequest, InitRequest, LoadRequest, ToWorker } from './protocol';
import * as tf from '@tensorflow/tfjs';

const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(message: FromWorker): void {
  scope.postMessage(message);
}

let init: InitRequest | null = null;
/** Resolves true once a backend runs, false if none could start (the page has been told why). */
let backendReady: Promise<boolean> = Promise.resolve(false);
let model: GPT2 | null = null;
/** The last load request, replayed if the GPU is lost and the model must move to another backend. */
let lastLoad: LoadRequest | null = null;
let loading: AbortController | null = null;
let running: { id: number; controller: AbortController } | null = null;
/** Generate requests stopped before they started. */
const abortedBeforeStart = new Set<number>();
/** Loads and generations run one at a time, in the order they were asked for. */
let queue: Promise<void> = Promise.resolve();

function enqueue(task: () => Promise<void>): void {
  queue = queue.then(task, task);
}

scope.addEventListener('message', (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case 'init':
      init = message;
      backendReady = startBackend(message.backend);
      break;
    case 'load':
      // A new model replaces whatever is loading or generating now.
      loading?.abort();
      running?.controller.abort();
      enqueue(() => load(message));
      break;
    case 'generate':
      enqueue(() => runGeneration(message));
      break;
    case 'abort':
      if (running?.id === message.id) running.controller.abort();
      else abortedBeforeStart.add(message.id);
      break;
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
    });
    backendMemory = describeBackendMemory(selection.backend);
    post({
      type: 'backend',
      info: { ...selection, reason: overrideReason ?? selection.reason, crossOriginIsolated: scope.crossOriginIsolated, memory: backendMemory },
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
  running?.controller.abort();
  model = null; // its tensors lived on the lost device
  backendReady = startBackend('wasm', reason);
  if (lastLoad) {
    const replay = lastLoad;
    enqueue(() => load(replay));
  }
}

function disposeModel(): void {
  try {
    model?.dispose();
  } catch {
    // Disposing after a device loss can throw; the tensors are gone either way.
  }
  model = null;
}

async function load(request: LoadRequest): Promise<void> {
  lastLoad = request;
  if (!(await backendReady)) {
    post({ type: 'error', id: request.id, phase: 'load', message: 'No compute backend is running, so no model can load (see the message above).' });
    return;
  }
  disposeModel();
  const controller = new AbortController();
  loading = controller;
  const started = performance.now();
  try {
    const loaded = await loadModel(request.spec, {
      hubUrl: init?.hubUrl,
      cache: await openCache(),
      pageUrl: init?.pageUrl,
      signal: controller.signal,
      onProgress: (progress) => post({ type: 'load-progress', id: request.id, progress }),
      precision: request.precision,
      memory: backendMemory,
    });
    if (controller.signal.aborted) {
      loaded.model.dispose();
      return;
    }
    model = loaded.model;
    post({
      type: 'loaded', id: request.id, model: modelInfo(loaded.label, loaded.model.config, loaded), loadMs: performance.now() - started,
      ...(loaded.cacheNote ? { cacheNote: loaded.cacheNote } : {}),
    });
  } catch (error) {
    // Superseded by a newer load: that one reports.
    if (controller.signal.aborted && isAbortError(error)) return;
    post({ type: 'error', id: request.id, phase: 'load', message: describeError(error, 'load') });
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

/** Lets queued messages (Stop) in between tokens, even on backends whose reads never leave the microtask queue. */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

async function runGeneration(request: GenerateRequest): Promise<void> {
  const { id } = request;
  if (!model) {
    post({ type: 'error', id, phase: 'generate', message: 'No model is loaded yet: wait for it to finish loading, or load one above.' });
    return;
  }
  const controller = new AbortController();
  if (abortedBeforeStart.delete(id)) controller.abort();
  running = { id, controller };
  try {
    const tokens = generate(model, request.prompt, request.options, controller.signal);
    let step = await tokens.next();
    while (!step.done) {
      const event = step.value;
      post({ type: 'token', id, sequence: event.sequence, tokenId: event.tokenId, text: event.text, index: event.index, elapsedMs: event.elapsedMs });
      await yieldToEvents();
      step = await tokens.next();
    }
    const result = step.value;
    post({
      type: 'done',
      id,
      stats: {
        ...result.timings,
        promptTokens: result.promptIds.length,
        droppedPromptTokens: result.droppedPromptTokens,
        finishReasons: result.sequences.map((s) => s.finishReason),
        warnings: result.warnings,
      },
    });
  } catch (error) {
    post({ type: 'error', id, phase: 'generate', message: describeError(error, 'generate') });
  } finally {
    if (running?.id === id) running = null;
  }
}
