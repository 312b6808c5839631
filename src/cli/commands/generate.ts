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
import { OPTION_SPECS, type OptionSpec } from '../../generation/optionSpecs';
import {
  generate,
  GenerationOptionError,
  validateOptions,
  type GenerationOptions,
  type GenerationResult,
  type TokenEvent,
} from '../../generation';
import { MAX_TOP_LOGPROBS, tokenLogprobs, type TokenLogprobs } from '../../generation/logprobs';
import { NOTEBOOK_SAMPLING } from '../../generation/options';
import { tokenBytes } from '../../tokenizer';
import { MODEL_OPTIONS, MODEL_USAGE, backendOption, modelLoadOption, idsOption, parseOptions, seedOption, type OptionTable } from '../args';
import { UsageError, type CliCommand } from '../command';
import { startBackend, withModel } from '../runtime';

/** The generation options that have a flag of their own (optionSpecs.ts: one entry per option). */
const FLAG_SPECS = (OPTION_SPECS as readonly OptionSpec[]).filter((spec) => spec.cliFlag !== null);

const USAGE =
  'usage: generate (--prompt TEXT | --ids ID,ID,...) [--greedy] ' +
  FLAG_SPECS.map(
    (spec) => `[--${spec.cliFlag} ${spec.cliValue === 'text' ? 'TEXT]...' : spec.cliValue === 'word' ? 'true|false|never]' : 'N]'}`,
  ).join(' ') +
  ` [--top-logprobs N] ${MODEL_USAGE}`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  prompt: { type: 'string' },
  ids: { type: 'string' },
  greedy: { type: 'boolean', default: false },
  'top-logprobs': { type: 'string' },
  ...Object.fromEntries(
    FLAG_SPECS.map((spec) => [spec.cliFlag, spec.cliValue === 'text' ? { type: 'string', multiple: true } : { type: 'string' }]),
  ),
} as const satisfies OptionTable;

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** A string flag's value (undefined when absent). */
function text(values: Values, flag: string): string | undefined {
  const value = values[flag];
  return typeof value === 'string' ? value : undefined;
}

/** Flag name for each option, to word errors the way the user typed them. */
const FLAG_OF: Record<string, string> = {
  ...Object.fromEntries(FLAG_SPECS.map((spec) => [spec.name, spec.cliFlag!])),
  do_sample: 'greedy',
};

/** New tokens when neither --max-new-tokens nor --max-length is given. */
const DEFAULT_NEW_TOKENS = 20;
/** Options that only act when sampling: greedy decoding and beam search ignore them (as in Hugging Face). */
const SAMPLING_ONLY = new Set(['temperature', 'top_h', 'top_k', 'top_p', 'min_p', 'typical_p', 'epsilon_cutoff', 'eta_cutoff', 'seed']);
/** Options that only act in beam search. */
const BEAM_ONLY = new Set(['length_penalty', 'early_stopping']);
/** Set apart below: the length flags (their default and precedence note) and sampling's notebook defaults. */
const LENGTH = new Set(['max_new_tokens', 'max_length']);

/**
 * Command-line values → GenerationOptions (the Hugging Face names). Samples (with the notebook's
 * top-k and top-p) unless --greedy or --num-beams N > 1 (beam search) is given.
 */
export function generationOptions(values: Values): { options: GenerationOptions; notes: string[] } {
  const notes: string[] = [];
  const given: Record<string, unknown> = {};
  for (const spec of FLAG_SPECS) {
    const value = flagValue(values, spec);
    if (value !== undefined) given[spec.name] = value;
  }
  const beams = typeof given.num_beams === 'number' && given.num_beams > 1;
  const sampling = !values.greedy && !beams;
  const options: Record<string, unknown> = { do_sample: sampling };

  if (given.max_new_tokens === undefined && given.max_length === undefined) options.max_new_tokens = DEFAULT_NEW_TOKENS;
  if (given.max_new_tokens !== undefined && given.max_length !== undefined) {
    notes.push(
      `both --max-new-tokens (${values['max-new-tokens']}) and --max-length (${values['max-length']}) were given: --max-new-tokens takes precedence, as in Hugging Face`,
    );
  }
  for (const spec of FLAG_SPECS) {
    const value = given[spec.name];
    if (value === undefined) continue;
    if (!sampling && SAMPLING_ONLY.has(spec.name)) {
      notes.push(`--${spec.cliFlag} has no effect with ${beams ? '--num-beams (beam search)' : '--greedy'} (as in Hugging Face)`);
    } else if (!beams && BEAM_ONLY.has(spec.name)) {
      notes.push(`--${spec.cliFlag} has no effect without --num-beams above 1 (as in Hugging Face)`);
    } else options[spec.name] = value;
  }
  if (sampling) {
    if (options.temperature === 0) {
      // Hugging Face raises here ("temperature has to be a strictly positive float"); the page keeps 0 = greedy.
      throw new UsageError(
        `--temperature ${values.temperature}: must be above 0 when sampling, as in Hugging Face; for greedy decoding use --greedy`,
        USAGE,
      );
    }
    options.top_k ??= NOTEBOOK_SAMPLING.top_k;
    options.top_p ??= NOTEBOOK_SAMPLING.top_p;
  }
  for (const name of LENGTH) if (given[name] !== undefined) options[name] = given[name];
  return { options: options as GenerationOptions, notes };
}

