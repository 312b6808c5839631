/**
 * A model's q8 and f16 matrices in one WebAssembly memory, and the SIMD products over them
 * (matmul.wat): weights are added once at load, quantized as they arrive; each product copies its
 * rows in, runs the kernel and copies the outputs out. The memory holds at most 4 GB (wasm32), its
 * own, apart from tfjs-wasm's heap and the KV caches' memories. With more than one thread (and
 * where memory can be shared) the memory is a SharedArrayBuffer and every product is split by
 * output channel over a pool of helper workers (threads.ts); the KV caches then lease their memory
 * here too (lease/release), so the same helpers split attention over heads.
 */
import { MATMUL_RELAXED_SHARED_WASM_BASE64, MATMUL_RELAXED_WASM_BASE64, MATMUL_SHARED_WASM_BASE64, MATMUL_WASM_BASE64 } from './matmulWasm';
import { canShareMemory, MatmulThreads } from './threads';
import { sharedDecodeModule, type KernelHost } from './kernels';
import { quantizeQ8, toF16, type MatrixLayout } from '../quantize';
import { errorMessage } from '../../util/errorMessage';

/** 'plain': WebAssembly SIMD; 'relaxed': relaxed SIMD (integer dot product, fused multiply-add). */
export type MatmulBuild = 'plain' | 'relaxed';

interface MatmulExports {
  quantize_rows(x: number, M: number, K: number, q: number, Kp: number, params: number): void;
  q8_matmul(
    q: number,
    params: number,
    M: number,
    Kp: number,
    w: number,
    scale: number,
    wsum: number,
    bias: number,
    N: number,
    out: number,
    nFrom: number,
    nTo: number,
  ): void;
  f16_rows(x: number, M: number, K: number, out: number, Kp: number): void;
  f16_matmul(x: number, M: number, Kp: number, w: number, bias: number, N: number, out: number, nFrom: number, nTo: number): void;
}

const PAGE = 65536;
/** WebAssembly's 32-bit address space. */
export const WASM_MEMORY_LIMIT = 4 * 1024 * 1024 * 1024 - PAGE;
/** How long started() waits for the helper threads before going on without them (they still join when they start). */
const HELPER_START_MS = 10_000;
/** Rows per kernel call: a prefill or a loss window is cut into pieces this tall, so the scratch stays small. */
const ROWS_PER_CALL = 32;

/** WebAssembly pages a store's memory may grow to (4 GB), as matmul.wat declares. */
const MAX_PAGES = 65536;

const modules: Partial<Record<`${MatmulBuild}${'' | '-shared'}`, WebAssembly.Module | null>> = {};

/** The compiled build (its shared-memory variant when `shared`), or null where this engine cannot run it exactly. */
function compiled(build: MatmulBuild, shared = false): WebAssembly.Module | null {
  const key = `${build}${shared ? '-shared' : ''}` as const;
  if (!(key in modules)) {
    const base64 = shared
      ? build === 'plain'
        ? MATMUL_SHARED_WASM_BASE64
        : MATMUL_RELAXED_SHARED_WASM_BASE64
      : build === 'plain'
        ? MATMUL_WASM_BASE64
        : MATMUL_RELAXED_WASM_BASE64;
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const module = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    modules[key] = module && computesExactly(module, shared) ? module : null;
  }
  return modules[key]!;
}

function newMemory(shared: boolean): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared });
}

/** A shared memory that may grow to 4 GB, or null where the engine cannot reserve one. */
function sharedMemory(): WebAssembly.Memory | null {
  try {
    return newMemory(true);
  } catch {
    return null;
  }
}

function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): MatmulExports {
  return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as MatmulExports;
}

/**
 * One 16-term integer dot product through q8_matmul, checked exactly. Node 20 validates relaxed
 * SIMD behind --experimental-wasm-relaxed-simd but its relaxed_dot returns twice the sum; an engine
 * that gets this wrong runs the plain build instead.
 */
