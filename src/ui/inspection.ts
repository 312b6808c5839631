/**
 * The page's view of a run's tokens: the sampler settings the sliders stand for, how a pane's
 * tokens score under the raw model, and where a run departs from the last one. Pure functions; the sampling math itself is the generation module's (inspectStep).
 */
import { inspectStep, type PipelineStage, type SamplerSettings } from '../generation/inspect';
import { summarizeRow } from '../model/stepLogits';
import type { GenerateOptions } from '../worker/protocol';
import type { RunRecord, RunToken } from './appState';
import type { NumberSetting, Settings } from './settings';

/** The token inspector's element id: selecting a token brings it into view. */
export const INSPECTOR_ID = 'token-inspector';

/** The settings the inspector replays, by Hugging Face's name: the page's settings carry the same names. */
export const SAMPLER_SETTINGS = [
  'repetition_penalty',
  'no_repeat_ngram_size',
  'temperature',
  'top_h',
  'top_k',
  'top_p',
  'min_p',
  'typical_p',
  'epsilon_cutoff',
  'eta_cutoff',
] as const satisfies readonly (keyof SamplerSettings & NumberSetting)[];

/** The page settings the inspector replays. */
export type SamplerFields = Pick<Settings, (typeof SAMPLER_SETTINGS)[number]>;

/** The sliders as sampler settings (Hugging Face names); top_h 0 is off (null). */
export function samplerSettings(settings: SamplerFields): SamplerSettings {
  return {
    temperature: settings.temperature,
    top_k: settings.top_k,
    top_p: settings.top_p,
    min_p: settings.min_p,
    repetition_penalty: settings.repetition_penalty,
    no_repeat_ngram_size: settings.no_repeat_ngram_size,
    top_h: settings.top_h === 0 ? null : settings.top_h,
    typical_p: settings.typical_p,
    epsilon_cutoff: settings.epsilon_cutoff,
    eta_cutoff: settings.eta_cutoff,
  };
}

/** Sampler settings as the page's settings of the same names (top_h null: the page's 0, off). */
export function settingsPatch(patch: Partial<SamplerSettings>): Partial<Pick<Settings, NumberSetting>> {
  const out: Partial<Pick<Settings, NumberSetting>> = {};
  for (const key of SAMPLER_SETTINGS) {
    const value = patch[key];
    if (value !== undefined) out[key] = value ?? 0;
  }
  return out;
}

/** A row of the pipeline view: a stage the step was replayed through, or a known stage the settings turn off. */
export type PipelineRow = { stage: PipelineStage } | { off: string };

/**
 * The replayed stages in their order, with each stage of `listedWhenOff` that did not run put where
 * generation would have applied it (`order`: the processors' names in generation's order); the
 * greedy stage stays last. A stage the page does not know keeps its place among the others.
 */
export function pipelineRows(stages: readonly PipelineStage[], order: readonly string[], listedWhenOff = order): PipelineRow[] {
  const out: PipelineRow[] = stages.map((stage) => ({ stage }));
  const position = (row: PipelineRow) => order.indexOf('stage' in row ? row.stage.name : row.off);
  for (const [index, name] of order.entries()) {
    if (!listedWhenOff.includes(name) || stages.some((s) => s.name === name)) continue;
    const at = out.findIndex((row) => position(row) > index || ('stage' in row && row.stage.name === 'greedy'));
    out.splice(at < 0 ? out.length : at, 0, { off: name });
  }
  return out;
}

/** The sampler settings a run used. */
export function runSamplerSettings(options: GenerateOptions): SamplerSettings {
  return {
    temperature: options.temperature,
    top_k: options.top_k,
    top_p: options.top_p,
    min_p: options.min_p,
    repetition_penalty: options.repetition_penalty,
    no_repeat_ngram_size: options.no_repeat_ngram_size,
    top_h: options.top_h,
    typical_p: options.typical_p,
    epsilon_cutoff: options.epsilon_cutoff,
    eta_cutoff: options.eta_cutoff,
  };
}

