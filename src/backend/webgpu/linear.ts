/**
 * y = x·W + b, then optionally an activation and a residual add, in one program (Hugging Face's
 * Conv1D stores W as [in, out]). Decoding multiplies a handful of rows by a big weight matrix,
 * so the weight read is what costs: each weight is read once per workgroup and used for all of
 * its rows. A workgroup is 64 output columns × 4 slices of the input dimension: neighbouring
 * invocations read neighbouring weights (coalesced), the 4 slices add up in shared memory.
 */
import * as tf from '@tensorflow/tfjs';
import { activationWGSL } from './activations';
import { ceilDiv, runProgram, TWO_D_LAYOUT, type WebGPUProgram } from './program';

const COLUMNS = 64; // output columns per workgroup
const SLICES = 4; // the input dimension K is split over this many invocations per column
const MAX_ROWS = 4; // rows of x per workgroup

export type Epilogue = { activation?: 'gelu_new' | 'gelu'; residual?: tf.Tensor2D };

class LinearProgram implements WebGPUProgram {
  variableNames: string[];
  workgroupSize: [number, number, number] = [COLUMNS, SLICES, 1];
  dispatchLayout = TWO_D_LAYOUT;
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    readonly outputShape: number[],
    private readonly rows: number,
    private readonly activation: 'gelu_new' | 'gelu' | 'none',
    private readonly hasResidual: boolean,
  ) {
    const [M, N] = outputShape;
    this.variableNames = hasResidual ? ['x', 'W', 'b', 'residual'] : ['x', 'W', 'b'];
    this.dispatch = [ceilDiv(N, COLUMNS), ceilDiv(M, rows), 1];
    this.shaderKey = `gpt2Linear_${rows}_${activation}_${hasResidual}`;
  }

  getUserCode(): string {
    const R = this.rows;
    return `
      ${activationWGSL(this.activation)}
      var<workgroup> partial : array<f32, ${SLICES * R * COLUMNS}>;

      fn main() {
        let M = uniforms.xShape.x;
        let K = uniforms.xShape.y;
        let N = uniforms.wShape.y;
        let n = i32(workgroupId.x) * ${COLUMNS} + i32(localId.x);
        let firstRow = i32(workgroupId.y) * ${R};
        var acc : array<f32, ${R}>;
        if (n < N) {
          for (var k = i32(localId.y); k < K; k = k + ${SLICES}) {
            let w = W[k * N + n];
            for (var r = 0; r < ${R}; r = r + 1) {
              let row = min(firstRow + r, M - 1);
              acc[r] = acc[r] + x[row * K + k] * w;
            }
          }
        }
        for (var r = 0; r < ${R}; r = r + 1) {
          partial[(i32(localId.y) * ${R} + r) * ${COLUMNS} + i32(localId.x)] = acc[r];
        }
        workgroupBarrier();
        if (localId.y == 0u && n < N) {
          for (var r = 0; r < ${R}; r = r + 1) {
            let row = firstRow + r;
            if (row < M) {
              var sum = b[n];
              for (var s = 0; s < ${SLICES}; s = s + 1) { sum = sum + partial[(s * ${R} + r) * ${COLUMNS} + i32(localId.x)]; }
              var y = activate(sum);
              ${this.hasResidual ? 'y = y + residual[row * N + n];' : ''}
              result[row * N + n] = y;
            }
          }
        }
      }
    `;
  }
}

/** x [M, K] · W [K, N] + b [N] (→ activation) (+ residual [M, N]) → [M, N]. */
export function linear(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D, epilogue: Epilogue = {}): tf.Tensor2D {
  const [M] = x.shape;
  const N = weight.shape[1];
  const { activation = 'none', residual } = epilogue;
  const program = new LinearProgram([M, N], Math.min(M, MAX_ROWS), activation, residual !== undefined);
  const inputs = residual ? [x, weight, bias, residual] : [x, weight, bias];
  return runProgram(program, inputs) as tf.Tensor2D;
}
