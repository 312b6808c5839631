/**
 * What the generation worker does with each message, as a class whose surroundings are injected
 * (posting, starting a backend, loading a model), so it runs under a unit test as it runs in the
 * worker. Its state lives in two owners: the ModelHost (the model, and a lease for every use of
 * it) and the RunRegistry (requests by id, aborts, kept KV caches).
 *
 * Concurrency, as the protocol states it (GenerateRequest.lane): generations in the 'queue' lane
 * run one at a time, in the order they were asked for; 'beside' (branches) and analyses start at
 * once, beside them. Loads run one at a time, beside everything: a load is a transaction, so the
 * current model keeps answering until the new one is ready, and stays if the new one fails. A new
 * load supersedes a load in progress and cancels running analyses; generations finish on the
 * model they started with, which is freed when the last of them ends.
 */
import { generate } from '../generation';
import { nextMacrotask } from '../model/macrotask';
import { kvCacheSize } from '../model/memoryPlan';
import type { GPT2 } from '../model/gpt2';
import type { KVCache } from '../model/kvCache';
import type { LoadedModel } from '../sources/loadModel';
import { DownloadConfirmationError, isAbortError } from '../sources/errors';
import { describeError } from './errors';
import { ModelHost, type Lease } from './modelHost';
import { modelInfo } from './modelInfo';
import type {
  AnalyzeRequest,
  BackendInfo,
  FromWorker,
  GenerateRequest,
  InitRequest,
  LoadProgress,
  LoadRequest,
  ModelInfo,
  ToWorker,
} from './protocol';
import { RunRegistry } from './runRegistry';

/** What a load hands the session: the model and what the page is told about it. */
export type SessionLoad = Pick<LoadedModel, 'model' | 'label' | 'cacheNote' | 'precision' | 'precisionReason' | 'memoryPlan'>;

export interface SessionEnvironment {
  post(message: FromWorker, transfer?: Transferable[]): void;
  /** Starts the backend `request` names (undefined: the automatic choice); `onDeviceLost` is called if its device goes. */
  startBackend(request: string | undefined, init: InitRequest, onDeviceLost: (why: string) => void): Promise<BackendInfo>;
  /** Loads the model `request` names on the running backend (`backend` describes it). */
  loadModel(
    request: LoadRequest,
    init: InitRequest,
    options: { signal: AbortSignal; onProgress: (progress: LoadProgress) => void; backend: BackendInfo },
  ): Promise<SessionLoad>;
  /** What tfjs holds now (tf.memory()). */
  memory(): { tensors: number; bytes: number };
}

const NO_MODEL = 'No model is loaded yet: wait for it to finish loading, or load one above.';

/** Runs tasks one at a time, in the order they were added; a failed task does not stop the next. */
class Serial {
  #tail: Promise<void> = Promise.resolve();

  add(task: () => Promise<void>): Promise<void> {
    this.#tail = this.#tail.then(task, task);
    return this.#tail;
  }
}

/** The model in use, with what the page was told about it and the request that loaded it (replayed after a device loss). */
interface Loaded {
  model: GPT2;
  info: ModelInfo;
  request: LoadRequest;
}

export class WorkerSession {
  readonly #env: SessionEnvironment;
  readonly #host = new ModelHost<GPT2>();
  readonly #runs = new RunRegistry<KVCache>();
  readonly #generations = new Serial();
  readonly #loads = new Serial();
  #init: InitRequest | null = null;
  /** The running backend, once one started; null while none runs. */
  #backend: Promise<BackendInfo | null> = Promise.resolve(null);
  #loaded: Loaded | null = null;
  /** The load in progress, which a newer load supersedes. */
  #loading: AbortController | null = null;

  constructor(env: SessionEnvironment) {
    this.#env = env;
  }

