/**
 * Attention over a key/value cache that lives in WebAssembly memory: the cache of the wasm and cpu
 * backends. tfjs runs a decode step's attention over the cache as batched, transposed matMuls (a
 * scalar loop on tfjs-wasm) plus a dozen small kernels; here it is three SIMD loops (decode.wat:
 * scores, softmax, weighted sum), and appending a position is a copy of 2·C floats. Given the
 * matrix store's kernel host (q8 / f16 on several threads), the cache leases its memory there and
 * the store's helper threads split every attention over heads.
 */
import { SimdKernels, type KernelHost } from './kernels';

/** Gives back the lease of a store that was never released (dropped without dispose). */
const unreleased = new FinalizationRegistry<() => void>((release) => release());

type StoreRegion = 'query' | 'out' | 'scores' | 'keys' | 'values';

/**
 * Keys and values of `slots` sequences (one per layer and batch row), each up to `capacity`
 * positions of C = nEmbd floats, allocated once, and attention over them. Keys and values are
 * stored head-major, [slots, H, capacity, D], so each head's reads are one contiguous run.
 * With a `host`, the memory is a lease of the host's (when it has room: otherwise its own) and
 * attention runs on the host's threads; release() gives the lease back.
 */
export class SimdAttentionStore {
  readonly kernels: SimdKernels<StoreRegion>;
  readonly headDim: number;
  /** Views of the regions a step reads and writes, made once (a shared memory's growth leaves them whole; an own one never grows). */
  private readonly views: Record<'keys' | 'values' | 'query' | 'out', Float32Array>;
  /** The host whose threads run attention, when the memory is leased from it. */
  private readonly host: KernelHost | undefined;

  constructor(
    readonly slots: number,
    readonly capacity: number,
    readonly nEmbd: number,
    readonly nHead: number,
    host?: KernelHost,
  ) {
    this.headDim = nEmbd / nHead;
    if (!Number.isInteger(this.headDim) || this.headDim % 4 !== 0) {
      throw new RangeError(`the SIMD attention kernel needs a head size that is a multiple of 4, not ${nEmbd}/${nHead}`);
    }
    const kv = slots * capacity * nEmbd;
    const regions = { query: nEmbd, out: nEmbd, scores: nHead * capacity, keys: kv, values: kv };
    this.kernels = (host && leased(regions, host)) || new SimdKernels(regions);
    if (this.kernels.shared) {
      this.host = host;
      const kernels = this.kernels;
      unreleased.register(this, () => kernels.release(), this);
    }
    const view = (name: StoreRegion, length?: number) => this.kernels.floats(name, 0, length);
    this.views = { keys: view('keys', kv), values: view('values', kv), query: view('query', nEmbd), out: view('out', nEmbd) };
  }

  /** Stores the key and value (C floats each, heads side by side) of position `pos` of a slot. */
  write(slot: number, pos: number, key: Float32Array, value: Float32Array): void {
    const { headDim: D, capacity } = this;
    const { keys, values } = this.views;
    for (let h = 0; h < this.nHead; h++) {
      const at = ((slot * this.nHead + h) * capacity + pos) * D; // [slot, h, pos, :]
      for (let d = 0, from = h * D; d < D; d++, from++) {
        keys[at + d] = key[from]; // a loop, not set(subarray): no allocation per head
        values[at + d] = value[from];
      }
    }
  }

  /** Copies positions 0..length-1 of `from`'s slot `fromSlot` into this store's slot `toSlot`. */
  copySlot(from: SimdAttentionStore, fromSlot: number, toSlot: number, length: number): void {
    const n = length * this.headDim;
    for (let h = 0; h < this.nHead; h++) {
      const src = (fromSlot * from.nHead + h) * from.capacity * from.headDim;
      const dst = (toSlot * this.nHead + h) * this.capacity * this.headDim;
      this.kernels.floats('keys', dst, n).set(from.kernels.floats('keys', src, n));
      this.kernels.floats('values', dst, n).set(from.kernels.floats('values', src, n));
    }
  }

  /**
   * Multi-head attention of `query` (C floats, heads side by side) over positions 0..length-1 of
   * a slot; writes the C outputs (heads side by side) into `into` at `offset`.
   */
  attend(slot: number, length: number, query: Float32Array, into: Float32Array, offset: number): void {
    const { nEmbd: C, headDim: D, nHead: H, kernels } = this;
    const { at } = kernels;
    const slotAt = slot * this.capacity * C * 4;
    const headStride = this.capacity * D * 4;
    this.views.query.set(query);
    const scale = 1 / Math.sqrt(D);
    // On the host's threads (heads split), or here alone
    if (!this.host?.attend(at.query, at.keys + slotAt, at.values + slotAt, at.scores, at.out, length, H, D, headStride, scale)) {
      kernels.scores(at.query, at.keys + slotAt, at.scores, length, H, D, headStride, scale); // [H, S]
      kernels.softmax(at.scores, length, H); // [H, S]
      kernels.weighted(at.scores, at.values + slotAt, at.out, length, H, D, headStride); // [C]
    }
    into.set(this.views.out, offset);
  }

  /** Whether attention runs on the host's threads (the memory is a lease of the host's). */
  get threaded(): boolean {
    return this.host !== undefined;
  }

  /** Gives the memory back to the host (nothing for an own memory); then this store must not be used. */
  release(): void {
    this.kernels.release();
    unreleased.unregister(this);
  }
}

/** The regions leased from `host`, or undefined where it has no room left (4 GB): the store then takes its own memory. */
function leased(regions: Record<StoreRegion, number>, host: KernelHost): SimdKernels<StoreRegion> | undefined {
  try {
    return new SimdKernels(regions, host);
  } catch (error) {
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}
