/**
 * From a safetensors header to GPT-2 weights on the tfjs backend.
 *
 * Canonical tensor names are the hub `gpt2` layout (`wte.weight`, `h.0.attn.c_attn.weight`, ...).
 * `save_pretrained` writes the same names under a `transformer.` prefix (and `lm_head.weight`
 * when the head is not tied). Conv1D weights are stored [in, out]: y = x · W + b.
 */
import * as tf from '@tensorflow/tfjs';
import { SimdMatmulStore } from '../backend/simd/matmul';
import { mlpWidth, type GPT2Config } from './config';
import { CheckpointError, inFile } from './errors';
import { bytesSource, readCheckpoint } from './checkpointStream';
import { DECODABLE_DTYPES, decodeToFloat32, type SafetensorsHeader, type TensorEntry } from './safetensors';
import {
  GpuPackedMatrix,
  GpuPackedTable,
  SimdMatrix,
  SimdTable,
  TensorMatrix,
  TensorTable,
  type Matrix,
  type TokenTable,
  type WeightPrecision,
} from './weights';
import { packForGpu } from '../backend/webgpu/packedWeights';

export interface LayerNormWeights {
  weight: tf.Tensor1D;
  bias: tf.Tensor1D;
}
export interface Conv1DWeights {
  weight: Matrix /* [in, out] */;
  bias: tf.Tensor1D;
}
export interface BlockWeights {
  ln_1: LayerNormWeights;
  attn: { c_attn: Conv1DWeights; c_proj: Conv1DWeights };
  ln_2: LayerNormWeights;
  mlp: { c_fc: Conv1DWeights; c_proj: Conv1DWeights };
}
/** Parameter names mirror the checkpoint: `weights.h[0].attn.c_attn.weight` is `h.0.attn.c_attn.weight`. */
export interface GPT2Weights {
  /** The precision of the matrices (c_attn, c_proj, c_fc, the head); everything else is f32. */
  precision: WeightPrecision;
  wte: TokenTable; // [vocab, n_embd]
  wpe: tf.Tensor2D; // [n_positions, n_embd]
  h: BlockWeights[];
  ln_f: LayerNormWeights;
  /** [vocab, n_embd]; the same table as `wte` when the head is tied (no `lm_head.weight`). */
  lm_head: TokenTable;
  /** The WebAssembly matrix store holding the q8 / f16 matrices on wasm and cpu (absent otherwise): its threads. */
  store?: SimdMatmulStore;
}

export function disposeWeights(weights: GPT2Weights): void {
  const all = new Set<{ dispose(): void }>([weights.wte, weights.wpe, weights.lm_head, weights.ln_f.weight, weights.ln_f.bias]);
  for (const block of weights.h) {
    for (const part of [block.ln_1, block.ln_2, block.attn.c_attn, block.attn.c_proj, block.mlp.c_fc, block.mlp.c_proj]) {
      all.add(part.weight);
      all.add(part.bias);
    }
  }
  for (const t of all) t.dispose();
  weights.store?.stopThreads();
}

/** A tensor to read: where it is in the file, and the shape the config says it must have. */
export interface TensorPlan {
  canonical: string;
  entry: TensorEntry;
  shape: number[];
}

/** Every tensor a GPT-2 with this config needs, with its expected shape (lm_head.weight is optional). */
export function expectedShapes(config: GPT2Config): Map<string, number[]> {
  const { vocabSize: V, nPositions: P, nEmbd: C } = config;
  const inner = mlpWidth(config);
  const shapes = new Map<string, number[]>([
    ['wte.weight', [V, C]],
    ['wpe.weight', [P, C]],
  ]);
  for (let i = 0; i < config.nLayer; i++) {
    shapes.set(`h.${i}.ln_1.weight`, [C]);
    shapes.set(`h.${i}.ln_1.bias`, [C]);
    shapes.set(`h.${i}.attn.c_attn.weight`, [C, 3 * C]);
    shapes.set(`h.${i}.attn.c_attn.bias`, [3 * C]);
    shapes.set(`h.${i}.attn.c_proj.weight`, [C, C]);
    shapes.set(`h.${i}.attn.c_proj.bias`, [C]);
    shapes.set(`h.${i}.ln_2.weight`, [C]);
    shapes.set(`h.${i}.ln_2.bias`, [C]);
    shapes.set(`h.${i}.mlp.c_fc.weight`, [C, inner]);
    shapes.set(`h.${i}.mlp.c_fc.bias`, [inner]);
    shapes.set(`h.${i}.mlp.c_proj.weight`, [inner, C]);
    shapes.set(`h.${i}.mlp.c_proj.bias`, [C]);
  }
  shapes.set('ln_f.weight', [C]);
  shapes.set('ln_f.bias', [C]);
  shapes.set(LM_HEAD, [V, C]);
  return shapes;
}

const LM_HEAD = 'lm_head.weight';

/** Causal-mask buffers HF stores in older checkpoints: constants, recomputed by the forward pass. */
const UNUSED_BUFFER = /^h\.\d+\.attn\.(bias|masked_bias)$/;

