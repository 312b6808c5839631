/**
 * `generate --prompt T` (or `--ids 1,2,3`): continue a prompt with the model, streaming tokens as
 * they are chosen. `--ids` gives the prompt as token ids, so a run (a branch of the page, say) can
 * be replayed exactly.
 *
 *   npm run cli -- generate --prompt "Watson, you are" --seed 42 --num-return-sequences 3
 *
 * Samples unless --greedy is given, with the notebook's top-k 50 and top-p 0.95 (docs/generation.md) where those are not
 * given. Every flag maps one-to-one onto a GenerationOptions field (the Hugging Face names).
 */
import {
  generate,
  GenerationOptionError,
  validateOptions,
  type GenerationOptions,
  type GenerationResult,
  type TokenEvent,
} from '../../generation';
import { MAX_TOP_LOGPROBS, tokenLogprobs, type TokenLogprobs } from '../../generation/logprobs';
import { decode } from '../../tokenizer';
import { MODEL_OPTIONS, MODEL_USAGE, backendOption, modelLoadOption, idsOption, parseOptions } from '../args';
import { UsageError, type CliCommand } from '../command';
import { startBackend, withModel } from '../runtime';

const USAGE =
  'usage: generate (--prompt TEXT | --ids ID,ID,...) [--max-new-tokens N | --max-length N] [--greedy] ' +
  '[--temperature T] [--top-k K] [--top-p P] [--min-p P] [--repetition-penalty R] [--seed S] ' +
  `[--num-return-sequences N] [--stop TEXT]... [--top-logprobs N] ${MODEL_USAGE}`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  prompt: { type: 'string' },
  ids: { type: 'string' },
  'max-new-tokens': { type: 'string' },
  'max-length': { type: 'string' },
  greedy: { type: 'boolean', default: false },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
  'num-return-sequences': { type: 'string' },
  stop: { type: 'string', multiple: true },
  'top-logprobs': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseOptions<typeof OPTIONS>>;

/** Flag name for each option, to word errors the way the user typed them. */
const FLAG_OF: Record<string, string> = {
  max_new_tokens: 'max-new-tokens',
  max_length: 'max-length',
  temperature: 'temperature',
  top_k: 'top-k',
  top_p: 'top-p',
  min_p: 'min-p',
  repetition_penalty: 'repetition-penalty',
  seed: 'seed',
  num_return_sequences: 'num-return-sequences',
  stop: 'stop',
  do_sample: 'greedy',
};

/** The notebook's sampling call (docs/generation.md): top-k 50 (HF's default too) and top-p 0.95 (HF's default is 1), used where a flag is not given. */
const NOTEBOOK_SAMPLING = { top_k: 50, top_p: 0.95 } as const;
/** New tokens when neither --max-new-tokens nor --max-length is given. */
const DEFAULT_NEW_TOKENS = 20;
const SAMPLING_FLAGS = ['temperature', 'top-k', 'top-p', 'min-p', 'seed'] as const;

/** Command-line values → GenerationOptions (the Hugging Face names). */
export function generationOptions(values: Values): { options: GenerationOptions; notes: string[] } {
  const notes: string[] = [];
  const options: GenerationOptions = { do_sample: !values.greedy };
  const maxNew = numberFlag(values, 'max-new-tokens');
  const maxLength = numberFlag(values, 'max-length');
  if (maxNew !== undefined) options.max_new_tokens = maxNew;
  if (maxLength !== undefined) options.max_length = maxLength;
  if (maxNew === undefined && maxLength === undefined) options.max_new_tokens = DEFAULT_NEW_TOKENS;
  if (maxNew !== undefined && maxLength !== undefined) {
    notes.push(
      `both --max-new-tokens (${values['max-new-tokens']}) and --max-length (${values['max-length']}) were given: --max-new-tokens takes precedence, as in Hugging Face`,
    );
  }

  if (values.greedy) {
    for (const flag of SAMPLING_FLAGS) {
      if (values[flag] !== undefined) notes.push(`--${flag} has no effect with --greedy (as in Hugging Face)`);
    }
  } else {
    options.temperature = numberFlag(values, 'temperature');
    if (options.temperature === 0) {
      // Hugging Face raises here ("temperature has to be a strictly positive float"); the page keeps 0 = greedy.
      throw new UsageError(
        `--temperature ${values.temperature}: must be above 0 when sampling, as in Hugging Face; for greedy decoding use --greedy`,
        USAGE,
      );
    }
    options.top_k = numberFlag(values, 'top-k') ?? NOTEBOOK_SAMPLING.top_k;
    options.top_p = numberFlag(values, 'top-p') ?? NOTEBOOK_SAMPLING.top_p;
    options.min_p = numberFlag(values, 'min-p');
    options.seed = numberFlag(values, 'seed');
  }
  options.repetition_penalty = numberFlag(values, 'repetition-penalty');
  options.num_return_sequences = numberFlag(values, 'num-return-sequences');
  if (values.stop) options.stop = values.stop.map(unescape);
  for (const key of Object.keys(options) as (keyof GenerationOptions)[]) {
    if (options[key] === undefined) delete options[key];
  }
  return { options, notes };
}