function computesExactly(module: WebAssembly.Module, shared: boolean): boolean {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared });
  const e = instantiate(module, memory);
  const weights = Array.from({ length: 16 }, (_, k) => (k % 3 === 0 ? -127 : 37 * k - 300) % 128);
  const x = Float32Array.from({ length: 16 }, (_, k) => (k === 15 ? 127 : k * 8)); // range 0..127: scale 1, zero point 0, exact
  new Int8Array(memory.buffer, 256, 16).set(weights);
  new Float32Array(memory.buffer, 512, 2).set([1, 0]); // scale, bias
  new Int32Array(memory.buffer, 520, 1)[0] = weights.reduce((a, b) => a + b, 0);
  new Float32Array(memory.buffer, 1024, 16).set(x);
  e.quantize_rows(1024, 1, 16, 2048, 16, 2112);
  e.q8_matmul(2048, 2112, 1, 16, 256, 512, 520, 0, 1, 2176, 0, 1);
  const expected = weights.reduce((sum, w, k) => sum + w * x[k], 0);
  return new Float32Array(memory.buffer, 2176, 1)[0] === expected;
}

/** The builds this engine can run, best first ([] without WebAssembly SIMD). */
export function availableMatmulBuilds(): MatmulBuild[] {
  return (['relaxed', 'plain'] as const).filter((b) => compiled(b) !== null);
}

export interface Q8Handle {
  format: 'q8';
  K: number;
  N: number;
  Kp: number;
  w: number;
  scale: number;
  wsum: number;
}
export interface F16Handle {
  format: 'f16';
  K: number;
  N: number;
  Kp: number;
  w: number;
}
export type PackedHandle = Q8Handle | F16Handle;

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

export interface StoreOptions {
  /** The kernel build (default: the best this engine runs, availableMatmulBuilds()[0]). */
  build?: MatmulBuild;
  /** Threads to split each product over, this one included (default 1); 1 where memory cannot be shared. */
  threads?: number;
}

export class SimdMatmulStore {
  readonly build: MatmulBuild;
  private readonly exports: MatmulExports;
  private readonly memory: WebAssembly.Memory;
  /** The helpers, when this store runs on more than one thread. */
  private readonly pool: MatmulThreads | undefined;
  private top = 0;
  private maxK = 0;
  private maxN = 0;
  private scratch: { rows: number; maxK: number; maxN: number; x: number; q: number; params: number; out: number } | null = null;
  /** Leased regions (offset → bytes) and released ones waiting for a lease, by offset. */
  private readonly leases = new Map<number, number>();
  private free: { at: number; bytes: number }[] = [];

