/**
 * Threads for the matrix kernels (matmul.wat) and attention (decode.wat): helper workers that share
 * the matrix store's WebAssembly memory (SharedArrayBuffer) and each compute a slice of the output
 * channels of every product, and a slice of the heads of every attention (the KV caches that lease
 * their memory from the store: src/backend/simd/attention.ts). The calling thread (the model's worker in the browser, the process in Node) writes the
 * product's arguments into a small shared control array, wakes the helpers with Atomics.notify,
 * computes its own slice, and waits (Atomics.wait) until every helper has counted itself done. No
 * message is posted per product and nothing is allocated per product.
 *
 * Slices are whole blocks of 32 output channels, the blocks one call over all of N would use, and
 * whole heads (each head's scores, softmax and weighted sum are one thread's, as they are on one),
 * so every output is the same sum in the same order at any thread count: results are bit-identical.
 *
 * A helper joins once it has started (a worker starts asynchronously, and the browser may not start
 * a nested worker while its parent blocks): until all have, the caller computes every product
 * alone. `running` says how many threads really take part.
 */

/** What a helper receives once, at its start. */
interface HelperStart {
  module: WebAssembly.Module;
  /** decode.wat's shared-memory build (attention), or null where it cannot run. */
  attention: WebAssembly.Module | null;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** This helper's slice: 1..threads-1 (the caller takes slice 0). */
  index: number;
  threads: number;
}

/** Slots of the control array (Int32Array over its own SharedArrayBuffer). */
const GENERATION = 0; // incremented by the caller for each product: what the helpers wait on
const DONE = 1; // helpers finished with the current product
const READY = 2; // helpers started and waiting
const OP = 3; // which kernel (OP_*), or OP_EXIT
const N_SLOT = 4; // output channels of the current product
const ARGS = 5; // the kernel's arguments before nFrom, nTo, or attention's (at most 10)
const CONTROL_INTS = ARGS + 10;

const OP_EXIT = 0;
const OP_Q8 = 1;
const OP_F16 = 2;
const OP_ATTEND = 3;

/**
 * Milliseconds a thread polls a shared counter before sleeping in Atomics.wait. Products come tens
 * of µs apart in a decode step, and a wake from Atomics.wait can take longer than a product
 * (Chromium): a helper that slept between products would make every product wait for it. The
 * helpers repeat the number as a literal (helperMain).
 */
const SPIN_MS = 2;

/** Output channels [from, to) of slice `index` of `threads`, in whole blocks of 32. */
export function channelSlice(N: number, index: number, threads: number): [number, number] {
  const blocks = Math.ceil(N / 32);
  const from = Math.floor((blocks * index) / threads) * 32;
  const to = Math.min(N, Math.floor((blocks * (index + 1)) / threads) * 32);
  return [Math.min(from, N), to];
}

/**
 * A helper's whole life. Its source text runs in the worker (Function.prototype.toString), so it
 * refers to nothing outside itself: the constants are repeated as literals.
 */
function helperMain(start: HelperStart): void {
  const { module, attention, memory, control, index, threads } = start;
  type Kernels = Record<string, (...args: number[]) => void>;
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as Kernels;
  const heads = attention && (new WebAssembly.Instance(attention, { env: { memory } }).exports as Kernels);
  const c = new Int32Array(control);
  const f = new Float32Array(control);
  let seen = Atomics.load(c, 0);
  Atomics.add(c, 2, 1);
  for (;;) {
    // Poll for 2 ms (checking the clock every 1024 polls) before sleeping: a decode step's products
    // come tens of µs apart, and waking from Atomics.wait can take longer than the product.
    for (let spin = 0, until = performance.now() + 2; Atomics.load(c, 0) === seen; spin++) {
      if ((spin & 1023) === 1023 && performance.now() > until) break;
    }
    Atomics.wait(c, 0, seen);
    seen = Atomics.load(c, 0);
    const op = c[3];
    if (op === 0) return;
    if (op === 3) {
      // attention of one query over heads [h0, h1): args q, k, v, scores, out, S, H, D, headStride, scale
      const [q, k, v, p, out, S, H, D, headStride] = [c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13]];
      const h0 = Math.floor((H * index) / threads);
      const h1 = Math.floor((H * (index + 1)) / threads);
      if (heads && h0 < h1) {
        const ph = p + 4 * h0 * S;
        heads.scores(q + 4 * h0 * D, k + h0 * headStride, ph, S, h1 - h0, D, headStride, f[14]);
        heads.softmax(ph, S, h1 - h0);
        heads.weighted(ph, v + h0 * headStride, out + 4 * h0 * D, S, h1 - h0, D, headStride);
      }
      if (Atomics.add(c, 1, 1) === threads - 2) Atomics.notify(c, 1);
      continue;
    }
    const N = c[4];
    const blocks = Math.ceil(N / 32);
    const from = Math.min(N, Math.floor((blocks * index) / threads) * 32);
    const to = Math.min(N, Math.floor((blocks * (index + 1)) / threads) * 32);
    if (from < to) {
      if (op === 1) kernels.q8_matmul(c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], N, c[13], from, to);
      else kernels.f16_matmul(c[5], c[6], c[7], c[8], c[9], N, c[10], from, to);
    }
    if (Atomics.add(c, 1, 1) === threads - 2) Atomics.notify(c, 1);
  }
}