export const generateCommand: CliCommand = {
  name: 'generate',
  summary: 'continue --prompt (or --ids), sampling like the notebook (top-k 50, top-p 0.95) or --greedy, streamed',
  async run(argv) {
    const values = parseOptions(argv, OPTIONS, USAGE);
    const prompt = promptOption(values);
    const { options, notes } = generationOptions(values);
    try {
      validateOptions(options); // before the model loads: a typo should not cost a download
    } catch (error) {
      throw asUsageError(error, values);
    }
    const topLogprobs = topLogprobsFlag(values);
    for (const note of notes) console.error(`note: ${note}`);
    const backend = backendOption(values.backend, USAGE);
    const dtype = modelLoadOption(values, USAGE);
    await startBackend(backend);

    /** Per sequence, per token: with --top-logprobs. */
    const records: TokenLogprobs[][] = [];
    let precision = '';
    const result = await withModel(
      values.model,
      async (model) => {
        precision = model.precision;
        const printer = values.json ? null : new StreamPrinter(options.num_return_sequences ?? 1);
        const tokens = generate(model, prompt, options, { inspectTop: topLogprobs === null ? 0 : Math.max(1, topLogprobs) });
        try {
          let step = await tokens.next();
          while (!step.done) {
            printer?.token(step.value);
            const { sequence, tokenId, inspection } = step.value;
            if (topLogprobs !== null && inspection)
              (records[sequence] ??= []).push(tokenLogprobs(tokenId, inspection, topLogprobs, textOf));
            step = await tokens.next();
          }
          printer?.finish(step.value);
          return step.value;
        } catch (error) {
          throw asUsageError(error, values);
        }
      },
      dtype,
    );

    for (const warning of result.warnings) console.error(`note: ${warning}`);
    if (values.json) {
      console.log(
        JSON.stringify({
          sequences: result.sequences.map(({ ids, text }, i) => ({
            ids,
            text,
            ...(topLogprobs === null ? {} : { tokens: records[i] ?? [] }),
          })),
          timings: result.timings,
          seed: result.seed,
          warnings: result.warnings,
          precision,
        }),
      );
    } else {
      const t = result.timings;
      console.error(
        `${t.newTokens} tokens on ${backend} (${precision} weights): prefill ${t.prefillMs.toFixed(0)} ms, ` +
          `${t.decodeTokensPerSecond.toFixed(1)} tokens/s` +
          (result.seed === null ? '' : `, seed ${result.seed}`),
      );
    }
    return 0;
  },
};

/**
 * Prints tokens as they come. One sequence: its text, straight to stdout. Several: on a terminal,
 * a block of labelled sequences redrawn as each token lands; elsewhere (a pipe, a file), each
 * sequence labelled and whole at the end, so the output stays readable (--json for programs).
 */
class StreamPrinter {
  private readonly texts: string[];
  private readonly live: boolean;
  private drawnRows = 0;

  constructor(private readonly count: number) {
    this.texts = new Array(count).fill('');
    this.live = count > 1 && process.stdout.isTTY === true;
  }

  token(event: TokenEvent): void {
    if (this.count === 1) {
      process.stdout.write(event.text);
      return;
    }
    this.texts[event.sequence] += event.text;
    if (this.live) this.redraw();
  }

