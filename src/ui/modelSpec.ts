/**
 * The model chooser's view of model specs. A model is kept as the sources' text form
 * (src/sources/spec.ts: "embedded", "gpt2", "hf:owner/name@rev", "url:FOLDER"), so it fits in a
 * URL and in localStorage; files picked from disk are "local" and cannot be put in a link.
 */
import { choosePrecision, gb, type BackendMemory, type PrecisionRequest } from '../model/memoryPlan';
import { parseGPT2Config } from '../model/config';
import { PRESETS, type ModelPreset } from '../sources/presets';
import { describeModelSpec, parseModelSpec, type ModelSpec } from '../sources/spec';
import { errorMessage } from '../util/errorMessage';

export const EMBEDDED_MODEL = 'embedded';
export const LOCAL_MODEL = 'local';

export interface ModelOption {
  value: string;
  label: string;
}

const GB = 1e9;
function size(bytes: number): string {
  return bytes >= GB ? `${(bytes / GB).toFixed(1)} GB` : `${Math.round(bytes / 1e6)} MB`;
}

/** The choices offered in the model menu. */
export const MODEL_OPTIONS: ModelOption[] = [
  { value: EMBEDDED_MODEL, label: 'Sherlock GPT-2 (built in)' },
  ...PRESETS.map((p) => ({ value: p.id, label: `${p.id}: ${p.label}, ${p.parameters} parameters, ${size(p.downloadBytes)} download` })),
];

/**
 * What a preset needs at a precision on a backend (wasm until the worker says otherwise): the
 * memory plan's total (weights, KV cache of 4 sequences at full context, activations), or why
 * it does not fit.
 */
export function presetMemory(preset: ModelPreset, precision: PrecisionRequest, memory: BackendMemory = { backend: 'wasm' }): string {
  const config = parseGPT2Config({
    model_type: 'gpt2',
    vocab_size: 50257,
    n_positions: 1024,
    n_embd: preset.width,
    n_layer: preset.layers,
    n_head: preset.width / 64,
  });
  try {
    const { plan } = choosePrecision(precision, config, memory, { label: preset.id });
    return `needs ${gb(plan.totalBytes)} as ${plan.precision}`;
  } catch {
    return precision === 'auto' ? `too big for ${memory.backend}` : `does not fit as ${precision} on ${memory.backend}`;
  }
}

/** The menu's choices with each preset's download and memory at the current precision. */
export function modelOptions(precision: PrecisionRequest, memory?: BackendMemory): ModelOption[] {
  return [
    MODEL_OPTIONS[0],
    ...PRESETS.map((p) => ({
      value: p.id,
      label: `${p.id}: ${p.label}, ${p.parameters} parameters, ${size(p.downloadBytes)} download, ${presetMemory(p, precision, memory)}`,
    })),
  ];
}

/** The spec, or the reason it is unusable. */
export function readModelSpec(text: string): { spec: ModelSpec } | { problem: string } {
  try {
    return { spec: parseModelSpec(text) };
  } catch (error) {
    return { problem: errorMessage(error) };
  }
}

export function isValidModelSpec(text: string): boolean {
  return text === LOCAL_MODEL || 'spec' in readModelSpec(text);
}

/** A typed hub id ("owner/name" or "owner/name@revision") as a spec string. */
export function hubSpecText(repo: string): string {
  return `hf:${repo.trim().replace(/^hf:/, '')}`;
}

export function modelLabel(text: string): string {
  if (text === LOCAL_MODEL) return 'files from this computer';
  const read = readModelSpec(text);
  return 'spec' in read ? describeModelSpec(read.spec) : text;
}
