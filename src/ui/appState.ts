/**
 * Everything the page shows about the worker, as one reducer over the worker's messages, so the
 * bookkeeping (which request a token belongs to, live tokens/s) is pure and unit-tested.
 */
import type {
  BackendInfo,
  FinishReason,
  FromWorker,
  GenerateOptions,
  GenerationStats,
  LensEntry,
  LoadProgress,
  ModelInfo,
  TokenInspection,
} from '../worker/protocol';
import { beamTreeReducer, emptyBeamTree, type BeamTree } from './beamTree';

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

/** One generated token as the page keeps it. */
export interface RunToken {
  id: number;
  /** The text it added to its sequence ('' while a multi-byte character is incomplete). */
  text: string;
  /** What the model and the sampler saw at this step (runs started with inspectTop). */
  inspection?: TokenInspection;
}

/** The token ids a finished run wrote, kept to compare the next run of the same prompt and seed with. */
export interface RunRecord {
  prompt: string;
  seed: number;
  options: GenerateOptions;
  ids: number[][];
}

export interface RunState {
  status: 'idle' | 'running' | 'stopping' | 'done' | 'stopped' | 'error';
  requestId: number;
  prompt: string;
  /** The settings the run used. */
  options: GenerateOptions | null;
  /** The prompt ids the model read, once the worker has tokenized the prompt. */
  promptIds: number[] | null;
  /** The seed sampling used; null for greedy runs (and before the worker says). */
  seed: number | null;
  /** Generated text per sequence (the prompt is not included). */
  outputs: string[];
  /** Generated tokens per sequence. */
  tokens: RunToken[][];
  /** Tokens generated so far, all sequences together. */
  tokenCount: number;
  /** Tokens that arrived in the first decoding step (index 0), excluded from the decode rate. */
  firstStepTokens: number;
  firstTokenMs: number | null;
  lastTokenMs: number | null;
  stats: GenerationStats | null;
  finishReasons: FinishReason[];
  error: string | null;
  /** Beam search's tree as it grows (a run with num_beams > 1); null for other runs. */
  beamTree: BeamTree | null;
}

/** A pane continued from one step of another pane with a chosen token forced (Branch in the inspector). */
export interface BranchState {
  requestId: number;
  /** Where it came from, as its heading shows it: `Output 1 › token 7 › "␣the"`. */
  origin: string;
  /** The pane it branched from, and the 0-based token index there. */
  parent: string;
  step: number;
  /** The text before the branch's tokens: the parent's prompt and its tokens before the step. */
  prefixText: string;
  /** The ids before the forced token; once the worker has started the branch, only those the model read (the oldest are left out when the context overflows). */
  prefixIds: number[];
  options: GenerateOptions;
  status: 'running' | 'stopping' | 'done' | 'stopped' | 'error';
  /** The forced token first (with the parent step's inspection), then the tokens the branch wrote. */
  tokens: RunToken[];
  finishReason: FinishReason | null;
  error: string | null;
  /** Prefix positions the worker took from the parent run's KV cache instead of a prefill; null until done. */
  reusedPositions: number | null;
  /** Beam search's tree after the forced token (a branch with num_beams > 1); null for other branches. */
  beamTree: BeamTree | null;
}

/** What the page knows of a branch as it starts it; the reducer adds the rest. */
export type BranchStart = Omit<BranchState, 'status' | 'finishReason' | 'error' | 'reusedPositions' | 'beamTree'>;

/** One pane of Compare strategies: a run of its own (beside the others), one sequence. */
export interface ComparePane {
  requestId: number;
  /** The strategy's name, its pane's heading ("Beam search (5 beams)"). */
  label: string;
  prompt: string;
  options: GenerateOptions;
  /** The prompt ids the model read, once the worker has tokenized the prompt. */
  promptIds: number[] | null;
  /** The sampling seed; null for greedy decoding and beam search. */
  seed: number | null;
  tokens: RunToken[];
  status: 'running' | 'stopping' | 'done' | 'stopped' | 'error';
  finishReason: FinishReason | null;
  error: string | null;
  /** Beam search: the returned hypothesis's cumulative log-probability (its tokens carry no inspection); null otherwise. */
  beamLogprob: number | null;
}

