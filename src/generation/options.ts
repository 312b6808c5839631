/**
 * Generation options with Hugging Face `generate()` names, meanings and defaults
 * (GenerationConfig: max_length 20, do_sample false, temperature 1, top_k 50, top_p 1).
 */
import { SEED_RANGE, isSeed } from './random';

export interface GenerationOptions {
  /** New tokens to generate, prompt excluded. Takes precedence over max_length (as in HF). */
  max_new_tokens?: number;
  /** Total length, prompt included (Hugging Face's default: 20). */
  max_length?: number;
  /** false (default) = greedy decoding; true = sample from the warped distribution. */
  do_sample?: boolean;
  /** Divides the logits; 0 means greedy, as a limit of ever-colder sampling. */
  temperature?: number;
  /** Keep the k most likely tokens (every token tied with the k-th too); 0 = off. */
  top_k?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches top_p; 1 = off. */
  top_p?: number;
  /** Drop tokens less likely than min_p × the top token's probability; 0 = off. */
  min_p?: number;
  /** Penalise every token already in the sequence (prompt included); 1 = off. */
  repetition_penalty?: number;
  /** Independent samples of the same prompt, decoded together as one batch. */
  num_return_sequences?: number;
  /** Makes sampling reproducible (a 32-bit unsigned integer: random.ts SEED_RANGE); omitted = a fresh random seed (reported in the result). */
  seed?: number;
  /** Stop a sequence when this id is generated; null = never; omitted = the model's EOS (50256). */
  eos_token_id?: number | null;
  /** Stop a sequence once its generated text contains one of these strings (HF `stop_strings`). */
  stop?: string[];
}

export interface ResolvedGenerationOptions {
  max_new_tokens: number | null;
  max_length: number;
  do_sample: boolean;
  temperature: number;
  top_k: number;
  top_p: number;
  min_p: number;
  repetition_penalty: number;
  num_return_sequences: number;
  seed: number | null;
  /** undefined = use the model's own eos token id. */
  eos_token_id: number | null | undefined;
  stop: string[];
}

/** Thrown for an option that is unknown, of the wrong type or out of range; names the option and the value. */
export class GenerationOptionError extends Error {
  constructor(
    readonly option: string,
    readonly value: unknown,
    /** What is allowed, e.g. "expected a number in [0, 1] (1 = off)". */
    readonly requirement: string,
  ) {
    super(`Invalid generation option ${option} = ${describe(value)}: ${requirement}.`);
    this.name = 'GenerationOptionError';
  }
}

/** Hugging Face GenerationConfig defaults. */
export const HF_DEFAULTS = {
  max_length: 20,
  do_sample: false,
  temperature: 1,
  top_k: 50,
  top_p: 1,
  min_p: 0,
  repetition_penalty: 1,
  num_return_sequences: 1,
} as const;

/** More parallel sequences than this would only exhaust GPU memory in a browser tab. */
export const MAX_RETURN_SEQUENCES = 64;

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'max_new_tokens',
  'max_length',
  'do_sample',
  'temperature',
  'top_k',
  'top_p',
  'min_p',
  'repetition_penalty',
  'num_return_sequences',
  'seed',
  'eos_token_id',
  'stop',
]);

export function validateOptions(options: GenerationOptions): ResolvedGenerationOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new GenerationOptionError('options', options, 'expected an object of generation options');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new GenerationOptionError(
        key,
        (options as Record<string, unknown>)[key],
        `unknown option; known options are ${[...KNOWN_OPTIONS].join(', ')}`,
      );
    }
  }
  const o = options;
  const resolved: ResolvedGenerationOptions = {
    max_new_tokens: o.max_new_tokens === undefined ? null : integerAtLeast('max_new_tokens', o.max_new_tokens, 1),
    max_length: o.max_length === undefined ? HF_DEFAULTS.max_length : integerAtLeast('max_length', o.max_length, 1),
    do_sample: o.do_sample === undefined ? HF_DEFAULTS.do_sample : boolean('do_sample', o.do_sample),
    temperature:
      o.temperature === undefined
        ? HF_DEFAULTS.temperature
        : numberInRange('temperature', o.temperature, 0, Infinity, 'a number >= 0 (0 = greedy)'),
    top_k: o.top_k === undefined ? HF_DEFAULTS.top_k : integerAtLeast('top_k', o.top_k, 0, ' (0 = off)'),
    top_p: o.top_p === undefined ? HF_DEFAULTS.top_p : numberInRange('top_p', o.top_p, 0, 1, 'a number in [0, 1] (1 = off)'),
    min_p: o.min_p === undefined ? HF_DEFAULTS.min_p : numberInRange('min_p', o.min_p, 0, 1, 'a number in [0, 1] (0 = off)'),
    repetition_penalty:
      o.repetition_penalty === undefined ? HF_DEFAULTS.repetition_penalty : positiveNumber('repetition_penalty', o.repetition_penalty),
    num_return_sequences:
      o.num_return_sequences === undefined
        ? HF_DEFAULTS.num_return_sequences
        : integerInRange('num_return_sequences', o.num_return_sequences, 1, MAX_RETURN_SEQUENCES),
    seed: o.seed === undefined ? null : seed(o.seed),
    eos_token_id:
      o.eos_token_id === undefined
        ? undefined
        : o.eos_token_id === null
          ? null
          : integerAtLeast('eos_token_id', o.eos_token_id, 0, ' or null (never stop at EOS)'),
    stop: o.stop === undefined ? [] : stopStrings(o.stop),
  };
  if (resolved.num_return_sequences > 1 && !isSampling(resolved)) {
    throw new GenerationOptionError(
      'num_return_sequences',
      resolved.num_return_sequences,
      'greedy decoding (do_sample=false or temperature=0) returns one sequence; set do_sample=true ' +
        'to draw several (Hugging Face rejects this combination too)',
    );
  }
  return resolved;
}

/** Greedy unless sampling was asked for with a non-zero temperature. */
export function isSampling(o: Pick<ResolvedGenerationOptions, 'do_sample' | 'temperature'>): boolean {
  return o.do_sample && o.temperature > 0;
}

function integerAtLeast(option: string, value: unknown, min: number, note = ''): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new GenerationOptionError(option, value, `expected an integer >= ${min}${note}`);
  }
  return value;
}

function integerInRange(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new GenerationOptionError(option, value, `expected an integer from ${min} to ${max}`);
  }
  return value;
}

function numberInRange(option: string, value: unknown, min: number, max: number, expected: string): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max || value === Infinity) {
    throw new GenerationOptionError(option, value, `expected ${expected}`);
  }
  return value;
}

function positiveNumber(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new GenerationOptionError(option, value, 'expected a number > 0 (1 = off, > 1 discourages repeats)');
  }
  return value;
}

function boolean(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new GenerationOptionError(option, value, 'expected true or false');
  return value;
}

function seed(value: unknown): number {
  if (!isSeed(value)) throw new GenerationOptionError('seed', value, `expected ${SEED_RANGE}`);
  return value;
}

function stopStrings(value: unknown): string[] {
  if (!Array.isArray(value)) throw new GenerationOptionError('stop', value, 'expected an array of strings');
  for (const s of value) {
    if (typeof s !== 'string' || s.length === 0) {
      throw new GenerationOptionError('stop', value, 'every stop string must be a non-empty string');
    }
  }
  return [...value];
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
