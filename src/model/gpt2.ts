/** GPT-2 (decoder-only transformer) on tfjs, with a key/value cache for token-by-token decoding. */
import * as tf from '@tensorflow/tfjs';
import { disposeWeights, loadCheckpoint, type GPT2Weights, type WeightsOptions } from './checkpoint';
import type { WeightPrecision } from './weights';
import { parseGPT2Config, type GPT2Config } from './config';
import {
  SimdKVCache,
  createKVCache,
  defaultKVCacheKind,
  isLayerKVCache,
  type KVCache,
  type KVCacheKind,
  type LayerKVCache,
} from './kvCache';
import { attentionProbabilities, block, causalMask, layerNorm } from './layers';
import { SimdDecodeScratch, simdDecodeStep } from './simdDecode';
import { fusedForward } from './fusedLayers';
import { WebGPUKVCache } from './webgpuKVCache';
import { MAX_ATTENTION_POSITIONS } from '../backend/webgpu/attention';
import { topKTensors, topLogits, type TopLogits } from './topLogits';
import { nextMacrotask } from './macrotask';

/**
 * Rows (sequences × tokens) of one piece of a q8 / f16 prefill on the SIMD path: a prompt runs in
 * pieces of this many rows, so the step's scratch stays small (about 1.4 MB for a 124M model) at
 * any length.
 */
const SIMD_PREFILL_ROWS = 64;

/** How an analysis pass (GPT2.attentionAt, GPT2.logitLens) can be followed and stopped. */
export interface AnalysisOptions {
  /** Checked between layers: once aborted, the pass rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called with each layer's 0-based index once that layer's work is done, before the pause. */
  onLayer?: (layer: number) => void;
}

/** Between two layers of an analysis: lets queued messages run, then stops if `signal` was aborted. */
async function pause(signal: AbortSignal | undefined): Promise<void> {
  await nextMacrotask();
  signal?.throwIfAborted();
}

/**
 * How a model runs forward(), chosen once, when the model is made, from its backend and config:
 * - `fused` (WebGPU): a preallocated GPU cache, and the fused WGSL programs for every step
 *   (fusedLayers.ts);
 * - `simd` (wasm, cpu): the SIMD KV cache; a prefill through tfjs ops (layers.ts), a decode step on
 *   the SIMD kernels in WebAssembly memory with only the matmuls in tfjs or the SIMD matrix store
 *   (simdDecode.ts);
 * - `tfjs`: tfjs ops for every step (layers.ts, the reference), with a concat or SIMD cache.
 * The path makes the caches and fills them; a cache is data that forward() hands back to it.
 */
interface ForwardPath {
  readonly name: ForwardPathName;
  newCache(batchSize: number, capacity: number): KVCache;
  /** ids [B][T] at positions cache.length.. → logits of each sequence's last new position [B, vocab]; fills and advances the cache. Inside tf.tidy. */
  prefill(w: GPT2Weights, ids: number[][], cache: KVCache): tf.Tensor2D;
  /** The same for T = 1: one new token per sequence. */
  decodeStep(w: GPT2Weights, ids: number[][], cache: KVCache): tf.Tensor2D;
}

export type ForwardPathName = 'fused' | 'simd' | 'tfjs';

/** A path and, off the fused one, the kind of cache it makes. */
export type ForwardChoice = { name: 'fused' } | { name: 'simd'; kind: 'simd' } | { name: 'tfjs'; kind: KVCacheKind };

/** Overrides of the backend's choice of forward path (tests and the bench's baselines): see GPT2.withForward. */
export interface ForwardOptions {
  /** false: tfjs ops on WebGPU instead of the fused programs (the reference). */
  fusedWebGPU?: boolean;
  /** The cache off WebGPU: `simd` (default on wasm/cpu; the simd path) or `concat` (the baseline, default elsewhere; the tfjs path). */
  kind?: KVCacheKind;
}

