/**
 * Small random GPT-2 checkpoints of any shape, in Hugging Face's layout (config.json +
 * model.safetensors), written in memory from a seed: for shapes the shared fixture does not
 * have (a non-default `n_inner`, say), checked against the float64 reference (reference64.ts).
 */
import { Xoshiro128StarStar } from '../../src/generation/random';
import { f32Bytes, toArrayBuffer, writeSafetensors, type RawTensor } from './safetensorsWriter';

export interface RandomShape {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** `n_inner` in config.json; omitted: Hugging Face's 4·n_embd. */
  nInner?: number;
  seed?: number;
}

export interface RandomCheckpoint {
  config: Record<string, unknown>;
  safetensors: ArrayBuffer;
}

/** GPT-2's initialisation (normal, σ = 0.02) would give near-uniform logits; σ = 0.2 makes tokens differ. */
const SPREAD = 0.2;

export function randomCheckpoint(shape: RandomShape): RandomCheckpoint {
  const { vocabSize: V, nPositions: P, nEmbd: C, nLayer, nHead, nInner, seed = 1 } = shape;
  const inner = nInner ?? 4 * C;
  const random = Xoshiro128StarStar.fromSeed(seed);
  /** Normal (Box–Muller) around `mean`. */
  const normal = (n: number, sigma = SPREAD, mean = 0) =>
    Float32Array.from(
      { length: n },
      () => mean + sigma * Math.sqrt(-2 * Math.log(1 - random.nextFloat())) * Math.cos(2 * Math.PI * random.nextFloat()),
    );
  const tensors: RawTensor[] = [];
  const add = (name: string, dims: number[], values: Float32Array) =>
    tensors.push({ name, dtype: 'F32', shape: dims, data: f32Bytes(values) });
  const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
  const matrix = (name: string, dims: number[]) => add(name, dims, normal(size(dims)));

  matrix('wte.weight', [V, C]);
  matrix('wpe.weight', [P, C]);
  for (let l = 0; l < nLayer; l++) {
    add(`h.${l}.ln_1.weight`, [C], normal(C, 0.1, 1));
    matrix(`h.${l}.ln_1.bias`, [C]);
    matrix(`h.${l}.attn.c_attn.weight`, [C, 3 * C]);
    matrix(`h.${l}.attn.c_attn.bias`, [3 * C]);
    matrix(`h.${l}.attn.c_proj.weight`, [C, C]);
    matrix(`h.${l}.attn.c_proj.bias`, [C]);
    add(`h.${l}.ln_2.weight`, [C], normal(C, 0.1, 1));
    matrix(`h.${l}.ln_2.bias`, [C]);
    matrix(`h.${l}.mlp.c_fc.weight`, [C, inner]);
    matrix(`h.${l}.mlp.c_fc.bias`, [inner]);
    matrix(`h.${l}.mlp.c_proj.weight`, [inner, C]);
    matrix(`h.${l}.mlp.c_proj.bias`, [C]);
  }
  add('ln_f.weight', [C], normal(C, 0.1, 1));
  matrix('ln_f.bias', [C]);

  const config: Record<string, unknown> = {
    model_type: 'gpt2',
    activation_function: 'gelu_new',
    vocab_size: V,
    n_positions: P,
    n_ctx: P,
    n_embd: C,
    n_layer: nLayer,
    n_head: nHead,
    layer_norm_epsilon: 1e-5,
    bos_token_id: V - 1,
    eos_token_id: V - 1,
  };
  if (nInner !== undefined) config.n_inner = nInner;
  return { config, safetensors: toArrayBuffer(writeSafetensors(tensors)) };
}
