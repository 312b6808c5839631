/**
 * Argument parsing shared by the commands, on node:util's parseArgs (strict: unknown options are
 * errors). Options are `--name value` or boolean `--flag`; each command declares its own, so
 * new ones (sampling options, say) are one more entry in its option table.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { NODE_BACKENDS, isNodeBackend, type NodeBackend } from '../backend/node';
import { UsageError } from './command';
import { PRECISION_REQUESTS, isPrecisionRequest, type PrecisionRequest } from '../model/memoryPlan';
import { SEED_RANGE, parseSeed } from '../generation/random';
import { parseThreads } from '../backend/threadCount';
import type { ModelLoad } from './runtime';

export type OptionTable = NonNullable<ParseArgsConfig['options']>;

/** --backend, --model, --dtype, --threads and --json, which every model-running command takes. */
export const MODEL_OPTIONS = {
  model: { type: 'string' },
  backend: { type: 'string', default: 'cpu' },
  dtype: { type: 'string', default: 'auto' },
  threads: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const satisfies OptionTable;

export const MODEL_USAGE =
  '[--model DIR|embedded|gpt2|gpt2-medium|…|hf:REPO[@REV]] [--hub-url URL] [--idle-timeout S] [--backend cpu|wasm|webgpu] [--dtype auto|f32|f16|q8] [--threads N] [--json]';

/** --dtype: the precision of the weights' matrices. */
export function dtypeOption(value: string | undefined, usage: string): PrecisionRequest {
  const name = (value ?? 'auto').trim().toLowerCase();
  if (!isPrecisionRequest(name)) throw new UsageError(`--dtype must be one of ${PRECISION_REQUESTS.join(', ')}, got '${value}'`, usage);
  return name;
}

/** --threads: threads for the q8 / f16 products (undefined: every core, see runtime.ts). */
export function threadsOption(value: string | undefined, usage: string): number | undefined {
  if (value === undefined) return undefined;
  const read = parseThreads(value);
  if ('problem' in read) throw new UsageError(`--${read.problem}`, usage);
  return read.threads;
}

/** --dtype and --threads: how the model's matrices are loaded and run. */
export function modelLoadOption(values: { dtype?: string; threads?: string }, usage: string): ModelLoad {
  return { precision: dtypeOption(values.dtype, usage), threads: threadsOption(values.threads, usage) };
}

/** Parses argv against `options`; any problem becomes a UsageError carrying `usage`. */
export function parseOptions<T extends OptionTable>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: joinNegativeValues(argv, options), options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message, usage);
  }
}

/**
 * `--name -1` as `--name=-1` for string options, so a negative number reaches the option's own
 * check (which names the allowed range) instead of parseArgs's "ambiguous" complaint.
 */
function joinNegativeValues(argv: string[], options: OptionTable): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : null;
    const next = argv[i + 1];
    if (name && options[name]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/** --seed: the one seed rule (random.ts parseSeed); undefined when absent. */
export function seedOption(value: string | undefined, usage: string): number | undefined {
  if (value === undefined) return undefined;
  const seed = parseSeed(value);
  if (seed === null) throw new UsageError(`--seed ${value}: expected ${SEED_RANGE}`, usage);
  return seed;
}

export function requireString(value: string | undefined, name: string, usage: string): string {
  if (value === undefined) throw new UsageError(`missing --${name}`, usage);
  return value;
}

/** An integer option in [min, max]; `fallback` when absent. */
export function integerOption(value: string | undefined, name: string, usage: string, fallback: number, min = 1, max = Infinity): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    const range = max === Infinity ? `at least ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`--${name} must be an integer ${range}, got '${value}'`, usage);
  }
  return n;
}

/** `1,2,3` → [1, 2, 3]. */
export function idsOption(value: string, name: string, usage: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  const ids = parts.map(Number);
  if (parts.some((p) => p === '') || !ids.every((id) => Number.isInteger(id) && id >= 0)) {
    throw new UsageError(`--${name} must be comma-separated token ids like 464,3290,318; got '${value}'`, usage);
  }
  return ids;
}

export function backendOption(value: string | undefined, usage: string): NodeBackend {
  const name = value ?? 'cpu';
  if (!isNodeBackend(name)) throw new UsageError(`--backend must be one of ${NODE_BACKENDS.join(', ')}, got '${name}'`, usage);
  return name;
}
