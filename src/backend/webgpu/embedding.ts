/**
 * Token plus position embedding in one program: x[b·T + t] = wte[id] + wpe[start + t]; the table
 * f32, or q8/f16 packed along C (one word holds 4 or 2 of a token's numbers). Without wpe it is
 * the table's rows alone (the generic path adds positions itself).
 */
import * as tf from '@tensorflow/tfjs';
import { asGpuMatrix, PER_WORD, type GpuMatrix } from './packedWeights';
import { ceilDiv, flatIndex, runProgram, TWO_D_LAYOUT, type WebGPUProgram } from './program';

const WORKGROUP = 64;

class EmbeddingProgram implements WebGPUProgram {
  variableNames: string[];
  uniforms = 'start : i32, newPositions : i32,';
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  dispatchLayout = TWO_D_LAYOUT;
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    readonly outputShape: number[],
    private readonly format: GpuMatrix['format'] = 'f32',
    private readonly positions = true,
  ) {
    this.dispatch = [ceilDiv(outputShape[0] * outputShape[1], WORKGROUP), 1, 1];
    this.shaderKey = `gpt2Embedding_${format}_${positions}`;
    this.variableNames = ['ids', 'wte'];
    if (format === 'q8') this.variableNames.push('scale');
    if (positions) this.variableNames.push('wpe');
  }

  getUserCode(): string {
    const token =
      this.format === 'f32'
        ? 'wte[ids[row] * C + c]'
        : this.format === 'q8'
          ? `unpack4x8snorm(bitcast<u32>(wte[ids[row] * uniforms.wteShape.y + c / ${PER_WORD.q8}]))[c % ${PER_WORD.q8}] * scale[ids[row]]`
          : `unpack2x16float(bitcast<u32>(wte[ids[row] * uniforms.wteShape.y + c / ${PER_WORD.f16}]))[c % ${PER_WORD.f16}]`;
    return `
      fn main() {
        let i = ${flatIndex(WORKGROUP)};
        let C = uniforms.outShape.y;
        let row = i / C;
        if (row >= uniforms.outShape.x) { return; }
        let c = i - row * C;
        let position = uniforms.start + row % uniforms.newPositions;
        result[i] = ${token}${this.positions ? ' + wpe[position * C + c]' : ''};
      }
    `;
  }
}

/** ids [B·T] (int32, row-major over [B, T]) at positions start.. → embeddings [B·T, C]; without wpe, the table's rows alone. */
export function embed(ids: tf.Tensor1D, table: tf.Tensor2D | GpuMatrix, wpe: tf.Tensor2D | null, start = 0, newPositions = 1): tf.Tensor2D {
  const t = asGpuMatrix(table);
  const C = t.format === 'f32' ? t.weight.shape[1] : t.K;
  const program = new EmbeddingProgram([ids.shape[0], C], t.format, wpe !== null);
  const inputs: tf.Tensor[] = [ids, t.format === 'f32' ? t.weight : t.packed];
  if (t.format === 'q8') inputs.push(t.scale!);
  if (wpe) inputs.push(wpe);
  const int = (v: number) => ({ type: 'int32' as const, data: [v] });
  return runProgram(program, inputs, [int(start), int(newPositions)]) as tf.Tensor2D;
}