  finish(result: GenerationResult): void {
    if (this.count === 1) {
      process.stdout.write('\n');
      return;
    }
    if (this.live) {
      this.redraw();
      process.stdout.write('\n');
      return;
    }
    result.sequences.forEach((seq, i) => process.stdout.write(`${label(i)}${seq.text}\n`));
  }

  private redraw(): void {
    const columns = process.stdout.columns || 80;
    const lines = this.texts.map((text, i) => `${label(i)}${text.replace(/\n/g, '⏎')}`);
    const rows = lines.reduce((sum, line) => sum + Math.max(1, Math.ceil(displayWidth(line) / columns)), 0);
    // Move back over the previous block and draw the new one in its place.
    const up = this.drawnRows > 1 ? `\x1b[${this.drawnRows - 1}A` : '';
    process.stdout.write(`${up}\r\x1b[J${lines.join('\n')}`);
    this.drawnRows = rows;
  }
}

function label(sequence: number): string {
  return `[${sequence + 1}] `;
}

/** Terminal columns a string takes: wide (CJK, emoji) characters take two. */
function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text)
    width +=
      /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{1F300}-\u{1FAFF}\u{20000}-\u{3FFFD}]/u.test(
        ch,
      )
        ? 2
        : 1;
  return width;
}

/** The prompt: exactly one of --prompt TEXT and --ids ID,ID,... */
function promptOption(values: Values): string | number[] {
  if (values.prompt !== undefined && values.ids !== undefined) {
    throw new UsageError('give the prompt as --prompt TEXT or as --ids ID,ID,..., not both', USAGE);
  }
  if (values.ids !== undefined) return idsOption(values.ids, 'ids', USAGE);
  if (values.prompt === undefined) throw new UsageError('missing the prompt: give --prompt TEXT or --ids ID,ID,...', USAGE);
  return values.prompt;
}

/** --top-logprobs N: null when not given. */
function topLogprobsFlag(values: Values): number | null {
  const n = numberFlag(values, 'top-logprobs');
  if (n === undefined) return null;
  if (!Number.isInteger(n) || n < 0 || n > MAX_TOP_LOGPROBS) {
    throw new UsageError(`--top-logprobs must be an integer from 0 to ${MAX_TOP_LOGPROBS}, got '${values['top-logprobs']}'`, USAGE);
  }
  if (!values.json) throw new UsageError('--top-logprobs needs --json (the records are printed as sequences[i].tokens)', USAGE);
  return n;
}

function textOf(id: number): string {
  return decode([id]);
}

function numberFlag(values: Values, flag: keyof typeof OPTIONS): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const n = Number(text);
  if (text === '' || Number.isNaN(n)) {
    const min = INTEGER_FLAG_MINIMUM[flag];
    const kind = min === undefined ? 'a number' : min === null ? 'an integer' : `an integer at least ${min}`;
    throw new UsageError(`--${flag} must be ${kind}, got '${raw}'`, USAGE);
  }
  return n;
}

/** Flags that take whole numbers, and their smallest value (null: any integer). */
const INTEGER_FLAG_MINIMUM: Partial<Record<keyof typeof OPTIONS, number | null>> = {
  'max-new-tokens': 1,
  'max-length': 1,
  'num-return-sequences': 1,
  'top-k': 0,
  seed: null,
  'top-logprobs': 0,
};

/** Option errors name the flag and echo the value as it was typed (not as it parsed: 9007199254740993 stays that). */
function asUsageError(error: unknown, values: Values): unknown {
  if (!(error instanceof GenerationOptionError)) return error;
  const flag = FLAG_OF[error.option];
  if (!flag) return new UsageError(error.message, USAGE);
  const typed = values[flag as keyof Values];
  return new UsageError(`--${flag} ${typeof typed === 'string' ? typed.trim() : formatValue(error.value)}: ${error.requirement}`, USAGE);
}

function formatValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : Array.isArray(value) ? JSON.stringify(value) : String(value);
}

/** `--stop "\n"` means a newline: the shell passes backslash escapes through literally. */
function unescape(text: string): string {
  return text.replace(/\\(n|t|r|\\)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '\\': '\\' })[c]!);
}
