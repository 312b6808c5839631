/// <reference lib="webworker" />
/**
 * Runs one benchmark job in a module worker, like the app's generation worker: starts the
 * backend (wasm through the app's own selectBackend, so the thread fix is the one the app uses),
 * loads the model over HTTP, and measures.
 */
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../src/backend/select';
import { prepareWasmThreads, wasmThreadCount, wasmThreadsInUse } from '../../src/backend/wasmThreads';
import { GPT2 } from '../../src/model/gpt2';
import { availableMatmulBuilds } from '../../src/backend/simd/matmul';
import { benchModel, matmulCeiling, pairedRuns } from '../core';
import { measurePrecisions } from '../../src/backend/simd/calibrate';
import { fastestPrecision } from '../../src/model/memoryPlan';
import type { BrowserJob, BrowserJobResult, FromBenchWorker } from './protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (message: FromBenchWorker) => scope.postMessage(message);
const log = (line: string) => post({ type: 'log', line });

/** Every GPU compute dispatch, counted by wrapping the encoder's method (WebGPU only). */
let dispatches = 0;
function countDispatches(): void {
  const encoder = (globalThis as { GPUComputePassEncoder?: { prototype: GPUComputePassEncoder } }).GPUComputePassEncoder;
  if (!encoder) return;
  const original = encoder.prototype.dispatchWorkgroups;
  encoder.prototype.dispatchWorkgroups = function (
    this: GPUComputePassEncoder,
    ...args: Parameters<GPUComputePassEncoder['dispatchWorkgroups']>
  ) {
    dispatches++;
    return original.apply(this, args);
  };
}

async function startBackend(job: BrowserJob): Promise<string | undefined> {
  const appBaseUrl = new URL('/', scope.location.href).href;
  if (job.backend === 'wasm' && typeof job.threads === 'number') {
    setWasmPaths(new URL('/tfjs-wasm/', appBaseUrl).href);
    const restore = prepareWasmThreads(job.threads);
    setThreadsCount(job.threads);
    try {
      if (!(await tf.setBackend('wasm'))) throw new Error('wasm did not start');
      await tf.ready();
    } finally {
      restore();
    }
    return undefined;
  }
  const selection = await selectBackend(job.backend, { appBaseUrl });
  if (selection.backend !== job.backend) throw new Error(`asked for ${job.backend}, got ${selection.backend}: ${selection.reason}`);
  return selection.adapter;
}

async function fetchModel(name: NonNullable<BrowserJob['model']>): Promise<{ config: unknown; weights: ArrayBuffer }> {
  const base = `/models/${name}/`;
  const [config, weights] = await Promise.all([
    fetch(base + 'config.json').then((r) => r.json()),
    fetch(base + 'model.safetensors').then((r) => r.arrayBuffer()),
  ]);
  return { config, weights };
}

async function run(job: BrowserJob): Promise<BrowserJobResult> {
  if (job.backend === 'webgpu') countDispatches();
  const adapter = await startBackend(job);
  if (tf.getBackend() !== job.backend) throw new Error(`tfjs runs on ${tf.getBackend()}, not ${job.backend}`);
  const result: BrowserJobResult = {
    id: job.id,
    backend: tf.getBackend(),
    threads: job.backend === 'wasm' ? wasmThreadsInUse() : 0,
    crossOriginIsolated: scope.crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
    adapter,
  };
  log(`${job.id}: ${result.backend}, ${result.threads} thread(s), crossOriginIsolated=${result.crossOriginIsolated}`);
  if (job.ceiling) result.ceiling = await matmulCeiling(7, 12, 50257, log);
  if (job.model && job.paired) {
    const speeds = measurePrecisions(768, 3072); // GPT-2 124M's c_fc, as loadModel measures a model's widest matrix
    result.calibration = { speeds, choice: fastestPrecision(['f32', 'f16', 'q8'], speeds) };
    const { config, weights } = await fetchModel(job.model);
    const sides: { label: string; model: GPT2 }[] = [];
    for (const threads of job.paired.kernelThreads) {
      const model = await GPT2.fromFiles(config, weights, { precision: job.precision, threads });
      await model.warmUp();
      sides.push({ label: `${threads} thread${threads === 1 ? '' : 's'}`, model });
    }
    result.precision = sides[0].model.precision;
    result.matmulBuild = availableMatmulBuilds()[0];
    result.model = job.model;
    const measured = await pairedRuns(sides, { ...job.paired, log: (l) => log(`${job.id}: ${l}`) });
    result.paired = measured.map((side, i) => ({ ...side, kernelThreads: sides[i].model.storeThreads ?? 0 }));
    for (const { model } of sides) model.dispose();
  }
  if (job.model && job.options) {
    const t0 = performance.now();
    const { config, weights } = await fetchModel(job.model);
    result.fetchMs = performance.now() - t0;
    const t1 = performance.now();
    // The q8 / f16 kernels get the same threads as tfjs's pool: the number asked for, or the app's count.
    const threads = typeof job.threads === 'number' ? job.threads : wasmThreadCount();
    const model = await GPT2.fromFiles(config, weights, { precision: job.precision, threads });
    result.loadMs = performance.now() - t1;
    const t2 = performance.now();
    await model.warmUp(); // as the app's load does
    result.warmUpMs = performance.now() - t2;
    result.precision = model.precision;
    result.kernelThreads = model.storeThreads;
    result.matmulBuild = availableMatmulBuilds()[0];
    result.model = job.model;
    result.nLayer = model.config.nLayer;
    log(`${job.id}: loaded ${job.model} in ${result.loadMs.toFixed(0)} ms (fetch ${result.fetchMs.toFixed(0)} ms)`);
    result.bench = await benchModel(model, {
      ...job.options,
      log: (l) => log(`${job.id}: ${l}`),
      dispatchCount: job.backend === 'webgpu' ? () => dispatches : undefined,
    });
    model.dispose();
  }
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  if (heap) result.wasmHeapBytes = heap.buffer.byteLength;
  return result;
}

scope.addEventListener('message', (event: MessageEvent<BrowserJob>) => {
  const job = event.data;
  run(job).then(
    (result) => post({ type: 'done', result }),
    (error) =>
      post({
        type: 'done',
        result: {
          id: job.id,
          backend: job.backend,
          threads: 0,
          crossOriginIsolated: scope.crossOriginIsolated,
          hardwareConcurrency: navigator.hardwareConcurrency,
          error: String((error as Error)?.stack ?? error),
        },
      }),
  );
});