  /** Leases held now and replaced models not yet freed: 0 and 0 once every run has ended (for tests). */
  get holds(): { leases: number; retired: number; requests: number } {
    return { leases: this.#host.leaseCount, retired: this.#host.retiredCount, requests: this.#runs.active };
  }

  /** Handles one message from the page; the promise settles when the work it started has ended (for tests). */
  receive(message: ToWorker): Promise<void> {
    switch (message.type) {
      case 'init':
        this.#init = message;
        this.#backend = this.#startBackend(message.backend);
        return this.#backend.then(() => undefined);
      case 'load':
        this.#loading?.abort();
        this.#host.cancel('another model is loading');
        return this.#loads.add(() => this.#load(message));
      case 'generate':
        this.#runs.arrive(message.id);
        return message.lane === 'beside' ? this.#generate(message) : this.#generations.add(() => this.#generate(message));
      case 'analyze':
        this.#runs.arrive(message.id);
        return this.#analyze(message);
      case 'abort':
        this.#runs.abort(message.id);
        return Promise.resolve();
    }
  }

  async #startBackend(request: string | undefined, overrideReason?: string): Promise<BackendInfo | null> {
    try {
      const info = await this.#env.startBackend(request, this.#init!, (why) => this.#onDeviceLost(why));
      const told = overrideReason === undefined ? info : { ...info, reason: overrideReason };
      this.#env.post({ type: 'backend', info: told });
      return told;
    } catch (error) {
      this.#env.post({ type: 'error', phase: 'backend', message: describeError(error, 'backend') });
      return null;
    }
  }

