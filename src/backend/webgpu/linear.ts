/**
 * y = LN(x)·W + b, then optionally an activation and a residual add, in one program (Hugging
 * Face's Conv1D stores W as [in, out]; the layer norm in front is optional). Decoding multiplies
 * a handful of rows by a big weight matrix, so the weight read is what costs: each weight is read
 * once per workgroup and used for all of its rows. A workgroup is 64 output columns × 4 slices of
 * the input dimension: neighbouring invocations read neighbouring weights (coalesced), and the 4
 * slices add up in shared memory. With a layer norm, each workgroup first reduces its rows' mean
 * and variance (cheap next to the weight read) instead of a separate program writing LN(x) out.
 * q8 and f16 weights (packedWeights.ts) are read a u32 word at a time along the input dimension,
 * 4 or 2 weights a word, unpacked in registers; q8's per-column scale multiplies the sum once.
 */
import * as tf from '@tensorflow/tfjs';
import { activationWGSL } from './activations';
import { asGpuMatrix, PER_WORD, type GpuMatrix } from './packedWeights';
import { ceilDiv, runProgram, TWO_D_LAYOUT, type WebGPUProgram } from './program';

const COLUMNS = 64; // output columns per workgroup
const SLICES = 4; // the input dimension K is split over this many invocations per column
const THREADS = COLUMNS * SLICES;
const MAX_ROWS = 4; // rows of x per workgroup

export interface LayerNormParams {
  weight: tf.Tensor1D;
  bias: tf.Tensor1D;
  eps: number;
}
export interface LinearOptions {
  /** Normalise each row of x first (GPT-2's pre-norm). */
  layerNorm?: LayerNormParams;
  activation?: 'gelu_new' | 'gelu';
  residual?: tf.Tensor2D;
}

