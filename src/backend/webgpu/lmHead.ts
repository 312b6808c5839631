/**
 * Language-model head: logits = x · wteᵀ. The weight is [vocab, C], so a vocabulary row is one
 * contiguous run of C floats. One invocation per vocabulary row computes its dot products with
 * up to 4 rows of x (each weight read once for all of them), with no shared memory and no
 * barriers: 50257 short independent dot products are what both real GPUs and SwiftShader (which
 * runs barriers as CPU fiber switches, a 20x slowdown measured here) handle best.
 */
import * as tf from '@tensorflow/tfjs';
import { ceilDiv, runProgram, TWO_D_LAYOUT, type WebGPUProgram } from './program';

const WORKGROUP = 64;
const MAX_ROWS = 4;

class LMHeadProgram implements WebGPUProgram {
  variableNames = ['x', 'wte'];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  dispatchLayout = TWO_D_LAYOUT;
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    readonly outputShape: number[],
    private readonly rows: number,
  ) {
    // x: one workgroup row per block of vocabulary rows; y: blocks of `rows` rows of x.
    this.dispatch = [ceilDiv(outputShape[1], WORKGROUP), ceilDiv(outputShape[0], rows), 1];
    this.shaderKey = `gpt2LMHead_${rows}`;
  }

  getUserCode(): string {
    const R = this.rows;
    return `
      fn main() {
        let M = uniforms.xShape.x;
        let C = uniforms.xShape.y;
        let V = uniforms.wteShape.x;
        let v = i32(workgroupId.x) * ${WORKGROUP} + i32(localIndex);
        let firstRow = i32(workgroupId.y) * ${R};
        if (v >= V) { return; }
        var acc : array<f32, ${R}>;
        for (var k = 0; k < C; k = k + 1) {
          let w = wte[v * C + k];
          for (var r = 0; r < ${R}; r = r + 1) { acc[r] = acc[r] + x[min(firstRow + r, M - 1) * C + k] * w; }
        }
        for (var r = 0; r < ${R}; r = r + 1) {
          let row = firstRow + r;
          if (row < M) { result[row * V + v] = acc[r]; }
        }
      }
    `;
  }
}

/** x [M, C] · wteᵀ ([vocab, C]) → logits [M, vocab]. */
export function lmHead(x: tf.Tensor2D, wte: tf.Tensor2D): tf.Tensor2D {
  const [M] = x.shape;
  const program = new LMHeadProgram([M, wte.shape[0]], Math.min(M, MAX_ROWS));
  return runProgram(program, [x, wte]) as tf.Tensor2D;
}