  /** The browser took the GPU away: move to WebAssembly and load the same model there. */
  #onDeviceLost(why: string): void {
    const reason = `Not WebGPU because the WebGPU device was lost (${why}). Running on WebAssembly (tfjs wasm) instead.`;
    this.#env.post({ type: 'error', phase: 'backend', message: `${reason} Reloading the model…` });
    this.#host.lose('the GPU was lost');
    this.#runs.dropKept();
    const replay = this.#loaded?.request;
    this.#loaded = null;
    this.#backend = this.#startBackend('wasm', reason);
    if (replay) void this.#loads.add(() => this.#load(replay));
  }

  async #load(request: LoadRequest): Promise<void> {
    const backend = await this.#backend;
    if (!backend) {
      this.#env.post({
        type: 'error',
        id: request.id,
        phase: 'load',
        message: 'No compute backend is running, so no model can load (see the message above).',
      });
      return;
    }
    const controller = new AbortController();
    this.#loading = controller;
    const started = performance.now();
    try {
      const loaded = await this.#env.loadModel(request, this.#init!, {
        signal: controller.signal,
        onProgress: (progress) => this.#env.post({ type: 'load-progress', id: request.id, progress }),
        backend,
      });
      if (controller.signal.aborted) {
        loaded.model.dispose();
        return;
      }
      this.#runs.dropKept(); // they hold the old model's keys and values
      this.#host.replace(loaded.model, 'another model was loaded');
      const info = modelInfo(loaded.label, loaded.model.config, loaded);
      this.#loaded = { model: loaded.model, info, request };
      this.#env.post({
        type: 'loaded',
        id: request.id,
        model: info,
        loadMs: performance.now() - started,
        ...(loaded.cacheNote ? { cacheNote: loaded.cacheNote } : {}),
      });
      this.#postMemory();
    } catch (error) {
      // Superseded by a newer load: that one reports.
      if (controller.signal.aborted && isAbortError(error)) return;
      this.#env.post({
        type: 'error',
        id: request.id,
        phase: 'load',
        message: describeError(error, 'load'),
        ...(this.#loaded ? { kept: this.#loaded.info } : {}),
        ...(error instanceof DownloadConfirmationError ? { downloadBytes: error.bytes } : {}),
      });
    } finally {
      if (this.#loading === controller) this.#loading = null;
    }
  }

  async #generate(request: GenerateRequest): Promise<void> {
    const { id } = request;
    const lease = this.#host.lease('finish');
    if (!lease) {
      this.#runs.finish(id);
      this.#env.post({ type: 'error', id, phase: 'generate', message: NO_MODEL });
      return;
    }
    const signal = this.#runs.start(id, lease.signal);
    const post = (message: FromWorker): void => this.#env.post(message);
    try {
      const prefix = request.promptIds ? this.#prefixFor(request, request.promptIds, lease.model) : null;
      const reusedPositions = prefix?.length ?? 0;
      const tokens = generate(lease.model, request.promptIds ?? request.prompt, request.options, {
        signal,
        inspectTop: request.inspectTop,
        onStart: ({ promptIds, droppedPromptTokens, seed }) => post({ type: 'started', id, promptIds, droppedPromptTokens, seed }),
        ...(prefix ? { prefix } : {}),
        keepCache: (cache, rows) => this.#keepCache(id, cache, rows, lease),
        onBeam: (event) => post({ type: 'beam', id, event }),
      });
      let step = await tokens.next();
      while (!step.done) {
        const event = step.value;
        post({
          type: 'token',
          id,
          sequence: event.sequence,
          tokenId: event.tokenId,
          text: event.text,
          index: event.index,
          elapsedMs: event.elapsedMs,
          ...(event.inspection ? { inspection: event.inspection } : {}),
        });
        await nextMacrotask();
        step = await tokens.next();
      }
      const result = step.value;
      post({
        type: 'done',
        id,
        stats: {
          ...result.timings,
          promptTokens: result.promptIds.length,
          reusedPositions: result.droppedPromptTokens > 0 ? 0 : reusedPositions,
          droppedPromptTokens: result.droppedPromptTokens,
          finishReasons: result.sequences.map((s) => s.finishReason),
          warnings: result.warnings,
        },
      });
    } catch (error) {
      post({ type: 'error', id, phase: 'generate', message: describeError(error, 'generate') });
    } finally {
      this.#runs.finish(id);
      lease.release();
      this.#postMemory();
    }
  }

  /**
   * For a branch: a fork of the kept cache of the run it forks from, holding the first
   * `forkFrom.position` prompt ids, when that run's row starts with them and the forced token
   * follows; otherwise null (the branch prefills its prompt).
   */
  #prefixFor(request: GenerateRequest, promptIds: number[], model: GPT2): KVCache | null {
    const from = request.forkFrom;
    if (!from) return null;
    const kept = this.#runs.kept(from.request);
    const row = kept?.rows[from.sequence];
    const shared = from.position;
    if (!kept || !row || shared < 1 || shared >= promptIds.length || row.length < shared) return null;
    for (let i = 0; i < shared; i++) if (row[i] !== promptIds[i]) return null;
    const capacity = Math.min(model.config.nPositions, promptIds.length + request.options.max_new_tokens);
    return kept.cache.fork(from.sequence, shared, capacity);
  }

  /** Keeps a finished run's cache for branches, if its model is still the one in use. */
  #keepCache(id: number, cache: KVCache, rows: number[][], lease: Lease<GPT2>): void {
    if (lease.model !== this.#host.model) {
      cache.dispose(); // the model changed while this run finished
      return;
    }
    const bytes = kvCacheSize(lease.model.config, cache.capacity, cache.batchSize);
    this.#runs.keep(id, { cache, rows, bytes });
  }

  /** An analysis pass on demand (one layer's attention, or the logit lens), beside any generation; a load or Stop cancels it. */
  async #analyze(request: AnalyzeRequest): Promise<void> {
    const { id } = request;
    const lease = this.#host.lease('cancel');
    if (!lease) {
      this.#runs.finish(id);
      this.#env.post({ type: 'error', id, phase: 'analyze', message: NO_MODEL });
      return;
    }
    const signal = this.#runs.start(id, lease.signal);
    try {
      if (request.analysis === 'attention') {
        const layer = request.layer ?? 0;
        const probabilities = await lease.model.attentionAt(request.ids, layer, { signal }); // [H, T, T]
        const [heads, length] = probabilities.shape;
        try {
          const data = (await probabilities.data()) as Float32Array;
          this.#env.post({ type: 'attention', id, layer, heads, length, probabilities: data }, [data.buffer]);
        } finally {
          probabilities.dispose();
        }
      } else {
        this.#env.post({ type: 'lens', id, layers: await lease.model.logitLens(request.ids, 5, { signal }) });
      }
    } catch (error) {
      const message = signal.aborted ? stoppedMessage(signal) : describeError(error, 'analyze');
      this.#env.post({ type: 'error', id, phase: 'analyze', message });
    } finally {
      this.#runs.finish(id);
      lease.release();
      this.#postMemory();
    }
  }

  /** Tells the page what tfjs holds now (after a load, a generation or an analysis). */
  #postMemory(): void {
    const { tensors, bytes } = this.#env.memory();
    this.#env.post({ type: 'memory', tensors, bytes });
  }
}

/** Why an analysis stopped, from its signal's reason ('another model is loading', 'Stop was pressed'). */
function stoppedMessage(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error && reason.message ? reason.message : 'it was cancelled';
  return `The analysis was stopped before it finished (${why}). Ask for it again to see it.`;
}
