/** Plain tfjs comparisons for the WebGPU kernel tests. */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

/** Same shape, and every value within `relative` × the largest |expected|; disposes both. */
export async function expectClose(actual: tf.Tensor, expected: tf.Tensor, relative = 1e-5): Promise<void> {
  expect(actual.shape).toEqual(expected.shape);
  const [a, b] = [await actual.data(), await expected.data()];
  let worst = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  expect(worst).toBeLessThanOrEqual(relative * scale);
  tf.dispose([actual, expected]);
}
