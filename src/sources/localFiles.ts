import { ModelSourceError } from './errors';
import type { ModelSpec } from './spec';

/**
 * Turns files from a file picker or a drop into a model spec: it needs a `config.json` and one
 * `.safetensors` file (any name, e.g. model.safetensors or a renamed download). Extra files such
 * as tokenizer.json or README.md are ignored. Throws ModelSourceError saying what is missing.
 */
export function specFromFiles(files: Iterable<File> | ArrayLike<File>): ModelSpec {
  const list = Array.from(files as ArrayLike<File>);
  // A model folder also holds generation_config.json, tokenizer_config.json…: the file named
  // exactly config.json is the model's; a loose file ending in config.json counts only without one.
  const exact = list.filter((f) => f.name === 'config.json');
  const configs = exact.length > 0 ? exact : list.filter((f) => f.name.endsWith('config.json'));
  const weights = list.filter((f) => f.name.endsWith('.safetensors'));
  const names = list.map((f) => f.name).join(', ') || 'no files';
  if (list.some((f) => f.name.endsWith('.safetensors.index.json')) && weights.length !== 1) {
    throw new ModelSourceError(
      'not-gpt2',
      `This checkpoint is split into several .safetensors shards (${names}); pick a single-file model.safetensors checkpoint instead.`,
    );
  }
  if (weights.length === 0) {
    const hasBin = list.some((f) => f.name.endsWith('.bin') || f.name.endsWith('.pt') || f.name.endsWith('.ckpt'));
    throw new ModelSourceError(
      'bad-spec',
      `No .safetensors file among the chosen files (${names}). ` +
        (hasBin
          ? 'PyTorch .bin/.pt checkpoints cannot be read safely in a browser; convert it to safetensors (model.save_pretrained(dir, safe_serialization=True)) and pick that.'
          : 'Pick the config.json and model.safetensors of a GPT-2 checkpoint together.'),
    );
  }
  if (weights.length > 1) {
    throw new ModelSourceError(
      'bad-spec',
      `Several .safetensors files were chosen (${weights.map((f) => f.name).join(', ')}); pick exactly one with its config.json.`,
    );
  }
  if (configs.length !== 1) {
    throw new ModelSourceError(
      'bad-spec',
      configs.length === 0
        ? `No config.json among the chosen files (${names}): pick it together with ${weights[0].name} (both come from the same model folder).`
        : `Several config.json files were chosen; pick the one that belongs with ${weights[0].name}.`,
    );
  }
  return { kind: 'files', config: configs[0], weights: weights[0], name: weights[0].name };
}
