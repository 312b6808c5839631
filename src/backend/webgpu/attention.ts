/**
 * Causal self-attention over the KV cache in one program: scores, softmax and the weighted sum
 * of values. One workgroup per (query row, head): the scores of that query over the filled
 * positions only (start + t + 1 of them; the causal mask is just this bound) sit in shared
 * memory, so nothing of size [B, H, T, S] is ever written to GPU memory.
 */
import * as tf from '@tensorflow/tfjs';
import { runProgram, TWO_D_LAYOUT, workgroupReduceSnippet, type WebGPUProgram } from './program';

const WORKGROUP = 64;
/** Scores of one query live in workgroup memory (16 KiB guaranteed by WebGPU). */
export const MAX_ATTENTION_POSITIONS = 2048;

class CausalAttentionProgram implements WebGPUProgram {
  variableNames = ['qkv', 'cache'];
  uniforms = 'start : i32, newPositions : i32, capacity : i32,';
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  dispatchLayout = TWO_D_LAYOUT;
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    readonly outputShape: number[],
    private readonly heads: number,
    private readonly headDim: number,
    private readonly scoreSlots: number,
  ) {
    this.dispatch = [heads, outputShape[0], 1];
    this.shaderKey = `gpt2CausalAttention_${heads}_${headDim}_${scoreSlots}`;
  }

  getUserCode(): string {
    const { heads: H, headDim: D, scoreSlots } = this;
    return `
      const H = ${H};
      const D = ${D};
      var<workgroup> query : array<f32, D>;
      var<workgroup> scores : array<f32, ${scoreSlots}>;
      ${workgroupReduceSnippet(WORKGROUP)}

      fn main() {
        let h = i32(workgroupId.x);
        let row = i32(workgroupId.y); // b·T + t
        let T = uniforms.newPositions;
        let b = row / T;
        let visible = uniforms.start + row - b * T + 1; // keys 0..start+t: the causal mask
        let C = H * D;
        let B = uniforms.cacheShape.y;
        let keys = (b * H + h) * uniforms.capacity * D;
        let values = ((B + b) * H + h) * uniforms.capacity * D;
        let scale = ${1 / Math.sqrt(D)};

        for (var d = i32(localIndex); d < D; d = d + ${WORKGROUP}) { query[d] = qkv[row * 3 * C + h * D + d] * scale; }
        workgroupBarrier();

        var localMax = -3.4e38;
        for (var s = i32(localIndex); s < visible; s = s + ${WORKGROUP}) {
          var dot = 0.0;
          for (var d = 0; d < D; d = d + 1) { dot = dot + query[d] * cache[keys + s * D + d]; }
          scores[s] = dot;
          localMax = max(localMax, dot);
        }
        let maxScore = workgroupReduce(localMax, true);

        var localSum = 0.0;
        for (var s = i32(localIndex); s < visible; s = s + ${WORKGROUP}) {
          let e = exp(scores[s] - maxScore);
          scores[s] = e;
          localSum = localSum + e;
        }
        let sum = workgroupReduce(localSum, false);

        for (var d = i32(localIndex); d < D; d = d + ${WORKGROUP}) {
          var acc = 0.0;
          for (var s = 0; s < visible; s = s + 1) { acc = acc + scores[s] * cache[values + s * D + d]; }
          result[row * C + h * D + d] = acc / sum;
        }
      }
    `;
  }
}

/**
 * Queries from qkv [B·T, 3C] (new positions start..start+T-1) attend to the cached keys/values
 * of positions 0..their own → merged heads [B·T, C].
 */
export function causalAttention(
  qkv: tf.Tensor2D,
  cache: tf.Tensor3D,
  start: number,
  newPositions: number,
  heads: number,
  capacity: number,
): tf.Tensor2D {
  if (capacity > MAX_ATTENTION_POSITIONS) {
    throw new RangeError(`the fused WebGPU attention holds at most ${MAX_ATTENTION_POSITIONS} positions, this cache has ${capacity}`);
  }
  const [rows, threeC] = qkv.shape;
  const C = threeC / 3;
  // Score slots: the capacity rounded up to a power of two, so caches of many sizes (one per
  // prompt length in generate()) share a handful of compiled programs.
  const scoreSlots = Math.max(64, 2 ** Math.ceil(Math.log2(capacity)));
  const program = new CausalAttentionProgram([rows, C], heads, C / heads, scoreSlots);
  const int = (v: number) => ({ type: 'int32' as const, data: [v] });
  return runProgram(program, [qkv, cache], [int(start), int(newPositions), int(capacity)]) as tf.Tensor2D;
}