/** The latest analysis the page asked for, and its answer. */
export interface AnalysisState {
  requestId: number;
  kind: 'attention' | 'lens' | null;
  status: 'idle' | 'running' | 'done' | 'error';
  attention: { layer: number; heads: number; length: number; probabilities: Float32Array } | null;
  lens: LensEntry[][][] | null;
  error: string | null;
}

export interface AppState {
  backend: BackendInfo | null;
  /** Tensors and bytes tfjs held after the last generation or analysis. */
  memory: { tensors: number; bytes: number } | null;
  /** Branches of the current run (cleared by a new run). */
  branches: BranchState[];
  /** Compare strategies' panes, in the lesson's order (cleared by a new run or a new comparison). */
  compare: ComparePane[];
  /** The attention view's latest request, and the logit lens's (they run independently). */
  attention: AnalysisState;
  lens: AnalysisState;
  /** The last run that produced tokens before the current one: what "compare with the last run" compares with. */
  previousRun: RunRecord | null;
  /** A failure outside any request: no backend could start, the GPU was lost, the worker died. */
  workerError: string | null;
  model: ModelState;
  run: RunState;
  /** Which of the two came last, a model load or a run (started or ended): the status line reports that one. */
  latest: 'load' | 'run';
  /**
   * The outputs on screen were written by this model ("gpt2 (f32)"), which another load has since
   * replaced (a new model, or the same one in another precision); null when they are the loaded model's.
   */
  earlierModel: string | null;
}

export const initialModelState: ModelState = {
  status: 'idle',
  requestId: 0,
  label: '',
  progress: null,
  info: null,
  loadMs: null,
  cacheNote: null,
  error: null,
  askedBytes: null,
};

export const initialRunState: RunState = {
  status: 'idle',
  requestId: 0,
  prompt: '',
  options: null,
  promptIds: null,
  seed: null,
  outputs: [],
  tokens: [],
  tokenCount: 0,
  firstStepTokens: 0,
  firstTokenMs: null,
  lastTokenMs: null,
  stats: null,
  finishReasons: [],
  error: null,
  beamTree: null,
};

export const initialAnalysisState: AnalysisState = { requestId: 0, kind: null, status: 'idle', attention: null, lens: null, error: null };

export const initialAppState: AppState = {
  backend: null,
  memory: null,
  branches: [],
  compare: [],
  attention: initialAnalysisState,
  lens: initialAnalysisState,
  previousRun: null,
  workerError: null,
  model: initialModelState,
  run: initialRunState,
  latest: 'load',
  earlierModel: null,
};

export type AppAction =
  | { type: 'worker-restarted' }
  | { type: 'worker-failed'; message: string }
  | { type: 'load-started'; id: number; label: string }
  | { type: 'generate-started'; id: number; prompt: string; options: GenerateOptions }
  | { type: 'stop-requested' }
  | { type: 'compare-started'; panes: { requestId: number; label: string; prompt: string; options: GenerateOptions }[] }
  | { type: 'branch-started'; branch: BranchStart }
  | { type: 'branch-closed'; id: number }
  | { type: 'analysis-started'; id: number; kind: 'attention' | 'lens' }
  | { type: 'message'; message: FromWorker }
  /** Several messages in arrival order, applied as one update (tokens come in bursts). */
  | { type: 'messages'; messages: FromWorker[] };

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
      // The model loaded now keeps answering while the new one loads (a load is a transaction), and
      // the outputs on screen stay: if the load succeeds they are marked as the earlier model's.
      return {
        ...state,
        latest: 'load',
        model: {
          ...initialModelState,
          status: 'loading',
          requestId: action.id,
          label: action.label,
          info: state.model.info,
          loadMs: state.model.loadMs,
        },
      };
    case 'generate-started': {
      const n = action.options.num_return_sequences;
      return {
        ...state,
        branches: [],
        compare: [],
        latest: 'run',
        earlierModel: null,
        previousRun: recordOf(state.run) ?? state.previousRun,
        run: {
          ...initialRunState,
          status: 'running',
          requestId: action.id,
          prompt: action.prompt,
          options: action.options,
          outputs: Array<string>(n).fill(''),
          tokens: Array.from({ length: n }, () => []),
          beamTree: action.options.num_beams > 1 ? emptyBeamTree : null,
        },
      };
    }
    case 'stop-requested': {
      const compare = state.compare.map((c) => (c.status === 'running' ? { ...c, status: 'stopping' as const } : c));
      return state.run.status === 'running' ? { ...state, compare, run: { ...state.run, status: 'stopping' } } : { ...state, compare };
    }
    case 'compare-started':
      return {
        ...state,
        latest: 'run',
        compare: action.panes.map((p) => ({
          ...p,
          promptIds: null,
          seed: null,
          tokens: [],
          status: 'running',
          finishReason: null,
          error: null,
          beamLogprob: null,
        })),
      };
    case 'branch-started':
      return {
        ...state,
        branches: [
          ...state.branches,
          {
            ...action.branch,
            status: 'running',
            finishReason: null,
            error: null,
            reusedPositions: null,
            beamTree: action.branch.options.num_beams > 1 ? emptyBeamTree : null,
          },
        ],
      };
    case 'branch-closed':
      return { ...state, branches: state.branches.filter((b) => b.requestId !== action.id) };
    case 'analysis-started': {
      const key = action.kind;
      return { ...state, [key]: { ...state[key], requestId: action.id, kind: action.kind, status: 'running', error: null } };
    }
    case 'message':
      return onMessage(state, action.message);
    case 'messages':
      return action.messages.reduce(onMessage, state);
  }
}

