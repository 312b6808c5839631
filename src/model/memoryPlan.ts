/**
 * What a model will need, from config.json alone, before a byte of weights is fetched: weights at
 * a precision, the KV cache at full context for the chosen number of sequences, and the
 * activations of a full-context prefill, set against what the backend offers (each WebAssembly
 * memory holds at most 4 GiB; a WebGPU buffer at most the adapter's maxBufferSize and
 * maxStorageBufferBindingSize; navigator.deviceMemory as a hint only). Also the `auto` precision.
 */
import { mlpWidth, type GPT2Config } from './config';
import { WEIGHT_PRECISIONS, type WeightPrecision } from './precision';

/** What the person asked for: a precision, or `auto` (the default). */
export type PrecisionRequest = WeightPrecision | 'auto';
export const PRECISION_REQUESTS: readonly PrecisionRequest[] = ['auto', ...WEIGHT_PRECISIONS];

export function isPrecisionRequest(value: string): value is PrecisionRequest {
  return (PRECISION_REQUESTS as readonly string[]).includes(value);
}

/** What the backend offers, as far as a page can know it. */
export interface BackendMemory {
  /** tfjs backend name: 'wasm', 'cpu', 'webgpu', 'webgl'. */
  backend: string;
  /** WebGPU: the device's largest buffer and largest storage binding, bytes. */
  maxBufferSize?: number;
  maxStorageBufferBindingSize?: number;
  /** navigator.deviceMemory: the machine's memory in GB, rounded down and capped (8 in Chromium). A hint. */
  deviceMemoryGb?: number;
}

/** Largest WebAssembly (wasm32) memory: 65536 pages of 64 KiB. The matrix store and each KV cache have their own. */
export const WASM_MEMORY_BYTES = 2 ** 32;
/**
 * What tfjs-wasm's own heap (f32 weights, activations) holds in practice: its C++ side indexes
 * memory with signed 32-bit offsets, and a gpt2-large-shaped model (3.1 GB of f32, plus the head's
 * transposed copy) loads and then fails with "memory access out of bounds".
 */
export const TFJS_WASM_HEAP_BYTES = 2 ** 31;
/** Above this many parameters `auto` loads q8 on wasm and cpu (the issue's ~300M: gpt2-medium and up). */
export const AUTO_Q8_PARAMETERS = 300e6;
/** Sequences the page can ask for (num_return_sequences up to 4). */
export const DEFAULT_PLAN_SEQUENCES = 4;

export interface MemoryPlan {
  precision: WeightPrecision;
  backend: string;
  parameters: number;
  /** The weights as this backend keeps them (f32 on wasm includes the head's transposed copy). */
  weightBytes: number;
  /** Keys and values at full context for `sequences` sequences, plus the prompt's batch-1 cache. */
  kvCacheBytes: number;
  /** Activations of a prefill of the whole context, and the kernels' scratch. */
  workspaceBytes: number;
  totalBytes: number;
  sequences: number;
  /** Why it cannot run, naming the numbers (undefined when it fits). */
  problem?: string;
  /** A warning that is not a refusal (navigator.deviceMemory is smaller than the total). */
  note?: string;
}

const GB = 1e9;
export const gb = (bytes: number) => `${(bytes / GB).toFixed(bytes >= 10 * GB ? 0 : 1)} GB`;

/** Parameters of a GPT-2 with this config (tied head), as Hugging Face counts them. */
export function parameterCount(config: GPT2Config): number {
  const { vocabSize: V, nPositions: P, nEmbd: C, nLayer: L } = config;
  const inner = mlpWidth(config);
  return V * C + P * C + L * (4 * C + C * 3 * C + 3 * C + C * C + C + C * inner + inner + inner * C + C) + 2 * C;
}

interface Sizes {
  matrixParams: number;
  outputChannels: number;
  otherParams: number;
  table: number;
}

