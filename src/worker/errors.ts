import type { ErrorPhase } from './protocol';
import { errorMessage } from '../util/errorMessage';

/** Errors whose message is already written for people (what happened, what to do). */
const READABLE = new Set(['ModelSourceError', 'CheckpointError', 'GenerationOptionError', 'NonFiniteLogitsError']);

const PREFIX: Record<ErrorPhase, string> = {
  backend: 'No compute backend could start',
  load: 'The model could not be loaded',
  generate: 'Generation failed',
  analyze: 'The analysis failed',
};

/** A message the page can show as-is. */
export function describeError(error: unknown, phase: ErrorPhase): string {
  if (error instanceof Error && READABLE.has(error.name)) return error.message;
  const detail = errorMessage(error);
  if (/out of memory|\bOOM\b|failed to allocate|allocation failed/i.test(detail)) {
    return `${PREFIX[phase]}: the device ran out of memory (${detail}). Choose a smaller model, fewer sequences, or another backend (?backend=wasm).`;
  }
  if (phase === 'backend') {
    return `${PREFIX.backend}: ${detail}. Try a current Chrome, Edge or Firefox, or force one with ?backend=wasm or ?backend=cpu.`;
  }
  return `${PREFIX[phase]}: ${detail}`;
}
