import { CheckpointError, inFile } from './errors';

/** The hyperparameters the forward pass needs, read from a Hugging Face GPT-2 `config.json`. */
export interface GPT2Config {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  layerNormEpsilon: number;
  activation: 'gelu_new' | 'gelu';
  bosTokenId: number;
  eosTokenId: number;
  /** MLP hidden size (`n_inner`); 4 * nEmbd when absent, as in Hugging Face. */
  nInner?: number;
}

const GPT2_EOS = 50256;

/** The MLP width: `n_inner` when the config sets it, else 4 * n_embd. */
export function mlpWidth(config: Pick<GPT2Config, 'nEmbd' | 'nInner'>): number {
  return config.nInner ?? 4 * config.nEmbd;
}

/**
 * Reads a Hugging Face `config.json` (already parsed) into a GPT2Config.
 * Throws CheckpointError for anything that is not a GPT-2 this engine computes exactly.
 */
export function parseGPT2Config(json: unknown, file = 'config.json'): GPT2Config {
  const fail = (message: string): never => {
    throw new CheckpointError(inFile(file, message));
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return fail(`expected a JSON object, found ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`);
  }
  const c = json as Record<string, unknown>;

  if (c.model_type !== 'gpt2') {
    fail(`model_type is ${JSON.stringify(c.model_type)}, expected "gpt2": this app runs GPT-2 checkpoints only`);
  }

  const activation = c.activation_function ?? 'gelu_new';
  if (activation !== 'gelu_new' && activation !== 'gelu') {
    fail(`activation_function is ${JSON.stringify(activation)}, expected "gelu_new" or "gelu"`);
  }

  // Flags that change the math of attention; the defaults are what GPT-2 uses.
  if (c.scale_attn_weights === false) fail('scale_attn_weights=false is not supported (GPT-2 scales by 1/sqrt(head size))');
  if (c.scale_attn_by_inverse_layer_idx === true) fail('scale_attn_by_inverse_layer_idx=true is not supported');
  if (c.add_cross_attention === true) fail('add_cross_attention=true is not supported (decoder-only GPT-2 expected)');

  const size = (key: string, fallbackKey?: string): number => {
    const value = c[key] ?? (fallbackKey ? c[fallbackKey] : undefined);
    if (value === undefined || value === null) return fail(`missing ${key}: a GPT-2 config must set it`);
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      return fail(`${key} must be a positive integer, found ${JSON.stringify(value)}`);
    }
    return value;
  };
  const vocabSize = size('vocab_size');
  const nPositions = size('n_positions', 'n_ctx');
  const nEmbd = size('n_embd');
  const nLayer = size('n_layer');
  const nHead = size('n_head');
  if (nEmbd % nHead !== 0) {
    fail(`n_embd (${nEmbd}) must be divisible by n_head (${nHead})`);
  }
  const nInner = c.n_inner === undefined || c.n_inner === null ? undefined : size('n_inner');

  const eps = c.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) fail(`layer_norm_epsilon must be a positive number, found ${JSON.stringify(eps)}`);

  const tokenId = (key: string): number => {
    const value = c[key] ?? GPT2_EOS;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      return fail(`${key} must be a non-negative integer, found ${JSON.stringify(value)}`);
    }
    return value;
  };

  const config: GPT2Config = {
    vocabSize,
    nPositions,
    nEmbd,
    nLayer,
    nHead,
    layerNormEpsilon: eps as number,
    activation: activation as GPT2Config['activation'],
    bosTokenId: tokenId('bos_token_id'),
    eosTokenId: tokenId('eos_token_id'),
  };
  if (nInner !== undefined) config.nInner = nInner;
  return config;
}
