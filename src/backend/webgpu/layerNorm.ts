/**
 * Layer norm, one workgroup per row: the row's mean and variance need every feature, so one
 * workgroup reduces them in shared memory (two passes, mean first, for float32 accuracy) and
 * then writes the normalised row. `rowStride`/`rowOffset` let the final layer norm read only
 * the last position of each sequence (row b·T + T-1), so the head never sees the other rows.
 */
import * as tf from '@tensorflow/tfjs';
import { runProgram, TWO_D_LAYOUT, type WebGPUProgram } from './program';

const WORKGROUP = 256;

class LayerNormProgram implements WebGPUProgram {
  variableNames = ['x', 'gamma', 'beta'];
  uniforms = 'eps : f32, rowStride : i32, rowOffset : i32,';
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  dispatchLayout = TWO_D_LAYOUT;
  dispatch: [number, number, number];
  shaderKey = 'gpt2LayerNorm';

  constructor(readonly outputShape: number[]) {
    this.dispatch = [outputShape[0], 1, 1];
  }

  getUserCode(): string {
    return `
      var<workgroup> partial : array<f32, ${WORKGROUP}>;

      // Sum of v over the workgroup; every invocation gets the total.
      fn workgroupSum(v : f32) -> f32 {
        partial[localIndex] = v;
        workgroupBarrier();
        for (var half = ${WORKGROUP / 2}u; half > 0u; half = half / 2u) {
          if (localIndex < half) { partial[localIndex] = partial[localIndex] + partial[localIndex + half]; }
          workgroupBarrier();
        }
        let total = partial[0];
        workgroupBarrier();
        return total;
      }

      fn main() {
        let C = uniforms.xShape.y;
        let outRow = i32(workgroupId.x);
        let inBase = (outRow * uniforms.rowStride + uniforms.rowOffset) * C;
        var sum = 0.0;
        for (var c = i32(localIndex); c < C; c = c + ${WORKGROUP}) { sum = sum + x[inBase + c]; }
        let mean = workgroupSum(sum) / f32(C);
        var squares = 0.0;
        for (var c = i32(localIndex); c < C; c = c + ${WORKGROUP}) {
          let d = x[inBase + c] - mean;
          squares = squares + d * d;
        }
        let invStd = inverseSqrt(workgroupSum(squares) / f32(C) + uniforms.eps);
        for (var c = i32(localIndex); c < C; c = c + ${WORKGROUP}) {
          result[outRow * C + c] = (x[inBase + c] - mean) * invStd * gamma[c] + beta[c];
        }
      }
    `;
  }
}

/**
 * x [N, C] → layer-normed rows [N / every, C]; with `every` = T only row T-1 of each group of T
 * (the last new position of each sequence) is normalised.
 */
export function layerNormRows(x: tf.Tensor2D, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number, every = 1): tf.Tensor2D {
  const [N, C] = x.shape;
  const program = new LayerNormProgram([N / every, C]);
  const uniforms = [
    { type: 'float32' as const, data: [eps] },
    { type: 'int32' as const, data: [every] },
    { type: 'int32' as const, data: [every - 1] },
  ];
  return runProgram(program, [x, weight, bias], uniforms) as tf.Tensor2D;
}
