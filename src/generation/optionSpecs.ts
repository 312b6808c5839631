/**
 * Every generation option described once: its Hugging Face name, what values it takes (the range
 * Hugging Face enforces, worded for error messages), its default, the label and hint a page shows,
 * its URL parameter and its command-line flag. validateOptions (options.ts) checks values with it
 * and the CLI derives its flags from it, so adding an option is one entry here plus, when it
 * changes the scores, its processor (logitsProcessors.ts).
 */
import { MAX_SEED, SEED_RANGE, isSeed } from './random';

/** How a value is written on the command line: a number, a word (true / false / never), or text. */
export type CliValue = 'number' | 'word' | 'text';

export interface OptionSpec {
  /** Hugging Face's generate() argument name; also the URL parameter. */
  readonly name: string;
  /** Short human name, for a control's label. */
  readonly label: string;
  /** One sentence on what the option does. */
  readonly hint: string;
  /** The allowed values, as an error message completes "expected …" (HF's range; the value that turns it off). */
  readonly range: string;
  /** Whether `value` is allowed (undefined is handled by the caller: it means the default). */
  readonly accepts: (value: unknown) => boolean;
  /** The value used when the option is not given (Hugging Face GenerationConfig's default). */
  readonly default: unknown;
  /** The command-line flag without its dashes (`top-k`); null: the CLI sets this option otherwise. */
  readonly cliFlag: string | null;
  /** How the CLI reads the flag's value. */
  readonly cliValue: CliValue;
  /** A page's slider for it: the span and step a person picks from (inside `range`); null: not a slider. */
  readonly control: { min: number; max: number; step: number } | null;
  /** Hugging Face's documentation of the option. */
  readonly url: string;
}

/** More parallel sequences than this would only exhaust GPU memory in a browser tab. */
export const MAX_RETURN_SEQUENCES = 64;
/** More beams than this would only exhaust memory: each beam is a sequence decoded in the batch. */
export const MAX_BEAMS = 16;

const HF_DOCS = 'https://huggingface.co/docs/transformers/main_classes/text_generation#transformers.GenerationConfig';

const isNumber = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);
const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const integerAtLeast = (min: number) => (v: unknown) => isInteger(v) && v >= min;
const integerFromTo = (min: number, max: number) => (v: unknown) => isInteger(v) && v >= min && v <= max;
/** A number between `min` and `max`; `open` names the ends that are excluded. */
const numberIn =
  (min: number, max: number, open: { min?: boolean; max?: boolean } = {}) =>
  (v: unknown) =>
    isNumber(v) && (open.min ? v > min : v >= min) && (open.max ? v < max : v <= max) && v !== Infinity;