/** A started helper, however this engine runs workers. */
interface Helper {
  terminate(): void;
}

interface NodeWorkerThreads {
  Worker: new (source: string, options: { eval: true }) => { postMessage(data: unknown): void; unref(): void; terminate(): unknown };
}

/** Starts a helper: a Web Worker from a blob: URL in the browser, a worker_threads Worker in Node; null where neither exists. */
function startHelper(start: HelperStart): Helper | null {
  const body = `const helperMain = ${helperMain.toString()};`;
  const nodeThreads = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.(
    'node:worker_threads',
  ) as NodeWorkerThreads | undefined;
  if (nodeThreads) {
    const worker = new nodeThreads.Worker(
      `${body}\nrequire('node:worker_threads').parentPort.once('message', (start) => helperMain(start));`,
      { eval: true },
    );
    worker.unref(); // a helper never keeps the process alive
    worker.postMessage(start);
    return worker as Helper;
  }
  if (typeof Worker !== 'function' || typeof Blob !== 'function') return null;
  const url = URL.createObjectURL(
    new Blob([`${body}\nself.onmessage = (event) => { self.onmessage = null; helperMain(event.data); };`], { type: 'text/javascript' }),
  );
  const worker = new Worker(url);
  URL.revokeObjectURL(url); // the worker has its script once it starts; the URL need not outlive this call
  worker.postMessage(start);
  return worker;
}

/** Whether this engine can share a WebAssembly memory between threads (SharedArrayBuffer: cross-origin isolated pages, Node). */
export function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer !== 'function') return false;
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/** The two kernels as the caller's own instance exports them (matmul.wat). */
export interface SliceKernels {
  q8_matmul(...args: [number, number, number, number, number, number, number, number, number, number, number, number]): void;
  f16_matmul(...args: [number, number, number, number, number, number, number, number, number]): void;
}

/** Attention's three kernels as an instance of decode.wat exports them. */
export interface HeadKernels {
  scores(q: number, k: number, out: number, S: number, H: number, D: number, headStride: number, scale: number): void;
  softmax(p: number, S: number, H: number): void;
  weighted(w: number, v: number, out: number, S: number, H: number, D: number, headStride: number): void;
}

/** Heads [from, to) of slice `index` of `threads`. */
export function headSlice(H: number, index: number, threads: number): [number, number] {
  return [Math.floor((H * index) / threads), Math.floor((H * (index + 1)) / threads)];
}

