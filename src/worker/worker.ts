/// <reference lib="webworker" />
/**
 * The generation worker: owns tfjs, the model and generation, so the page never blocks on
 * compute. It speaks only the messages in ./protocol.ts; what it does with each is the
 * WorkerSession's (./session.ts), given here the browser's backend, model cache and loader.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backend/select';
import { wasmThreadCount } from '../backend/wasmThreads';
import { BrowserModelCache, type ModelCache } from '../sources/cache';
import { loadModel } from '../sources/loadModel';
import type { BackendInfo, BackendMemory, FromWorker, ToWorker } from './protocol';
import { WorkerSession } from './session';

const scope = self as unknown as DedicatedWorkerGlobalScope;

const session = new WorkerSession({
  post: (message: FromWorker, transfer: Transferable[] = []) => scope.postMessage(message, transfer),
  startBackend: async (request, init, onDeviceLost): Promise<BackendInfo> => {
    const selection = await selectBackend(request, {
      appBaseUrl: new URL(import.meta.env.BASE_URL, init.pageUrl).href,
      onDeviceLost,
      threads: init.threads,
    });
    return { ...selection, crossOriginIsolated: scope.crossOriginIsolated, memory: describeBackendMemory(selection.backend) };
  },
  loadModel: async (request, init, { signal, onProgress, backend }) =>
    loadModel(request.spec, {
      hubUrl: request.hubUrl ?? init.hubUrl,
      cache: await openCache(),
      pageUrl: init.pageUrl,
      signal,
      onProgress,
      askAboveBytes: request.askAboveBytes,
      precision: request.precision,
      memory: backend.memory,
      threads: wasmThreadCount(init.threads),
    }),
  memory: () => {
    const { numTensors, numBytes } = tf.memory();
    return { tensors: numTensors, bytes: numBytes };
  },
});

scope.addEventListener('message', (event: MessageEvent<ToWorker>) => void session.receive(event.data));

/** What the running backend offers, for the memory plan each load makes before its download. */
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

/** The Cache Storage model cache, or none where the browser offers no Cache Storage. */
async function openCache(): Promise<ModelCache | undefined> {
  try {
    return await BrowserModelCache.open();
  } catch {
    return undefined;
  }
}
