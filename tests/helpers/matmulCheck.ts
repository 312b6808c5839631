/**
 * The q8 and f16 matrix kernels (src/backend/simd/matmul.ts) against a plain float64 computation
 * of x·W + b, on odd shapes, each output against a bound derived from the format:
 *
 *   q8:  y − y_ref = Σ_k ŵ_kn (x̂_k − x_k) + Σ_k (ŵ_kn − W_kn) x_k, with |ŵ − W| ≤ s_n/2 (round to
 *        nearest, scale s_n = max_k |W_kn| / 127) and |x̂ − x| ≤ s_x (half a step from rounding, up
 *        to a whole step where the top of the row clamps at 127; s_x = row range / 127), so
 *        |y − y_ref| ≤ (s_n / 2) Σ_k |x_k| + s_x Σ_k |ŵ_kn|;
 *   f16: |ŵ − W| ≤ 2^-11 |W| (round to nearest), or |W| itself below 2^-14 (flushed to zero), so
 *        |y − y_ref| ≤ Σ_k |x_k| · that;
 *   both + 1e-5 Σ_k |W_kn x_k| for float32 accumulation.
 *
 * Runs in Node (the plain build) and in Chromium (tests/unit/simd-matmul.chromium.test.ts bundles
 * this file: the relaxed build too).
 */
import { SimdMatmulStore, availableMatmulBuilds, type MatmulBuild, type PackedHandle } from '../../src/backend/simd/matmul';
import type { MatrixLayout } from '../../src/backend/quantize';

export interface KernelFinding {
  build: MatmulBuild;
  format: 'q8' | 'f16';
  shape: string;
  /** max over outputs of |error| / bound: ≤ 1 passes. */
  worstShareOfBound: number;
  /** max |error| and max |y_ref|, for the message. */
  worstError: number;
  largest: number;
  /** The outputs themselves (to compare builds bit for bit). */
  outputs: number[];
}

function randoms(n: number, seed: number, scale = 2): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

/** [M, K, N, layout, bias?]: odd sizes, a lone last row, row groups of 2 and 3, more rows than one kernel call takes, a lone row whose output channels end in a group of 4 and 3 single ones. */
export const SHAPES: [number, number, number, MatrixLayout, boolean][] = [
  [1, 37, 53, 'in-out', true],
  [2, 100, 70, 'in-out', true],
  [3, 64, 33, 'out-in', false],
  [5, 129, 65, 'in-out', true],
  [7, 768, 19, 'in-out', false],
  [38, 48, 41, 'out-in', true],
  [1, 24, 39, 'out-in', true],
];

function check(
  store: SimdMatmulStore,
  handle: PackedHandle,
  W: Float32Array,
  x: Float32Array,
  bias: Float32Array | null,
  M: number,
  layout: MatrixLayout,
): Omit<KernelFinding, 'build' | 'shape'> {
  const { K, N } = handle;
  const at = (k: number, n: number) => (layout === 'in-out' ? W[k * N + n] : W[n * K + k]);
  const y = store.matmul(handle, x, M, bias ? store.addFloats(bias) : 0);
  const deq = store.dequantized(handle); // [K, N]
  let worstShareOfBound = 0;
  let worstError = 0;
  let largest = 0;
  for (let m = 0; m < M; m++) {
    const row = x.subarray(m * K, (m + 1) * K);
    let lo = 0;
    let hi = 0;
    for (const v of row) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const sx = (hi - lo) / 127;
    for (let n = 0; n < N; n++) {
      let ref = bias ? bias[n] : 0;
      let sumAbsX = 0;
      let sumAbsDeq = 0;
      let sumAbsProducts = 0;
      let maxAbsW = 0;
      let f16Bound = 0;
      for (let k = 0; k < K; k++) {
        const w = at(k, n);
        ref += w * row[k];
        sumAbsX += Math.abs(row[k]);
        sumAbsDeq += Math.abs(deq[k * N + n]);
        sumAbsProducts += Math.abs(w * row[k]);
        maxAbsW = Math.max(maxAbsW, Math.abs(w));
        f16Bound += Math.abs(row[k]) * (Math.abs(w) < 2 ** -14 ? Math.abs(w) : Math.abs(w) * 2 ** -11);
      }
      const sn = maxAbsW / 127;
      const bound = (handle.format === 'q8' ? (sn / 2) * sumAbsX + sx * sumAbsDeq : f16Bound) + 1e-5 * sumAbsProducts + 1e-12;
      const error = Math.abs(y[m * N + n] - ref);
      worstShareOfBound = Math.max(worstShareOfBound, error / bound);
      worstError = Math.max(worstError, error);
      largest = Math.max(largest, Math.abs(ref));
    }
  }
  return { format: handle.format, worstShareOfBound, worstError, largest, outputs: Array.from(y) };
}

/** Every shape, both formats, on each build asked for (default: every build this engine runs). */
export function runMatmulChecks(builds: MatmulBuild[] = availableMatmulBuilds()): KernelFinding[] {
  const findings: KernelFinding[] = [];
  for (const build of builds) {
    const store = new SimdMatmulStore({ build });
    SHAPES.forEach(([M, K, N, layout, hasBias], i) => {
      const W = randoms(K * N, 11 + i, 0.5);
      W[3] = 1e-6; // below f16's normal range: flushed to zero
      W[5] = 0;
      const x = randoms(M * K, 101 + i, 3);
      if (M > 1) x.fill(0, 0, K); // an all-zero first row: exact (bias only)
      const bias = hasBias ? randoms(N, 7 + i) : null;
      const shape = `M=${M} K=${K} N=${N} ${layout}${hasBias ? ' +bias' : ''}`;
      findings.push({ build, shape, ...check(store, store.addQ8(W, K, N, layout), W, x, bias, M, layout) });
      findings.push({ build, shape, ...check(store, store.addF16(W, K, N, layout), W, x, bias, M, layout) });
    });
  }
  return findings;
}

/** Embedding rows from a q8 / f16 table equal the dequantized matrix's rows. */
export function tableRowsMatch(build?: MatmulBuild): boolean {
  const store = new SimdMatmulStore({ build });
  const V = 23;
  const C = 37;
  const table = randoms(V * C, 5, 1);
  for (const handle of [store.addQ8(table, C, V, 'out-in'), store.addF16(table, C, V, 'out-in')]) {
    const deq = store.dequantized(handle); // [C, V]
    const rows = store.rows(handle, [4, 0, 22, 4]);
    for (const [i, id] of [4, 0, 22, 4].entries()) {
      for (let c = 0; c < C; c++) if (rows[i * C + c] !== deq[c * V + id]) return false;
    }
  }
  return true;
}

/** The builds this engine runs, best first (re-exported for the bundled page). */
export function availableBuilds(): MatmulBuild[] {
  return availableMatmulBuilds();
}
