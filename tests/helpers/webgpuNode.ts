/**
 * Real WebGPU in Node for tests: Dawn (the `webgpu` package) on SwiftShader. Call before any
 * import of @tensorflow/tfjs-backend-webgpu; afterwards tfjs runs on 'webgpu' or this throws.
 */
import * as tf from '@tensorflow/tfjs';
import { setupNodeBackend, type NodeBackend } from '../../src/backend/node';

export async function useWebGPUInNode(): Promise<string> {
  const { adapter } = await setupNodeBackend('webgpu');
  if (tf.getBackend() !== 'webgpu') throw new Error(`expected tfjs on webgpu, it is on ${tf.getBackend()}`);
  return adapter ?? 'unknown adapter';
}

/** Starts any Node backend and asserts tfjs is really on it. */
export async function useBackend(name: NodeBackend): Promise<void> {
  await setupNodeBackend(name);
  if (tf.getBackend() !== name) throw new Error(`expected tfjs on ${name}, it is on ${tf.getBackend()}`);
}

/** The tfjs backend that holds a tensor's data: where the op that made it ran. */
export function backendHolding(t: tf.Tensor): string | undefined {
  const engine = tf.engine();
  const holder = engine.state.tensorInfo.get(t.dataId)?.backend;
  return engine.backendNames().find((name) => engine.findBackend(name) === holder);
}
