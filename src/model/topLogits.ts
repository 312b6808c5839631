/**
 * The top-k logits of each row, for sampling without reading the whole vocabulary back. Exact
 * in Hugging Face's sense: top-k keeps every logit >= the k-th largest, so when several logits
 * tie at the k-th value all of them are returned (more than k). On WebGPU two small programs
 * select candidates on the GPU and only ~2(k+1) floats per row are read back; a tie at the k-th
 * value (rare with float logits) falls back to reading the full rows.
 */
import * as tf from '@tensorflow/tfjs';
import { MAX_GPU_TOP_K, topKCandidates } from '../backend/webgpu/topK';

export interface TopLogits {
  /** Token ids, by descending logit (equal logits: lower id first). */
  ids: number[];
  values: number[];
}

/** logits [B, V] → per row every logit >= the row's k-th largest, with its id. Does not dispose `logits`. */
export async function topLogits(logits: tf.Tensor2D, k: number): Promise<TopLogits[]> {
  const [B, V] = logits.shape;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`top-k needs a positive integer k, got ${k}`);
  if (tf.getBackend() !== 'webgpu' || k > MAX_GPU_TOP_K || k >= V) return topLogitsOnCPU(await logits.data() as Float32Array, B, V, k);

  const candidates = topKCandidates(logits, k + 1); // [B, 2(k+1)]
  const packed = (await candidates.data()) as Float32Array;
  candidates.dispose();
  const rows: TopLogits[] = [];
  const keep = k + 1;
  for (let b = 0; b < B; b++) {
    const values = Array.from(packed.subarray(b * 2 * keep, b * 2 * keep + keep));
    const ids = Array.from(packed.subarray(b * 2 * keep + keep, (b + 1) * 2 * keep));
    // The (k+1)-th candidate equal to the k-th means a tie at the threshold: look at every logit.
    if (values[k] === values[k - 1]) return topLogitsOnCPU(await logits.data() as Float32Array, B, V, k);
    rows.push({ ids: ids.slice(0, k), values: values.slice(0, k) });
  }
  return rows;
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
