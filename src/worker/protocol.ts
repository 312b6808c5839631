/**
 * The one message protocol between the page and the generation worker. Both sides import these
 * types, so a message that one side sends and the other does not understand is a type error.
 * Only plain, structured-cloneable data crosses (plus File objects for local checkpoints).
 */
import type { BackendMemory, PrecisionRequest } from '../model/memoryPlan';
import type { LoadProgress } from '../sources/progress';
import type { ModelSpec } from '../sources/spec';

export type { BackendMemory, LoadProgress, ModelSpec, PrecisionRequest };

/** The sampling settings, with Hugging Face `generate()` names and meanings. */
export interface GenerateOptions {
  max_new_tokens: number;
  do_sample: boolean;
  temperature: number;
  top_k: number;
  top_p: number;
  repetition_penalty: number;
  num_return_sequences: number;
  seed: number;
}

// ---- page → worker ----

export interface InitRequest {
  type: 'init';
  /** `?backend=` value, or undefined for automatic choice. */
  backend?: string;
  /** The page's address (document.baseURI): wasm binaries and the embedded model resolve against it. */
  pageUrl: string;
  /** A Hugging Face hub mirror; undefined = huggingface.co. */
  hubUrl?: string;
}
export interface LoadRequest {
  type: 'load';
  id: number;
  spec: ModelSpec;
  /** Precision of the weights' matrices (`?dtype=`): 'auto' when absent. */
  precision?: PrecisionRequest;
}
export interface GenerateRequest { type: 'generate'; id: number; prompt: string; options: GenerateOptions }
export interface AbortRequest { type: 'abort'; id: number }

export type ToWorker = InitRequest | LoadRequest | GenerateRequest | AbortRequest;

// ---- worker → page ----

export interface BackendInfo {
  backend: string;
  /** Why this is not WebGPU on a hardware adapter; '' when it is. */
  reason: string;
  adapter?: string;
  /** Threads in tfjs-wasm's pool, when running on wasm (1 = single-threaded). */
  threads?: number;
  /** The page is cross-origin isolated (wasm threads available). */
  crossOriginIsolated: boolean;
  /** What this backend offers for the memory plan (WebGPU buffer limits, navigator.deviceMemory). */
  memory?: BackendMemory;
}
export interface BackendMessage { type: 'backend'; info: BackendInfo }

export interface LoadProgressMessage { type: 'load-progress'; id: number; progress: LoadProgress }

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
  /** Bytes the memory plan expected: weights as kept on this backend, and the whole (KV cache at full context, activations). */
  weightBytes?: number;
  plannedBytes?: number;
}
/** cacheNote: the model loaded but its cache could not be used or written (e.g. storage quota), in words. */
export interface LoadedMessage { type: 'loaded'; id: number; model: ModelInfo; loadMs: number; cacheNote?: string }

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
}

export type FinishReason = 'length' | 'eos' | 'stop' | 'abort';

export interface GenerationStats {
  promptTokens: number;
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
export interface DoneMessage { type: 'done'; id: number; stats: GenerationStats }

export type ErrorPhase = 'backend' | 'load' | 'generate';
export interface ErrorMessage {
  type: 'error';
  /** The request that failed; absent for failures outside a request (backend start, device loss). */
  id?: number;
  phase: ErrorPhase;
  /** Readable: what happened and what to do. */
  message: string;
}

export type FromWorker = BackendMessage | LoadProgressMessage | LoadedMessage | TokenMessage | DoneMessage | ErrorMessage;