export class MatmulThreads {
  /** Threads asked for, the caller included. */
  readonly threads: number;
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_INTS));
  private readonly controlFloats = new Float32Array(this.control.buffer);
  private helpers: Helper[] = [];
  /** The caller's instance of decode.wat's shared build over the memory (slice 0 of attention), or null. */
  private readonly heads: HeadKernels | null;

  /**
   * `module`: a shared-memory build of matmul.wat; `memory`: the shared memory it runs over;
   * `own`: the caller's instance of it, which computes slice 0; `attention`: decode.wat's
   * shared-memory build, or null (then attend() always answers false).
   */
  constructor(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    threads: number,
    private readonly own: SliceKernels,
    attention: WebAssembly.Module | null = null,
  ) {
    this.threads = threads;
    this.heads = attention && (new WebAssembly.Instance(attention, { env: { memory } }).exports as unknown as HeadKernels);
    for (let index = 1; index < threads; index++) {
      const helper = startHelper({ module, attention, memory, control: this.control.buffer as SharedArrayBuffer, index, threads });
      if (!helper) break;
      this.helpers.push(helper);
    }
  }

  /** Threads that take part in the next product, the caller included (1 until every helper has started). */
  get running(): number {
    return this.ready() ? this.threads : 1;
  }

  private ready(): boolean {
    return this.helpers.length > 0 && Atomics.load(this.control, READY) === this.helpers.length;
  }

  /**
   * q8_matmul over every thread, with its arguments (matmul.wat) but the slice; false, with nothing
   * done, while the helpers are not all running (the caller then computes it alone).
   */
  q8(
    q: number,
    params: number,
    M: number,
    Kp: number,
    w: number,
    scale: number,
    wsum: number,
    bias: number,
    N: number,
    out: number,
  ): boolean {
    if (!this.ready()) return false;
    const c = this.control;
    c[OP] = OP_Q8;
    c[N_SLOT] = N;
    c[ARGS] = q;
    c[ARGS + 1] = params;
    c[ARGS + 2] = M;
    c[ARGS + 3] = Kp;
    c[ARGS + 4] = w;
    c[ARGS + 5] = scale;
    c[ARGS + 6] = wsum;
    c[ARGS + 7] = bias;
    c[ARGS + 8] = out;
    this.wake();
    const [from, to] = channelSlice(N, 0, this.threads);
    if (from < to) this.own.q8_matmul(q, params, M, Kp, w, scale, wsum, bias, N, out, from, to);
    this.waitForHelpers();
    return true;
  }

  /** f16_matmul over every thread, as q8() does it. */
  f16(x: number, M: number, Kp: number, w: number, bias: number, N: number, out: number): boolean {
    if (!this.ready()) return false;
    const c = this.control;
    c[OP] = OP_F16;
    c[N_SLOT] = N;
    c[ARGS] = x;
    c[ARGS + 1] = M;
    c[ARGS + 2] = Kp;
    c[ARGS + 3] = w;
    c[ARGS + 4] = bias;
    c[ARGS + 5] = out;
    this.wake();
    const [from, to] = channelSlice(N, 0, this.threads);
    if (from < to) this.own.f16_matmul(x, M, Kp, w, bias, N, out, from, to);
    this.waitForHelpers();
    return true;
  }

  /**
   * Attention of one query (decode.wat's scores, softmax, weighted; arguments as theirs, over all H
   * heads) with the heads split over every thread; false, with nothing done, while the helpers are
   * not all running or there is no attention build (the caller then runs it alone).
   */
  attend(
    q: number,
    k: number,
    v: number,
    scores: number,
    out: number,
    S: number,
    H: number,
    D: number,
    headStride: number,
    scale: number,
  ): boolean {
    const heads = this.heads;
    if (!heads || !this.ready()) return false;
    const c = this.control;
    c[OP] = OP_ATTEND;
    c[ARGS] = q;
    c[ARGS + 1] = k;
    c[ARGS + 2] = v;
    c[ARGS + 3] = scores;
    c[ARGS + 4] = out;
    c[ARGS + 5] = S;
    c[ARGS + 6] = H;
    c[ARGS + 7] = D;
    c[ARGS + 8] = headStride;
    this.controlFloats[ARGS + 9] = scale;
    this.wake();
    const [h0, h1] = headSlice(H, 0, this.threads);
    if (h0 < h1) {
      heads.scores(q, k, scores, S, h1 - h0, D, headStride, scale);
      heads.softmax(scores, S, h1 - h0);
      heads.weighted(scores, v, out, S, h1 - h0, D, headStride);
    }
    this.waitForHelpers();
    return true;
  }

  /** Starts the product whose arguments are in the control array. */
  private wake(): void {
    Atomics.store(this.control, DONE, 0);
    Atomics.add(this.control, GENERATION, 1); // publishes the arguments written before it
    Atomics.notify(this.control, GENERATION);
  }

  private waitForHelpers(): void {
    const c = this.control;
    const helpers = this.threads - 1;
    for (let spin = 0, until = performance.now() + SPIN_MS; Atomics.load(c, DONE) < helpers; spin++) {
      if ((spin & 1023) === 1023 && performance.now() > until) break;
    }
    for (let done = Atomics.load(c, DONE); done < helpers; done = Atomics.load(c, DONE)) Atomics.wait(c, DONE, done);
  }

  /** Ends the helpers (the caller then computes alone). */
  stop(): void {
    if (this.helpers.length === 0) return;
    const c = this.control;
    c[OP] = OP_EXIT;
    Atomics.store(c, READY, -1); // never ready again
    Atomics.add(c, GENERATION, 1);
    Atomics.notify(c, GENERATION);
    for (const helper of this.helpers) helper.terminate();
    this.helpers = [];
  }
}
