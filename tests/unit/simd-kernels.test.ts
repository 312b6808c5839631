/**
 * The WebAssembly SIMD kernels behind the in-place KV cache and the wasm/cpu decode step: their
 * bytes are the .wat's; attention matches a float64 reference at every length, slots do not
 * overlap; layer norm, gelu_new and the residual add match their definitions; impossible sizes
 * are refused with a message.
 */
import { describe, expect, it } from 'vitest';
import { SimdAttentionStore } from '../../src/backend/simd/attention';
import { DECODE_SHARED_WASM_BASE64, DECODE_WASM_BASE64 } from '../../src/backend/simd/decodeWasm';
import { SimdKernels, simdKernelsAvailable } from '../../src/backend/simd/kernels';
// @ts-expect-error: a plain .mjs script without types
import { assembleDecodeKernels, generatedModule } from '../../scripts/build-wasm.mjs';

/** Seeded uniform numbers in [-2, 2). */
function randoms(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 4 - 2;
  });
}

/** softmax(q_h·k_{s,h}/√D) · v_{s,h} per head, in float64. keys/values [S, C]. */
function reference(query: Float32Array, keys: Float32Array, values: Float32Array, S: number, C: number, H: number): Float64Array {
  const D = C / H;
  const out = new Float64Array(C);
  for (let h = 0; h < H; h++) {
    const scores = Array.from({ length: S }, (_, s) => {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += query[h * D + d] * keys[s * C + h * D + d];
      return dot / Math.sqrt(D);
    });
    const max = Math.max(...scores);
    const e = scores.map((x) => Math.exp(x - max));
    const sum = e.reduce((a, b) => a + b, 0);
    for (let s = 0; s < S; s++) for (let d = 0; d < D; d++) out[h * D + d] += (e[s] / sum) * values[s * C + h * D + d];
  }
  return out;
}

