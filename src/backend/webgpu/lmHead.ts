/**
 * Language-model head: logits = x · wteᵀ. The weight is [vocab, C], so a vocabulary row is one
 * contiguous run of C floats. One invocation per vocabulary row computes its dot products with
 * up to 4 rows of x (each weight read once for all of them), with no shared memory and no
 * barriers: 50257 short independent dot products are what both real GPUs and SwiftShader (which
 * runs barriers as CPU fiber switches, a 20x slowdown measured here) handle best.
 */
import * as tf from '@tensorflow/tfjs';
import { asGpuMatrix, PER_WORD, type GpuMatrix } from './packedWeights';
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
    private readonly format: GpuMatrix['format'] = 'f32',
  ) {
    // x: one workgroup row per block of vocabulary rows; y: blocks of `rows` rows of x.
    this.dispatch = [ceilDiv(outputShape[1], WORKGROUP), ceilDiv(outputShape[0], rows), 1];
    this.shaderKey = `gpt2LMHead_${rows}_${format}`;
    if (format === 'q8') this.variableNames.push('scale');
  }

  getUserCode(): string {
    const R = this.rows;
    if (this.format !== 'f32')
      return this.packedCode(R, PER_WORD[this.format], this.format === 'q8' ? 'unpack4x8snorm' : 'unpack2x16float');
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

  /** The table packed along C (a token's row is Cw words): one word, `per` weights, per step. */
  private packedCode(R: number, per: number, unpack: string): string {
    return `
      fn main() {
        let M = uniforms.xShape.x;
        let C = uniforms.xShape.y;
        let V = uniforms.wteShape.x;
        let Cw = uniforms.wteShape.y;
        let v = i32(workgroupId.x) * ${WORKGROUP} + i32(localIndex);
        let firstRow = i32(workgroupId.y) * ${R};
        if (v >= V) { return; }
        var acc : array<f32, ${R}>;
        for (var cw = 0; cw < Cw; cw = cw + 1) {
          let w = ${unpack}(bitcast<u32>(wte[v * Cw + cw]));
          for (var r = 0; r < ${R}; r = r + 1) {
            let row = min(firstRow + r, M - 1);
            var xs = vec${per}<f32>();
            for (var j = 0; j < ${per}; j = j + 1) {
              let c = cw * ${per} + j;
              xs[j] = select(0.0, x[row * C + min(c, C - 1)], c < C);
            }
            acc[r] = acc[r] + dot(xs, w);
          }
        }
        for (var r = 0; r < ${R}; r = r + 1) {
          let row = firstRow + r;
          if (row < M) { result[row * V + v] = acc[r]${this.format === 'q8' ? ' * scale[v]' : ''}; }
        }
      }
    `;
  }
}

/** x [M, C] · wteᵀ ([vocab, C], f32 or q8/f16 packed along C) → logits [M, vocab]. */
export function lmHead(x: tf.Tensor2D, table: tf.Tensor2D | GpuMatrix): tf.Tensor2D {
  const [M] = x.shape;
  const t = asGpuMatrix(table);
  if (t.format === 'f32') return runProgram(new LMHeadProgram([M, t.weight.shape[0]], Math.min(M, MAX_ROWS)), [x, t.weight]) as tf.Tensor2D;
  const program = new LMHeadProgram([M, t.N], Math.min(M, MAX_ROWS), t.format);
  return runProgram(program, t.format === 'q8' ? [x, t.packed, t.scale!] : [x, t.packed]) as tf.Tensor2D;
}
