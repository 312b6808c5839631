/**
 * An independent float64 GPT-2 for reference results: a plain TypeScript forward pass over
 * Float64Arrays in the style of picoGPT, reading the checkpoint with the project's safetensors
 * parser but none of its tfjs code. It records what the analysis pass must reproduce: every
 * layer's softmaxed attention and the residual stream after every block.
 * Shapes: T positions, C = n_embd, H = n_head, D = C / H; matrices are row-major.
 */
import { parseGPT2Config, type GPT2Config } from '../../src/model/config';
import { canonicalName } from '../../src/model/checkpoint';
import { decodeToFloat32, parseSafetensorsHeader } from '../../src/model/safetensors';

/** Every tensor of the checkpoint by canonical name (`h.0.attn.c_attn.weight`), as float64. */
export type Weights64 = Map<string, { shape: number[]; data: Float64Array }>;

export interface Reference64 {
  config: GPT2Config;
  weights: Weights64;
}

export function loadReference64(configJson: unknown, safetensors: ArrayBuffer): Reference64 {
  const config = parseGPT2Config(configJson);
  const bytes = new Uint8Array(safetensors);
  const header = parseSafetensorsHeader(bytes, 'model.safetensors', bytes.byteLength);
  const weights: Weights64 = new Map();
  for (const entry of header.tensors) {
    if (!['F32', 'F16', 'BF16'].includes(entry.dtype)) continue; // mask buffers
    const raw = bytes.subarray(header.dataStart + entry.begin, header.dataStart + entry.end);
    weights.set(canonicalName(entry.name), { shape: entry.shape, data: Float64Array.from(decodeToFloat32(entry, raw)) });
  }
  if (config.activation !== 'gelu_new') throw new Error('the float64 reference implements gelu_new only');
  return { config, weights };
}

function get(ref: Reference64, name: string): Float64Array {
  const t = ref.weights.get(name);
  if (!t) throw new Error(`reference: no tensor ${name}`);
  return t.data;
}

/** x [T, nIn] · w [nIn, nOut] + b → [T, nOut]. */
function linear(x: Float64Array, T: number, w: Float64Array, b: Float64Array, nIn: number, nOut: number): Float64Array {
  const y = new Float64Array(T * nOut);
  for (let t = 0; t < T; t++) {
    const row = y.subarray(t * nOut, (t + 1) * nOut);
    row.set(b);
    for (let i = 0; i < nIn; i++) {
      const xi = x[t * nIn + i];
      const wi = i * nOut;
      for (let o = 0; o < nOut; o++) row[o] += xi * w[wi + o];
    }
  }
  return y;
}

/** Layer norm of each row of x [T, C]. */
function layerNorm(x: Float64Array, T: number, C: number, g: Float64Array, b: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    let mean = 0;
    for (let c = 0; c < C; c++) mean += x[t * C + c];
    mean /= C;
    let variance = 0;
    for (let c = 0; c < C; c++) variance += (x[t * C + c] - mean) ** 2;
    variance /= C;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let c = 0; c < C; c++) y[t * C + c] = (x[t * C + c] - mean) * inv * g[c] + b[c];
  }
  return y;
}

function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

/** Causal attention of qkv [T, 3C]: returns the heads merged [T, C] and the probabilities [H, T, T] (0 beyond each query). */
function attention(qkv: Float64Array, T: number, C: number, H: number): { out: Float64Array; probs: Float64Array } {
  const D = C / H;
  const out = new Float64Array(T * C);
  const probs = new Float64Array(H * T * T);
  for (let h = 0; h < H; h++) {
    for (let q = 0; q < T; q++) {
      const p = probs.subarray((h * T + q) * T, (h * T + q + 1) * T);
      let max = -Infinity;
      for (let k = 0; k <= q; k++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += qkv[q * 3 * C + h * D + d] * qkv[k * 3 * C + C + h * D + d];
        p[k] = s / Math.sqrt(D);
        max = Math.max(max, p[k]);
      }
      let sum = 0;
      for (let k = 0; k <= q; k++) sum += p[k] = Math.exp(p[k] - max);
      for (let k = 0; k <= q; k++) p[k] /= sum;
      for (let k = 0; k <= q; k++) {
        for (let d = 0; d < D; d++) out[q * C + h * D + d] += p[k] * qkv[k * 3 * C + 2 * C + h * D + d];
      }
    }
  }
  return { out, probs };
}

