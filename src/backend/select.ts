/// <reference types="@webgpu/types" />
/**
 * Starts a tfjs backend in the browser (the worker): WebGPU first, then wasm, webgl, cpu.
 * The decisions and their reasons live in ./choice.ts; this module probes and calls tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { adapterName, planBackends, DEFAULT_POLICY, type AdapterDescription, type BackendPolicy, type WebGPUProbe } from './choice';
import { wasmPathPrefix } from './wasmAssets';
import { prepareWasmThreads, wasmThreadsInUse } from './wasmThreads';
import { errorMessage } from '../util/errorMessage';

export interface BackendSelection {
  backend: string;
  /** Why this is not plain WebGPU on a hardware adapter; '' when it is. */
  reason: string;
  /** The WebGPU adapter's name, when running on WebGPU. */
  adapter?: string;
  /** Threads in tfjs-wasm's pool, when running on wasm. */
  threads?: number;
}

export interface SelectOptions {
  /** Base URL of the app, where the build serves tfjs's .wasm files. */
  appBaseUrl?: string;
  policy?: BackendPolicy;
  /** Called if the WebGPU device is lost after it started (driver reset, GPU removed). */
  onDeviceLost?: (message: string) => void;
  /** Threads for tfjs-wasm's pool (`?threads=`); default every core but the page's (wasmThreads.ts). */
  threads?: number;
}

export async function probeWebGPU(): Promise<WebGPUProbe> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return { status: 'no-api' };
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { status: 'no-adapter' };
    return { status: 'ok', adapter: describeAdapter(adapter) };
  } catch (error) {
    return { status: 'error', message: errorMessage(error) };
  }
}

function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  // `isFallbackAdapter` moved from GPUAdapter to GPUAdapterInfo; read both.
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const legacy = adapter as GPUAdapter & { isFallbackAdapter?: boolean };
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: Boolean(info?.isFallbackAdapter ?? legacy.isFallbackAdapter),
  };
}

export async function selectBackend(request?: string, options: SelectOptions = {}): Promise<BackendSelection> {
  if (options.appBaseUrl) setWasmPaths(wasmPathPrefix(options.appBaseUrl));
  const probe = await probeWebGPU();
  const failures: string[] = [];
  for (const candidate of planBackends(request, probe, options.policy ?? DEFAULT_POLICY)) {
    const started = await tryStart(candidate.backend, options.threads);
    if (started !== true) {
      failures.push(`${candidate.backend} failed to start: ${started}`);
      continue;
    }
    const reason = [candidate.reason, ...failures.map((f) => `(${f})`)].filter(Boolean).join(' ');
    if (candidate.backend === 'wasm') return { backend: 'wasm', reason, threads: wasmThreadsInUse() };
    if (candidate.backend !== 'webgpu') return { backend: candidate.backend, reason };
    watchDeviceLoss(options.onDeviceLost);
    return { backend: 'webgpu', reason, adapter: probe.status === 'ok' ? adapterName(probe.adapter) : undefined };
  }
  throw new Error(`No tfjs backend could start. ${failures.join('; ')}`);
}

/** true, or the error message. tf.setBackend resolves false (not throws) on some failures. */
async function tryStart(backend: string, threads: number | undefined): Promise<true | string> {
  const restoreCores = backend === 'wasm' ? prepareWasmThreads(threads) : undefined; // see wasmThreads.ts
  try {
    const ok = await tf.setBackend(backend);
    if (!ok) return 'the backend did not initialise';
    await tf.ready();
    return true;
  } catch (error) {
    return errorMessage(error);
  } finally {
    restoreCores?.();
  }
}

function watchDeviceLoss(onDeviceLost: SelectOptions['onDeviceLost']): void {
  if (!onDeviceLost) return;
  const device = (tf.backend() as WebGPUBackend).device;
  void device.lost.then((info) => {
    // 'destroyed' is our own dispose; anything else is the browser taking the GPU away.
    if (info.reason !== 'destroyed') onDeviceLost(info.message || 'the WebGPU device was lost');
  });
}
