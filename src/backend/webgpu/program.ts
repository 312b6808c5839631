/**
 * Running our own WGSL programs through tfjs's WebGPU backend. tfjs wraps each program's
 * getUserCode() with the bindings (`result` = output at binding 0, then one read-only array per
 * name in variableNames), a `uniforms` struct holding every input's shape plus the program's own
 * uniforms, and the builtins `localId`, `localIndex`, `workgroupId`, `numWorkgroups`. Every
 * program here lays its dispatch out in two dimensions, so tfjs calls a plain `fn main()`.
 * tfjs caches compiled programs by shaderKey (plus input ranks and dtypes): anything baked into
 * the WGSL text must be part of the shaderKey; sizes that vary per call come from uniforms.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

export type { WebGPUProgram };
export interface Uniform {
  type: 'int32' | 'float32' | 'uint32';
  data: number[];
}

/** A non-flat layout, so tfjs calls `main()` without an index and our code does its own indexing. */
export const TWO_D_LAYOUT = { x: [0], y: [1] };

/** tfjs's WebGPU backend; throws when tfjs runs on anything else. */
export function webgpuBackend(): WebGPUBackend {
  if (tf.getBackend() !== 'webgpu') throw new Error(`fused WebGPU kernels need tfjs on 'webgpu', it is on '${tf.getBackend()}'`);
  return tf.backend() as unknown as WebGPUBackend;
}

/** Runs `program` into a new output tensor, tracked like any tfjs op (tf.tidy disposes it). */
export function runProgram(
  program: WebGPUProgram,
  inputs: tf.Tensor[],
  uniforms: Uniform[] = [],
  dtype: tf.DataType = 'float32',
): tf.Tensor {
  const info = webgpuBackend().runWebGPUProgram(program, inputs, dtype, uniforms);
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** Runs `program` writing into an existing tensor's GPU buffer (in place); no new tensor. */
export function runProgramInPlace(program: WebGPUProgram, inputs: tf.Tensor[], output: tf.Tensor, uniforms: Uniform[] = []): void {
  webgpuBackend().runWebGPUProgram(program, inputs, output.dtype, uniforms, output);
}

/**
 * WGSL for the flat index of this invocation across a (possibly 2-D) grid of 1-D workgroups:
 * tfjs reshapes dispatches over 65535 workgroups per dimension, so never rely on x alone.
 */
export function flatIndex(workgroupSizeX: number): string {
  return `i32((workgroupId.y * numWorkgroups.x + workgroupId.x) * ${workgroupSizeX}u + localIndex)`;
}

export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

/**
 * WGSL: `partial`, a shared array of `workgroupSize` floats, and `workgroupReduce(v, isMax)`, which
 * every invocation of the workgroup calls (uniform control flow) to get the sum, or the max, of
 * their `v` by a tree in shared memory.
 */
export function workgroupReduceSnippet(workgroupSize: number): string {
  return `
      var<workgroup> partial : array<f32, ${workgroupSize}>;

      fn workgroupReduce(v : f32, isMax : bool) -> f32 {
        partial[localIndex] = v;
        workgroupBarrier();
        for (var half = ${workgroupSize / 2}u; half > 0u; half = half / 2u) {
          if (localIndex < half) {
            let other = partial[localIndex + half];
            partial[localIndex] = select(partial[localIndex] + other, max(partial[localIndex], other), isMax);
          }
          workgroupBarrier();
        }
        let total = partial[0];
        workgroupBarrier();
        return total;
      }`;
}
