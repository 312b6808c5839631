/**
 * Generation options with Hugging Face `generate()` names, meanings and defaults
 * (GenerationConfig: max_length 20, do_sample false, temperature 1, top_k 50, top_p 1, num_beams 1).
 * Each option is described once, in optionSpecs.ts.
 */
import { MAX_BEAMS, MAX_RETURN_SEQUENCES, OPTION_SPECS, type OptionSpec } from './optionSpecs';

export interface GenerationOptions {
  /** New tokens to generate, prompt excluded. Takes precedence over max_length (as in HF). */
  max_new_tokens?: number;
  /** Total length, prompt included (Hugging Face's default: 20). */
  max_length?: number;
  /** false (default) = greedy decoding (or beam search); true = sample from the warped distribution. */
  do_sample?: boolean;
  /** Penalise every token already in the sequence (prompt included); 1 = off. */
  repetition_penalty?: number;
  /** No n-gram of this size may occur twice in the sequence (prompt included); 0 = off. */
  no_repeat_ngram_size?: number;
  /** Divides the logits; 0 means greedy, as a limit of ever-colder sampling. */
  temperature?: number;
  /** Keep the likeliest tokens while their cumulative entropy stays within top_h × the top 100's entropy; null = off. */
  top_h?: number | null;
  /** Keep the k most likely tokens (every token tied with the k-th too); 0 = off. */
  top_k?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches top_p; 1 = off. */
  top_p?: number;
  /** Drop tokens less likely than min_p × the top token's probability; 0 = off. */
  min_p?: number;
  /** Keep the tokens whose surprise is closest to the entropy, up to this mass; 1 = off. */
  typical_p?: number;
  /** Drop tokens whose probability is below this; 0 = off. */
  epsilon_cutoff?: number;
  /** Drop tokens below min(eta, √eta · e^(−entropy)); 0 = off. */
  eta_cutoff?: number;
  /** Beam search with this many beams; 1 = off (greedy or sampling). */
  num_beams?: number;
  /** Beam search: a finished sequence scores sum of log-probs / generated length ** length_penalty. */
  length_penalty?: number;
  /** Beam search: when to stop (true, false or "never"; see docs/generation.md). */
  early_stopping?: boolean | 'never';
  /** Independent samples of the same prompt decoded together, or the best beams (at most num_beams). */
  num_return_sequences?: number;
  /** Makes sampling reproducible (a 32-bit unsigned integer: random.ts SEED_RANGE); omitted = a fresh random seed (reported in the result). */
  seed?: number;
  /** Stop a sequence when this id is generated; null = never; omitted = the model's EOS (50256). */
  eos_token_id?: number | null;
  /** Stop a sequence once its generated text contains one of these strings (HF `stop_strings`). */
  stop?: string[];
}

/** Every option filled in (defaults where not given). */
export interface ResolvedGenerationOptions {
  max_new_tokens: number | null;
  max_length: number;
  do_sample: boolean;
  repetition_penalty: number;
  no_repeat_ngram_size: number;
  temperature: number;
  top_h: number | null;
  top_k: number;
  top_p: number;
  min_p: number;
  typical_p: number;
  epsilon_cutoff: number;
  eta_cutoff: number;
  num_beams: number;
  length_penalty: number;
  early_stopping: boolean | 'never';
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

/**
 * The notebook's sampling call (docs/generation.md): top-k 50 (Hugging Face's default too) and
 * top-p 0.95 (Hugging Face's is 1). The page's defaults, and the CLI's where a flag is not given.
 */
export const NOTEBOOK_SAMPLING = { top_k: 50, top_p: 0.95 } as const;

/** Hugging Face GenerationConfig defaults (from OPTION_SPECS). */
export const HF_DEFAULTS = Object.fromEntries(
  OPTION_SPECS.filter((spec) => spec.default !== null && spec.default !== undefined && !Array.isArray(spec.default)).map((spec) => [
    spec.name,
    spec.default,
  ]),
) as Pick<
  ResolvedGenerationOptions,
  | 'max_length'
  | 'do_sample'
  | 'repetition_penalty'
  | 'no_repeat_ngram_size'
  | 'temperature'
  | 'top_k'
  | 'top_p'
  | 'min_p'
  | 'typical_p'
  | 'epsilon_cutoff'
  | 'eta_cutoff'
  | 'num_beams'
  | 'length_penalty'
  | 'early_stopping'
  | 'num_return_sequences'
>;

export { MAX_RETURN_SEQUENCES, MAX_BEAMS };

const KNOWN_OPTIONS: ReadonlySet<string> = new Set(OPTION_SPECS.map((spec) => spec.name));

/** Checks every option against its spec (optionSpecs.ts) and fills in the defaults; throws GenerationOptionError. */
export function validateOptions(options: GenerationOptions): ResolvedGenerationOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new GenerationOptionError('options', options, 'expected an object of generation options');
  }
  const given = options as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new GenerationOptionError(key, given[key], `unknown option; known options are ${[...KNOWN_OPTIONS].join(', ')}`);
    }
  }
  const resolved: Record<string, unknown> = {};
  for (const spec of OPTION_SPECS as readonly OptionSpec[]) {
    const value = given[spec.name];
    if (value !== undefined && !spec.accepts(value)) throw new GenerationOptionError(spec.name, value, `expected ${spec.range}`);
    const chosen = value === undefined ? spec.default : value;
    resolved[spec.name] = Array.isArray(chosen) ? [...(chosen as unknown[])] : chosen;
  }
  checkCombinations(resolved as unknown as ResolvedGenerationOptions);
  return resolved as unknown as ResolvedGenerationOptions;
}

/** The rules between options, as Hugging Face enforces them. */
function checkCombinations(o: ResolvedGenerationOptions): void {
  if (o.num_beams > 1 && o.num_return_sequences > o.num_beams) {
    throw new GenerationOptionError(
      'num_return_sequences',
      o.num_return_sequences,
      `beam search returns at most num_beams (${o.num_beams}) sequences: expected an integer from 1 to ${o.num_beams}`,
    );
  }
  if (o.num_beams === 1 && o.num_return_sequences > 1 && !isSampling(o)) {
    throw new GenerationOptionError(
      'num_return_sequences',
      o.num_return_sequences,
      'greedy decoding (do_sample=false or temperature=0) returns one sequence; set do_sample=true ' +
        'to draw several, or num_beams to return the best beams (Hugging Face rejects this combination too)',
    );
  }
}

/** Greedy unless sampling was asked for with a non-zero temperature. */
export function isSampling(o: Pick<ResolvedGenerationOptions, 'do_sample' | 'temperature'>): boolean {
  return o.do_sample && o.temperature > 0;
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
