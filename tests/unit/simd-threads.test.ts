/**
 * The matrix kernels on several threads (Node worker_threads sharing one WebAssembly memory): every
 * output is bit-identical to one thread's at 2 and 3 threads, for q8 and f16, decode (1 row) and
 * prefill (many rows) shapes, with and without bias; the slices cover every output channel once, in
 * whole blocks of 32; the store reports the threads that really run, and after stopThreads it
 * computes alone, still exactly.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SimdMatmulStore, type PackedHandle } from '../../src/backend/simd/matmul';
import { canShareMemory, channelSlice } from '../../src/backend/simd/threads';

function randoms(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

/** Polls (without a clock) until the store's helpers have started: a worker starts asynchronously. */
async function untilRunning(store: SimdMatmulStore): Promise<void> {
  while (store.threads < store.plannedThreads) await new Promise((resolve) => setImmediate(resolve));
}

/** [M, K, N, bias]: decode rows, a prefill taller than a kernel call (32 rows), N not a multiple of 32, N smaller than the threads' blocks. */
const SHAPES: [number, number, number, boolean][] = [
  [1, 96, 200, true],
  [3, 64, 97, false],
  [37, 80, 130, true],
  [1, 48, 20, true],
];

interface Product {
  handle: PackedHandle;
  x: Float32Array;
  M: number;
  bias: number;
}

/** The same weights in a store on `threads` threads, and the products to run. */
function storeWith(threads: number): { store: SimdMatmulStore; products: Product[] } {
  const store = new SimdMatmulStore({ build: 'plain', threads });
  const products: Product[] = [];
  SHAPES.forEach(([M, K, N, hasBias], i) => {
    const W = randoms(K * N, 3 + i);
    const x = randoms(M * K, 40 + i, 2);
    const bias = hasBias ? store.addFloats(randoms(N, 90 + i)) : 0;
    products.push({ handle: store.addQ8(W, K, N, 'in-out'), x, M, bias });
    products.push({ handle: store.addF16(W, K, N, 'in-out'), x, M, bias });
  });
  return { store, products };
}

const stores: SimdMatmulStore[] = [];
afterAll(() => stores.forEach((s) => s.stopThreads()));

describe('matrix kernels on several threads (Node)', () => {
  it('can share WebAssembly memory here', () => {
    expect(canShareMemory()).toBe(true);
  });

  it('slices cover every output channel once, in whole blocks of 32', () => {
    for (const N of [1, 31, 32, 97, 768, 50257]) {
      for (const threads of [1, 2, 3, 4, 7]) {
        const slices = Array.from({ length: threads }, (_, i) => channelSlice(N, i, threads));
        expect(slices[0][0]).toBe(0);
        expect(slices[threads - 1][1]).toBe(N);
        slices.forEach(([from, to], i) => {
          expect(from % 32).toBe(0);
          expect(to).toBeGreaterThanOrEqual(from);
          if (i > 0) expect(from).toBe(slices[i - 1][1]);
        });
      }
    }
  });

  it('gives bit-identical outputs at 1, 2 and 3 threads, q8 and f16, and says how many run', async () => {
    const one = storeWith(1);
    expect(one.store.threads).toBe(1);
    const expected = one.products.map((p) => one.store.matmul(p.handle, p.x, p.M, p.bias));
    for (const threads of [2, 3]) {
      const many = storeWith(threads);
      stores.push(many.store);
      expect(many.store.plannedThreads).toBe(threads);
      await untilRunning(many.store);
      expect(many.store.threads).toBe(threads);
      many.products.forEach((p, i) => {
        const got = many.store.matmul(p.handle, p.x, p.M, p.bias);
        expect(got, `${threads} threads, ${p.handle.format} M=${p.M} N=${p.handle.N}`).toEqual(expected[i]);
        expect(Array.from(got).some((v) => v !== 0)).toBe(true);
      });
      many.store.stopThreads();
      expect(many.store.threads).toBe(1);
      expect(many.store.matmul(many.products[0].handle, many.products[0].x, many.products[0].M, many.products[0].bias)).toEqual(
        expected[0],
      );
    }
  });

  it('refuses a thread count that is not a whole number ≥ 1, saying so', () => {
    expect(() => new SimdMatmulStore({ threads: 0 })).toThrow(/threads must be a whole number ≥ 1, got 0/);
    expect(() => new SimdMatmulStore({ threads: 1.5 })).toThrow(/threads must be a whole number ≥ 1/);
  });
});
