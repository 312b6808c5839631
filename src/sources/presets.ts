/**
 * The GPT-2 checkpoints people usually want, by short name. Any other hub repo whose config.json
 * says GPT-2 (a fine-tune, say) works too: `hf:owner/name` or `hf:owner/name@revision`.
 *
 * Sizes are computed from the architecture (all five are F32 with the 50257-token vocabulary and
 * 1024 positions): `downloadBytes` is what this app fetches and caches, the used tensors only;
 * `fileBytes` is the tensor data of the hub's model.safetensors, which also holds one
 * attn.bias mask [1, 1, 1024, 1024] (+ a scalar masked_bias) per layer (the header, a few kB, aside).
 */
export interface ModelPreset {
  /** Short name accepted by parseModelSpec, the CLI's --model and the page's ?model=. */
  readonly id: string;
  readonly repo: string;
  readonly label: string;
  /** Parameter count as people name it: '124M'. */
  readonly parameters: string;
  readonly layers: number;
  readonly width: number;
  readonly fileBytes: number;
  readonly downloadBytes: number;
  readonly note: string;
}

const VOCAB = 50257;
const POSITIONS = 1024;
const F32 = 4;

/** wte + wpe + per layer (ln_1, c_attn, c_proj, ln_2, c_fc, c_proj: 12C² + 13C) + ln_f. */
function parameterCount(layers: number, width: number): number {
  return VOCAB * width + POSITIONS * width + layers * (12 * width * width + 13 * width) + 2 * width;
}

function preset(id: string, repo: string, label: string, parameters: string, layers: number, width: number, note: string): ModelPreset {
  const downloadBytes = F32 * parameterCount(layers, width);
  const maskBytes = layers * F32 * (POSITIONS * POSITIONS + 1);
  return { id, repo, label, parameters, layers, width, downloadBytes, fileBytes: downloadBytes + maskBytes, note };
}

export const PRESETS: readonly ModelPreset[] = [
  preset('gpt2', 'openai-community/gpt2', 'GPT-2 small', '124M', 12, 768, 'The original GPT-2; quick to download and fast on most GPUs.'),
  preset('gpt2-medium', 'openai-community/gpt2-medium', 'GPT-2 medium', '355M', 24, 1024, 'The model the original notebook used.'),
  preset('gpt2-large', 'openai-community/gpt2-large', 'GPT-2 large', '774M', 36, 1280, 'Needs about 3.1 GB of memory, once.'),
  preset(
    'gpt2-xl',
    'openai-community/gpt2-xl',
    'GPT-2 XL',
    '1.5B',
    48,
    1600,
    'Needs about 6.2 GB of memory; many browsers and GPUs cannot hold it.',
  ),
  preset('distilgpt2', 'distilbert/distilgpt2', 'DistilGPT-2', '82M', 6, 768, 'A smaller, faster distillation of GPT-2 small.'),
];

export function findPreset(id: string): ModelPreset | undefined {
  return PRESETS.find((preset) => preset.id === id.toLowerCase());
}

export function presetForRepo(repo: string): ModelPreset | undefined {
  return PRESETS.find((preset) => preset.repo.toLowerCase() === repo.toLowerCase());
}