/** The options in Hugging Face's order of processing: length, strategy, processors, search, output, stopping. */
export const OPTION_SPECS = [
  {
    name: 'max_new_tokens',
    label: 'Max new tokens',
    hint: 'New tokens to generate, prompt excluded; wins over max_length.',
    range: 'an integer >= 1',
    accepts: integerAtLeast(1),
    default: null,
    cliFlag: 'max-new-tokens',
    cliValue: 'number',
    control: { min: 1, max: 512, step: 1 },
    url: HF_DOCS,
  },
  {
    name: 'max_length',
    label: 'Max length',
    hint: 'Total length, prompt included.',
    range: 'an integer >= 1',
    accepts: integerAtLeast(1),
    default: 20,
    cliFlag: 'max-length',
    cliValue: 'number',
    control: { min: 2, max: 1024, step: 1 },
    url: HF_DOCS,
  },
  {
    name: 'do_sample',
    label: 'Sample',
    hint: 'Draw each token from the warped distribution instead of taking the most likely one.',
    range: 'true or false',
    accepts: (v: unknown) => typeof v === 'boolean',
    default: false,
    cliFlag: null, // the CLI samples unless --greedy (or --num-beams) is given
    cliValue: 'word',
    control: null,
    url: HF_DOCS,
  },
  {
    name: 'repetition_penalty',
    label: 'Repetition penalty',
    hint: 'Makes every token already in the text (prompt included) less likely.',
    range: 'a number > 0 (1 = off, > 1 discourages repeats)',
    accepts: numberIn(0, Infinity, { min: true, max: true }),
    default: 1,
    cliFlag: 'repetition-penalty',
    cliValue: 'number',
    control: { min: 1, max: 2, step: 0.01 },
    url: 'https://huggingface.co/docs/transformers/internal/generation_utils#transformers.RepetitionPenaltyLogitsProcessor',
  },
  {
    name: 'no_repeat_ngram_size',
    label: 'No-repeat n-gram',
    hint: 'Forbids any n-gram of this size from appearing twice (prompt included).',
    range: 'an integer >= 0 (0 = off)',
    accepts: integerAtLeast(0),
    default: 0,
    cliFlag: 'no-repeat-ngram-size',
    cliValue: 'number',
    control: { min: 0, max: 6, step: 1 },
    url: 'https://huggingface.co/docs/transformers/internal/generation_utils#transformers.NoRepeatNGramLogitsProcessor',
  },
  {
    name: 'temperature',
    label: 'Temperature',
    hint: 'Divides the logits: below 1 sharpens the distribution, above 1 flattens it.',
    range: 'a number >= 0 (0 = greedy)',
    accepts: numberIn(0, Infinity),
    default: 1,
    cliFlag: 'temperature',
    cliValue: 'number',
    control: { min: 0, max: 2, step: 0.01 },
    url: 'https://huggingface.co/docs/transformers/internal/generation_utils#transformers.TemperatureLogitsWarper',
  },
  {
    name: 'top_h',
    label: 'Top-h',
    hint: 'Keeps the likeliest tokens while their share of the entropy of the top 100 stays within top_h.',
    range: 'a number in (0, 1], or null (off)',
    accepts: (v: unknown) => v === null || numberIn(0, 1, { min: true })(v),
    default: null,
    cliFlag: 'top-h',
    cliValue: 'number',
    control: { min: 0.01, max: 1, step: 0.01 },
    url: 'https://huggingface.co/docs/transformers/internal/generation_utils#transformers.TopHLogitsWarper',
  },
  {
    name: 'top_k',
    label: 'Top-k',
    hint: 'Keeps the k likeliest tokens (and any tied with the k-th).',
    range: 'an integer >= 0 (0 = off)',
    accepts: integerAtLeast(0),
    default: 50,
    cliFlag: 'top-k',
    cliValue: 'number',
    control: { min: 0, max: 200, step: 1 },
    url: 'https://huggingface.co/docs/transformers/internal/generation_utils#transformers.TopKLogitsWarper',
  },
  {
    name: 'top_p',
    label: 'Top-p',
    hint: 'Keeps the smallest set of likeliest tokens whose probability reaches top_p.',
    range: 'a number in [0, 1] (1 = off)',
    accepts: numberIn(0, 1),
    default: 1,
    cliFlag: 'top-p',
    cliValue: 'number',
    control: { min: 0, max: 1, step: 0.01 },
    url: 'https://huggingface.co/docs/transformers/internal/generation_utils#transformers.TopPLogitsWarper',
  },
  {
    name: 'min_p',
    label: 'Min-p',
    hint: "Drops tokens less likely than min_p × the top token's probability.",
    range: 'a number in [0, 1] (0 = off)',
    accepts: numberIn(0, 1),
    default: 0,
    cliFlag: 'min-p',
    cliValue: 'number',
    control: { min: 0, max: 1, step: 0.01 },
    url: 'https://huggingface.co/docs/transformers/internal/generation_utils#transformers.MinPLogitsWarper',
  },
  {
    name: 'typical_p',
    label: 'Typical-p',
    hint: 'Keeps the tokens whose surprise is closest to the entropy, up to typical_p of the probability.',
    range: 'a number in (0, 1] (1 = off)',
    accepts: numberIn(0, 1, { min: true }),
    default: 1,
    cliFlag: 'typical-p',
    cliValue: 'number',
    control: { min: 0.01, max: 1, step: 0.01 },
    url: 'https://huggingface.co/docs/transformers/internal/generation_utils#transformers.TypicalLogitsWarper',
  },
  {
    name: 'epsilon_cutoff',
    label: 'Epsilon cutoff',
    hint: 'Drops tokens whose probability is below epsilon_cutoff.',
    range: 'a number in [0, 1) (0 = off)',
    accepts: numberIn(0, 1, { max: true }),
    default: 0,
    cliFlag: 'epsilon-cutoff',
    cliValue: 'number',
    control: { min: 0, max: 0.05, step: 0.0005 },
    url: 'https://huggingface.co/docs/transformers/internal/generation_utils#transformers.EpsilonLogitsWarper',
  },
  {
    name: 'eta_cutoff',
    label: 'Eta cutoff',
    hint: 'Drops tokens below min(eta_cutoff, √eta_cutoff · e^(−entropy)): a cutoff that falls as the entropy rises.',
    range: 'a number in [0, 1) (0 = off)',
    accepts: numberIn(0, 1, { max: true }),
    default: 0,
    cliFlag: 'eta-cutoff',
    cliValue: 'number',
    control: { min: 0, max: 0.05, step: 0.0005 },
    url: 'https://huggingface.co/docs/transformers/internal/generation_utils#transformers.EtaLogitsWarper',
  },
  {
    name: 'num_beams',
    label: 'Beams',
    hint: 'Beam search: keep this many best partial sequences at every step (1 = off).',
    range: `an integer from 1 to ${MAX_BEAMS} (1 = no beam search)`,
    accepts: integerFromTo(1, MAX_BEAMS),
    default: 1,
    cliFlag: 'num-beams',
    cliValue: 'number',
    control: { min: 1, max: 8, step: 1 },
    url: HF_DOCS,
  },
  {
    name: 'length_penalty',
    label: 'Length penalty',
    hint: 'Beam search scores a finished sequence as its log-probability ÷ length^length_penalty: > 0 favours longer ones.',
    range: 'a finite number',
    accepts: (v: unknown) => typeof v === 'number' && Number.isFinite(v),
    default: 1,
    cliFlag: 'length-penalty',
    cliValue: 'number',
    control: { min: -2, max: 4, step: 0.1 },
    url: HF_DOCS,
  },
  {
    name: 'early_stopping',
    label: 'Early stopping',
    hint: 'Beam search stops: true as soon as num_beams sequences finished; false when no better one is likely; "never" when none can be better.',
    range: 'true, false or "never"',
    accepts: (v: unknown) => typeof v === 'boolean' || v === 'never',
    default: false,
    cliFlag: 'early-stopping',
    cliValue: 'word',
    control: null,
    url: HF_DOCS,
  },
  {
    name: 'num_return_sequences',
    label: 'Sequences',
    hint: 'Sequences returned: independent samples, or the best beams (at most num_beams).',
    range: `an integer from 1 to ${MAX_RETURN_SEQUENCES}`,
    accepts: integerFromTo(1, MAX_RETURN_SEQUENCES),
    default: 1,
    cliFlag: 'num-return-sequences',
    cliValue: 'number',
    control: { min: 1, max: 4, step: 1 },
    url: HF_DOCS,
  },
  {
    name: 'seed',
    label: 'Seed',
    hint: 'Makes sampling reproducible; absent = a fresh random seed, reported back.',
    range: SEED_RANGE,
    accepts: isSeed,
    default: null,
    cliFlag: 'seed',
    cliValue: 'number',
    control: { min: 0, max: MAX_SEED, step: 1 },
    url: 'https://huggingface.co/docs/transformers/main_classes/trainer#transformers.set_seed',
  },
  {
    name: 'eos_token_id',
    label: 'EOS token id',
    hint: "A sequence ends when it generates this id; null = never; absent = the model's own (50256).",
    range: 'an integer >= 0 or null (never stop at EOS)',
    accepts: (v: unknown) => v === null || integerAtLeast(0)(v),
    default: undefined,
    cliFlag: 'eos-token-id',
    cliValue: 'number',
    control: null,
    url: HF_DOCS,
  },
  {
    name: 'stop',
    label: 'Stop strings',
    hint: 'A sequence ends once its text contains one of these strings (HF stop_strings).',
    range: 'an array of non-empty strings',
    accepts: (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0),
    default: [],
    cliFlag: 'stop',
    cliValue: 'text',
    control: null,
    url: HF_DOCS,
  },
] as const satisfies readonly OptionSpec[];

/** Every option's Hugging Face name. */
export type OptionName = (typeof OPTION_SPECS)[number]['name'];

/** The spec of `name`. */
export function optionSpec(name: OptionName): OptionSpec {
  return OPTION_SPECS.find((spec) => spec.name === name)!;
}
