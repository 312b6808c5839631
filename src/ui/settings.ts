/**
 * The page's settings: defaults (the notebook's sampling call, docs/generation.md), their limits, and their round trip through
 * the URL (so a link reproduces a run; a prompt too long for an address stays out of it) and localStorage (so a reload keeps them).
 * Precedence when the page opens: URL, then localStorage, then defaults.
 */
import { isSampling, NOTEBOOK_SAMPLING } from '../generation/options';
import { MAX_BEAMS, optionSpec, type OptionName } from '../generation/optionSpecs';
import { MAX_SEED, parseSeed, randomSeed } from '../generation/random';
import type { GenerateOptions } from '../worker/protocol';
import { EMBEDDED_MODEL, LOCAL_MODEL, readModelSpec } from './modelSpec';
import { isPrecisionRequest, PRECISION_REQUESTS, type PrecisionRequest } from '../model/memoryPlan';
import { BACKENDS, isBackendName } from '../backend/choice';
import { parseThreads } from '../backend/threadCount';

export interface Settings {
  prompt: string;
  model: string;
  /** "auto" or a tfjs backend name (webgpu, wasm, webgl, cpu); nothing else is ever kept. */
  backend: string;
  /** A Hugging Face hub mirror (URL parameter `hub`); '' = huggingface.co. */
  hubUrl: string;
  /** Precision of the weights' matrices (URL parameter `dtype`): auto, f32, f16 or q8. */
  precision: PrecisionRequest;
  /** Threads for WebAssembly (URL parameter `threads`): 'auto' (every core but the page's) or 1 to MAX_THREADS. */
  threads: 'auto' | number;
  top_k: number;
  top_p: number;
  temperature: number;
  min_p: number;
  max_new_tokens: number;
  repetition_penalty: number;
  seed: number;
  num_return_sequences: number;
  do_sample: boolean;
  /** The options below are keyed by Hugging Face's names (generation/optionSpecs.ts), as the URL names them. */
  no_repeat_ngram_size: number;
  /** Top-h's threshold; 0 here = off (Hugging Face: null). */
  top_h: number;
  typical_p: number;
  epsilon_cutoff: number;
  eta_cutoff: number;
  num_beams: number;
  length_penalty: number;
  early_stopping: boolean | 'never';
}

/** The settings under "More samplers", by Hugging Face's name: label, hint and URL parameter come from optionSpecs.ts. */
export const MORE_SAMPLERS = [
  'typical_p',
  'epsilon_cutoff',
  'eta_cutoff',
  'top_h',
  'no_repeat_ngram_size',
  'num_beams',
  'length_penalty',
] as const;
export type MoreSampler = (typeof MORE_SAMPLERS)[number];

/** The number settings, by Hugging Face's name (also their URL parameter): the page's controls in its order. */
export const NUMBER_SETTINGS = [
  'top_k',
  'top_p',
  'temperature',
  'min_p',
  'max_new_tokens',
  'repetition_penalty',
  'seed',
  'num_return_sequences',
  ...MORE_SAMPLERS,
] as const satisfies readonly OptionName[];
export type NumberSetting = (typeof NUMBER_SETTINGS)[number];

/** A control's slider: its ends and step (within Hugging Face's range, optionSpecs.ts, which validates runs). */
export interface NumberLimits {
  min: number;
  max: number;
  step: number;
}

export { MAX_SEED, randomSeed };