function sizes(config: GPT2Config): Sizes {
  const { vocabSize: V, nEmbd: C, nLayer: L } = config;
  const inner = mlpWidth(config);
  const layerMatrix = 3 * C * C + C * C + C * inner + inner * C;
  const matrixParams = L * layerMatrix + V * C;
  return {
    matrixParams,
    outputChannels: L * (3 * C + C + inner + C) + V,
    otherParams: parameterCount(config) - matrixParams,
    table: V * C,
  };
}

const BYTES: Record<WeightPrecision, number> = { f32: 4, f16: 2, q8: 1 };

/** Bytes of the matrices alone at a precision (q8 adds a scale and a sum per output channel). */
function matrixBytes(s: Sizes, precision: WeightPrecision): number {
  return s.matrixParams * BYTES[precision] + (precision === 'q8' ? 8 * s.outputChannels : 0);
}

function workspace(config: GPT2Config): number {
  const { nPositions: P, nEmbd: C, nHead: H } = config;
  // attention scores [H, P, P] and its softmax, plus [P, 4C] and [P, inner] activations alive at once (inner = n_inner)
  return 4 * (2 * H * P * P + 4 * P * (4 * C + mlpWidth(config)));
}

/**
 * Bytes of a KV cache for `sequences` sequences of `positions` positions: a key and a value of
 * n_embd floats per layer and position. Caches hold float32 at every weight precision (f32, f16
 * and q8 quantise the weights' matrices only).
 */
export function kvCacheSize(config: GPT2Config, positions: number, sequences: number): number {
  return 2 * config.nLayer * positions * config.nEmbd * 4 * sequences;
}

/**
 * The plan for `config` on `memory.backend` at `precision` with `sequences` sequences. `label`
 * names the model in the message ("gpt2-xl").
 */
export function planMemory(
  config: GPT2Config,
  precision: WeightPrecision,
  memory: BackendMemory,
  sequences = DEFAULT_PLAN_SEQUENCES,
  label = 'this model',
): MemoryPlan {
  const s = sizes(config);
  const { nLayer: L, nPositions: P, nEmbd: C } = config;
  const kvPerSequence = kvCacheSize(config, P, 1);
  const kvCacheBytes = kvPerSequence * (sequences + 1);
  const matrices = matrixBytes(s, precision);
  const others = 4 * s.otherParams;
  const headCopy = precision === 'f32' && memory.backend === 'wasm' ? 4 * s.table : 0;
  const weightBytes = matrices + others + headCopy;
  const scratch = precision === 'f32' ? 0 : 32 * 8 * (Math.max(C, mlpWidth(config)) + config.vocabSize) * 2;
  const workspaceBytes = workspace(config) + scratch;
  const plan: MemoryPlan = {
    precision,
    backend: memory.backend,
    parameters: parameterCount(config),
    weightBytes,
    kvCacheBytes,
    workspaceBytes,
    totalBytes: weightBytes + kvCacheBytes + workspaceBytes,
    sequences,
  };

  // Each of these must fit on its own: they are separate memories or buffers.
  const limits: { what: string; bytes: number; limit: number; holds: string }[] = [];
  if (memory.backend === 'wasm') {
    // f32 weights live in tfjs-wasm's heap, with the activations; q8/f16 in the matrix store's own memory.
    const heap = precision === 'f32' ? weightBytes + workspace(config) : others + workspace(config);
    limits.push({
      what:
        precision === 'f32'
          ? `${label} needs ${gb(heap)} as f32 (weights, the head's transposed copy, activations)`
          : `its f32 tensors and activations need ${gb(heap)}`,
      bytes: heap,
      limit: TFJS_WASM_HEAP_BYTES,
      holds: 'tfjs-wasm holds 2.1 GB (2 GiB)',
    });
  }
  if (memory.backend === 'wasm' || memory.backend === 'cpu') {
    if (precision !== 'f32')
      limits.push({
        what: `${label} needs ${gb(matrices + scratch)} as ${precision}`,
        bytes: matrices + scratch,
        limit: WASM_MEMORY_BYTES,
        holds: 'WebAssembly holds 4.3 GB (4 GiB) in one memory',
      });
    limits.push({
      what: `the KV cache for ${sequences} sequences at ${P} positions needs ${gb(kvPerSequence * sequences)}`,
      bytes: kvPerSequence * sequences,
      limit: WASM_MEMORY_BYTES,
      holds: 'WebAssembly holds 4.3 GB (4 GiB) in one memory',
    });
  }
  if (memory.backend === 'webgpu') {
    const bufferLimit = Math.min(memory.maxBufferSize ?? Infinity, memory.maxStorageBufferBindingSize ?? Infinity);
    const largest = precision === 'f32' ? 4 * s.table : s.table * BYTES[precision];
    limits.push({
      what: `${label}'s largest tensor (the ${config.vocabSize} × ${C} token table) is ${gb(largest)} as ${precision}`,
      bytes: largest,
      limit: bufferLimit,
      holds: `this WebGPU adapter allows buffers of at most ${gb(bufferLimit)}`,
    });
    limits.push({
      what: `one layer's KV cache for ${sequences} sequences at ${P} positions is ${gb(kvCacheSize(config, P, sequences) / L)}`,
      bytes: 2 * sequences * P * C * 4,
      limit: bufferLimit,
      holds: `this WebGPU adapter allows buffers of at most ${gb(bufferLimit)}`,
    });
  }
  const over = limits.find((l) => l.bytes > l.limit);
  if (over) plan.problem = `${over.what}; ${over.holds}.`;
  if (memory.deviceMemoryGb && plan.totalBytes > memory.deviceMemoryGb * 2 ** 30) {
    plan.note = `${label} needs about ${gb(plan.totalBytes)} as ${precision}, and this device reports ${memory.deviceMemoryGb} GB of memory: it may run out.`;
  }
  return plan;
}