class LinearProgram implements WebGPUProgram {
  variableNames = ['x', 'W', 'b'];
  uniforms = 'eps : f32,';
  workgroupSize: [number, number, number] = [COLUMNS, SLICES, 1];
  dispatchLayout = TWO_D_LAYOUT;
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    readonly outputShape: number[],
    private readonly rows: number,
    private readonly normalized: boolean,
    private readonly activation: 'gelu_new' | 'gelu' | 'none',
    private readonly hasResidual: boolean,
    private readonly format: GpuMatrix['format'] = 'f32',
  ) {
    const [M, N] = outputShape;
    if (format === 'q8') this.variableNames.push('scale');
    if (normalized) this.variableNames.push('gamma', 'beta');
    if (hasResidual) this.variableNames.push('residual');
    this.dispatch = [ceilDiv(N, COLUMNS), ceilDiv(M, rows), 1];
    this.shaderKey = `gpt2Linear_${rows}_${normalized}_${activation}_${hasResidual}_${format}`;
  }

  /** The K loop: one weight (f32) or one packed word (q8: 4, f16: 2 weights) per step, for every row. */
  private weightLoop(R: number): string {
    if (this.format === 'f32') {
      return `
          for (var k = i32(localId.y); k < K; k = k + ${SLICES}) {
            let w = W[k * N + n];
            for (var r = 0; r < ${R}; r = r + 1) {
              acc[r] = acc[r] + input(r, min(firstRow + r, M - 1), k, K) * w;
            }
          }`;
    }
    const per = PER_WORD[this.format];
    const vec = `vec${per}<f32>`;
    const unpack = this.format === 'q8' ? 'unpack4x8snorm' : 'unpack2x16float';
    return `
          let Kw = uniforms.wShape.x;
          for (var kw = i32(localId.y); kw < Kw; kw = kw + ${SLICES}) {
            let w = ${unpack}(bitcast<u32>(W[kw * N + n]));
            for (var r = 0; r < ${R}; r = r + 1) {
              let row = min(firstRow + r, M - 1);
              var v = ${vec}();
              for (var j = 0; j < ${per}; j = j + 1) {
                let k = kw * ${per} + j;
                v[j] = select(0.0, input(r, row, min(k, K - 1), K), k < K);
              }
              acc[r] = acc[r] + dot(v, w);
            }
          }`;
  }

  getUserCode(): string {
    const R = this.rows;
    return `
      ${activationWGSL(this.activation)}
      var<workgroup> partial : array<f32, ${Math.max(SLICES * R * COLUMNS, R * THREADS)}>;
      var<workgroup> rowMean : array<f32, ${R}>;
      var<workgroup> rowInvStd : array<f32, ${R}>;

      // Adds up partial[r * THREADS + i] over i for every r; every invocation sees the totals.
      fn sumPerRow() {
        for (var half = ${THREADS / 2}u; half > 0u; half = half / 2u) {
          if (localIndex < half) {
            for (var r = 0u; r < ${R}u; r = r + 1u) {
              partial[r * ${THREADS}u + localIndex] = partial[r * ${THREADS}u + localIndex] + partial[r * ${THREADS}u + localIndex + half];
            }
          }
          workgroupBarrier();
        }
      }

      // Mean and 1/std of this workgroup's rows of x, two passes (mean first) for accuracy.
      fn rowStatistics(firstRow : i32, M : i32, K : i32) {
        for (var r = 0; r < ${R}; r = r + 1) {
          let row = min(firstRow + r, M - 1);
          var sum = 0.0;
          for (var k = i32(localIndex); k < K; k = k + ${THREADS}) { sum = sum + x[row * K + k]; }
          partial[u32(r) * ${THREADS}u + localIndex] = sum;
        }
        workgroupBarrier();
        sumPerRow();
        if (localIndex < ${R}u) { rowMean[localIndex] = partial[localIndex * ${THREADS}u] / f32(K); }
        workgroupBarrier();
        for (var r = 0; r < ${R}; r = r + 1) {
          let row = min(firstRow + r, M - 1);
          var squares = 0.0;
          for (var k = i32(localIndex); k < K; k = k + ${THREADS}) {
            let d = x[row * K + k] - rowMean[r];
            squares = squares + d * d;
          }
          partial[u32(r) * ${THREADS}u + localIndex] = squares;
        }
        workgroupBarrier();
        sumPerRow();
        if (localIndex < ${R}u) { rowInvStd[localIndex] = inverseSqrt(partial[localIndex * ${THREADS}u] / f32(K) + uniforms.eps); }
        workgroupBarrier();
      }

      fn input(r : i32, row : i32, k : i32, K : i32) -> f32 {
        ${this.normalized ? 'return (x[row * K + k] - rowMean[r]) * rowInvStd[r] * gamma[k] + beta[k];' : 'return x[row * K + k];'}
      }

      fn main() {
        let M = uniforms.xShape.x;
        let K = uniforms.xShape.y;
        let N = uniforms.wShape.y;
        let n = i32(workgroupId.x) * ${COLUMNS} + i32(localId.x);
        let firstRow = i32(workgroupId.y) * ${R};
        ${this.normalized ? 'rowStatistics(firstRow, M, K);' : ''}
        var acc : array<f32, ${R}>;
        if (n < N) {${this.weightLoop(R)}
        }
        for (var r = 0; r < ${R}; r = r + 1) {
          partial[(i32(localId.y) * ${R} + r) * ${COLUMNS} + i32(localId.x)] = acc[r];
        }
        workgroupBarrier();
        if (localId.y == 0u && n < N) {
          for (var r = 0; r < ${R}; r = r + 1) {
            let row = firstRow + r;
            if (row < M) {
              var sum = 0.0;
              for (var s = 0; s < ${SLICES}; s = s + 1) { sum = sum + partial[(s * ${R} + r) * ${COLUMNS} + i32(localId.x)]; }
              sum = sum${this.format === 'q8' ? ' * scale[n]' : ''} + b[n];
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

/** (LN(x) or x) [M, K] · W [K, N] + b [N] (→ activation) (+ residual [M, N]) → [M, N]; W f32, or q8/f16 packed. */
export function linear(x: tf.Tensor2D, matrix: tf.Tensor2D | GpuMatrix, bias: tf.Tensor1D, options: LinearOptions = {}): tf.Tensor2D {
  const [M] = x.shape;
  const w = asGpuMatrix(matrix);
  const N = w.format === 'f32' ? w.weight.shape[1] : w.N;
  const { layerNorm, activation = 'none', residual } = options;
  const program = new LinearProgram([M, N], Math.min(M, MAX_ROWS), layerNorm !== undefined, activation, residual !== undefined, w.format);
  const inputs: tf.Tensor[] = w.format === 'f32' ? [x, w.weight, bias] : [x, w.packed, bias];
  if (w.format === 'q8') inputs.push(w.scale!);
  if (layerNorm) inputs.push(layerNorm.weight, layerNorm.bias);
  if (residual) inputs.push(residual);
  return runProgram(program, inputs, [{ type: 'float32', data: [layerNorm?.eps ?? 0] }]) as tf.Tensor2D;
}