export const LIMITS: Record<NumberSetting, NumberLimits> = {
  top_k: { min: 0, max: 200, step: 1 },
  top_p: { min: 0, max: 1, step: 0.01 },
  temperature: { min: 0, max: 2, step: 0.01 },
  min_p: { min: 0, max: 1, step: 0.01 },
  max_new_tokens: { min: 1, max: 512, step: 1 },
  repetition_penalty: { min: 1, max: 2, step: 0.01 },
  seed: { min: 0, max: MAX_SEED, step: 1 },
  num_return_sequences: { min: 1, max: 4, step: 1 },
  typical_p: { min: 0.01, max: 1, step: 0.01 },
  epsilon_cutoff: { min: 0, max: 0.99, step: 0.0001 },
  eta_cutoff: { min: 0, max: 0.99, step: 0.0001 },
  top_h: { min: 0, max: 1, step: 0.01 },
  no_repeat_ngram_size: { min: 0, max: 10, step: 1 },
  num_beams: { min: 1, max: MAX_BEAMS, step: 1 },
  length_penalty: { min: -2, max: 2, step: 0.1 },
};

/** Each number setting's name on the page: its option's label (optionSpecs.ts). */
export const LABELS = Object.fromEntries(NUMBER_SETTINGS.map((name) => [name, optionSpec(name).label])) as Record<NumberSetting, string>;

/** What a value of 0 means, where it means something special. */
const ZERO_MEANS: Partial<Record<NumberSetting, string>> = {
  top_k: 'turns top-k off',
  min_p: 'turns min-p off',
  temperature: 'means greedy decoding',
  top_h: 'turns top-h off',
  epsilon_cutoff: 'turns the epsilon cutoff off',
  eta_cutoff: 'turns the eta cutoff off',
  no_repeat_ngram_size: 'turns the n-gram block off',
};

/** "a number from 0 to 1", "a whole number from 0 to 200": what a setting accepts. */
export function allowedRange(name: NumberSetting): string {
  const { min, max, step } = LIMITS[name];
  return `${step === 1 ? 'a whole number' : 'a number'} from ${min} to ${max}`;
}

/**
 * A number box's text read as a setting: its value (rounded to the step), or why it is not one.
 * Empty text counts as not a number (a browser also reports letters in a number box as '').
 */
export function checkNumber(name: NumberSetting, text: string): { value: number } | { problem: string } {
  if (name === 'seed') {
    const seed = parseSeed(text);
    return seed === null ? { problem: `${LABELS.seed} must be ${allowedRange('seed')}.` } : { value: seed };
  }
  const { min, max, step } = LIMITS[name];
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(n) || n < min || n > max || (step === 1 && !Number.isInteger(n))) {
    return { problem: `${LABELS[name]} must be ${allowedRange(name)}.` };
  }
  return { value: clampSetting(name, n) };
}

/** Number boxes whose text is not (yet) a valid value, by setting. */
export type Drafts = Partial<Record<NumberSetting, string>>;

/** The boxes whose text is not a valid value, in the page's order, each with its message. */
export function fieldProblems(drafts: Drafts): { setting: NumberSetting; problem: string }[] {
  const problems: { setting: NumberSetting; problem: string }[] = [];
  for (const setting of NUMBER_SETTINGS) {
    const text = drafts[setting];
    if (text === undefined) continue;
    const check = checkNumber(setting, text);
    if ('problem' in check) problems.push({ setting, problem: check.problem });
  }
  return problems;
}

/** Why Generate is off while boxes hold invalid text ("To generate, fix Top-p (a number from 0 to 1) or put its value back."); null when none does. */
export function generateBlockedReason(drafts: Drafts): string | null {
  const bad = fieldProblems(drafts).map(({ setting }) => `${LABELS[setting]} (${allowedRange(setting)})`);
  if (bad.length === 0) return null;
  const list = bad.length === 1 ? bad[0] : `${bad.slice(0, -1).join(', ')} and ${bad[bad.length - 1]}`;
  return `To generate, fix ${list} or put ${bad.length === 1 ? 'its value' : 'their values'} back.`;
}

