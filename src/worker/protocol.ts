/**
 * The one message protocol between the page and the generation worker. Both sides import these
 * types, so a message that one side sends and the other does not understand is a type error.
 * Only plain, structured-cloneable data crosses (plus File objects for local checkpoints).
 */
import type { BeamEvent } from '../generation/beamSearch';
import type { TokenInspection } from '../generation/generate';
import type { GenerationOptions } from '../generation/options';
import type { FinishReason } from '../generation/stopping';
import type { LensEntry } from '../model/gpt2';
import type { BackendMemory, PrecisionRequest } from '../model/memoryPlan';
import type { LoadProgress } from '../sources/progress';
import type { ModelSpec } from '../sources/spec';

export type { BackendMemory, BeamEvent, FinishReason, LensEntry, LoadProgress, ModelSpec, PrecisionRequest, TokenInspection };

/** The sampling settings the page sends, every one given: Hugging Face `generate()` names and meanings (generation/options.ts). */
export type GenerateOptions = Required<
  Pick<
    GenerationOptions,
    | 'max_new_tokens'
    | 'do_sample'
    | 'repetition_penalty'
    | 'no_repeat_ngram_size'
    | 'temperature'
    | 'top_h'
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
    | 'seed'
  >
>;

// ---- page → worker ----

/** The first message: which backend to start and where the page lives. */
export interface InitRequest {
  type: 'init';
  /** `?backend=` value, or undefined for automatic choice. */
  backend?: string;
  /** The page's address (document.baseURI): wasm binaries and the embedded model resolve against it. */
  pageUrl: string;
  /** A Hugging Face hub mirror; undefined = huggingface.co. */
  hubUrl?: string;
  /** `?threads=`: threads for WebAssembly (tfjs-wasm's pool and the q8 / f16 kernels); undefined = every core but the page's. */
  threads?: number;
}
/** Load a model, replacing the one in use once it is ready (a newer load supersedes this one; running analyses are stopped). */
export interface LoadRequest {
  type: 'load';
  /** The request's id: its load-progress, loaded and error messages carry it. */
  id: number;
  /** What to load: the built-in model, a hub repository, a folder URL or files from disk. */
  spec: ModelSpec;
  /** The hub to download from (one the person chose or confirmed); undefined = init's hubUrl. */
  hubUrl?: string;
  /** Stop before a download of more than this many bytes and ask (error with downloadBytes): loads a link started. */
  askAboveBytes?: number;
  /** Precision of the weights' matrices (`?dtype=`): 'auto' when absent. */
  precision?: PrecisionRequest;
}
/** Generate from a prompt (a run), or continue a branch from given ids. */
export interface GenerateRequest {
  type: 'generate';
  /** The request's id: its started, token, done and error messages carry it; abort names it. */
  id: number;
  /** The prompt text (tokenized by the worker), or for a branch only the text shown before its tokens. */
  prompt: string;
  /** The sampling settings, every one given. */
  options: GenerateOptions;
  /** Send a TokenInspection with this many top logits with every token (the token inspector); 0 or absent: none. */
  inspectTop?: number;
  /** A branch: the model reads these ids instead of `prompt` (which is then only shown). */
  promptIds?: number[];
  /**
   * When it runs. 'queue' (the Generate button): after every earlier 'queue' generation has
   * ended, one at a time in the order asked. 'beside' (a branch): at once, beside any run still
   * streaming. Analyses always run beside; loads never wait for generations.
   */
  lane: 'queue' | 'beside';
  /**
   * The run whose kept KV cache holds this request's first `position` prompt ids: batch row
   * `sequence` of request `request`. The worker forks that cache instead of prefilling those
   * positions when it still keeps it and the row's ids match `promptIds`; otherwise it prefills.
   * Absent: no cache to fork (a run of its own prompt).
   */
  forkFrom?: ForkFrom;
}

/** Where a branch's prefix is cached: request `request`'s batch row `sequence`, its first `position` positions. */
export interface ForkFrom {
  /** The generate request whose cache was kept. */
  request: number;
  /** Its batch row (0-based: which of its num_return_sequences, 0 for a branch). */
  sequence: number;
  /** Positions of the prefix (the ids before the branch's forced token). */
  position: number;
}

/** An analysis pass over one sequence of ids, on demand. */
export interface AnalyzeRequest {
  type: 'analyze';
  /** The request's id: its attention, lens and error messages carry it; abort names it. */
  id: number;
  /** The token ids to read (1 to n_positions ids in the vocabulary). */
  ids: number[];
  /** 'attention': one layer's softmaxed attention, all heads; 'lens': every layer's top 5 at every position. */
  analysis: 'attention' | 'lens';
  /** 0-based, for 'attention'. */
  layer?: number;
}
/** Stops request `id` (a generation, a branch or an analysis) if it runs, or when it starts if it waits; other ids are ignored. */
export interface AbortRequest {
  type: 'abort';
  /** The request to stop. */
  id: number;
}

export type ToWorker = InitRequest | LoadRequest | GenerateRequest | AnalyzeRequest | AbortRequest;

// ---- worker → page ----

