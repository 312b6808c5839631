/**
 * The k+1 largest logits of each row with their ids, so decoding reads back ~2(k+1) floats per
 * sequence instead of the whole vocabulary. Two passes, no shared memory, no barriers:
 *  1. one invocation per (row, chunk of the vocabulary) keeps its chunk's best k+1 in a private
 *     array (insertion; after the first few hundred logits almost every one is rejected by one
 *     comparison);
 *  2. one invocation per row merges the chunks' candidates the same way.
 * Equal values keep the lower id first, and the (k+1)-th entry lets the caller see a tie at the
 * k-th value (Hugging Face keeps every logit >= the k-th, so then it must look at all of them).
 * Output rows are [values (k+1) | ids as floats (k+1)]; empty slots have id -1.
 */
import * as tf from '@tensorflow/tfjs';
import { ceilDiv, runProgram, TWO_D_LAYOUT, type WebGPUProgram } from './program';

/** The largest k these programs take (the web app's slider goes to 200). */
export const MAX_GPU_TOP_K = 256;
const CHUNKS = 32;
const WORKGROUP = 32;

/** WGSL: insert (value, id) into the descending list best[0..keep), equal values after existing ones. */
function insertSnippet(keep: number): string {
  return `
    var<private> bestValues : array<f32, ${keep}>;
    var<private> bestIds : array<f32, ${keep}>;
    fn clearBest() {
      for (var j = 0; j < ${keep}; j = j + 1) { bestValues[j] = -uniforms.INFINITY; bestIds[j] = -1.0; }
    }
    fn insert(value : f32, id : f32) {
      if (!(value > bestValues[${keep - 1}])) { return; }
      var j = ${keep - 1};
      while (j > 0 && value > bestValues[j - 1]) {
        bestValues[j] = bestValues[j - 1];
        bestIds[j] = bestIds[j - 1];
        j = j - 1;
      }
      bestValues[j] = value;
      bestIds[j] = id;
    }`;
}

class ChunkTopKProgram implements WebGPUProgram {
  variableNames = ['logits'];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  dispatchLayout = TWO_D_LAYOUT;
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    readonly outputShape: number[],
    private readonly keep: number,
  ) {
    this.dispatch = [ceilDiv(CHUNKS, WORKGROUP), outputShape[0], 1];
    this.shaderKey = `gpt2ChunkTopK_${keep}`;
  }

  getUserCode(): string {
    const keep = this.keep;
    return `
      ${insertSnippet(keep)}
      fn main() {
        let chunk = i32(workgroupId.x) * ${WORKGROUP} + i32(localIndex);
        let row = i32(workgroupId.y);
        if (chunk >= ${CHUNKS}) { return; }
        let V = uniforms.logitsShape.y;
        let size = (V + ${CHUNKS - 1}) / ${CHUNKS};
        clearBest();
        for (var v = chunk * size; v < min(V, (chunk + 1) * size); v = v + 1) { insert(logits[row * V + v], f32(v)); }
        let out = (row * ${CHUNKS} + chunk) * ${2 * keep};
        for (var j = 0; j < ${keep}; j = j + 1) {
          result[out + j] = bestValues[j];
          result[out + ${keep} + j] = bestIds[j];
        }
      }
    `;
  }
}

class MergeTopKProgram implements WebGPUProgram {
  variableNames = ['candidates'];
  workgroupSize: [number, number, number] = [1, 1, 1];
  dispatchLayout = TWO_D_LAYOUT;
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    readonly outputShape: number[],
    private readonly keep: number,
  ) {
    this.dispatch = [1, outputShape[0], 1];
    this.shaderKey = `gpt2MergeTopK_${keep}`;
  }

  getUserCode(): string {
    const keep = this.keep;
    return `
      ${insertSnippet(keep)}
      fn main() {
        let row = i32(workgroupId.y);
        clearBest();
        for (var chunk = 0; chunk < ${CHUNKS}; chunk = chunk + 1) {
          let at = (row * ${CHUNKS} + chunk) * ${2 * keep};
          for (var j = 0; j < ${keep}; j = j + 1) {
            let id = candidates[at + ${keep} + j];
            if (id < 0.0) { break; }
            insert(candidates[at + j], id);
          }
        }
        for (var j = 0; j < ${keep}; j = j + 1) {
          result[row * ${2 * keep} + j] = bestValues[j];
          result[row * ${2 * keep} + ${keep} + j] = bestIds[j];
        }
      }
    `;
  }
}

/** logits [B, V] → [B, 2·keep]: each row's best `keep` values (descending), then their ids. 2 dispatches. */
export function topKCandidates(logits: tf.Tensor2D, keep: number): tf.Tensor2D {
  if (!Number.isInteger(keep) || keep < 1 || keep > MAX_GPU_TOP_K + 1)
    throw new RangeError(`GPU top-k keeps 1..${MAX_GPU_TOP_K + 1} per row, got ${keep}`);
  const [B] = logits.shape;
  return tf.tidy(() => {
    const chunks = runProgram(new ChunkTopKProgram([B, CHUNKS * 2 * keep], keep), [logits]);
    return runProgram(new MergeTopKProgram([B, 2 * keep], keep), [chunks]) as tf.Tensor2D;
  });
}
