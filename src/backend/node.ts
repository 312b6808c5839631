/**
 * Starts a tfjs backend in Node (CLI, tests, benchmarks): `cpu` (pure JS), `wasm`
 * (@tensorflow/tfjs-backend-wasm, reading its .wasm files from node_modules) or `webgpu`
 * (the `webgpu` package: Dawn, here on SwiftShader's Vulkan when no GPU is present).
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

export const NODE_BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
export type NodeBackend = (typeof NODE_BACKENDS)[number];

export function isNodeBackend(name: string): name is NodeBackend {
  return (NODE_BACKENDS as readonly string[]).includes(name);
}

/** Chromium's SwiftShader Vulkan driver: a software GPU, used when no Vulkan ICD is configured. */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface NodeBackendInfo {
  backend: NodeBackend;
  adapter?: string;
}

/** Starts `name` and checks tfjs really runs on it (tfjs silently falls back otherwise). */
export async function setupNodeBackend(name: NodeBackend): Promise<NodeBackendInfo> {
  let adapter: string | undefined;
  if (name === 'wasm') await registerWasm();
  if (name === 'webgpu') adapter = await registerWebGPU();
  let started: boolean;
  try {
    started = await tf.setBackend(name);
    await tf.ready();
  } catch (error) {
    throw new Error(`tfjs backend '${name}' failed to start: ${(error as Error).message}`, { cause: error });
  }
  if (!started || tf.getBackend() !== name) {
    throw new Error(`tfjs backend '${name}' failed to start (tfjs is on '${tf.getBackend()}')`);
  }
  return { backend: name, adapter };
}

async function registerWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(dist + path.sep);
}

/** Puts a WebGPU implementation on globalThis.navigator before tfjs's WebGPU backend is imported. */
async function registerWebGPU(): Promise<string> {
  const g = globalThis as unknown as { navigator?: { gpu?: GPU } };
  if (!g.navigator?.gpu) {
    process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
    // Vulkan's loader complains on stderr when this is unset (headless machines, CI); any private dir does.
    process.env.XDG_RUNTIME_DIR ??= os.tmpdir();
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    Object.defineProperty(globalThis, 'navigator', {
      value: { ...(g.navigator ?? {}), gpu: create([]) },
      configurable: true,
      writable: true,
    });
  }
  const adapter = await g.navigator!.gpu!.requestAdapter();
  if (!adapter) throw new Error('WebGPU has no adapter here (is a Vulkan driver or SwiftShader installed?)');
  const info = adapter.info;
  await import('@tensorflow/tfjs-backend-webgpu');
  return [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' / ') || 'unknown adapter';
}
