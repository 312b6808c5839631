/**
 * Copies one sequence's first `length` positions out of a layer's KV cache buffer into a new,
 * batch-1 buffer of another capacity: a fork, so a branch reuses the keys and values of the text
 * before it instead of running it through the model again. One invocation per copied float.
 *
 * Layout (as kvCacheWrite.ts): source [2 (k, v), B, H · capacity · D], destination
 * [2, 1, H · forkCapacity · D]; positions from `length` on are left unwritten (never read: the
 * attention program reads the filled length only). The output is always a new GPU buffer, never
 * a view of the source, since both caches are then written in place.
 */
import * as tf from '@tensorflow/tfjs';
import { ceilDiv, flatIndex, runProgram, TWO_D_LAYOUT, type WebGPUProgram } from './program';

const WORKGROUP = 64;

class KVCacheForkProgram implements WebGPUProgram {
  variableNames = ['cache'];
  uniforms = 'row : i32, length : i32, heads : i32, headDim : i32, capacity : i32, forkCapacity : i32,';
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  dispatchLayout = TWO_D_LAYOUT;
  dispatch: [number, number, number];
  shaderKey = 'gpt2KVCacheFork';

  constructor(
    readonly outputShape: number[],
    copied: number,
  ) {
    this.dispatch = [Math.max(1, ceilDiv(copied, WORKGROUP)), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main() {
        // Sizes come from uniforms, never baked in: tfjs reuses a compiled program by shaderKey.
        let i = ${flatIndex(WORKGROUP)};
        let D = uniforms.headDim;
        let perHead = uniforms.length * D; // floats copied per (k/v, head)
        if (i >= 2 * uniforms.heads * perHead) { return; }
        let kvHead = i / perHead; // kv * heads + h
        let rest = i - kvHead * perHead; // position * D + d
        let kv = kvHead / uniforms.heads;
        let h = kvHead - kv * uniforms.heads;
        let B = uniforms.cacheShape.y;
        let source = ((kv * B + uniforms.row) * uniforms.heads + h) * uniforms.capacity * D + rest;
        result[kvHead * uniforms.forkCapacity * D + rest] = cache[source];
      }
    `;
  }
}

/**
 * Positions 0..length-1 of batch row `row` of a layer's cache buffer [2, B, H·capacity·D] → a
 * new buffer [2, 1, H·forkCapacity·D] holding them (forkCapacity >= length).
 */
export function forkKVCacheBuffer(
  cache: tf.Tensor3D,
  row: number,
  length: number,
  heads: number,
  headDim: number,
  capacity: number,
  forkCapacity: number,
): tf.Tensor3D {
  const program = new KVCacheForkProgram([2, 1, heads * forkCapacity * headDim], 2 * heads * length * headDim);
  const int = (v: number) => ({ type: 'int32' as const, data: [v] });
  return runProgram(program, [cache], [int(row), int(length), int(heads), int(headDim), int(capacity), int(forkCapacity)]) as tf.Tensor3D;
}
