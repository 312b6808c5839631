/**
 * Attention over a key/value cache that lives in a small WebAssembly SIMD module's memory: the
 * cache of the wasm and cpu backends. tfjs runs a decode step's attention over the cache as
 * batched, transposed matMuls (a scalar loop on tfjs-wasm) plus a dozen small kernels; here it is
 * three SIMD loops (attention.wat: scores, softmax, weighted sum), and appending a position is a
 * copy of 2·C floats.
 */
import { ATTENTION_WASM_BASE64 } from './attentionWasm';

interface KernelExports {
  memory: WebAssembly.Memory;
  /** out[h·S + s] = scale · q_h · key(h, s) */
  scores(q: number, k: number, out: number, S: number, H: number, D: number, headStride: number, scale: number): void;
  /** Softmax of each of H rows of S numbers, in place. */
  softmax(p: number, S: number, H: number): void;
  /** out[h·D + d] = Σ_s w[h·S + s] · value(h, s)[d] */
  weighted(w: number, v: number, out: number, S: number, H: number, D: number, headStride: number): void;
}

const PAGE = 65536;
/** WebAssembly's 32-bit address space. */
const MAX_BYTES = 4 * 1024 * 1024 * 1024 - PAGE;

let compiled: WebAssembly.Module | null | undefined;

/** The compiled kernel, or null where this WebAssembly has no SIMD. */
function kernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = Uint8Array.from(atob(ATTENTION_WASM_BASE64), (c) => c.charCodeAt(0));
    compiled = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

/** Whether the SIMD attention kernel runs here (WebAssembly with 128-bit SIMD). */
export function simdAttentionAvailable(): boolean {
  return kernelModule() !== null;
}

/**
 * Keys and values of `slots` sequences (one per layer and batch row), each up to `capacity`
 * positions of C = nEmbd floats, allocated once in one WebAssembly memory, and attention over them.
 * Memory layout: query [C] · output [C] · scores [H, capacity] · keys [slots, H, capacity, D] ·
 * values (same). Head-major keys and values make each head's reads one contiguous run.
 */
export class SimdAttentionStore {
  private readonly kernel: KernelExports;
  private readonly headDim: number;
  private readonly queryAt: number;
  private readonly outAt: number;
  private readonly scoresAt: number;
  private readonly keysAt: number;
  private readonly valuesAt: number;
  private readonly memory: Float32Array;

  constructor(
    readonly slots: number,
    readonly capacity: number,
    readonly nEmbd: number,
    readonly nHead: number,
  ) {
    const module = kernelModule();
    if (!module) throw new Error('this WebAssembly has no SIMD support; use the concat KV cache');
    this.headDim = nEmbd / nHead;
    if (!Number.isInteger(this.headDim) || this.headDim % 4 !== 0) {
      throw new RangeError(`the SIMD attention kernel needs a head size that is a multiple of 4, not ${nEmbd}/${nHead}`);
    }
    const floats = (n: number) => n * 4;
    this.queryAt = 0;
    this.outAt = floats(nEmbd);
    this.scoresAt = this.outAt + floats(nEmbd);
    this.keysAt = this.scoresAt + floats(nHead * capacity);
    this.valuesAt = this.keysAt + floats(slots * capacity * nEmbd);
    const bytes = this.valuesAt + floats(slots * capacity * nEmbd);
    if (bytes > MAX_BYTES) {
      throw new RangeError(
        `a KV cache of ${slots} layer-sequences × ${capacity} positions × ${nEmbd} needs ${(bytes / 2 ** 30).toFixed(1)} GB, ` +
          'more than WebAssembly can address (4 GB): ask for fewer sequences or fewer new tokens',
      );
    }
    this.kernel = new WebAssembly.Instance(module).exports as unknown as KernelExports;
    const pages = Math.ceil(bytes / PAGE);
    const have = this.kernel.memory.buffer.byteLength / PAGE;
    if (pages > have) this.kernel.memory.grow(pages - have);
    this.memory = new Float32Array(this.kernel.memory.buffer); // after growing: growing detaches older views
  }

  /** Stores the key and value (C floats each, heads side by side) of position `pos` of a slot. */
  write(slot: number, pos: number, key: Float32Array, value: Float32Array): void {
    const { headDim: D, capacity } = this;
    for (let h = 0; h < this.nHead; h++) {
      const at = ((slot * this.nHead + h) * capacity + pos) * D; // [slot, h, pos, :]
      this.memory.set(key.subarray(h * D, (h + 1) * D), this.keysAt / 4 + at);
      this.memory.set(value.subarray(h * D, (h + 1) * D), this.valuesAt / 4 + at);
    }
  }

  /** Copies positions 0..length-1 of `from`'s slot `fromSlot` into this store's slot `toSlot`. */
  copySlot(from: SimdAttentionStore, fromSlot: number, toSlot: number, length: number): void {
    const n = length * this.headDim;
    for (let h = 0; h < this.nHead; h++) {
      const src = (fromSlot * from.nHead + h) * from.capacity * from.headDim;
      const dst = (toSlot * this.nHead + h) * this.capacity * this.headDim;
      this.memory.set(from.memory.subarray(from.keysAt / 4 + src, from.keysAt / 4 + src + n), this.keysAt / 4 + dst);
      this.memory.set(from.memory.subarray(from.valuesAt / 4 + src, from.valuesAt / 4 + src + n), this.valuesAt / 4 + dst);
    }
  }

  /**
   * Multi-head attention of `query` (C floats, heads side by side) over positions 0..length-1 of
   * a slot; writes the C outputs (heads side by side) into `into` at `offset`.
   */
  attend(slot: number, length: number, query: Float32Array, into: Float32Array, offset: number): void {
    const { nEmbd: C, headDim: D, nHead: H, memory } = this;
    const slotAt = slot * this.capacity * C * 4;
    const headStride = this.capacity * D * 4;
    memory.set(query, this.queryAt / 4);
    this.kernel.scores(this.queryAt, this.keysAt + slotAt, this.scoresAt, length, H, D, headStride, 1 / Math.sqrt(D)); // [H, S]
    this.kernel.softmax(this.scoresAt, length, H); // [H, S]
    this.kernel.weighted(this.scoresAt, this.valuesAt + slotAt, this.outAt, length, H, D, headStride); // [C]
    into.set(memory.subarray(this.outAt / 4, this.outAt / 4 + C), offset);
  }
}
