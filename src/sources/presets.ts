/**
 * The GPT-2 checkpoints people usually want, by short name. Any other hub repo whose config.json
 * says GPT-2 (a fine-tune, say) works too: `hf:owner/name` or `hf:owner/name@revision`.
 *
 * Sizes are those of each repo's `model.safetensors` on the hub; `downloadBytes` is what this app
 * actually fetches when the server honours Range requests (the used tensors only: the attn.bias
 * mask buffers are skipped), which is also what it keeps in the cache.
 */
export interface ModelPreset {
  /** Short name accepted by parseModelSpec, the CLI's --model and the page's ?model=. */
  readonly id: string;
  readonly repo: string;
  readonly label: string;
  /** Parameter count as people name it: '124M'. */
  readonly parameters: string;
  readonly layers: number;
  readonly fileBytes: number;
  readonly downloadBytes: number;
  readonly note: string;
}

export const PRESETS: readonly ModelPreset[] = [
  {
    id: 'gpt2',
    repo: 'openai-community/gpt2',
    label: 'GPT-2 small',
    parameters: '124M',
    layers: 12,
    fileBytes: 548_105_171,
    downloadBytes: 497_759_232,
    note: 'The original GPT-2; quick to download and fast on most GPUs.',
  },
  {
    id: 'gpt2-medium',
    repo: 'openai-community/gpt2-medium',
    label: 'GPT-2 medium',
    parameters: '355M',
    layers: 24,
    fileBytes: 1_519_927_290,
    downloadBytes: 1_419_247_616,
    note: 'The model the original notebook used.',
  },
  {
    id: 'gpt2-large',
    repo: 'openai-community/gpt2-large',
    label: 'GPT-2 large',
    parameters: '774M',
    layers: 36,
    fileBytes: 3_247_170_762,
    downloadBytes: 3_096_166_400,
    note: 'Needs about 3.1 GB of GPU memory.',
  },
  {
    id: 'gpt2-xl',
    repo: 'openai-community/gpt2-xl',
    label: 'GPT-2 XL',
    parameters: '1.5B',
    layers: 48,
    fileBytes: 6_431_829_964,
    downloadBytes: 6_230_624_000,
    note: 'Needs about 6.2 GB of GPU memory; many browsers and GPUs cannot hold it.',
  },
  {
    id: 'distilgpt2',
    repo: 'distilbert/distilgpt2',
    label: 'DistilGPT-2',
    parameters: '82M',
    layers: 6,
    fileBytes: 352_824_413,
    downloadBytes: 327_657_984,
    note: 'A smaller, faster distillation of GPT-2 small.',
  },
];

export function findPreset(id: string): ModelPreset | undefined {
  return PRESETS.find((preset) => preset.id === id.toLowerCase());
}

export function presetForRepo(repo: string): ModelPreset | undefined {
  return PRESETS.find((preset) => preset.repo.toLowerCase() === repo.toLowerCase());
}
