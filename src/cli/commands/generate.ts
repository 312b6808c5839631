/**
 * `generate --prompt T`: continue a prompt with the model, greedily (Hugging Face's
 * do_sample=False), through the KV cache. Options map one-to-one onto GenerationOptions.
 */
import { generate, type GenerationOptions, type GenerationResult } from '../../generation';
import { MODEL_OPTIONS, MODEL_USAGE, backendOption, integerOption, parseOptions, requireString } from '../args';
import type { CliCommand } from '../command';
import { startBackend, withModel } from '../runtime';

const USAGE = `usage: generate --prompt TEXT [--max-new-tokens N] [--greedy] ${MODEL_USAGE}`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  prompt: { type: 'string' },
  'max-new-tokens': { type: 'string' },
  greedy: { type: 'boolean' },
} as const;

/** Command-line values → GenerationOptions (the Hugging Face names). */
function generationOptions(values: ReturnType<typeof parseOptions<typeof OPTIONS>>): GenerationOptions {
  return {
    max_new_tokens: integerOption(values['max-new-tokens'], 'max-new-tokens', USAGE, 20),
    do_sample: false,
  };
}

export const generateCommand: CliCommand = {
  name: 'generate',
  summary: 'continue --prompt greedily for --max-new-tokens tokens (default 20)',
  async run(argv) {
    const values = parseOptions(argv, OPTIONS, USAGE);
    const prompt = requireString(values.prompt, 'prompt', USAGE);
    const options = generationOptions(values);
    await startBackend(backendOption(values.backend, USAGE));

    const result = await withModel(values.model, async (model) => {
      const tokens = generate(model, prompt, options);
      let step = await tokens.next();
      while (!step.done) {
        if (!values.json) process.stdout.write(step.value.text);
        step = await tokens.next();
      }
      return step.value as GenerationResult;
    });

    if (values.json) {
      console.log(JSON.stringify({ sequences: result.sequences.map(({ ids, text }) => ({ ids, text })) }));
    } else {
      process.stdout.write('\n');
    }
    return 0;
  },
};