export interface Forward64 {
  T: number;
  /** Per layer, the softmaxed attention probabilities [H, T, T]. */
  attention: Float64Array[];
  /** Per layer, the residual stream after the block [T, C]. */
  residuals: Float64Array[];
}

/** The float64 forward pass over one sequence. */
export function forward64(ref: Reference64, ids: number[]): Forward64 {
  const { nEmbd: C, nHead: H, nLayer, layerNormEpsilon: eps } = ref.config;
  const T = ids.length;
  const wte = get(ref, 'wte.weight');
  const wpe = get(ref, 'wpe.weight');
  let x = new Float64Array(T * C);
  ids.forEach((id, t) => {
    for (let c = 0; c < C; c++) x[t * C + c] = wte[id * C + c] + wpe[t * C + c];
  });
  const attentionByLayer: Float64Array[] = [];
  const residuals: Float64Array[] = [];
  for (let l = 0; l < nLayer; l++) {
    const p = (name: string) => get(ref, `h.${l}.${name}`);
    const qkv = linear(
      layerNorm(x, T, C, p('ln_1.weight'), p('ln_1.bias'), eps),
      T,
      p('attn.c_attn.weight'),
      p('attn.c_attn.bias'),
      C,
      3 * C,
    );
    const { out, probs } = attention(qkv, T, C, H);
    attentionByLayer.push(probs);
    const attended = linear(out, T, p('attn.c_proj.weight'), p('attn.c_proj.bias'), C, C);
    const a = x.map((v, i) => v + attended[i]);
    const inner = p('mlp.c_fc.bias').length;
    const hidden = linear(
      layerNorm(a, T, C, p('ln_2.weight'), p('ln_2.bias'), eps),
      T,
      p('mlp.c_fc.weight'),
      p('mlp.c_fc.bias'),
      C,
      inner,
    ).map(geluNew);
    const m = linear(hidden, T, p('mlp.c_proj.weight'), p('mlp.c_proj.bias'), inner, C);
    x = a.map((v, i) => v + m[i]);
    residuals.push(x);
  }
  return { T, attention: attentionByLayer, residuals };
}

/** The logits that ln_f and the head give for row t of a residual stream [T, C]: [V]. */
export function logits64(ref: Reference64, residual: Float64Array, t: number): Float64Array {
  const { nEmbd: C, vocabSize: V, layerNormEpsilon: eps } = ref.config;
  const normed = layerNorm(residual.subarray(t * C, (t + 1) * C), 1, C, get(ref, 'ln_f.weight'), get(ref, 'ln_f.bias'), eps);
  const head = ref.weights.has('lm_head.weight') ? get(ref, 'lm_head.weight') : get(ref, 'wte.weight'); // [V, C]
  const logits = new Float64Array(V);
  for (let v = 0; v < V; v++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += normed[c] * head[v * C + c];
    logits[v] = s;
  }
  return logits;
}

/** log softmax of logits64(): the log-probabilities of row t's next token. */
export function logProbs64(ref: Reference64, residual: Float64Array, t: number): Float64Array {
  const logits = logits64(ref, residual, t);
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return logits.map((v) => v - lse);
}

/** The k largest entries of a row, by descending value (equal values: lower id first): ids and values. */
export function topOf(row: Float64Array, k: number): { ids: number[]; values: number[] } {
  const ids: number[] = [];
  for (let id = 0; id < row.length; id++) {
    if (ids.length === k && row[id] <= row[ids[k - 1]]) continue;
    let at = ids.length;
    while (at > 0 && row[ids[at - 1]] < row[id]) at--;
    ids.splice(at, 0, id);
    if (ids.length > k) ids.pop();
  }
  return { ids, values: ids.map((id) => row[id]) };
}