/** `transformer.h.0.ln_1.weight` → `h.0.ln_1.weight`; hub names pass through. */
export function canonicalName(name: string): string {
  return name.startsWith('transformer.') ? name.slice('transformer.'.length) : name;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const showShape = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * GPU backends keep a new tensor's values on the CPU until its first use; uploading at once lets
 * those values go while the next tensor arrives, so a model is never in memory twice.
 */
function uploadNow(tensor: tf.Tensor): void {
  const backend = tf.backend() as { uploadToGPU?: (dataId: object) => void };
  backend.uploadToGPU?.(tensor.dataId);
}

/** The matrices a precision applies to: Conv1D weights ([in, out]) and the token tables ([vocab, C]). */
const CONV_WEIGHT = /^h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;
const TABLES = new Set(['wte.weight', LM_HEAD]);

export interface WeightsOptions {
  /** Precision of the matrices (default f32, exact). q8 and f16 run on wasm, cpu (SIMD kernels) and WebGPU. */
  precision?: WeightPrecision;
  /** Threads for the q8 / f16 products on wasm and cpu, this one included (default 1; see src/backend/wasmThreads.ts). */
  threads?: number;
}

/**
 * Turns tensors into GPT2Weights one at a time, as their bytes arrive, so a streaming download
 * never holds the whole file: decode, validate, upload (or quantize), drop the bytes. With q8 or
 * f16 each matrix is converted as it arrives, so the float32 model is never in memory either.
 */
export class WeightsBuilder {
  readonly plan: TensorPlan[];
  readonly precision: WeightPrecision;
  private readonly uploaded = new Map<string, tf.Tensor>();
  private readonly packed = new Map<string, Matrix | TokenTable>();
  private store: SimdMatmulStore | null = null;
  private readonly threads: number;

  constructor(
    private readonly config: GPT2Config,
    header: SafetensorsHeader,
    private readonly file = 'model.safetensors',
    options: WeightsOptions = {},
  ) {
    this.plan = planTensors(config, header, file);
    this.precision = options.precision ?? 'f32';
    this.threads = options.threads ?? 1;
    if (this.precision !== 'f32' && !['wasm', 'cpu', 'webgpu'].includes(tf.getBackend())) {
      throw new CheckpointError(
        `${this.precision} weights run on the wasm, cpu and webgpu backends; tfjs is on '${tf.getBackend()}': load the model as f32`,
      );
    }
  }

  /** Decodes one planned tensor (exactly its entry's bytes) and uploads it to the tfjs backend. */
  add(plan: TensorPlan, bytes: Uint8Array): void {
    if (this.uploaded.has(plan.canonical) || this.packed.has(plan.canonical)) {
      throw new CheckpointError(inFile(this.file, `tensor '${plan.entry.name}' was added twice`));
    }
    const values = decodeToFloat32(plan.entry, bytes, this.file);
    const isTable = TABLES.has(plan.canonical);
    if (this.precision !== 'f32' && (isTable || CONV_WEIGHT.test(plan.canonical))) {
      this.packed.set(plan.canonical, this.pack(values, plan.shape, isTable));
      return;
    }
    const tensor = tf.tensor(values, plan.shape, 'float32');
    uploadNow(tensor);
    this.uploaded.set(plan.canonical, tensor);
  }

  /** A matrix in this builder's precision: [in, out] for Conv1D, [vocab, C] for a table. */
  private pack(values: Float32Array, shape: number[], isTable: boolean): Matrix | TokenTable {
    const format = this.precision as 'q8' | 'f16';
    if (tf.getBackend() === 'webgpu') {
      const [rows, cols] = shape;
      const packed = isTable ? packForGpu(values, cols, rows, 'out-in', format) : packForGpu(values, rows, cols, 'in-out', format);
      uploadNow(packed.packed);
      if (packed.scale) uploadNow(packed.scale);
      return isTable ? new GpuPackedTable(packed) : new GpuPackedMatrix(packed);
    }
    this.store ??= new SimdMatmulStore({ threads: this.threads });
    const store = this.store;
    if (isTable) {
      const [V, C] = shape;
      return new SimdTable(store, this.precision === 'q8' ? store.addQ8(values, C, V, 'out-in') : store.addF16(values, C, V, 'out-in'));
    }
    const [K, N] = shape;
    return new SimdMatrix(store, this.precision === 'q8' ? store.addQ8(values, K, N, 'in-out') : store.addF16(values, K, N, 'in-out'));
  }

  /** Assembles the weights; throws naming the first tensor that was never added. */
  finish(): GPT2Weights {
    for (const { canonical, entry } of this.plan) {
      if (!this.uploaded.has(canonical) && !this.packed.has(canonical)) {
        throw new CheckpointError(inFile(this.file, `tensor '${entry.name}' was never loaded (file truncated?)`));
      }
    }
    const get = <T extends tf.Tensor>(name: string) => this.uploaded.get(name) as T;
    const matrix = (name: string): Matrix => (this.packed.get(name) as Matrix | undefined) ?? new TensorMatrix(get(name));
    const table = (name: string): TokenTable => (this.packed.get(name) as TokenTable | undefined) ?? new TensorTable(get(name));
    const conv = (prefix: string): Conv1DWeights => ({ weight: matrix(`${prefix}.weight`), bias: get(`${prefix}.bias`) });
    const norm = (prefix: string): LayerNormWeights => ({ weight: get(`${prefix}.weight`), bias: get(`${prefix}.bias`) });
    const wte = table('wte.weight');
    const hasHead = this.uploaded.has(LM_HEAD) || this.packed.has(LM_HEAD);
    const weights: GPT2Weights = {
      precision: this.precision,
      wte,
      wpe: get('wpe.weight'),
      h: Array.from({ length: this.config.nLayer }, (_, i) => ({
        ln_1: norm(`h.${i}.ln_1`),
        attn: { c_attn: conv(`h.${i}.attn.c_attn`), c_proj: conv(`h.${i}.attn.c_proj`) },
        ln_2: norm(`h.${i}.ln_2`),
        mlp: { c_fc: conv(`h.${i}.mlp.c_fc`), c_proj: conv(`h.${i}.mlp.c_proj`) },
      })),
      ln_f: norm('ln_f'),
      lm_head: hasHead ? table(LM_HEAD) : wte,
      ...(this.store ? { store: this.store } : {}),
    };
    this.uploaded.clear(); // ownership passes to the caller
    this.packed.clear();
    this.store = null;
    return weights;
  }

  /** Frees whatever was uploaded so far (after a failed or aborted load). */
  dispose(): void {
    for (const t of this.uploaded.values()) t.dispose();
    for (const m of this.packed.values()) m.dispose();
    this.uploaded.clear();
    this.packed.clear();
    this.store?.stopThreads();
    this.store = null;
  }
}

/** Matches header entries to the tensors the config needs; fails before any bytes are read. */
function planTensors(config: GPT2Config, header: SafetensorsHeader, file: string): TensorPlan[] {
  const fail = (message: string): never => {
    throw new CheckpointError(inFile(file, message));
  };
  const expected = expectedShapes(config);
  const found = new Map<string, TensorEntry>();
  for (const entry of header.tensors) {
    const canonical = canonicalName(entry.name);
    if (UNUSED_BUFFER.test(canonical)) continue; // skipped without decoding, whatever its dtype
    const layer = /^h\.(\d+)\./.exec(canonical);
    if (layer && Number(layer[1]) >= config.nLayer) {
      fail(`tensor '${entry.name}' belongs to layer ${layer[1]}, but config.json has n_layer=${config.nLayer}`);
    }
    const shape = expected.get(canonical);
    if (!shape) continue; // a head this model does not use (e.g. a classifier): not ours to load
    const previous = found.get(canonical);
    if (previous) fail(`tensor '${canonical}' appears twice (as '${previous.name}' and '${entry.name}')`);
    if (!(DECODABLE_DTYPES as readonly string[]).includes(entry.dtype)) {
      fail(`tensor '${entry.name}': unsupported dtype ${entry.dtype}, expected one of ${DECODABLE_DTYPES.join(', ')}`);
    }
    if (!sameShape(entry.shape, shape)) {
      fail(`tensor '${entry.name}': expected shape ${showShape(shape)} from config.json, found ${showShape(entry.shape)}`);
    }
    found.set(canonical, entry);
  }
  for (const canonical of expected.keys()) {
    if (canonical !== LM_HEAD && !found.has(canonical)) {
      fail(`missing tensor '${canonical}' (expected shape ${showShape(expected.get(canonical)!)})`);
    }
  }
  return [...found.entries()]
    .map(([canonical, entry]) => ({ canonical, entry, shape: expected.get(canonical)! }))
    .sort((a, b) => a.entry.begin - b.entry.begin);
}

/**
 * Loads a whole `model.safetensors` through the checkpoint loader (checkpointStream.ts): a Blob
 * (e.g. a File) is read tensor by tensor, so it is never fully in memory; an ArrayBuffer, a view
 * of one (a Node Buffer) or a Response is read in place.
 */
export async function loadCheckpoint(
  config: GPT2Config,
  source: ArrayBuffer | ArrayBufferView | Blob | Response,
  file = 'model.safetensors',
  options: WeightsOptions = {},
): Promise<GPT2Weights> {
  let data: ArrayBuffer | ArrayBufferView | Blob;
  if (typeof Response !== 'undefined' && source instanceof Response) {
    if (!source.ok) throw new CheckpointError(inFile(file, `download failed: HTTP ${source.status} ${source.statusText}`));
    data = await source.arrayBuffer();
  } else data = source as ArrayBuffer | ArrayBufferView | Blob;
  const { sink } = await readCheckpoint(bytesSource(data), (header) => new WeightsBuilder(config, header, file, options), { file });
  try {
    return sink.finish();
  } catch (error) {
    sink.dispose();
    throw error;
  }
}