export const DEFAULT_SETTINGS: Settings = {
  prompt: 'To Sherlock Holmes she is always',
  model: EMBEDDED_MODEL,
  backend: 'auto',
  hubUrl: '',
  precision: 'auto',
  threads: 'auto',
  top_k: NOTEBOOK_SAMPLING.top_k,
  top_p: NOTEBOOK_SAMPLING.top_p,
  temperature: 1,
  min_p: 0,
  max_new_tokens: 40,
  repetition_penalty: 1,
  seed: 42,
  num_return_sequences: 3,
  do_sample: true,
  no_repeat_ngram_size: optionSpec('no_repeat_ngram_size').default as number,
  top_h: 0,
  typical_p: optionSpec('typical_p').default as number,
  epsilon_cutoff: optionSpec('epsilon_cutoff').default as number,
  eta_cutoff: optionSpec('eta_cutoff').default as number,
  num_beams: optionSpec('num_beams').default as number,
  length_penalty: optionSpec('length_penalty').default as number,
  early_stopping: optionSpec('early_stopping').default as boolean,
};

export const STORAGE_KEY = 'gpt2-browser:settings';

/** Clamps to the limits and rounds to the step; NaN gives the fallback. */
export function clampSetting(name: NumberSetting, value: number, fallback: number = DEFAULT_SETTINGS[name]): number {
  const { min, max, step } = LIMITS[name];
  if (!Number.isFinite(value)) return fallback;
  const stepped = Math.round((value - min) / step) * step + min;
  // Keep decimals tidy (0.95, not 0.9500000000000001).
  const decimals = step < 1 ? Math.round(-Math.log10(step)) : 0;
  return Number(Math.min(max, Math.max(min, stepped)).toFixed(decimals));
}

/**
 * Reads whatever valid settings `source` holds on top of `base`: a number out of range is clamped,
 * anything else invalid is ignored. Each such change is added to `changes`, as the person would
 * read it ("top_k=-3 → 0 (allowed: a whole number from 0 to 200; 0 turns top-k off)").
 */