/** The forward path for a model on `backend`: fused on WebGPU, simd on wasm/cpu (gelu_new models), tfjs otherwise. */
export function chooseForwardPath(config: GPT2Config, backend: string, options: ForwardOptions = {}): ForwardChoice {
  if (backend === 'webgpu' && (options.fusedWebGPU ?? true) && config.nPositions <= MAX_ATTENTION_POSITIONS) return { name: 'fused' };
  const kind = options.kind ?? defaultKVCacheKind(backend, config);
  return kind === 'simd' && config.activation === 'gelu_new' ? { name: 'simd', kind } : { name: 'tfjs', kind };
}

/** The cache a path made, or a TypeError that says so. */
function cacheOf<C>(cache: KVCache, type: abstract new (...args: never[]) => C, path: ForwardPathName): C;
function cacheOf(cache: KVCache, type: null, path: ForwardPathName): LayerKVCache;
function cacheOf(cache: KVCache, type: (abstract new (...args: never[]) => unknown) | null, path: ForwardPathName): unknown {
  if (type ? cache instanceof type : isLayerKVCache(cache)) return cache;
  throw new TypeError(`forward() needs a cache made by this model's newCache() (its ${path} path), got a ${cache.constructor.name}`);
}

/** One entry of the logit lens: a token id and its log-probability. */
export interface LensEntry {
  id: number;
  /** log softmax of the logits at this id (natural log). */
  logprob: number;
}

/** Rows of the residual stream the logit lens turns into logits at a time: bounds its [rows, vocab] scratch (~26 MB at 128 × 50257). */
const LENS_ROWS = 128;

export class GPT2 {
  private weights: GPT2Weights | undefined;
  /** The precision of the matrices (f32, f16 or q8), fixed when the weights were loaded. */
  readonly precision: WeightPrecision;

  /** The forward path (see ForwardPath), fixed when the model is made. */
  readonly forwardPath: ForwardPathName;
  private readonly path: ForwardPath;

  /**
   * The model on the current tfjs backend. `owner: false` (withForward's views) leaves the weights
   * to the model they came from.
   */
  constructor(
    readonly config: GPT2Config,
    weights: GPT2Weights,
    options: ForwardOptions = {},
    private readonly owner = true,
  ) {
    this.weights = weights;
    this.precision = weights.precision;
    const choice = chooseForwardPath(config, tf.getBackend(), options);
    this.forwardPath = choice.name;
    this.path = this.makePath(choice);
  }

  /**
   * This model's weights behind another forward path: the tfjs reference on WebGPU
   * (`fusedWebGPU: false`), or the concat cache on wasm (the bench's baseline). The view does not
   * own the weights: dispose the original, not the view.
   */
  withForward(options: ForwardOptions): GPT2 {
    return new GPT2(this.config, this.live(), options, false);
  }

