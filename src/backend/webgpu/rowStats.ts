/**
 * Statistics of each logits row that would otherwise need the whole row read back: its largest
 * value, log-sum-exp, entropy, and a histogram of its values below the largest. The token inspector
 * reads these (a few KB) instead of the vocabulary (200 KB per sequence per step).
 *
 * Layout: logits [B, V] → result [B, 3 + bins] = [max, logSumExp, entropy, count of bin 0, …];
 * bin i counts values x with max - (i+1)·w < x <= max - i·w, the last bin also everything lower.
 * One workgroup per row: each invocation strides over the row, a shared-memory tree reduces the
 * max, then the sums of e^(x-max) and e^(x-max)·(x-max); the bins are workgroup atomics.
 */
import * as tf from '@tensorflow/tfjs';
import { runProgram, TWO_D_LAYOUT, workgroupReduceSnippet, type WebGPUProgram } from './program';

const WORKGROUP = 256;

class RowStatsProgram implements WebGPUProgram {
  variableNames = ['logits'];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  dispatchLayout = TWO_D_LAYOUT;
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    readonly outputShape: number[],
    private readonly bins: number,
    private readonly binWidth: number,
  ) {
    this.dispatch = [1, outputShape[0], 1];
    this.shaderKey = `gpt2RowStats_${bins}_${binWidth}`;
  }

  getUserCode(): string {
    const { bins } = this;
    const width = this.binWidth.toFixed(8);
    return `
      ${workgroupReduceSnippet(WORKGROUP)}
      var<workgroup> counts : array<atomic<u32>, ${bins}>;

      fn main() {
        let row = i32(workgroupId.y);
        let V = uniforms.logitsShape.y;
        let base = row * V;
        let stride = ${WORKGROUP};
        for (var i = i32(localIndex); i < ${bins}; i = i + stride) { atomicStore(&counts[i], 0u); }

        var localMax = -uniforms.INFINITY;
        for (var v = i32(localIndex); v < V; v = v + stride) { localMax = max(localMax, logits[base + v]); }
        let rowMax = workgroupReduce(localMax, true);

        var localSum = 0.0;
        var localWeighted = 0.0;
        for (var v = i32(localIndex); v < V; v = v + stride) {
          let shifted = logits[base + v] - rowMax;
          let e = exp(shifted);
          localSum = localSum + e;
          if (e > 0.0) { localWeighted = localWeighted + e * shifted; }
          let bin = floor(-shifted / ${width});
          atomicAdd(&counts[select(${bins - 1}, i32(bin), bin >= 0.0 && bin < ${bins}.0)], 1u);
        }
        let sum = workgroupReduce(localSum, false);
        let weighted = workgroupReduce(localWeighted, false);

        let out = row * ${3 + bins};
        if (localIndex == 0u) {
          result[out] = rowMax;
          result[out + 1] = rowMax + log(sum);
          result[out + 2] = log(sum) - weighted / sum;
        }
        for (var i = i32(localIndex); i < ${bins}; i = i + stride) { result[out + 3 + i] = f32(atomicLoad(&counts[i])); }
      }
    `;
  }
}

/** logits [B, V] → [B, 3 + bins]: max, log-sum-exp, entropy, then the histogram counts. 1 dispatch. */
export function rowStats(logits: tf.Tensor2D, bins: number, binWidth: number): tf.Tensor2D {
  if (!Number.isInteger(bins) || bins < 1 || bins > 4096) throw new RangeError(`row statistics take 1..4096 histogram bins, got ${bins}`);
  const [B] = logits.shape;
  return runProgram(new RowStatsProgram([B, 3 + bins], bins, binWidth), [logits]) as tf.Tensor2D;
}
