/**
 * The matrix kernels on several threads (Node worker_threads sharing one WebAssembly memory): every
 * output is bit-identical to one thread's at 2 and 3 threads, for q8 and f16, decode (1 row) and
 * prefill (many rows) shapes, with and without bias; the slices cover every output channel once, in
 * whole blocks of 32; the store reports the threads that really run, and after stopThreads it
 * computes alone, still exactly. Attention over a cache leased from the store splits the heads
 * over the same threads, bit-identical to a cache with its own memory; leases go back on release
 * and serve the next cache.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SimdMatmulStore, type PackedHandle } from '../../src/backend/simd/matmul';
import { canShareMemory, channelSlice, chunkUnits } from '../../src/backend/simd/threads';
import { SimdAttentionStore } from '../../src/backend/simd/attention';

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

  it('chunks cover every unit (head, block) once', () => {
    for (const H of [1, 2, 5, 12, 25]) {
      for (const threads of [1, 2, 3, 4]) {
        const slices = Array.from({ length: threads }, (_, i) => chunkUnits(H, i, threads));
        expect(slices[0][0]).toBe(0);
        expect(slices[threads - 1][1]).toBe(H);
        slices.forEach(([from, to], i) => {
          expect(to).toBeGreaterThanOrEqual(from);
          if (i > 0) expect(from).toBe(slices[i - 1][1]);
        });
      }
    }
  });

  it("splits attention over heads at 2 and 3 threads in the store's memory, bit-identical to a cache of its own", async () => {
    const [slots, capacity, C, H] = [3, 40, 20, 5]; // 5 heads of 4: slices of 2+3 and 1+2+2 heads
    /** Fills slot 1 with 33 positions and attends from it at 1, 17 and 33 positions: every output. */
    const run = (attention: SimdAttentionStore): Float32Array => {
      for (let s = 0; s < 33; s++) attention.write(1, s, randoms(C, 500 + s), randoms(C, 900 + s));
      const out = new Float32Array(3 * C);
      [1, 17, 33].forEach((S, i) => attention.attend(1, S, randoms(C, 70 + i, 3), out, i * C));
      return out;
    };
    const own = new SimdAttentionStore(slots, capacity, C, H);
    expect(own.threaded).toBe(false);
    const expected = run(own);
    expect(Array.from(expected).some((v) => v !== 0)).toBe(true);
    for (const threads of [2, 3]) {
      const store = new SimdMatmulStore({ build: 'plain', threads });
      stores.push(store);
      await untilRunning(store);
      const host = store.kernelHost()!;
      const attention = new SimdAttentionStore(slots, capacity, C, H, host);
      expect(attention.threaded).toBe(true);
      expect(run(attention), `${threads} threads`).toEqual(expected);
      // Released, its bytes serve the next cache of that size: the memory does not grow.
      const leased = store.leasedBytes;
      expect(leased).toBeGreaterThanOrEqual(4 * (2 * slots * capacity * C));
      attention.release();
      expect(store.leasedBytes).toBe(0);
      const before = store.bytes;
      const again = new SimdAttentionStore(slots, capacity, C, H, host);
      expect(store.bytes).toBe(before);
      expect(store.leasedBytes).toBe(leased);
      expect(run(again)).toEqual(expected);
      again.release();
      store.stopThreads(); // then attention runs alone in the same memory, still exactly
      const alone = new SimdAttentionStore(slots, capacity, C, H, host);
      expect(run(alone)).toEqual(expected);
      alone.release();
    }
  });

  it('a store on one thread has no kernel host: caches keep memories of their own', () => {
    expect(new SimdMatmulStore({ build: 'plain', threads: 1 }).kernelHost()).toBeUndefined();
  });
});