/** What a run leaves for the next one to compare with: its prompt, seed, settings and token ids. */
function recordOf(run: RunState): RunRecord | null {
  if (!run.options || run.tokenCount === 0) return null;
  return { prompt: run.prompt, seed: run.options.seed, options: run.options, ids: run.tokens.map((seq) => seq.map((t) => t.id)) };
}

/** Something a run or a branch wrote is on screen. */
function hasOutputs(state: AppState): boolean {
  return state.run.tokenCount > 0 || state.branches.length > 0;
}

/** A model as the outputs' mark names it: "gpt2 (f32)". */
function modelName(info: ModelInfo): string {
  return info.precision ? `${info.name} (${info.precision})` : info.name;
}

function isActive(run: RunState): boolean {
  return run.status === 'running' || run.status === 'stopping';
}

/** A message for one of the branches, or null when it belongs to none. */
function onBranchMessage(state: AppState, message: FromWorker): AppState | null {
  if (!('id' in message) || message.id === undefined) return null;
  const index = state.branches.findIndex((b) => b.requestId === message.id);
  if (index < 0) return null;
  const branch = state.branches[index];
  let next: BranchState;
  switch (message.type) {
    case 'started':
      // The model reads the prefix and the forced token; when they and the new tokens overflow the
      // context, the oldest prefix ids are left out: the pane keeps only the ids it read.
      if (message.droppedPromptTokens === 0) return state;
      next = { ...branch, prefixIds: message.promptIds.slice(0, -1) };
      break;
    case 'token': {
      const token: RunToken = { id: message.tokenId, text: message.text };
      if (message.inspection) token.inspection = message.inspection;
      next = { ...branch, tokens: [...branch.tokens, token] };
      break;
    }
    case 'beam':
      if (!branch.beamTree) return state;
      next = { ...branch, beamTree: beamTreeReducer(branch.beamTree, message.event) };
      break;
    case 'done': {
      const reason = message.stats.finishReasons[0] ?? null;
      next = {
        ...branch,
        status: reason === 'abort' ? 'stopped' : 'done',
        finishReason: reason,
        reusedPositions: message.stats.reusedPositions,
      };
      break;
    }
    case 'error':
      next = { ...branch, status: 'error', error: message.message };
      break;
    default:
      return state;
  }
  const branches = state.branches.slice();
  branches[index] = next;
  return { ...state, branches };
}

