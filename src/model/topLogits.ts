/**
 * The top-k logits of each row, for sampling without reading the whole vocabulary back. Exact
 * in Hugging Face's sense: top-k keeps every logit >= the k-th largest, so when several logits
 * tie at the k-th value all of them are returned (more than k). On WebGPU two small programs
 * select candidates on the GPU and only ~2(k+1) floats per row are read back; a tie at the k-th
 * value (rare with float logits) falls back to reading the full rows.
 */
import * as tf from '@tensorflow/tfjs';
import { rowStats } from '../backend/webgpu/rowStats';
import { MAX_GPU_TOP_K, topKCandidates } from '../backend/webgpu/topK';
import { HISTOGRAM_BIN_WIDTH, HISTOGRAM_BINS, summarizeRow, type StepLogits } from './stepLogits';

export interface TopLogits {
  /** Token ids, by descending logit (equal logits: lower id first). */
  ids: number[];
  values: number[];
}

/** logits [B, V] → per row every logit >= the row's k-th largest, with its id. Does not dispose `logits`. */
export async function topLogits(logits: tf.Tensor2D, k: number): Promise<TopLogits[]> {
  const [B, V] = logits.shape;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`top-k needs a positive integer k, got ${k}`);
  if (tf.getBackend() !== 'webgpu' || k > MAX_GPU_TOP_K || k >= V) return topLogitsOnCPU((await logits.data()) as Float32Array, B, V, k);

  const candidates = topKCandidates(logits, k + 1); // [B, 2(k+1)]
  const packed = (await candidates.data()) as Float32Array;
  candidates.dispose();
  const rows: TopLogits[] = [];
  const keep = k + 1;
  for (let b = 0; b < B; b++) {
    const values = Array.from(packed.subarray(b * 2 * keep, b * 2 * keep + keep));
    const ids = Array.from(packed.subarray(b * 2 * keep + keep, (b + 1) * 2 * keep));
    // The (k+1)-th candidate equal to the k-th means a tie at the threshold: look at every logit.
    if (values[k] === values[k - 1]) return topLogitsOnCPU((await logits.data()) as Float32Array, B, V, k);
    rows.push({ ids: ids.slice(0, k), values: values.slice(0, k) });
  }
  return rows;
}

/**
 * The k largest logits of each row of `logits` [B, V] with their ids, left on the device as
 * tensors: values [B, k] by descending value and ids [B, k] (int32). On WebGPU the candidate
 * programs above select them (tf.topk's sorting network took 4 s for 45 × 50257 logits on
 * SwiftShader where they take 40 ms); tf.topk elsewhere. Does not dispose `logits`.
 */
export function topKTensors(logits: tf.Tensor2D, k: number): { values: tf.Tensor2D; indices: tf.Tensor2D } {
  const [B, V] = logits.shape;
  if (!Number.isInteger(k) || k < 1 || k > V) throw new RangeError(`top-k needs k from 1 to ${V}, got ${k}`);
  if (tf.getBackend() !== 'webgpu' || k > MAX_GPU_TOP_K) return tf.topk(logits, k) as { values: tf.Tensor2D; indices: tf.Tensor2D };
  return tf.tidy(() => {
    const packed = topKCandidates(logits, k); // [B, 2k]: values | ids as floats
    return { values: packed.slice([0, 0], [B, k]), indices: packed.slice([0, k], [B, k]).cast('int32') as tf.Tensor2D };
  });
}

function topLogitsOnCPU(all: Float32Array, B: number, V: number, k: number): TopLogits[] {
  const rows: TopLogits[] = [];
  for (let b = 0; b < B; b++) {
    const row = all.subarray(b * V, (b + 1) * V);
    const order = Array.from(row.keys()).sort((x, y) => row[y] - row[x] || x - y);
    const threshold = row[order[Math.min(k, V) - 1]];
    const ids = order.filter((id) => row[id] >= threshold);
    rows.push({ ids, values: ids.map((id) => row[id]) });
  }
  return rows;
}

/**
 * A StepLogits summary of each row of logits [B, V]: its `top` largest logits, the logits of
 * `extraIds[b]` (row b's sequence so far), log-sum-exp, entropy and histogram. On WebGPU all of it
 * is computed on the GPU (top-k selection, one statistics program, one gather) and read back in one
 * transfer of a few KB per row; elsewhere, or on a tie at the top-th logit, from the rows read back.
 * Does not dispose `logits`.
 */
export async function summarizeLogits(logits: tf.Tensor2D, top: number, extraIds: readonly (readonly number[])[]): Promise<StepLogits[]> {
  const [B, V] = logits.shape;
  if (!Number.isInteger(top) || top < 1) throw new RangeError(`a logits summary needs a positive number of top logits, got ${top}`);
  const onCPU = async () => {
    const all = (await logits.data()) as Float32Array;
    return Array.from({ length: B }, (_, b) => summarizeRow(all.subarray(b * V, (b + 1) * V), top, extraIds[b] ?? []));
  };
  if (tf.getBackend() !== 'webgpu' || top > MAX_GPU_TOP_K || top >= V) return onCPU();

  const keep = top + 1;
  const union = [...new Set(extraIds.flat())].filter((id) => Number.isInteger(id) && id >= 0 && id < V);
  const width = 2 * keep + 3 + HISTOGRAM_BINS + union.length;
  const packed = tf.tidy(() => {
    const parts = [topKCandidates(logits, keep), rowStats(logits, HISTOGRAM_BINS, HISTOGRAM_BIN_WIDTH)];
    if (union.length > 0) parts.push(tf.gather(logits, tf.tensor1d(union, 'int32'), 1) as tf.Tensor2D);
    return tf.concat(parts, 1);
  });
  const data = (await packed.data()) as Float32Array;
  packed.dispose();

  const steps: StepLogits[] = [];
  for (let b = 0; b < B; b++) {
    const row = data.subarray(b * width, (b + 1) * width);
    const values = row.subarray(0, keep);
    // The (top+1)-th candidate equal to the top-th: which of the tied ids is listed depends on the order of the search; the CPU decides.
    if (values[top] === values[top - 1]) return onCPU();
    const ids = Array.from(row.subarray(keep, keep + top));
    const stats = row.subarray(2 * keep);
    const listed = new Set(ids);
    const extras: number[] = [];
    const extraValues: number[] = [];
    const gathered = row.subarray(2 * keep + 3 + HISTOGRAM_BINS);
    const wanted = new Set(extraIds[b] ?? []);
    union.forEach((id, j) => {
      if (wanted.has(id) && !listed.has(id)) {
        extras.push(id);
        extraValues.push(gathered[j]);
      }
    });
    steps.push({
      ids: Int32Array.from([...ids, ...extras]),
      logits: Float32Array.from([...values.subarray(0, top), ...extraValues]),
      top,
      logSumExp: stats[1],
      entropy: stats[2],
      histogram: Uint32Array.from(stats.subarray(3, 3 + HISTOGRAM_BINS)),
    });
  }
  return steps;
}
