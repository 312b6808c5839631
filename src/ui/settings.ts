/**
 * The page's settings: defaults (the notebook's sampling call, docs/generation.md), their limits, and their round trip through
 * the URL (so a link reproduces a run) and localStorage (so a reload keeps them).
 * Precedence when the page opens: URL, then localStorage, then defaults.
 */
import { isSampling } from '../generation/options';
import { MAX_SEED, randomSeed } from '../generation/random';
import type { GenerateOptions } from '../worker/protocol';
import { EMBEDDED_MODEL, isValidModelSpec } from './modelSpec';
import { isPrecisionRequest, type PrecisionRequest } from '../model/memoryPlan';

export interface Settings {
  prompt: string;
  model: string;
  /** "auto" or a tfjs backend name (webgpu, wasm, webgl, cpu). */
  backend: string;
  /** A Hugging Face hub mirror (URL parameter `hub`); '' = huggingface.co. */
  hubUrl: string;
  /** Precision of the weights' matrices (URL parameter `dtype`): auto, f32, f16 or q8. */
  precision: PrecisionRequest;
  topK: number;
  topP: number;
  temperature: number;
  minP: number;
  maxNewTokens: number;
  repetitionPenalty: number;
  seed: number;
  sequences: number;
  sample: boolean;
}

export type NumberSetting = 'topK' | 'topP' | 'temperature' | 'minP' | 'maxNewTokens' | 'repetitionPenalty' | 'seed' | 'sequences';

export interface NumberLimits {
  min: number;
  max: number;
  step: number;
  /** URL parameter name: Hugging Face's generate() argument. */
  param: string;
}

export { MAX_SEED, randomSeed };

export const LIMITS: Record<NumberSetting, NumberLimits> = {
  topK: { min: 0, max: 200, step: 1, param: 'top_k' },
  topP: { min: 0, max: 1, step: 0.01, param: 'top_p' },
  temperature: { min: 0, max: 2, step: 0.01, param: 'temperature' },
  minP: { min: 0, max: 1, step: 0.01, param: 'min_p' },
  maxNewTokens: { min: 1, max: 512, step: 1, param: 'max_new_tokens' },
  repetitionPenalty: { min: 1, max: 2, step: 0.01, param: 'repetition_penalty' },
  seed: { min: 0, max: MAX_SEED, step: 1, param: 'seed' },
  sequences: { min: 1, max: 4, step: 1, param: 'num_return_sequences' },
};

export const DEFAULT_SETTINGS: Settings = {
  prompt: 'To Sherlock Holmes she is always',
  model: EMBEDDED_MODEL,
  backend: 'auto',
  hubUrl: '',
  precision: 'auto',
  topK: 50,
  topP: 0.95,
  temperature: 1,
  minP: 0,
  maxNewTokens: 40,
  repetitionPenalty: 1,
  seed: 42,
  sequences: 3,
  sample: true,
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

/** Reads whatever valid settings `source` holds on top of `base`; ignores anything invalid. */
function mergeSettings(base: Settings, get: (key: string) => string | null | undefined): Settings {
  const next: Settings = { ...base };
  const prompt = get('prompt');
  if (typeof prompt === 'string') next.prompt = prompt;
  const model = get('model');
  if (typeof model === 'string' && isValidModelSpec(model)) next.model = model;
  const backend = get('backend');
  if (typeof backend === 'string' && backend.trim() !== '') next.backend = backend.trim().toLowerCase();
  const dtype = get('dtype')?.trim().toLowerCase();
  if (dtype && isPrecisionRequest(dtype)) next.precision = dtype;
  const hub = get('hub');
  if (typeof hub === 'string' && /^https?:\/\//.test(hub.trim())) next.hubUrl = hub.trim();
  for (const name of Object.keys(LIMITS) as NumberSetting[]) {
    const raw = get(LIMITS[name].param);
    if (raw === null || raw === undefined || raw === '') continue;
    next[name] = clampSetting(name, Number(raw), base[name]);
  }
  const sample = get('do_sample');
  if (sample === 'true' || sample === '1') next.sample = true;
  if (sample === 'false' || sample === '0') next.sample = false;
  return next;
}

export function settingsFromSearch(search: string, base: Settings = DEFAULT_SETTINGS): Settings {
  const params = new URLSearchParams(search);
  return mergeSettings(base, (key) => params.get(key));
}

/** Every setting as URL parameters, named like Hugging Face's generate() arguments. */
export function settingsToSearch(settings: Settings): string {
  const params = new URLSearchParams();
  params.set('prompt', settings.prompt);
  params.set('model', settings.model);
  for (const name of Object.keys(LIMITS) as NumberSetting[]) params.set(LIMITS[name].param, String(settings[name]));
  params.set('do_sample', String(settings.sample));
  if (settings.backend !== 'auto') params.set('backend', settings.backend);
  if (settings.hubUrl !== '') params.set('hub', settings.hubUrl);
  if (settings.precision !== 'auto') params.set('dtype', settings.precision);
  return `?${params.toString()}`;
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

export function settingsToStorage(settings: Settings): string {
  return JSON.stringify(Object.fromEntries(new URLSearchParams(settingsToSearch(settings))));
}

/**
 * URL over localStorage over defaults, except the hub: only one the person confirmed (kept in
 * localStorage) is used; a link's `hub=` is offered first (linkHub).
 */
export function initialSettings(search: string, stored: string | null): Settings {
  const kept = settingsFromStorage(stored);
  return { ...settingsFromSearch(search, kept), hubUrl: kept.hubUrl };
}

/** The hub a link names that is not the one in use: downloads go there only once the person confirms. */
export function linkHub(search: string, settings: Settings): string | null {
  const hub = settingsFromSearch(search, { ...settings, hubUrl: '' }).hubUrl;
  const same = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
  return hub === '' || same(hub, settings.hubUrl) ? null : hub;
}

/** What the Temperature control says: 0 is greedy here, where Hugging Face would refuse it for sampling. */
export function temperatureHint(settings: Settings): string {
  if (settings.sample && settings.temperature === 0) {
    return '0 = greedy decoding here (always the likeliest token); Hugging Face refuses temperature 0 when sampling.';
  }
  return 'Below 1 sharpens, above 1 flattens; 0 = greedy.';
}

/** Greedy decoding (Sample off, or temperature 0: options.ts isSampling) has only one possible continuation. */
export function isGreedy(settings: Settings): boolean {
  return !isSampling({ do_sample: settings.sample, temperature: settings.temperature });
}

export function generateOptions(settings: Settings): GenerateOptions {
  return {
    max_new_tokens: settings.maxNewTokens,
    do_sample: settings.sample,
    temperature: settings.temperature,
    top_k: settings.topK,
    top_p: settings.topP,
    min_p: settings.minP,
    repetition_penalty: settings.repetitionPenalty,
    // Hugging Face rejects several greedy sequences: they would all be the same text.
    num_return_sequences: isGreedy(settings) ? 1 : settings.sequences,
    seed: settings.seed,
  };
}