function mergeSettings(base: Settings, get: (key: string) => string | null | undefined, changes: string[] = []): Settings {
  const next: Settings = { ...base };
  const prompt = get('prompt');
  if (typeof prompt === 'string') next.prompt = prompt;
  const model = get('model');
  if (typeof model === 'string') {
    const read = model === LOCAL_MODEL ? null : readModelSpec(model);
    if (read && 'problem' in read) changes.push(`model=${model} cannot be used, so ${base.model} stays: ${read.problem}`);
    else next.model = model;
  }
  const backend = get('backend')?.trim().toLowerCase();
  if (backend) {
    if (backend === 'auto' || isBackendName(backend)) next.backend = backend;
    else
      changes.push(
        `backend=${backend} is not one of auto, ${BACKENDS.join(', ')}: ${base.backend === 'auto' ? 'choosing automatically' : `kept ${base.backend}`}`,
      );
  }
  const dtype = get('dtype')?.trim().toLowerCase();
  if (dtype) {
    if (isPrecisionRequest(dtype)) next.precision = dtype;
    else changes.push(`dtype=${dtype} is not one of ${PRECISION_REQUESTS.join(', ')}: kept ${base.precision}`);
  }
  const threads = get('threads')?.trim().toLowerCase();
  if (threads) {
    const read = threads === 'auto' ? { threads: 'auto' as const } : parseThreads(threads);
    if ('threads' in read) next.threads = read.threads;
    else changes.push(`${read.problem}, or auto: kept ${base.threads}`);
  }
  const hub = get('hub');
  if (typeof hub === 'string' && hub.trim() !== '') {
    if (/^https?:\/\//.test(hub.trim())) next.hubUrl = hub.trim();
    else changes.push(`hub=${hub} is not an http(s) address: ignored`);
  }
  for (const name of NUMBER_SETTINGS) {
    const { step } = LIMITS[name];
    const raw = get(name);
    if (raw === null || raw === undefined || raw === '') continue;
    if (name === 'seed') {
      // The one seed rule (random.ts parseSeed): a value outside it is refused, not clamped.
      const seed = parseSeed(raw);
      if (seed === null) changes.push(`${name}=${raw} is not ${allowedRange(name)}: kept ${base.seed}`);
      else next.seed = seed;
      continue;
    }
    const n = Number(raw);
    next[name] = clampSetting(name, n, base[name]);
    if (!Number.isFinite(n)) {
      changes.push(`${name}=${raw} is not a number: kept ${base[name]}`);
    } else if (Math.abs(next[name] - n) > step * 1e-6) {
      const zero = next[name] === 0 && ZERO_MEANS[name] ? `; 0 ${ZERO_MEANS[name]}` : '';
      changes.push(`${name}=${raw} → ${next[name]} (allowed: ${allowedRange(name)}${step < 1 ? ` in steps of ${step}` : ''}${zero})`);
    }
  }
  const sample = get('do_sample');
  if (sample === 'true' || sample === '1') next.do_sample = true;
  else if (sample === 'false' || sample === '0') next.do_sample = false;
  else if (typeof sample === 'string' && sample !== '') changes.push(`do_sample=${sample} is not true or false: kept ${base.do_sample}`);
  const early = get('early_stopping');
  const earlyValue = readEarlyStopping(early);
  if (earlyValue !== null) next.early_stopping = earlyValue;
  else if (typeof early === 'string' && early !== '')
    changes.push(`early_stopping=${early} is not ${optionSpec('early_stopping').range}: kept ${String(base.early_stopping)}`);
  return next;
}

/** early_stopping's text (true, false, never; 1 and 0 too) as its value; null for anything else. */
export function readEarlyStopping(text: string | null | undefined): boolean | 'never' | null {
  const word = text?.trim().toLowerCase();
  if (word === 'true' || word === '1') return true;
  if (word === 'false' || word === '0') return false;
  if (word === 'never' || word === '"never"') return 'never';
  return null;
}

/** The settings a query string holds over `base`; what had to change is added to `changes`. */
export function settingsFromSearch(search: string, base: Settings = DEFAULT_SETTINGS, changes?: string[]): Settings {
  const params = new URLSearchParams(search);
  return mergeSettings(base, (key) => params.get(key), changes);
}

/**
 * The most characters the prompt may take in the page's address once encoded. Servers refuse
 * request lines of about 8 KB and more (HTTP 414/431), so the address stays well under that; a
 * longer prompt is kept in localStorage only (settingsToStorage) and the page says so (linkPromptNote).
 */
export const MAX_LINK_PROMPT_CHARS = 2000;

/** Whether the address carries the prompt (its encoded length is at most MAX_LINK_PROMPT_CHARS). */
export function promptFitsLink(prompt: string): boolean {
  return new URLSearchParams({ prompt }).toString().length - 'prompt='.length <= MAX_LINK_PROMPT_CHARS;
}

/** What the page says under a prompt the address leaves out; null when the address carries it. */
export function linkPromptNote(prompt: string): string | null {
  if (promptFitsLink(prompt)) return null;
  return (
    `This prompt (${prompt.length.toLocaleString('en-US')} characters) is too long for the page's address, which carries prompts up to ` +
    `${MAX_LINK_PROMPT_CHARS.toLocaleString('en-US')} characters once encoded: a copied link opens without it. A reload in this browser keeps it (it is saved here).`
  );
}

/**
 * The settings as URL parameters, named like Hugging Face's generate() arguments: every setting,
 * and the prompt when it fits the address (promptFitsLink).
 */
export function settingsToSearch(settings: Settings): string {
  const params = settingsParams(settings);
  if (!promptFitsLink(settings.prompt)) params.delete('prompt');
  return `?${params.toString()}`;
}

/** Every setting as URL parameters, the prompt whole. */
function settingsParams(settings: Settings): URLSearchParams {
  const params = new URLSearchParams();
  params.set('prompt', settings.prompt);
  params.set('model', settings.model);
  for (const name of NUMBER_SETTINGS) params.set(name, String(settings[name]));
  params.set('do_sample', String(settings.do_sample));
  params.set('early_stopping', String(settings.early_stopping));
  if (settings.backend !== 'auto') params.set('backend', settings.backend);
  if (settings.hubUrl !== '') params.set('hub', settings.hubUrl);
  if (settings.precision !== 'auto') params.set('dtype', settings.precision);
  if (settings.threads !== 'auto') params.set('threads', String(settings.threads));
  return params;
}

export function settingsFromStorage(stored: string | null, base: Settings = DEFAULT_SETTINGS): Settings {
  if (!stored) return base;
  try {
    const parsed: unknown = JSON.parse(stored);
    if (typeof parsed !== 'object' || parsed === null) return base;
    const record = parsed as Record<string, unknown>;
    return mergeSettings(base, (key) => (record[key] === undefined ? undefined : String(record[key])));
  } catch {
    return base;
  }
}

/** Every setting for localStorage, the prompt whole however long (an address without one restores it from here). */
export function settingsToStorage(settings: Settings): string {
  return JSON.stringify(Object.fromEntries(settingsParams(settings)));
}

/**
 * URL over localStorage over defaults, except the hub: only one the person confirmed (kept in
 * localStorage) is used; a link's `hub=` is offered first (linkHub).
 */
export function initialSettings(search: string, stored: string | null, changes?: string[]): Settings {
  const kept = settingsFromStorage(stored);
  return { ...settingsFromSearch(search, kept, changes), hubUrl: kept.hubUrl };
}

/** The hub a link names that is not the one in use: downloads go there only once the person confirms. */
export function linkHub(search: string, settings: Settings): string | null {
  const hub = settingsFromSearch(search, { ...settings, hubUrl: '' }).hubUrl;
  const same = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
  return hub === '' || same(hub, settings.hubUrl) ? null : hub;
}

/** What the Temperature control says: 0 is greedy here, where Hugging Face would refuse it for sampling. */
export function temperatureHint(settings: Settings): string {
  if (settings.do_sample && settings.temperature === 0) {
    return '0 = greedy decoding here (always the likeliest token); Hugging Face refuses temperature 0 when sampling.';
  }
  return 'Below 1 sharpens, above 1 flattens; 0 = greedy.';
}

/**
 * Why sampling can only pick the likeliest token, so that every sequence is the same as greedy
 * decoding's: top-p 0 and top-k 1 keep one token, min-p 1 keeps only tokens as likely as the top
 * one. Null when sampling really samples (or is off, which says so itself).
 */
export function onlyLikeliest(
  settings: Pick<Settings, 'do_sample' | 'top_p' | 'top_k' | 'min_p'>,
): { setting: 'top_p' | 'top_k' | 'min_p'; reason: string } | null {
  if (!settings.do_sample) return null;
  if (settings.top_p === 0) return { setting: 'top_p', reason: 'Top-p 0 keeps only the likeliest token' };
  if (settings.top_k === 1) return { setting: 'top_k', reason: 'Top-k 1 keeps only the likeliest token' };
  if (settings.min_p === 1) return { setting: 'min_p', reason: 'Min-p 1 keeps only the likeliest token' };
  return null;
}

/** Greedy decoding (Sample off, or temperature 0: options.ts isSampling) has only one possible continuation. */
export function isGreedy(settings: Settings): boolean {
  return !isSampling({ do_sample: settings.do_sample, temperature: settings.temperature });
}

/** How many sequences a run returns: the best beams (at most num_beams), samples, or one for greedy decoding. */
function returnedSequences(settings: Settings): number {
  if (settings.num_beams > 1) return Math.min(settings.num_return_sequences, settings.num_beams);
  // Hugging Face rejects several greedy sequences: they would all be the same text.
  return isGreedy(settings) ? 1 : settings.num_return_sequences;
}

export function generateOptions(settings: Settings): GenerateOptions {
  return {
    max_new_tokens: settings.max_new_tokens,
    do_sample: settings.do_sample,
    repetition_penalty: settings.repetition_penalty,
    no_repeat_ngram_size: settings.no_repeat_ngram_size,
    temperature: settings.temperature,
    top_h: settings.top_h === 0 ? null : settings.top_h,
    top_k: settings.top_k,
    top_p: settings.top_p,
    min_p: settings.min_p,
    typical_p: settings.typical_p,
    epsilon_cutoff: settings.epsilon_cutoff,
    eta_cutoff: settings.eta_cutoff,
    num_beams: settings.num_beams,
    length_penalty: settings.length_penalty,
    early_stopping: settings.early_stopping,
    num_return_sequences: returnedSequences(settings),
    seed: settings.seed,
  };
}

/** The page's settings that a run's options set (the inverse of generateOptions for those): "Use these settings". */
export function settingsOfOptions(options: GenerateOptions): Partial<Settings> {
  return {
    max_new_tokens: options.max_new_tokens,
    do_sample: options.do_sample,
    repetition_penalty: options.repetition_penalty,
    no_repeat_ngram_size: options.no_repeat_ngram_size,
    temperature: options.temperature,
    top_h: options.top_h ?? 0,
    top_k: options.top_k,
    top_p: options.top_p,
    min_p: options.min_p,
    typical_p: options.typical_p,
    epsilon_cutoff: options.epsilon_cutoff,
    eta_cutoff: options.eta_cutoff,
    num_beams: options.num_beams,
    length_penalty: options.length_penalty,
    early_stopping: options.early_stopping,
    seed: options.seed,
  };
}

/**
 * How a run of `maxNewTokens` after a prompt of `promptTokens` tokens fits a context of
 * `nPositions` (as generation/generate.ts planGeneration fits it): the new tokens it can write, the
 * oldest prompt tokens it leaves out, and `room`, the most new tokens that keep the whole prompt
 * (0 when the prompt alone fills the context).
 */
export interface ContextFit {
  room: number;
  maxNewTokens: number;
  droppedPromptTokens: number;
}

/** An empty prompt counts as one token: the model reads <|endoftext|>. */
export function contextFit(promptTokens: number, maxNewTokens: number, nPositions: number): ContextFit {
  const prompt = Math.max(1, promptTokens);
  const fitted = Math.min(maxNewTokens, nPositions - 1); // the context also holds at least one prompt token
  return {
    room: Math.max(0, nPositions - prompt),
    maxNewTokens: fitted,
    droppedPromptTokens: Math.max(0, prompt - (nPositions - fitted)),
  };
}

/**
 * What the page says before a run that overflows the context, or null when it fits: the context
 * size, what the run would do instead, and what to set.
 */
export function contextWarning(promptTokens: number, maxNewTokens: number, nPositions: number): string | null {
  const fit = contextFit(promptTokens, maxNewTokens, nPositions);
  if (fit.droppedPromptTokens === 0 && fit.maxNewTokens === maxNewTokens) return null;
  const tokens = (n: number) => `${n} ${n === 1 ? 'token' : 'tokens'}`;
  const parts = [
    `The model's context holds ${tokens(nPositions)}: a ${Math.max(1, promptTokens)}-token prompt and ${maxNewTokens} new tokens do not fit.`,
  ];
  if (fit.maxNewTokens < maxNewTokens) parts.push(`The run would write at most ${fit.maxNewTokens} new tokens.`);
  if (fit.droppedPromptTokens > 0)
    parts.push(`The model would not read the first ${tokens(fit.droppedPromptTokens)} of the prompt (struck out in the output).`);
  parts.push(
    fit.room > 0 ? `Set Max new tokens to ${fit.room} or less to keep the whole prompt.` : 'Shorten the prompt to keep all of it.',
  );
  return parts.join(' ');
}
