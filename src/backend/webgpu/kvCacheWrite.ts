/**
 * Copies this step's keys and values out of the fused qkv projection straight into the layer's
 * preallocated cache buffer, in place (the cache tensor is the program's output binding), so
 * nothing is concatenated or reallocated per token. One invocation per copied float.
 *
 * Cache layout per layer: [2 (k, v), B, H · capacity · D], i.e. k/v → sequence → head →
 * position → feature, so one head's keys for consecutive positions are contiguous.
 */
import * as tf from '@tensorflow/tfjs';
import { ceilDiv, flatIndex, runProgramInPlace, TWO_D_LAYOUT, type WebGPUProgram } from './program';

const WORKGROUP = 64;

class KVCacheWriteProgram implements WebGPUProgram {
  variableNames = ['qkv'];
  uniforms = 'start : i32, newPositions : i32, heads : i32, headDim : i32, capacity : i32,';
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  dispatchLayout = TWO_D_LAYOUT;
  dispatch: [number, number, number];
  shaderKey = 'gpt2KVCacheWrite';

  constructor(
    readonly outputShape: number[],
    total: number,
  ) {
    this.dispatch = [ceilDiv(total, WORKGROUP), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main() {
        // Sizes come from uniforms, never baked in: tfjs reuses a compiled program by shaderKey.
        let i = ${flatIndex(WORKGROUP)};
        let C = uniforms.heads * uniforms.headDim;
        let rows = uniforms.qkvShape.x; // B·T
        if (i >= 2 * rows * C) { return; }
        let kv = i / (rows * C); // 0: key, 1: value
        let rest = i - kv * rows * C;
        let row = rest / C;
        let c = rest - row * C;
        let b = row / uniforms.newPositions;
        let position = uniforms.start + row - b * uniforms.newPositions;
        let h = c / uniforms.headDim;
        let d = c - h * uniforms.headDim;
        let B = uniforms.outShape.y;
        let destination = (((kv * B + b) * uniforms.heads + h) * uniforms.capacity + position) * uniforms.headDim + d;
        result[destination] = qkv[row * 3 * C + (1 + kv) * C + c];
      }
    `;
  }
}

/** Writes the k and v parts of qkv [B·T, 3C] at positions start..start+T-1 of `cache` [2, B, H·capacity·D]. */
export function writeKVCache(
  qkv: tf.Tensor2D,
  cache: tf.Tensor3D,
  start: number,
  newPositions: number,
  heads: number,
  capacity: number,
): void {
  const [rows, threeC] = qkv.shape;
  const C = threeC / 3;
  const program = new KVCacheWriteProgram(cache.shape, 2 * rows * C);
  const int = (v: number) => ({ type: 'int32' as const, data: [v] });
  runProgramInPlace(program, [qkv], cache, [int(start), int(newPositions), int(heads), int(C / heads), int(capacity)]);
}