/** Which precisions this backend runs. */
export function precisionsFor(backend: string): WeightPrecision[] {
  return backend === 'wasm' || backend === 'cpu' || backend === 'webgpu' ? ['f32', 'f16', 'q8'] : ['f32'];
}

export interface PrecisionChoice {
  plan: MemoryPlan;
  /** Why this precision, in words ("auto: q8 because …"). */
  reason: string;
}

/** Milliseconds of the same product in each precision, measured here (src/backend/simd/calibrate.ts); f32 always. */
export type PrecisionSpeeds = { f32: number } & Partial<Record<WeightPrecision, number>>;

/**
 * Of the precisions that fit (`fitting`, f32 among them or not), the fastest measured. f32 wins
 * ties, and a precision that was not measured is never chosen over one that was: so the choice is
 * never slower than f32 unless f32 does not fit.
 */
export function fastestPrecision(fitting: readonly WeightPrecision[], speeds: PrecisionSpeeds): WeightPrecision | undefined {
  const measured = (['f32', 'q8', 'f16'] as const).filter((p) => fitting.includes(p) && speeds[p] !== undefined);
  return measured.reduce<WeightPrecision | undefined>(
    (best, p) => (best === undefined || speeds[p]! < speeds[best]! ? p : best),
    undefined,
  );
}

const formatSpeeds = (speeds: PrecisionSpeeds) =>
  (['f32', 'q8', 'f16'] as const)
    .filter((p) => speeds[p] !== undefined)
    .map((p) => `${p} ${speeds[p]!.toFixed(2)} ms`)
    .join(', ');

/**
 * The precision to load and its plan. `auto`: f32 for the built-in model (exact logits) and
 * wherever the model fits and has at most ~300M parameters. Above that on wasm/cpu, or where f32
 * would not fit, the precision that fits and multiplies fastest here, measured by `measure` (a
 * product of the model's widest matrix in each precision, fastestPrecision); without a measurement
 * q8. Throws an Error whose message names the numbers and the choice that would fit when the
 * request cannot run, before anything is downloaded.
 */