const SETTING_LABELS: [keyof SamplerSettings, string][] = [
  ['top_k', 'top-k'],
  ['top_p', 'top-p'],
  ['temperature', 'temperature'],
  ['min_p', 'min-p'],
  ['repetition_penalty', 'repetition penalty'],
  ['no_repeat_ngram_size', 'no-repeat n-gram size'],
  ['top_h', 'top-h'],
  ['typical_p', 'typical-p'],
  ['epsilon_cutoff', 'epsilon cutoff'],
  ['eta_cutoff', 'eta cutoff'],
];

/** The settings that differ from the run's, in words ("top-k 3 (the run used 50)"); empty when none. */
export function settingChanges(now: SamplerSettings, run: SamplerSettings): string[] {
  return SETTING_LABELS.filter(([key]) => now[key] !== run[key]).map(([key, label]) => `${label} ${now[key]} (the run used ${run[key]})`);
}

/** 50257 → "50,257" (without Intl, whose first use costs a long main-thread task). */
export function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** "12.34 %": a probability as a percentage with two decimals. */
export function percent(p: number): string {
  return `${(p * 100).toFixed(2)} %`;
}

/** Bands of model probability for the Surprise colouring, most likely first (the legend's order). */
export const SURPRISE_BANDS: { min: number; label: string }[] = [
  { min: 0.5, label: '≥ 50 %' },
  { min: 0.1, label: '10–50 %' },
  { min: 0.01, label: '1–10 %' },
  { min: 0.001, label: '0.1–1 %' },
  { min: 0, label: '< 0.1 %' },
];

/** Index into SURPRISE_BANDS of a token whose raw log-probability is `logprob`. */
export function surpriseBand(logprob: number): number {
  const p = Math.exp(logprob);
  const band = SURPRISE_BANDS.findIndex((b) => p >= b.min);
  return band < 0 ? SURPRISE_BANDS.length - 1 : band;
}

export interface PaneScore {
  /** Tokens with an inspection (all of them, in an inspected run). */
  tokens: number;
  /** Mean log-probability of the tokens under the raw model, nats. */
  meanLogprob: number;
  /** exp(-meanLogprob). */
  perplexity: number;
  /** Share of tokens that were the model's likeliest (rank 1). */
  topChoiceShare: number;
}

export function paneScore(tokens: readonly RunToken[]): PaneScore | null {
  let count = 0;
  let sum = 0;
  let top = 0;
  for (const t of tokens) {
    if (!t.inspection) continue;
    count++;
    sum += t.inspection.logprob;
    if (t.inspection.rank === 1) top++;
  }
  if (count === 0) return null;
  const meanLogprob = sum / count;
  return { tokens: count, meanLogprob, perplexity: Math.exp(-meanLogprob), topChoiceShare: top / count };
}

/**
 * Whether this run repeats `previous` (same prompt and seed, other settings): then, per sequence,
 * the index of the first token that differs (null when none differs); otherwise null.
 */
export function departures(
  previous: RunRecord | null,
  prompt: string,
  options: GenerateOptions | null,
  tokens: readonly (readonly RunToken[])[],
): (number | null)[] | null {
  if (!previous || !options || previous.prompt !== prompt || previous.seed !== options.seed) return null;
  if (JSON.stringify(previous.options) === JSON.stringify(options)) return null;
  return tokens.map((seq, s) => {
    const before = previous.ids[s] ?? [];
    for (let i = 0; i < seq.length; i++) if (before[i] !== seq[i].id) return i;
    return null;
  });
}

/**
 * Runs the inspector's math on a made-up row a few times, so the JavaScript engine has compiled and
 * optimised it before the first token arrives: otherwise the first inspected steps of a run pay for
 * that in long main-thread tasks while the text streams. Each call is one short task; `schedule`
 * runs them at idle time, one at a time.
 */
export function warmUpInspector(vocabSize: number, settings: SamplerSettings, schedule: (task: () => void) => void): void {
  const row = new Float32Array(vocabSize);
  for (let i = 0; i < vocabSize; i++) row[i] = Math.sin(i * 12.9898) * 4;
  let step: ReturnType<typeof summarizeRow> | null = null;
  const rounds = 4; // the engine optimises a function once it has run it several times
  const next = (round: number) =>
    schedule(() => {
      step ??= summarizeRow(row, 256, [1, 2, 3]);
      inspectStep(step, settings, [1, 2, 3], vocabSize, round / rounds);
      if (round + 1 < rounds) next(round + 1);
    });
  next(0);
}