  private makePath(choice: ForwardChoice): ForwardPath {
    const { name } = choice;
    const { nLayer, nHead, nEmbd } = this.config;
    const tfjsStep = (w: GPT2Weights, ids: number[][], cache: KVCache): tf.Tensor2D => {
      const c = cacheOf(cache, null, name);
      const T = ids[0].length;
      const x = this.transform(w, ids, c.length, c); // [B, T, C]
      const logits = this.head(w, x.slice([0, T - 1, 0], [-1, 1, -1]).squeeze([1]) as tf.Tensor2D); // [B, vocab]
      c.advance(T);
      return logits;
    };
    if (choice.name === 'fused') {
      const fused = (w: GPT2Weights, ids: number[][], cache: KVCache): tf.Tensor2D => {
        const c = cacheOf(cache, WebGPUKVCache, name);
        const logits = fusedForward(w, this.config, ids, { cache: c, start: c.length, newPositions: ids[0].length }); // [B, vocab]
        c.advance(ids[0].length);
        return logits;
      };
      return {
        name,
        newCache: (b, capacity) => new WebGPUKVCache(nLayer, nHead, nEmbd / nHead, b, capacity),
        prefill: fused,
        decodeStep: fused,
      };
    }
    if (choice.name === 'simd') {
      const scratch = new SimdDecodeScratch(this.config);
      return {
        name,
        newCache: (b, capacity) => new SimdKVCache(this.config, b, capacity, this.live().store?.kernelHost()),
        prefill: (w, ids, cache) => {
          // f32 prompts stay with tfjs: its batched matMuls and attention beat the row-by-row
          // SIMD step there (124M, 128 tokens, Chromium: 838 vs 1289 ms); q8 / f16 gain (575 → 327 ms).
          if (w.precision === 'f32') return tfjsStep(w, ids, cache);
          const c = cacheOf(cache, SimdKVCache, name);
          const T = ids[0].length;
          const piece = Math.max(1, Math.floor(SIMD_PREFILL_ROWS / ids.length)); // tokens per sequence per piece
          for (let t0 = 0; ; t0 += piece) {
            const t1 = Math.min(T, t0 + piece);
            const normed = simdDecodeStep(
              w,
              this.config,
              ids.map((row) => row.slice(t0, t1)),
              c,
              scratch,
            ); // [B, C]
            c.advance(t1 - t0);
            if (t1 === T) return this.logitsOf(w, normed); // [B, vocab]
            normed.dispose();
          }
        },
        decodeStep: (w, ids, cache) => {
          const c = cacheOf(cache, SimdKVCache, name);
          const logits = this.logitsOf(w, simdDecodeStep(w, this.config, ids, c, scratch)); // [B, vocab]
          c.advance(1);
          return logits;
        },
      };
    }
    const { kind } = choice;
    return { name, newCache: (b, capacity) => createKVCache(kind, this.config, b, capacity), prefill: tfjsStep, decodeStep: tfjsStep };
  }

  /** Parses config.json, loads model.safetensors, and builds the model (matrices in `options.precision`, default f32). */
  static async fromFiles(configJson: unknown, safetensors: ArrayBuffer | Blob | Response, options: WeightsOptions = {}): Promise<GPT2> {
    const config = parseGPT2Config(configJson);
    return new GPT2(config, await loadCheckpoint(config, safetensors, 'model.safetensors', options));
  }

