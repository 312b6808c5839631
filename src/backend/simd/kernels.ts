/**
 * The SIMD kernels of decode.wat, each instance over a WebAssembly memory laid out in named
 * regions: its own, or one lease of a shared memory another owner grows (the matrix store's, so
 * its threads can run attention there). Every kernel takes byte offsets into that memory;
 * `floats(region)` is a view of a region.
 */
import { DECODE_SHARED_WASM_BASE64, DECODE_WASM_BASE64 } from './decodeWasm';
import type { MatmulThreads } from './threads';

/**
 * A shared memory that KV caches lease their regions from, and the threads that run attention
 * there (SimdMatmulStore.kernelHost() in matmul.ts).
 */
export interface KernelHost {
  readonly memory: WebAssembly.Memory;
  /** `bytes` bytes (16-aligned) for the caller until release(at). */
  lease(bytes: number): number;
  /** Gives a lease back (its bytes serve later leases; the memory itself never shrinks). */
  release(at: number): void;
  /** Attention of one query on every thread (MatmulThreads.attend, its arguments); false while only this thread runs. */
  attend: MatmulThreads['attend'];
}

interface KernelExports {
  memory: WebAssembly.Memory;
  scores(q: number, k: number, out: number, S: number, H: number, D: number, headStride: number, scale: number): void;
  softmax(p: number, S: number, H: number): void;
  weighted(w: number, v: number, out: number, S: number, H: number, D: number, headStride: number): void;
  layer_norm(x: number, gamma: number, beta: number, out: number, C: number, eps: number): void;
  gelu_new(p: number, n: number): void;
  add(a: number, b: number, n: number): void;
}

const PAGE = 65536;
/** WebAssembly's 32-bit address space. */
const MAX_BYTES = 4 * 1024 * 1024 * 1024 - PAGE;

const compiled: { own?: WebAssembly.Module | null; shared?: WebAssembly.Module | null } = {};

function compile(base64: string): WebAssembly.Module | null {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
}

/** The compiled kernels (1.9 kB), or null where this WebAssembly has no SIMD. */
function kernelModule(): WebAssembly.Module | null {
  if (compiled.own === undefined) compiled.own = compile(DECODE_WASM_BASE64);
  return compiled.own;
}

/** The kernels over an imported shared memory (threads), or null where this WebAssembly cannot run them. */
export function sharedDecodeModule(): WebAssembly.Module | null {
  if (compiled.shared === undefined) compiled.shared = compile(DECODE_SHARED_WASM_BASE64);
  return compiled.shared;
}

/** Whether the SIMD kernels run here (WebAssembly with 128-bit SIMD). */
export function simdKernelsAvailable(): boolean {
  return kernelModule() !== null;
}

export class SimdKernels<Region extends string> {
  /** Byte offset of each region (16-byte aligned). */
  readonly at: Record<Region, number>;
  private readonly exports: KernelExports;
  private readonly memory: Float32Array;
  /** The lease this instance's regions live in, when they live in a host's memory. */
  private lease: { host: KernelHost; at: number } | undefined;

  /**
   * `regions`: the number of floats of each region, allocated at once: in a memory of its own, or
   * leased from `host` (give it back with release()).
   */
  constructor(regions: Record<Region, number>, host?: KernelHost) {
    const module = host ? sharedDecodeModule() : kernelModule();
    if (!module) throw new Error('this WebAssembly has no SIMD support; use the concat KV cache');
    const at = {} as Record<Region, number>;
    let bytes = 0;
    for (const name of Object.keys(regions) as Region[]) {
      at[name] = bytes;
      bytes += Math.ceil((regions[name] * 4) / 16) * 16;
    }
    if (bytes > MAX_BYTES) {
      throw new RangeError(
        `this needs ${(bytes / 2 ** 30).toFixed(1)} GB of WebAssembly memory, more than it can address (4 GB): ` +
          'ask for fewer sequences or fewer new tokens',
      );
    }
    if (host) {
      const base = host.lease(bytes);
      for (const name of Object.keys(at) as Region[]) at[name] += base;
      this.lease = { host, at: base };
      this.exports = new WebAssembly.Instance(module, { env: { memory: host.memory } }).exports as unknown as KernelExports;
      this.memory = new Float32Array(host.memory.buffer); // after the lease grew it; a shared memory's later growth leaves this view whole
    } else {
      this.exports = new WebAssembly.Instance(module).exports as unknown as KernelExports;
      const pages = Math.ceil(bytes / PAGE);
      const have = this.exports.memory.buffer.byteLength / PAGE;
      if (pages > have) this.exports.memory.grow(pages - have);
      this.memory = new Float32Array(this.exports.memory.buffer); // after growing: growing detaches older views
    }
    this.at = at;
  }

  /** Whether the regions live in a host's shared memory (where the host's threads can reach them). */
  get shared(): boolean {
    return this.lease !== undefined;
  }

  /** Gives a host's lease back (nothing for an own memory, which goes with this object); then this must not be used. */
  release(): void {
    this.lease?.host.release(this.lease.at);
    this.lease = undefined;
  }

  /** A view of `length` floats of a region, from float `from`. */
  floats(region: Region, from = 0, length?: number): Float32Array {
    const start = this.at[region] / 4 + from;
    return length === undefined ? this.memory.subarray(start) : this.memory.subarray(start, start + length);
  }

  /** out[h·S + s] = scale · q_h · key(h, s), keys head-major (head h at k + h·headStride, rows of D floats). */
  scores(q: number, k: number, out: number, S: number, H: number, D: number, headStride: number, scale: number): void {
    this.exports.scores(q, k, out, S, H, D, headStride, scale);
  }

  /** Softmax of each of H rows of S floats, in place. */
  softmax(p: number, S: number, H: number): void {
    this.exports.softmax(p, S, H);
  }

  /** out[h·D + d] = Σ_s w[h·S + s] · value(h, s)[d], values laid out like the keys. */
  weighted(w: number, v: number, out: number, S: number, H: number, D: number, headStride: number): void {
    this.exports.weighted(w, v, out, S, H, D, headStride);
  }

  /** One row of C floats: out = (x - mean) / sqrt(var + eps) · gamma + beta. */
  layerNorm(x: number, gamma: number, beta: number, out: number, C: number, eps: number): void {
    this.exports.layer_norm(x, gamma, beta, out, C, eps);
  }

  /** gelu_new (GPT-2's tanh approximation) in place over n floats. */
  geluNew(p: number, n: number): void {
    this.exports.gelu_new(p, n);
  }

  /** a += b over n floats. */
  add(a: number, b: number, n: number): void {
    this.exports.add(a, b, n);
  }
}