describe('SIMD kernels', () => {
  it('is available in this runtime (WebAssembly SIMD)', () => {
    expect(simdKernelsAvailable()).toBe(true);
  });

  it('embeds exactly the bytes decode.wat assembles to, both builds (node scripts/build-wasm.mjs)', async () => {
    const builds: { own: Buffer; shared: Buffer } = await assembleDecodeKernels();
    expect(DECODE_WASM_BASE64).toBe(builds.own.toString('base64'));
    expect(DECODE_SHARED_WASM_BASE64).toBe(builds.shared.toString('base64'));
    expect(generatedModule(builds)).toContain(DECODE_SHARED_WASM_BASE64);
  });

  it('layer norm, gelu_new and add match their definitions (float64)', () => {
    const C = 768;
    const k = new SimdKernels({ x: C, gamma: C, beta: C, out: C, hidden: 4 * C, other: 4 * C });
    const x = randoms(C, 7).map((v, i) => v * 3 + (i % 5)); // an offset mean, so centring matters
    const gamma = randoms(C, 8);
    const beta = randoms(C, 9);
    k.floats('x', 0, C).set(x);
    k.floats('gamma', 0, C).set(gamma);
    k.floats('beta', 0, C).set(beta);
    k.layerNorm(k.at.x, k.at.gamma, k.at.beta, k.at.out, C, 1e-5);
    const mean = x.reduce((a, b) => a + b, 0) / C;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / C;
    const normed = k.floats('out', 0, C);
    for (let i = 0; i < C; i++) expect(normed[i]).toBeCloseTo(((x[i] - mean) / Math.sqrt(variance + 1e-5)) * gamma[i] + beta[i], 4);

    // gelu_new over a range that reaches both saturated ends, where exp would overflow.
    const h = Float32Array.from({ length: 4 * C }, (_, i) => (i - 2 * C) / 40); // -76.8 .. 76.8
    k.floats('hidden', 0, 4 * C).set(h);
    k.geluNew(k.at.hidden, 4 * C);
    const gelu = k.floats('hidden', 0, 4 * C);
    for (let i = 0; i < 4 * C; i++) {
      const v = h[i];
      const expected = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
      expect(Number.isFinite(gelu[i])).toBe(true);
      expect(Math.abs(gelu[i] - expected)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(expected)));
    }

    const a = randoms(4 * C, 10);
    const b = randoms(4 * C, 11);
    k.floats('hidden', 0, 4 * C).set(a);
    k.floats('other', 0, 4 * C).set(b);
    k.add(k.at.hidden, k.at.other, 4 * C);
    expect(Array.from(k.floats('hidden', 0, 4 * C))).toEqual(Array.from(a, (v, i) => Math.fround(v + b[i])));
  });

  it('matches float64 attention over 1, 2, 7, 64 and 300 positions, 12 heads of 64', () => {
    const C = 768;
    const H = 12;
    const store = new SimdAttentionStore(2, 300, C, H);
    const keys = randoms(300 * C, 1);
    const values = randoms(300 * C, 2);
    for (let s = 0; s < 300; s++) store.write(1, s, keys.subarray(s * C, (s + 1) * C), values.subarray(s * C, (s + 1) * C));
    // Slot 0 holds other numbers: reading slot 1 must not see them.
    for (let s = 0; s < 300; s++) store.write(0, s, randoms(C, 100 + s), randoms(C, 400 + s));
    const out = new Float32Array(2 * C);
    for (const S of [1, 2, 7, 64, 300]) {
      const query = randoms(C, 10 + S);
      store.attend(1, S, query, out, C);
      const expected = reference(query, keys, values, S, C, H);
      let worst = 0;
      for (let i = 0; i < C; i++) worst = Math.max(worst, Math.abs(out[C + i] - expected[i]));
      expect(worst).toBeLessThan(1e-5);
      expect(out.subarray(0, C).every((x) => x === 0)).toBe(true); // writes only where asked
    }
  });

  it('stays finite and exact when scores are far apart (exp underflows to 0) or all equal', () => {
    const C = 8;
    const store = new SimdAttentionStore(1, 9, C, 2); // two heads of 4
    // Head 0: key 4 points along the query 100× harder than the others (scores ~200 apart).
    // Head 1: every key is zero, so every score is 0 and the weights are uniform.
    for (let s = 0; s < 9; s++) {
      const key = new Float32Array(C);
      key[0] = s === 4 ? 100 : 1;
      store.write(
        0,
        s,
        key,
        Float32Array.from({ length: C }, (_, i) => s * 10 + i),
      );
    }
    const out = new Float32Array(C);
    store.attend(0, 9, Float32Array.from([4, 0, 0, 0, 1, 1, 1, 1]), out, 0);
    expect(Array.from(out.subarray(0, 4))).toEqual([40, 41, 42, 43]); // all weight on position 4
    const mean = (i: number) => Array.from({ length: 9 }, (_, s) => s * 10 + i).reduce((a, b) => a + b, 0) / 9;
    for (let i = 4; i < 8; i++) expect(out[i]).toBeCloseTo(mean(i), 4);
  });

  it('copies a slot into another store (a shared prompt) without the positions after it', () => {
    const C = 16;
    const from = new SimdAttentionStore(1, 8, C, 2);
    const to = new SimdAttentionStore(3, 8, C, 2);
    const keys = randoms(5 * C, 3);
    const values = randoms(5 * C, 4);
    for (let s = 0; s < 5; s++) from.write(0, s, keys.subarray(s * C, (s + 1) * C), values.subarray(s * C, (s + 1) * C));
    to.copySlot(from, 0, 2, 3);
    const query = randoms(C, 5);
    const a = new Float32Array(C);
    const b = new Float32Array(C);
    from.attend(0, 3, query, a, 0);
    to.attend(2, 3, query, b, 0);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('refuses a head size that is not a multiple of 4, and a cache larger than WebAssembly can address', () => {
    expect(() => new SimdAttentionStore(1, 8, 30, 5)).toThrow(/multiple of 4/);
    expect(() => new SimdAttentionStore(12 * 64, 1024, 768, 12)).toThrow(/more than it can address \(4 GB\).*fewer sequences/);
  });
});