  /** An empty cache of this model's forward path for `batchSize` sequences of up to `capacity` positions. */
  newCache(batchSize: number, capacity = this.config.nPositions): KVCache {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > this.config.nPositions) {
      throw new RangeError(`cache capacity must be between 1 and n_positions (${this.config.nPositions}), got ${capacity}`);
    }
    return this.path.newCache(batchSize, capacity);
  }

  /**
   * Appends ids [B][T] at positions cache.length..cache.length+T-1 and returns the logits of
   * the last new position, [B, vocab]: a prefill, or a decode step when T = 1. The caller
   * disposes the result.
   */
  forward(ids: number[][], cache: KVCache): tf.Tensor2D {
    const w = this.live();
    const T = this.checkIds(ids, cache);
    const step = T === 1 ? this.path.decodeStep : this.path.prefill;
    return tf.tidy(() => step(w, ids, cache)); // [B, vocab]
  }

  /**
   * Every logit >= the k-th largest of each row of `logits` [B, vocab], with its id, by
   * descending value (more than k only on a tie at the k-th value). On WebGPU the selection runs
   * on the GPU and only ~2(k+1) floats per row are read back. Does not dispose `logits`.
   */
  topK(logits: tf.Tensor2D, k: number): Promise<TopLogits[]> {
    return topLogits(logits, k);
  }

  /**
   * Runs the model once the way generation will, so the backend's one-time work happens now and
   * not in the first Generate: XNNPACK packs each weight on its first matmul (wasm), the head's
   * transposed copy is made, WebGPU compiles its programs (one per row count), the JIT warms up.
   * A 4-token prefill (with the GPU top-k), a decode step for three sequences sharing the prompt
   * (the page's default; with the GPU top-k), then one for the single sequence; twice, because the engine compiles the optimised code
   * of hot WebAssembly (the SIMD kernels) in the background after the first round. Leaves no
   * tensors behind.
   */
  async warmUp(rounds = 2): Promise<void> {
    await this.live().store?.started(); // the q8 / f16 helper threads, so the warm-up and every run after use them
    for (let round = 0; round < rounds; round++) await this.warmUpOnce();
  }

  /**
   * Threads the q8 / f16 products run on now, this one included, when the WebAssembly matrix
   * store runs them (wasm, cpu); undefined where tfjs does (f32: on wasm, its own pool).
   */
  get storeThreads(): number | undefined {
    return this.live().store?.threads;
  }

  private async warmUpOnce(): Promise<void> {
    const prompt = [464, 2068, 7586, 21831].map((id) => id % this.config.vocabSize);
    const read = async (logits: tf.Tensor2D, topK: boolean): Promise<number> => {
      try {
        if (topK && tf.getBackend() === 'webgpu') await this.topK(logits, 50);
        const best = tf.argMax(logits, -1);
        const [id] = await best.data();
        best.dispose();
        return id;
      } finally {
        logits.dispose();
      }
    };
    const capacity = Math.min(this.config.nPositions, prompt.length + 2);
    const cache = this.newCache(1, capacity);
    let batch: KVCache | undefined;
    try {
      const id = await read(this.forward([prompt], cache), true);
      batch = cache.repeat(3);
      await read(this.forward([[id], [id], [id]], batch), true);
      await read(this.forward([[id]], cache), false);
    } finally {
      cache.dispose();
      batch?.dispose();
    }
  }

  /** Logits at every position of one sequence, without a cache: [T, vocab]. */
  forwardAll(ids: number[]): tf.Tensor2D {
    const w = this.live();
    const T = this.checkIds([ids]);
    return tf.tidy(() => {
      const x = this.transform(w, [ids], 0); // [1, T, C]
      return this.head(w, x.reshape([T, this.config.nEmbd]) as tf.Tensor2D); // [T, vocab]
    });
  }

  /**
   * The analysis pass: block `layer`'s (0-based) softmaxed causal attention over one sequence,
   * [nHead, T, T]. Row q holds query q's probabilities over keys 0..T-1: it sums to 1 and every
   * key after q is exactly 0. Runs the blocks before `layer` on the generic tfjs path (every
   * backend, no cache) and keeps one layer's probabilities at a time. The caller disposes the result.
   */
  attentionProbabilities(ids: number[], layer: number): tf.Tensor3D {
    const w = this.live();
    const T = this.checkSequence(ids, 'attentionProbabilities()');
    this.checkLayer(layer);
    return tf.tidy(() => {
      const x = this.transform(w, [ids], 0, undefined, layer); // [1, T, C]: the residual stream entering block `layer`
      return attentionProbabilities(x, w.h[layer], this.config, causalMask(T, T)).squeeze([0]) as tf.Tensor3D; // [H, T, T]
    });
  }

  /**
   * attentionProbabilities() one block at a time, for a caller that must stay responsive (the
   * worker): between blocks it waits for a macrotask (so a Stop message is handled) and then
   * checks `options.signal`, so an abort ends it within one block's work, rejecting with the
   * signal's reason (an AbortError). The caller disposes the result.
   */
  async attentionAt(ids: number[], layer: number, options: AnalysisOptions = {}): Promise<tf.Tensor3D> {
    const w = this.live();
    const T = this.checkSequence(ids, 'attentionAt()');
    this.checkLayer(layer);
    options.signal?.throwIfAborted();
    for (const { x, mask, layer: entering } of this.residualStream(w, ids, T)) {
      if (entering === layer) return tf.tidy(() => attentionProbabilities(x, w.h[layer], this.config, mask).squeeze([0]) as tf.Tensor3D); // [H, T, T]
      options.onLayer?.(entering);
      await pause(options.signal);
    }
    throw new Error(`attentionAt(): the residual stream ended before layer ${layer}`);
  }

  /**
   * attentionProbabilities() of every layer in order, for one sequence: yields layer 0's
   * [nHead, T, T], then layer 1's, ..., running each block once (the residual stream is carried
   * from one layer to the next). Only one layer's probabilities exist at a time: the caller
   * disposes each before asking for the next. Stopping early (break, return()) frees the rest.
   */
  attentionLayers(ids: number[]): Generator<tf.Tensor3D, void, undefined> {
    const w = this.live();
    const T = this.checkSequence(ids, 'attentionLayers()');
    const config = this.config;
    const stream = this.residualStream(w, ids, T);
    return (function* layers() {
      for (const { x, mask, layer } of stream) {
        if (layer === config.nLayer) return;
        yield tf.tidy(() => attentionProbabilities(x, w.h[layer], config, mask).squeeze([0]) as tf.Tensor3D); // [H, T, T]
      }
    })();
  }

  /**
   * The logit lens: for each layer l (the residual stream after block l) and each position of one
   * sequence, the `top` likeliest next tokens when ln_f and the head are applied to that residual
   * stream, by descending log-probability (log softmax over the vocabulary): [layer][position][top].
   * The last layer is the model's own prediction. Works one layer, and at most 128 positions, at
   * a time, selecting on the device (tf.topk; the GPU top-k programs on WebGPU), so no layer's
   * [T, vocab] logits are read back or kept beside another's. After each layer it waits for a
   * macrotask and checks `options.signal`, so an abort ends it within one layer's work, rejecting
   * with the signal's reason (an AbortError).
   */
  async logitLens(ids: number[], top = 5, options: AnalysisOptions = {}): Promise<LensEntry[][][]> {
    const w = this.live();
    const T = this.checkSequence(ids, 'logitLens()');
    const { vocabSize } = this.config;
    if (!Number.isInteger(top) || top < 1 || top > vocabSize)
      throw new RangeError(`logitLens() needs top from 1 to ${vocabSize}, got ${top}`);
    const layers: LensEntry[][][] = [];
    options.signal?.throwIfAborted();
    for (const { x, layer } of this.residualStream(w, ids, T)) {
      if (layer === 0) continue; // the embeddings: the lens reads the stream after each block
      layers.push(await this.lens(w, x, top)); // after block layer - 1
      options.onLayer?.(layer - 1);
      if (layer < this.config.nLayer) await pause(options.signal);
    }
    return layers;
  }

  /**
   * One sequence's residual stream x [1, T, C] entering block 0, 1, ..., n_layer - 1, and after
   * the last block (layer = n_layer), with the causal mask; each block runs when the next state is
   * asked for. A yielded x is disposed at the next step: read it, do not keep or dispose it.
   */
  private *residualStream(
    w: GPT2Weights,
    ids: number[],
    T: number,
  ): Generator<{ x: tf.Tensor3D; mask: tf.Tensor2D | undefined; layer: number }, void, undefined> {
    // Kept: the caller may step this generator inside a tf.tidy of its own.
    const mask = tf.tidy(() => causalMask(T, T)); // [T, T], or none for T = 1
    if (mask) tf.keep(mask);
    let x = tf.keep(tf.tidy(() => this.transform(w, [ids], 0, undefined, 0))); // [1, T, C]: the embeddings
    try {
      for (let layer = 0; ; layer++) {
        yield { x, mask, layer };
        if (layer === w.h.length) return;
        const next = tf.keep(tf.tidy(() => block(x, w.h[layer], this.config, mask))); // [1, T, C]
        x.dispose();
        x = next;
      }
    } finally {
      x.dispose();
      mask?.dispose();
    }
  }

  /** ln_f and the head on each position of x [1, T, C]: the `top` likeliest ids and their log softmax, per position. */
  private async lens(w: GPT2Weights, x: tf.Tensor3D, top: number): Promise<LensEntry[][]> {
    const [, T, C] = x.shape;
    const rows: LensEntry[][] = [];
    for (let start = 0; start < T; start += LENS_ROWS) {
      const n = Math.min(LENS_ROWS, T - start);
      const best = tf.tidy(() => {
        const logits = this.head(w, x.slice([0, start, 0], [1, n, C]).reshape([n, C]) as tf.Tensor2D); // [n, vocab]
        const { values, indices } = topKTensors(logits, top); // [n, top] each
        return { logprobs: values.sub(tf.logSumExp(logits, -1, true)), indices }; // log softmax of the best [n, top]
      });
      try {
        const [logprobs, indices] = await Promise.all([best.logprobs.data(), best.indices.data()]);
        for (let r = 0; r < n; r++) {
          rows.push(Array.from({ length: top }, (_, j) => ({ id: indices[r * top + j], logprob: logprobs[r * top + j] })));
        }
      } finally {
        tf.dispose([best.logprobs, best.indices]);
      }
    }
    return rows;
  }

  dispose(): void {
    if (this.weights && this.owner) disposeWeights(this.weights);
    this.weights = undefined;
  }

  /**
   * Embeddings and the transformer blocks: ids [B][T] at positions start.. → hidden states [B, T, C].
   * `layers` < n_layer stops early: the residual stream entering block `layers`.
   */
  private transform(w: GPT2Weights, ids: number[][], start: number, cache?: LayerKVCache, layers = w.h.length): tf.Tensor3D {
    const B = ids.length;
    const T = ids[0].length;
    const tokens = tf.tensor2d(ids, [B, T], 'int32'); // [B, T]
    const positions = tf.range(start, start + T, 1, 'int32'); // [T]
    let x = w.wte
      .embed(tokens.reshape([B * T]))
      .reshape([B, T, -1])
      .add(tf.gather(w.wpe, positions)) as tf.Tensor3D; // [B, T, C]
    const mask = causalMask(T, start + T); // [T, S] or none
    w.h.slice(0, layers).forEach((weights, layer) => {
      x = block(x, weights, this.config, mask, cache && { store: cache, layer }); // [B, T, C]
    });
    return x;
  }

  /** Final layer norm and the language-model head (tied to wte unless the checkpoint has lm_head). */
  private head(w: GPT2Weights, x: tf.Tensor2D): tf.Tensor2D {
    return this.logitsOf(w, layerNorm(x, w.ln_f, this.config.layerNormEpsilon)); // [N, vocab]
  }

  /** The language-model head alone: ln_f's output [N, C] → logits [N, vocab]. */
  private logitsOf(w: GPT2Weights, normed: tf.Tensor2D): tf.Tensor2D {
    return w.lm_head.logits(normed); // [N, vocab]
  }

  /** Checks ids before any tensor is made, so a bad call leaves the cache as it was. Returns T. */
  private checkIds(ids: number[][], cache?: KVCache): number {
    const { vocabSize, nPositions } = this.config;
    const T = ids[0]?.length ?? 0;
    if (ids.length === 0 || T === 0) throw new RangeError('forward() needs at least one token per sequence');
    if (cache && ids.length !== cache.batchSize) {
      throw new RangeError(`got ${ids.length} sequences for a cache of batch size ${cache.batchSize}`);
    }
    for (const row of ids) {
      if (row.length !== T) throw new RangeError(`all sequences must add the same number of tokens (${T} and ${row.length} given)`);
      for (const id of row) {
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
          throw new RangeError(`token id ${id} is outside the vocabulary [0, ${vocabSize})`);
      }
    }
    const limit = cache ? cache.capacity : nPositions;
    const total = (cache?.length ?? 0) + T;
    if (total > limit) {
      throw new RangeError(
        `sequence would be ${total} tokens long, more than this ${cache ? 'cache holds' : 'model reads'} (${limit}; n_positions=${nPositions})`,
      );
    }
    return T;
  }

  /** The analysis pass reads one sequence: an array of 1..n_positions ids in the vocabulary. Returns T. */
  private checkSequence(ids: number[], what: string): number {
    if (!Array.isArray(ids) || ids.length === 0) throw new RangeError(`${what} needs a sequence of at least one token id`);
    return this.checkIds([ids]);
  }

  private checkLayer(layer: number): void {
    const { nLayer } = this.config;
    if (!Number.isInteger(layer) || layer < 0 || layer >= nLayer) {
      throw new RangeError(`layer must be an integer from 0 to ${nLayer - 1} (0-based; this model has ${nLayer} layers), got ${layer}`);
    }
  }

  private live(): GPT2Weights {
    if (!this.weights) throw new Error('this GPT2 model was disposed');
    return this.weights;
  }
}