/** A message for one of Compare strategies' panes, or null when it belongs to none. */
function onCompareMessage(state: AppState, message: FromWorker): AppState | null {
  if (!('id' in message) || message.id === undefined) return null;
  const index = state.compare.findIndex((c) => c.requestId === message.id);
  if (index < 0) return null;
  const pane = state.compare[index];
  let next: ComparePane;
  switch (message.type) {
    case 'started':
      next = { ...pane, promptIds: message.promptIds, seed: message.seed };
      break;
    case 'token': {
      const token: RunToken = { id: message.tokenId, text: message.text };
      if (message.inspection) token.inspection = message.inspection;
      next = { ...pane, tokens: [...pane.tokens, token] };
      break;
    }
    case 'beam':
      if (message.event.type !== 'done') return state;
      next = { ...pane, beamLogprob: message.event.ranking[0]?.logprob ?? null };
      break;
    case 'done': {
      const reason = message.stats.finishReasons[0] ?? null;
      next = { ...pane, status: reason === 'abort' ? 'stopped' : 'done', finishReason: reason };
      break;
    }
    case 'error':
      next = { ...pane, status: 'error', error: message.message };
      break;
    default:
      return state;
  }
  const compare = state.compare.slice();
  compare[index] = next;
  return { ...state, compare };
}

function onMessage(state: AppState, message: FromWorker): AppState {
  const { model, run } = state;
  const forBranch = onBranchMessage(state, message) ?? onCompareMessage(state, message);
  if (forBranch) return forBranch;
  switch (message.type) {
    case 'memory':
      return { ...state, memory: { tensors: message.tensors, bytes: message.bytes } };
    case 'attention':
      if (message.id !== state.attention.requestId) return state;
      return { ...state, attention: { ...state.attention, status: 'done', attention: { ...message } } };
    case 'lens':
      if (message.id !== state.lens.requestId) return state;
      return { ...state, lens: { ...state.lens, status: 'done', lens: message.layers } };
    case 'backend':
      return { ...state, backend: message.info, workerError: null };
    case 'load-progress':
      if (message.id !== model.requestId) return state;
      return { ...state, model: { ...model, progress: message.progress } };
    case 'loaded':
      if (message.id !== model.requestId) return state;
      return {
        ...state,
        latest: 'load',
        earlierModel: state.earlierModel ?? (model.info && hasOutputs(state) ? modelName(model.info) : null),
        model: { ...model, status: 'ready', info: message.model, loadMs: message.loadMs, cacheNote: message.cacheNote ?? null },
      };
    case 'started':
      if (message.id !== run.requestId) return state;
      return { ...state, run: { ...run, promptIds: message.promptIds, seed: message.seed } };
    case 'beam':
      if (message.id !== run.requestId || !run.beamTree) return state;
      return { ...state, run: { ...run, beamTree: beamTreeReducer(run.beamTree, message.event) } };
    case 'token': {
      if (message.id !== run.requestId || !isActive(run)) return state;
      const outputs = run.outputs.slice();
      const tokens = run.tokens.slice();
      while (outputs.length <= message.sequence) outputs.push('');
      while (tokens.length <= message.sequence) tokens.push([]);
      outputs[message.sequence] += message.text;
      const token: RunToken = { id: message.tokenId, text: message.text };
      if (message.inspection) token.inspection = message.inspection;
      tokens[message.sequence] = [...tokens[message.sequence], token];
      return {
        ...state,
        run: {
          ...run,
          outputs,
          tokens,
          tokenCount: run.tokenCount + 1,
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
        latest: 'run',
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
        if (message.kept)
          return { ...state, latest: 'load', model: { ...model, status: 'ready', info: message.kept, error: message.message, askedBytes } };
        return {
          ...state,
          latest: 'load',
          model: { ...model, status: 'error', info: null, loadMs: null, error: message.message, askedBytes },
        };
      }
      if (message.phase === 'generate' && message.id === run.requestId) {
        return { ...state, latest: 'run', run: { ...run, status: 'error', error: message.message } };
      }
      if (message.phase === 'backend') return { ...state, workerError: message.message };
      if (message.phase === 'analyze') {
        const key = message.id === state.attention.requestId ? 'attention' : message.id === state.lens.requestId ? 'lens' : null;
        return key ? { ...state, [key]: { ...state[key], status: 'error', error: message.message } } : state;
      }
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
  const decoded = run.tokenCount - run.firstStepTokens;
  if (seconds <= 0 || decoded <= 0) return null;
  return decoded / seconds;
}