export interface BackendInfo {
  /** The tfjs backend running: 'webgpu', 'wasm', 'webgl' or 'cpu'. */
  backend: string;
  /** Why this is not WebGPU on a hardware adapter; '' when it is. */
  reason: string;
  /** The WebGPU adapter's name, on WebGPU. */
  adapter?: string;
  /** Threads in tfjs-wasm's pool, when running on wasm (1 = single-threaded). */
  threads?: number;
  /** The page is cross-origin isolated (wasm threads available). */
  crossOriginIsolated: boolean;
  /** What this backend offers for the memory plan (WebGPU buffer limits, navigator.deviceMemory). */
  memory?: BackendMemory;
}
export interface BackendMessage {
  type: 'backend';
  info: BackendInfo;
}

export interface LoadProgressMessage {
  type: 'load-progress';
  id: number;
  progress: LoadProgress;
}

export interface ModelInfo {
  /** A display name: "sherlock-gpt2", "gpt2-medium", a file name, ... */
  name: string;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  nPositions: number;
  vocabSize: number;
  parameters: number;
  /** The precision its matrices were loaded in ('f32', 'f16', 'q8'), and why (auto's reason). */
  precision?: string;
  precisionReason?: string;
  /** Threads the q8 / f16 products run on (the kernels' own, this worker included); absent where tfjs runs them (f32). */
  threads?: number;
  /** Bytes the memory plan expected: weights as kept on this backend, and the whole (KV cache at full context, activations). */
  weightBytes?: number;
  plannedBytes?: number;
}
/** cacheNote: the model loaded but its cache could not be used or written (e.g. storage quota), in words. */
export interface LoadedMessage {
  type: 'loaded';
  id: number;
  model: ModelInfo;
  loadMs: number;
  cacheNote?: string;
}

/** A generation has tokenized its prompt and is about to run the model. */
export interface StartedMessage {
  type: 'started';
  id: number;
  /** The prompt ids the model reads (the oldest ones dropped if the prompt did not fit; <|endoftext|> for an empty prompt). */
  promptIds: number[];
  droppedPromptTokens: number;
  /** The sampling seed; null for greedy decoding. */
  seed: number | null;
}

export interface TokenMessage {
  type: 'token';
  id: number;
  /** Which of the num_return_sequences this token belongs to (0-based). */
  sequence: number;
  tokenId: number;
  /** The text this token adds (may be '' while a multi-byte character is incomplete). */
  text: string;
  /** 0-based index of the new token within its sequence. */
  index: number;
  /** Milliseconds since the generate request started. */
  elapsedMs: number;
  /** With the request's inspectTop: the step's logits summary, the token's raw log-probability, rank and draw. */
  inspection?: TokenInspection;
}

/**
 * Beam search's progress (a generation with num_beams > 1): one per step, then one with the final
 * ranking, sent before the chosen sequences' tokens. A live beam tree draws them.
 */
export interface BeamMessage {
  type: 'beam';
  /** The generate request searching. */
  id: number;
  /** The step's candidates (kept, pruned, finished) and finished hypotheses, or the final ranking (generation/beamSearch.ts). */
  event: BeamEvent;
}

export interface GenerationStats {
  promptTokens: number;
  /** Prompt positions whose keys and values came from an earlier run's cache (a branch), not a prefill. */
  reusedPositions: number;
  droppedPromptTokens: number;
  prefillMs: number;
  firstTokenMs: number;
  decodeTokensPerSecond: number;
  totalMs: number;
  newTokens: number;
  finishReasons: FinishReason[];
  /** Adjustments the generator made and the person should know of (prompt cut to fit the context, ...). */
  warnings: string[];
}
export interface DoneMessage {
  type: 'done';
  id: number;
  stats: GenerationStats;
}

/** One layer's attention probabilities for an AnalyzeRequest. */
export interface AttentionMessage {
  type: 'attention';
  id: number;
  layer: number;
  heads: number;
  /** Tokens (T): queries and keys. */
  length: number;
  /** [head][query][key], row-major; each query's row sums to 1 and is 0 past the query. */
  probabilities: Float32Array;
}

/** The logit lens for an AnalyzeRequest: [layer][position] → the 5 likeliest next tokens after that layer. */
export interface LensMessage {
  type: 'lens';
  id: number;
  layers: LensEntry[][][];
}

/** What tfjs holds after a generation or an analysis (tf.memory()): a leak shows as a count that keeps growing. */
export interface MemoryMessage {
  type: 'memory';
  tensors: number;
  bytes: number;
}

export type ErrorPhase = 'backend' | 'load' | 'generate' | 'analyze';
export interface ErrorMessage {
  type: 'error';
  /** The request that failed; absent for failures outside a request (backend start, device loss). */
  id?: number;
  phase: ErrorPhase;
  /** Readable: what happened and what to do. */
  message: string;
  /** phase 'load': the model still loaded and answering (a failed load changes nothing); absent when there is none. */
  kept?: ModelInfo;
  /** phase 'load': the load stopped before a download of this many bytes, to ask first (LoadRequest.askAboveBytes). */
  downloadBytes?: number;
}

export type FromWorker =
  | BackendMessage
  | LoadProgressMessage
  | LoadedMessage
  | StartedMessage
  | TokenMessage
  | BeamMessage
  | DoneMessage
  | ErrorMessage
  | AttentionMessage
  | LensMessage
  | MemoryMessage;
