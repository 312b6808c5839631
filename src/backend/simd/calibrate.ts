/**
 * A short measurement of how fast this machine multiplies in each precision, for `auto` (see
 * choosePrecision in src/model/memoryPlan.ts): one decode step's product of the model's widest
 * matrix (c_fc, C × inner) with random weights, in q8 and f16 on the SIMD kernels and in f32
 * through tfjs (XNNPACK on wasm), a few times each, the fastest kept. Which precision wins depends
 * on the CPU: f16 is faster than f32 on one machine and slower on another (docs/precision.md), so
 * `auto` asks rather than assumes. The q8 and f16 products run on this thread alone (helper threads
 * start asynchronously) while f32 has tfjs's pool: a precision that wins here wins with threads too.
 */
import * as tf from '@tensorflow/tfjs';
import { SimdMatmulStore, availableMatmulBuilds } from './matmul';

/** Milliseconds of one product per precision (the fastest of a few runs); a precision this engine cannot run is absent. */
export interface PrecisionSpeeds {
  f32: number;
  f16?: number;
  q8?: number;
}

/** Runs of each product; the fastest counts (the first also compiles the engine's optimised code). */
const RUNS = 5;
/**
 * The measured matrix is cut to at most this many weights (4 MB as f32: more than a core's cache,
 * so the products read memory as a decode step does), so calibrating stays under 200 ms: most of
 * the time goes to quantizing it.
 */
const MAX_WEIGHTS = 2 ** 20;

/** n pseudo-random numbers in [-0.5, 0.5): 4096 of them, repeated (the values do not change the speed). */
function randomMatrix(n: number): Float32Array {
  const out = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < Math.min(n, 4096); i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  for (let filled = 4096; filled < n; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, n - filled));
  return out;
}

function fastest(run: () => void): number {
  let best = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    run();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

/** One row times a K × N matrix in each precision, on the current tfjs backend. */
export function measurePrecisions(K: number, N: number): PrecisionSpeeds {
  const outputs = Math.max(1, Math.min(N, Math.floor(MAX_WEIGHTS / K / 32) * 32));
  const weights = randomMatrix(K * outputs);
  const x = randomMatrix(K);
  const speeds: PrecisionSpeeds = {
    f32: tf.tidy(() => {
      const w = tf.tensor2d(weights, [K, outputs]);
      const row = tf.tensor2d(x, [1, K]);
      return fastest(() => tf.matMul(row, w).dataSync());
    }),
  };
  if (availableMatmulBuilds().length === 0) return speeds;
  const store = new SimdMatmulStore(); // one thread; its memory goes with it
  const q8 = store.addQ8(weights, K, outputs, 'in-out');
  const f16 = store.addF16(weights, K, outputs, 'in-out');
  speeds.q8 = fastest(() => store.matmul(q8, x, 1));
  speeds.f16 = fastest(() => store.matmul(f16, x, 1));
  return speeds;
}