/** A flag's value as its option takes it: a number, true / false / "never", null for --eos-token-id none, or the stop strings. */
function flagValue(values: Values, spec: OptionSpec): unknown {
  const raw = values[spec.cliFlag!];
  if (raw === undefined || typeof raw === 'boolean') return undefined;
  if (Array.isArray(raw)) return raw.map((s) => unescape(String(s)));
  const trimmed = raw.trim();
  if (spec.cliValue === 'word') {
    if (trimmed === 'true' || trimmed === 'false') return trimmed === 'true';
    if (trimmed === 'never') return trimmed;
    throw new UsageError(`--${spec.cliFlag} must be ${spec.range}, got '${raw}'`, USAGE);
  }
  if (spec.name === 'seed') return seedOption(raw, USAGE);
  if (spec.name === 'eos_token_id' && trimmed === 'none') return null;
  const n = Number(trimmed);
  if (trimmed === '' || Number.isNaN(n)) {
    const also = spec.name === 'eos_token_id' ? " or 'none'" : '';
    throw new UsageError(`--${spec.cliFlag} must be ${spec.range.replace(/ or null.*$/, '')}${also}, got '${raw}'`, USAGE);
  }
  return n;
}

export const generateCommand: CliCommand = {
  name: 'generate',
  summary: 'continue --prompt (or --ids), sampling like the notebook (top-k 50, top-p 0.95) or --greedy, streamed',
  async run(argv) {
    const values: Values = parseOptions(argv, OPTIONS, USAGE);
    const prompt = promptOption(values);
    const { options, notes } = generationOptions(values);
    try {
      validateOptions(options); // before the model loads: a typo should not cost a download
    } catch (error) {
      throw asUsageError(error, values);
    }
    const topLogprobs = topLogprobsFlag(values, options);
    for (const note of notes) console.error(`note: ${note}`);
    const backend = backendOption(text(values, 'backend'), USAGE);
    const dtype = modelLoadOption(values, USAGE);
    await startBackend(backend);

    /** Per sequence, per token: with --top-logprobs. */
    const records: TokenLogprobs[][] = [];
    let precision = '';
    const result = await withModel(
      text(values, 'model'),
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
              (records[sequence] ??= []).push(tokenLogprobs(tokenId, inspection, topLogprobs, tokenBytes));
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
          sequences: result.sequences.map(({ ids, text, score }, i) => ({
            ids,
            ...(score === undefined ? {} : { sequence_score: score }),
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
  const prompt = text(values, 'prompt');
  const ids = text(values, 'ids');
  if (prompt !== undefined && ids !== undefined) {
    throw new UsageError('give the prompt as --prompt TEXT or as --ids ID,ID,..., not both', USAGE);
  }
  if (ids !== undefined) return idsOption(ids, 'ids', USAGE);
  if (prompt === undefined) throw new UsageError('missing the prompt: give --prompt TEXT or --ids ID,ID,...', USAGE);
  return prompt;
}

/** --top-logprobs N: null when not given. */
function topLogprobsFlag(values: Values, options: GenerationOptions): number | null {
  const raw = values['top-logprobs'];
  if (typeof raw !== 'string') return null;
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_TOP_LOGPROBS) {
    throw new UsageError(`--top-logprobs must be an integer from 0 to ${MAX_TOP_LOGPROBS}, got '${values['top-logprobs']}'`, USAGE);
  }
  if (!values.json) throw new UsageError('--top-logprobs needs --json (the records are printed as sequences[i].tokens)', USAGE);
  if ((options.num_beams ?? 1) > 1) {
    throw new UsageError(
      '--top-logprobs records each chosen token as it is sampled; beam search chooses whole sequences: leave out one of them',
      USAGE,
    );
  }
  return n;
}

/** Option errors name the flag and echo the value as it was typed (not as it parsed: 9007199254740993 stays that). */
function asUsageError(error: unknown, values: Values): unknown {
  if (!(error instanceof GenerationOptionError)) return error;
  const flag = FLAG_OF[error.option];
  if (!flag) return new UsageError(error.message, USAGE);
  const typed = values[flag];
  return new UsageError(`--${flag} ${typeof typed === 'string' ? typed.trim() : formatValue(error.value)}: ${error.requirement}`, USAGE);
}

function formatValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : Array.isArray(value) ? JSON.stringify(value) : String(value);
}

/** `--stop "\n"` means a newline: the shell passes backslash escapes through literally. */
function unescape(text: string): string {
  return text.replace(/\\(n|t|r|\\)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '\\': '\\' })[c]!);
}