export function choosePrecision(
  request: PrecisionRequest,
  config: GPT2Config,
  memory: BackendMemory,
  options: { builtIn?: boolean; sequences?: number; label?: string; measure?: (config: GPT2Config) => PrecisionSpeeds } = {},
): PrecisionChoice {
  const { sequences = DEFAULT_PLAN_SEQUENCES, label = 'this model' } = options;
  const available = precisionsFor(memory.backend);
  const plan = (p: WeightPrecision) => planMemory(config, p, memory, sequences, label);
  if (request !== 'auto') {
    if (!available.includes(request)) {
      throw new Error(
        `${request} weights are not available on ${memory.backend} (it runs ${available.join(', ')}): choose ${available.join(' or ')}, or the wasm backend`,
      );
    }
    const chosen = plan(request);
    if (chosen.problem) throw new Error(refusal(chosen, available.filter((p) => p !== request).map(plan)));
    return { plan: chosen, reason: `${request}, as asked` };
  }
  const f32 = plan('f32');
  if (options.builtIn) {
    if (f32.problem) throw new Error(refusal(f32, []));
    return { plan: f32, reason: 'auto: f32 for the built-in model (exact logits)' };
  }
  // Big models on the CPU backends, where decoding is bound by reading weights from memory, go to
  // the fastest precision here (usually q8: a quarter of f32's bytes).
  const cpu = memory.backend === 'wasm' || memory.backend === 'cpu';
  const big = f32.parameters > AUTO_Q8_PARAMETERS && cpu;
  if (!f32.problem && !(big && available.includes('q8'))) return { plan: f32, reason: 'auto: f32 (exact), it fits' };
  if (cpu && options.measure) {
    const plans = available.map(plan);
    const fitting = plans.filter((p) => !p.problem).map((p) => p.precision);
    const speeds = options.measure(config);
    const best = fastestPrecision(fitting, speeds);
    if (best) {
      const why = f32.problem ? 'f32 does not fit' : `a model over ${AUTO_Q8_PARAMETERS / 1e6}M parameters on ${memory.backend}`;
      return {
        plan: plans.find((p) => p.precision === best)!,
        reason: `auto: ${best}, the fastest here that fits (${formatSpeeds(speeds)}; ${why})`,
      };
    }
  }
  if (available.includes('q8')) {
    const q8 = plan('q8');
    if (!q8.problem)
      return {
        plan: q8,
        reason: big
          ? `auto: q8 for a model over ${AUTO_Q8_PARAMETERS / 1e6}M parameters on ${memory.backend}`
          : 'auto: q8, because f32 does not fit',
      };
    throw new Error(refusal(q8, [f32]));
  }
  throw new Error(refusal(f32, []));
}

/** "gpt2-xl needs 6.9 GB as f32 …; WebAssembly holds 4.3 GB. As q8 it needs 1.6 GB: choose q8." */
function refusal(plan: MemoryPlan, others: MemoryPlan[]): string {
  const preference: WeightPrecision[] = ['q8', 'f16', 'f32']; // q8 first: the fastest where it applies (wasm, cpu)
  const fits = others.filter((p) => !p.problem).sort((a, b) => preference.indexOf(a.precision) - preference.indexOf(b.precision));
  const suggestion = fits.length
    ? ` As ${fits[0].precision} it needs ${gb(fits[0].weightBytes)} of weights and fits: choose Precision ${fits[0].precision} (?dtype=${fits[0].precision}, --dtype ${fits[0].precision}).`
    : others.length
      ? ` No precision fits (${others.map((p) => `${p.precision}: ${p.problem}`).join(' ')}); choose a smaller model.`
      : ' Choose a smaller model, or another backend.';
  return `Not loading: ${plan.problem}${suggestion}`;
}