  constructor({ build, threads = 1 }: StoreOptions = {}) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a whole number ≥ 1, got ${threads}`);
    const chosen = build ?? availableMatmulBuilds()[0];
    const module = chosen && compiled(chosen);
    if (!module)
      throw new Error(
        `this WebAssembly cannot run the ${build ?? 'SIMD'} matrix kernels (no ${build === 'relaxed' ? 'relaxed SIMD' : 'SIMD'}); use f32 weights`,
      );
    this.build = chosen;
    const sharedModule = threads > 1 && canShareMemory() ? compiled(chosen, true) : null;
    const shared = sharedModule ? sharedMemory() : null; // null where a 4 GB shared memory cannot be reserved (32-bit): one thread
    this.memory = shared ?? newMemory(false);
    this.exports = instantiate(shared ? sharedModule! : module, this.memory);
    this.pool = shared ? new MatmulThreads(sharedModule!, this.memory, threads, this.exports, sharedDecodeModule()) : undefined;
    this.top = 64; // 0 stays unused: a bias pointer of 0 means "no bias"
  }

  /** Threads the next product runs on, this one included (1 until the helpers have started, and where memory cannot be shared). */
  get threads(): number {
    return this.pool?.running ?? 1;
  }

  /** Threads asked for and granted: what `threads` becomes once the helpers run (1 where memory cannot be shared). */
  get plannedThreads(): number {
    return this.pool?.threads ?? 1;
  }

  /**
   * Resolves with `threads` once every helper runs (at once when there are none). A helper starts
   * only while this thread is free (the browser starts a nested worker through its parent's event
   * loop), so a load awaits this before the first generation.
   */
  async started(): Promise<number> {
    for (let waited = 0; this.threads < this.plannedThreads && waited < HELPER_START_MS; waited += 5) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return this.threads;
  }

  /** Ends the helper threads; products still work, on this thread alone. */
  stopThreads(): void {
    this.pool?.stop();
  }

  /**
   * Where KV caches keep their keys and values so the helper threads can split attention over
   * heads: this store's shared memory; undefined when this store runs on one thread (a cache then
   * keeps its own memory, freed with it).
   */
  kernelHost(): KernelHost | undefined {
    const pool = this.pool;
    if (!pool || !sharedDecodeModule()) return undefined;
    return {
      memory: this.memory,
      lease: (bytes) => this.lease(bytes),
      release: (at) => this.release(at),
      attend: (...args) => pool.attend(...args),
    };
  }

  /** A region of `bytes` for a KV cache: a released one that fits (first fit), or new memory. */
  private lease(bytes: number): number {
    const size = roundUp(bytes, 16);
    const i = this.free.findIndex((r) => r.bytes >= size);
    let at: number;
    if (i >= 0) {
      const region = this.free[i];
      at = region.at;
      if (region.bytes === size) this.free.splice(i, 1);
      else this.free[i] = { at: at + size, bytes: region.bytes - size };
    } else at = this.alloc(size);
    this.leases.set(at, size);
    return at;
  }

  /** Gives back a lease; neighbouring free regions merge. Unknown offsets are ignored (released twice). */
  private release(at: number): void {
    const bytes = this.leases.get(at);
    if (bytes === undefined) return;
    this.leases.delete(at);
    const free = [...this.free, { at, bytes }].sort((a, b) => a.at - b.at);
    this.free = [];
    for (const r of free) {
      const last = this.free.at(-1);
      if (last && last.at + last.bytes === r.at) last.bytes += r.bytes;
      else this.free.push({ ...r });
    }
  }

  /** Bytes of this store's memory taken so far (weights, scratch, KV leases given back or not). */
  get bytes(): number {
    return this.top;
  }

  /** Bytes leased to KV caches now. */
  get leasedBytes(): number {
    return [...this.leases.values()].reduce((a, b) => a + b, 0);
  }

  /** `bytes` more bytes, 16-aligned; grows the memory. */
  alloc(bytes: number): number {
    const at = roundUp(this.top, 16);
    const end = at + bytes;
    if (end > WASM_MEMORY_LIMIT) {
      throw new RangeError(
        `the weights need more than the 4 GB a WebAssembly memory can hold (${(end / 2 ** 30).toFixed(2)} GB so far): choose a smaller precision (q8) or a smaller model`,
      );
    }
    const memory = this.memory;
    const pages = Math.ceil(end / PAGE) - memory.buffer.byteLength / PAGE;
    if (pages > 0) {
      try {
        memory.grow(pages);
      } catch (error) {
        throw new RangeError(
          `could not grow WebAssembly memory to ${(end / 2 ** 30).toFixed(2)} GB (${errorMessage(error)}): the browser or machine has too little memory for this model at this precision`,
          { cause: error },
        );
      }
    }
    this.top = end;
    return at;
  }

  private floatsAt(at: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, at, length);
  }

  /** Copies float32 values in (a bias, say); returns their offset. */
  addFloats(values: Float32Array): number {
    const at = this.alloc(values.byteLength);
    this.floatsAt(at, values.length).set(values);
    return at;
  }

  /** A matrix W (K inputs × N outputs, given in `layout`) quantized to q8. */
  addQ8(values: Float32Array, K: number, N: number, layout: MatrixLayout): Q8Handle {
    const Kp = roundUp(K, 16);
    const w = this.alloc(N * Kp);
    const scale = this.alloc(4 * N);
    const wsum = this.alloc(4 * N);
    const buffer = this.memory.buffer;
    quantizeQ8(values, K, N, layout, Kp, {
      w: new Int8Array(buffer, w, N * Kp),
      scale: new Float32Array(buffer, scale, N),
      wsum: new Int32Array(buffer, wsum, N),
    });
    this.noteShape(K, N);
    return { format: 'q8', K, N, Kp, w, scale, wsum };
  }

  /** A matrix W (K inputs × N outputs, given in `layout`) as f16. */
  addF16(values: Float32Array, K: number, N: number, layout: MatrixLayout): F16Handle {
    const Kp = roundUp(K, 8);
    const w = this.alloc(2 * N * Kp);
    toF16(values, K, N, layout, Kp, new Uint16Array(this.memory.buffer, w, N * Kp)); // the pads stay 0 (fresh memory)
    this.noteShape(K, N);
    return { format: 'f16', K, N, Kp, w };
  }

  private noteShape(K: number, N: number): void {
    this.maxK = Math.max(this.maxK, K);
    this.maxN = Math.max(this.maxN, N);
  }

  /** Room for ROWS_PER_CALL rows of the widest matrix, made once all weights are in (or remade if one came later). */
  private ensureScratch(): NonNullable<SimdMatmulStore['scratch']> {
    const s = this.scratch;
    if (s && s.maxK >= this.maxK && s.maxN >= this.maxN) return s;
    const rows = ROWS_PER_CALL;
    const Kp = roundUp(this.maxK, 16);
    this.scratch = {
      rows,
      maxK: this.maxK,
      maxN: this.maxN,
      x: this.alloc(4 * rows * Kp),
      q: this.alloc(4 * rows * Kp), // q8 (i16 or bytes) or f16 rows (f32)
      params: this.alloc(8 * rows),
      out: this.alloc(4 * rows * this.maxN),
    };
    return this.scratch;
  }

  /** out [M, N] = x [M, K] · W (+ bias at `bias`, an offset from addFloats, or 0). */
  matmul(handle: PackedHandle, x: Float32Array, M: number, bias = 0, out: Float32Array = new Float32Array(M * handle.N)): Float32Array {
    const { K, N, Kp } = handle;
    if (x.length < M * K) throw new RangeError(`matmul: ${M} rows of ${K} need ${M * K} inputs, got ${x.length}`);
    const s = this.ensureScratch();
    const e = this.exports;
    for (let m0 = 0; m0 < M; m0 += s.rows) {
      const rows = Math.min(s.rows, M - m0);
      this.floatsAt(s.x, rows * K).set(x.subarray(m0 * K, (m0 + rows) * K));
      if (handle.format === 'q8') {
        e.quantize_rows(s.x, rows, K, s.q, Kp, s.params);
        const { w, scale, wsum } = handle;
        if (!this.pool?.q8(s.q, s.params, rows, Kp, w, scale, wsum, bias, N, s.out))
          e.q8_matmul(s.q, s.params, rows, Kp, w, scale, wsum, bias, N, s.out, 0, N);
      } else {
        e.f16_rows(s.x, rows, K, s.q, Kp);
        if (!this.pool?.f16(s.q, rows, Kp, handle.w, bias, N, s.out)) e.f16_matmul(s.q, rows, Kp, handle.w, bias, N, s.out, 0, N);
      }
      out.set(this.floatsAt(s.out, rows * N), m0 * N);
    }
    return out;
  }

  /** Rows `ids` of an 'out-in' matrix (an embedding table), dequantized: [ids.length, K]. */
  rows(handle: PackedHandle, ids: ArrayLike<number>): Float32Array {
    const { K, Kp } = handle;
    const out = new Float32Array(ids.length * K);
    const buffer = this.memory.buffer;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (handle.format === 'q8') {
        const w = new Int8Array(buffer, handle.w + id * Kp, K);
        const scale = new Float32Array(buffer, handle.scale + 4 * id, 1)[0];
        for (let k = 0; k < K; k++) out[i * K + k] = w[k] * scale;
      } else {
        const w = new Uint16Array(buffer, handle.w + 2 * id * Kp, K);
        for (let k = 0; k < K; k++) out[i * K + k] = halfToFloat(w[k]);
      }
    }
    return out;
  }

  /** The stored weights of a handle as float32 [K, N] ('in-out'), for tests and checks. */
  dequantized(handle: PackedHandle): Float32Array {
    const { K, N } = handle;
    const all = this.rows(
      handle,
      Array.from({ length: N }, (_, n) => n),
    ); // [N, K]
    const out = new Float32Array(K * N);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[k * N + n] = all[n * K + k];
    return out;
  }
}

/** An IEEE half (no subnormals: the store flushes them) as a number. */
function halfToFloat(h: number): number {
  const exponent = (h >> 10) & 0x1f;
  const magnitude = exponent === 0 ? 0 : 2 ** (exponent - 15) * (1 + (h & 0x3ff) / 1024);
  return h & 0x8000 ? -magnitude : magnitude;
}
