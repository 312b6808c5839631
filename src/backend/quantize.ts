/**
 * Weight formats from float32, shared by the WebAssembly store (simd/matmul.ts) and the WebGPU
 * packing (webgpu/packedWeights.ts): pure functions over arrays.
 *
 * A matrix arrives either as Hugging Face's Conv1D weight, [K inputs, N outputs] ('in-out'), or as
 * an embedding table read as a head, [N outputs, K inputs] ('out-in': wte is [vocab, C]).
 *
 * q8: one scale per output channel, w = round(W / scale) in -127..127 with scale = max|W[:, n]| / 127
 *     (symmetric, so -128 never appears and two products always fit in 16 bits).
 * f16: IEEE half, round to nearest even, magnitudes above 65504 clamped, below 2^-14 (the
 *     subnormals) flushed to zero: the SIMD kernel's conversion is exact only for normal halves.
 */
export type MatrixLayout = 'in-out' | 'out-in';

/** Per output channel, max |W[:, n]|. */
function columnMaxima(values: Float32Array, K: number, N: number, layout: MatrixLayout): Float32Array {
  const maxima = new Float32Array(N);
  if (layout === 'in-out') {
    for (let k = 0; k < K; k++) {
      const row = k * N;
      for (let n = 0; n < N; n++) {
        const a = Math.abs(values[row + n]);
        if (a > maxima[n]) maxima[n] = a;
      }
    }
  } else {
    for (let n = 0; n < N; n++) {
      let m = 0;
      const row = n * K;
      for (let k = 0; k < K; k++) m = Math.max(m, Math.abs(values[row + k]));
      maxima[n] = m;
    }
  }
  return maxima;
}

export interface Q8Matrix {
  /** w[n·stride + k], zero beyond K. */
  w: Int8Array;
  /** W[k, n] ≈ scale[n] · w[n, k]. */
  scale: Float32Array;
  /** Σ_k w[n, k]. */
  wsum: Int32Array;
}

/** q8 per output channel into `out` (rows of `stride` ≥ K bytes, output channel by output channel). */
export function quantizeQ8(values: Float32Array, K: number, N: number, layout: MatrixLayout, stride: number, out: Q8Matrix): void {
  const maxima = columnMaxima(values, K, N, layout);
  const inv = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    out.scale[n] = maxima[n] > 0 ? maxima[n] / 127 : 1;
    inv[n] = 1 / out.scale[n];
  }
  const { w, wsum } = out;
  wsum.fill(0);
  // |W·inv| ≤ 127 by the choice of scale, so no clamping is needed; reads are sequential.
  if (layout === 'in-out') {
    for (let k = 0, i = 0; k < K; k++) {
      for (let n = 0; n < N; n++, i++) {
        const q = Math.round(values[i] * inv[n]);
        w[n * stride + k] = q;
        wsum[n] += q;
      }
    }
  } else {
    for (let n = 0, i = 0; n < N; n++) {
      const s = inv[n];
      const row = n * stride;
      let sum = 0;
      for (let k = 0; k < K; k++, i++) {
        const q = Math.round(values[i] * s);
        w[row + k] = q;
        sum += q;
      }
      wsum[n] = sum;
    }
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The IEEE half nearest to v (ties to even), clamped to ±65504, subnormals flushed to ±0. */
export function f16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = ((x >>> 23) & 0xff) - 127 + 15;
  if (exponent >= 31) return sign | 0x7bff; // too large, infinite or NaN: the largest half
  if (exponent <= 0) return sign; // below 2^-14
  const mantissa = x & 0x7fffff;
  let h = (exponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
  return sign | Math.min(h, 0x7bff);
}

/** f16 into `out`, output channel by output channel, rows of `stride` ≥ K halves (the caller zeroes the rest). */
export function toF16(values: Float32Array, K: number, N: number, layout: MatrixLayout, stride: number, out: Uint16Array): void {
  if (layout === 'in-out') {
    for (let k = 0, i = 0; k < K; k++) for (let n = 0; n < N; n++, i++) out[n * stride + k] = f16Bits(values[i]);
  } else {
    for (let n = 0, i = 0; n < N; n++) for (let k = 0; k < K; k++, i++) out[n * stride + k] = f16Bits(values[i]);
  }
}
