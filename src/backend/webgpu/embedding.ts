/** Token plus position embedding in one program: x[b·T + t] = wte[id] + wpe[start + t]. */
import * as tf from '@tensorflow/tfjs';
import { ceilDiv, flatIndex, runProgram, TWO_D_LAYOUT, type WebGPUProgram } from './program';

const WORKGROUP = 64;

class EmbeddingProgram implements WebGPUProgram {
  variableNames = ['ids', 'wte', 'wpe'];
  uniforms = 'start : i32, newPositions : i32,';
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  dispatchLayout = TWO_D_LAYOUT;
  dispatch: [number, number, number];
  shaderKey = 'gpt2Embedding';

  constructor(readonly outputShape: number[]) {
    this.dispatch = [ceilDiv(outputShape[0] * outputShape[1], WORKGROUP), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main() {
        let i = ${flatIndex(WORKGROUP)};
        let C = uniforms.outShape.y;
        let row = i / C;
        if (row >= uniforms.outShape.x) { return; }
        let c = i - row * C;
        let position = uniforms.start + row % uniforms.newPositions;
        result[i] = wte[ids[row] * C + c] + wpe[position * C + c];
      }
    `;
  }
}

/** ids [B·T] (int32, row-major over [B, T]) at positions start.. → embeddings [B·T, C]. */
export function embed(ids: tf.Tensor1D, wte: tf.Tensor2D, wpe: tf.Tensor2D, start: number, newPositions: number): tf.Tensor2D {
  const program = new EmbeddingProgram([ids.shape[0], wte.shape[1]]);
  const int = (v: number) => ({ type: 'int32' as const, data: [v] });
  return runProgram(program, [ids, wte, wpe], [int(start), int(newPositions)]) as tf.Tensor2D;
}
