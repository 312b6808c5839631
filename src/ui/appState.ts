/**
 * Everything the page shows about the worker, as one reducer over the worker's messages, so the
 * bookkeeping (which request a token belongs to, live tokens/s) is pure and unit-tested.
 */
import type { BackendInfo, FinishReason, FromWorker, GenerationStats, LoadProgress, ModelInfo } from '../worker/protocol';

export interface ModelState {
  status: 'idle' | 'loading' | 'ready' | 'error';
  requestId: number;
  /** What is being loaded, for the page ("Sherlock GPT-2 (built in, offline)"). */
  label: string;
  /** The latest progress report, null before the first. */
  progress: LoadProgress | null;
  info: ModelInfo | null;
  loadMs: number | null;
  /** Why the model is not (or could not be) kept for offline use, when that happened. */
  cacheNote: string | null;
  /** Why the last load failed. With status 'ready', `info` is the model that stayed loaded. */
  error: string | null;
  /** The last load stopped to ask before a download of this many bytes (a link's model); null otherwise. */
  askedBytes: number | null;
}

export interface RunState {
  status: 'idle' | 'running' | 'stopping' | 'done' | 'stopped' | 'error';
  requestId: number;
  prompt: string;
  /** Generated text per sequence (the prompt is not included). */
  outputs: string[];
  /** Tokens generated so far, all sequences together. */
  tokens: number;
  /** Tokens that arrived in the first decoding step (index 0), excluded from the decode rate. */
  firstStepTokens: number;
  firstTokenMs: number | null;
  lastTokenMs: number | null;
  stats: GenerationStats | null;
  finishReasons: FinishReason[];
  error: string | null;
}

export interface AppState {
  backend: BackendInfo | null;
  /** A failure outside any request: no backend could start, the GPU was lost, the worker died. */
  workerError: string | null;
  model: ModelState;
  run: RunState;
}

export const initialModelState: ModelState = {
  status: 'idle', requestId: 0, label: '', progress: null, info: null, loadMs: null, cacheNote: null, error: null, askedBytes: null,
};

export const initialRunState: RunState = {
  status: 'idle', requestId: 0, prompt: '', outputs: [], tokens: 0, firstStepTokens: 0,
  firstTokenMs: null, lastTokenMs: null, stats: null, finishReasons: [], error: null,
};

export const initialAppState: AppState = { backend: null, workerError: null, model: initialModelState, run: initialRunState };

export type AppAction =
  | { type: 'worker-restarted' }
  | { type: 'worker-failed'; message: string }
  | { type: 'load-started'; id: number; label: string }
  | { type: 'generate-started'; id: number; prompt: string; sequences: number }
  | { type: 'stop-requested' }
  | { type: 'message'; message: FromWorker };

export function appReducer(state: AppState, action: AppAction): AppState {
  switch (action.type) {
    case 'worker-restarted':
      return { ...initialAppState };
    case 'worker-failed':
      return {
        ...state,
        workerError: action.message,
        model: state.model.status === 'loading' ? { ...state.model, status: 'error', error: action.message } : state.model,
        run: isActive(state.run) ? { ...state.run, status: 'error', error: action.message } : state.run,
      };
    case 'load-started':
      // The model loaded now keeps answering while the new one loads (a load is a transaction).
      return {
        ...state,
        model: { ...initialModelState, status: 'loading', requestId: action.id, label: action.label, info: state.model.info, loadMs: state.model.loadMs },
      };
    case 'generate-started':
      return {
        ...state,
        run: { ...initialRunState, status: 'running', requestId: action.id, prompt: action.prompt, outputs: Array<string>(action.sequences).fill('') },
      };
    case 'stop-requested':
      return state.run.status === 'running' ? { ...state, run: { ...state.run, status: 'stopping' } } : state;
    case 'message':
      return onMessage(state, action.message);
  }
}

function isActive(run: RunState): boolean {
  return run.status === 'running' || run.status === 'stopping';
}

function onMessage(state: AppState, message: FromWorker): AppState {
  const { model, run } = state;
  switch (message.type) {
    case 'backend':
      return { ...state, backend: message.info, workerError: null };
    case 'load-progress':
      if (message.id !== model.requestId) return state;
      return { ...state, model: { ...model, progress: message.progress } };
    case 'loaded':
      if (message.id !== model.requestId) return state;
      return { ...state, model: { ...model, status: 'ready', info: message.model, loadMs: message.loadMs, cacheNote: message.cacheNote ?? null } };
    case 'token': {
      if (message.id !== run.requestId || !isActive(run)) return state;
      const outputs = run.outputs.slice();
      while (outputs.length <= message.sequence) outputs.push('');
      outputs[message.sequence] += message.text;
      return {
        ...state,
        run: {
          ...run,
          outputs,
          tokens: run.tokens + 1,
          firstStepTokens: run.firstStepTokens + (message.index === 0 ? 1 : 0),
          firstTokenMs: run.firstTokenMs ?? message.elapsedMs,
          lastTokenMs: message.elapsedMs,
        },
      };
    }
    case 'done': {
      if (message.id !== run.requestId) return state;
      const stopped = run.status === 'stopping' || message.stats.finishReasons.includes('abort');
      return {
        ...state,
        run: {
          ...run,
          status: stopped ? 'stopped' : 'done',
          stats: message.stats,
          finishReasons: message.stats.finishReasons,
          firstTokenMs: run.firstTokenMs ?? (message.stats.newTokens > 0 ? message.stats.firstTokenMs : null),
        },
      };
    }
    case 'error':
      if (message.phase === 'load' && message.id === model.requestId) {
        const askedBytes = message.downloadBytes ?? null;
        // A failed load changes nothing: the model the worker kept is ready as before.
        if (message.kept) return { ...state, model: { ...model, status: 'ready', info: message.kept, error: message.message, askedBytes } };
        return { ...state, model: { ...model, status: 'error', info: null, loadMs: null, error: message.message, askedBytes } };
      }
      if (message.phase === 'generate' && message.id === run.requestId) {
        return { ...state, run: { ...run, status: 'error', error: message.message } };
      }
      if (message.phase === 'backend') return { ...state, workerError: message.message };
      return state;
  }
}

/**
 * Decode speed so far, tokens per second over all sequences, counted from the first token
 * (time to first token includes the prompt's prefill and is reported on its own).
 */
export function liveTokensPerSecond(run: RunState): number | null {
  if (run.firstTokenMs === null || run.lastTokenMs === null) return null;
  const seconds = (run.lastTokenMs - run.firstTokenMs) / 1000;
  const decoded = run.tokens - run.firstStepTokens;
  if (seconds <= 0 || decoded <= 0) return null;
  return decoded / seconds;
}
