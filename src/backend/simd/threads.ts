/**
 * Threads for the matrix kernels (matmul.wat) and attention (decode.wat): helper workers that share
 * the matrix store's WebAssembly memory (SharedArrayBuffer) and take part in every product (its
 * output channels) and every attention (its heads) over the KV caches that lease their memory from
 * the store (src/backend/simd/attention.ts). The calling thread (the model's worker in the browser,
 * the process in Node) writes the work's arguments into a small shared control array, wakes the
 * helpers with Atomics.notify, and then every thread, the caller included, claims chunks of the
 * work from a shared ticket (compareExchange) until none are left; the caller then waits
 * (Atomics.wait) for the chunks still running elsewhere. No message is posted and nothing is
 * allocated per product.
 *
 * Claimed chunks, not fixed slices, so a helper the system has not scheduled (a busy machine: more
 * runnable threads than cores) only leaves its chunks to the others: the caller never waits for a
 * helper that has not started, only for a chunk a helper is in the middle of. (Fixed halves made
 * every product wait a whole scheduler time slice for the descheduled half: 10× slower under load.)
 *
 * A chunk is whole blocks of 32 output channels, the blocks one call over all of N would use, or
 * whole heads (a head's scores, softmax and weighted sum are one thread's, as they are on one), so
 * every output is the same sum in the same order whoever computes it: results are bit-identical at
 * any thread count.
 *
 * The ticket packs the work's number (8 bits), its chunk count (12) and the next chunk (12) in one
 * int32: a helper that read the ticket of finished work and claims late finds it spent (next =
 * chunks) or changed (the compareExchange fails). The caller changes the arguments only once every
 * chunk of the work before is finished, and a helper reads them after its claim.
 */

/** What a helper receives once, at its start. */
interface HelperStart {
  module: WebAssembly.Module;
  /** decode.wat's shared-memory build (attention), or null where it cannot run. */
  attention: WebAssembly.Module | null;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
}

/** Slots of the control array (Int32Array over its own SharedArrayBuffer). */
const GENERATION = 0; // incremented by the caller for each piece of work: what sleeping helpers wait on
const FINISHED = 1; // chunks of the current work finished
const READY = 2; // helpers started and waiting
const OP = 3; // which kernel (OP_*), or OP_EXIT
const N_SLOT = 4; // output channels of the current product
const ARGS = 5; // the kernel's arguments before nFrom, nTo, or attention's (at most 10)
const TICKET = 15; // work number << 24 | chunks << 12 | next chunk
const CONTROL_INTS = 16;

const OP_EXIT = 0;
const OP_Q8 = 1;
const OP_F16 = 2;
const OP_ATTEND = 3;

/** Chunks per thread of each piece of work: enough that a late or slow thread leaves little to wait for. */
const CHUNKS_PER_THREAD = 4;

/**
 * Milliseconds a thread polls a shared counter before sleeping in Atomics.wait. Products come tens
 * of µs apart in a decode step, and a wake from Atomics.wait can take longer than a product
 * (Chromium): a helper that slept between products would join each one late. The helpers repeat
 * the number as a literal (helperMain).
 */
const SPIN_MS = 2;

/** Units [from, to) of chunk `i` of `chunks` over `units` (32-channel blocks, or heads). */
export function chunkUnits(units: number, i: number, chunks: number): [number, number] {
  return [Math.floor((units * i) / chunks), Math.floor((units * (i + 1)) / chunks)];
}

/** Output channels [from, to) of chunk `i` of `chunks` over N channels, in whole blocks of 32. */
export function channelSlice(N: number, i: number, chunks: number): [number, number] {
  const [b0, b1] = chunkUnits(Math.ceil(N / 32), i, chunks);
  return [Math.min(N, b0 * 32), Math.min(N, b1 * 32)];
}

/**
 * A helper's whole life. Its source text runs in the worker (Function.prototype.toString), so it
 * refers to nothing outside itself: the constants are repeated as literals (slots: 0 GENERATION,
 * 1 FINISHED, 2 READY, 3 OP, 4 N, 5.. ARGS, 15 TICKET).
 */
function helperMain(start: HelperStart): void {
  const { module, attention, memory, control } = start;
  type Kernels = Record<string, (...args: number[]) => void>; // a type: erased, nothing in the worker's text
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as Kernels;
  const heads = attention && (new WebAssembly.Instance(attention, { env: { memory } }).exports as Kernels);
  const c = new Int32Array(control);
  const f = new Float32Array(control);
  let seen = Atomics.load(c, 0);
  Atomics.add(c, 2, 1);
  for (;;) {
    // Poll for 2 ms (checking the clock every 1024 polls) before sleeping.
    for (let spin = 0, until = performance.now() + 2; Atomics.load(c, 0) === seen; spin++) {
      if ((spin & 1023) === 1023 && performance.now() > until) break;
    }
    Atomics.wait(c, 0, seen);
    seen = Atomics.load(c, 0);
    if (c[3] === 0) return;
    for (;;) {
      const ticket = Atomics.load(c, 15);
      const chunks = (ticket >>> 12) & 4095;
      const next = ticket & 4095;
      if (next >= chunks) break;
      if (Atomics.compareExchange(c, 15, ticket, ticket + 1) !== ticket) continue;
      // Chunk `next` of `chunks` of the work whose arguments are in the control array (written
      // inline: no named inner function, which a bundler may wrap in a helper this worker lacks).
      const op = c[3];
      if (op === 3) {
        // attention over heads [h0, h1): args q, k, v, scores, out, S, H, D, headStride, scale
        const S = c[10];
        const H = c[11];
        const D = c[12];
        const headStride = c[13];
        const h0 = Math.floor((H * next) / chunks);
        const h1 = Math.floor((H * (next + 1)) / chunks);
        if (heads && h0 < h1) {
          const ph = c[8] + 4 * h0 * S; // scores
          heads.scores(c[5] + 4 * h0 * D, c[6] + h0 * headStride, ph, S, h1 - h0, D, headStride, f[14]); // q, k
          heads.softmax(ph, S, h1 - h0);
          heads.weighted(ph, c[7] + h0 * headStride, c[9] + 4 * h0 * D, S, h1 - h0, D, headStride); // v, out
        }
      } else {
        const N = c[4];
        const blocks = Math.ceil(N / 32);
        const from = Math.min(N, Math.floor((blocks * next) / chunks) * 32);
        const to = Math.min(N, Math.floor((blocks * (next + 1)) / chunks) * 32);
        if (from < to && op === 1) kernels.q8_matmul(c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], N, c[13], from, to);
        else if (from < to) kernels.f16_matmul(c[5], c[6], c[7], c[8], c[9], N, c[10], from, to);
      }
      if (Atomics.add(c, 1, 1) + 1 === chunks) Atomics.notify(c, 1);
    }
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

export class MatmulThreads {
  /** Threads asked for, the caller included. */
  readonly threads: number;
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_INTS));
  private readonly controlFloats = new Float32Array(this.control.buffer);
  private helpers: Helper[] = [];
  /** The caller's instance of decode.wat's shared build over the memory (its attention chunks), or null. */
  private readonly heads: HeadKernels | null;
  /** The number of the current work (8 bits, in the ticket). */
  private work = 0;

  /**
   * `module`: a shared-memory build of matmul.wat; `memory`: the shared memory it runs over;
   * `own`: the caller's instance of it; `attention`: decode.wat's shared-memory build, or null
   * (then attend() always answers false).
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
      const helper = startHelper({ module, attention, memory, control: this.control.buffer as SharedArrayBuffer });
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
   * q8_matmul over every thread, with its arguments (matmul.wat) but the channel range; false, with
   * nothing done, while the helpers are not all running (the caller then computes it alone).
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
    this.run(OP_Q8, Math.ceil(N / 32), N, q, params, M, Kp, w, scale, wsum, bias, out);
    return true;
  }

  /** f16_matmul over every thread, as q8() does it. */
  f16(x: number, M: number, Kp: number, w: number, bias: number, N: number, out: number): boolean {
    if (!this.ready()) return false;
    this.run(OP_F16, Math.ceil(N / 32), N, x, M, Kp, w, bias, out, 0, 0, 0);
    return true;
  }

  /**
   * Attention of one query (decode.wat's scores, softmax, weighted; arguments as theirs, over all H
   * heads) with the heads shared by every thread; false, with nothing done, while the helpers are
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
    this.controlFloats[ARGS + 9] = scale; // the one float argument, in its own slot
    this.run(OP_ATTEND, H, 0, q, k, v, scores, out, S, H, D, headStride);
    return true;
  }

  /**
   * Writes a piece of work into the control array (its kernel, N, and up to 9 integer arguments in
   * the kernel's order; unused ones 0) and shares it. Positional numbers, not an array: nothing is
   * allocated per product.
   */
  private run(
    op: number,
    units: number,
    N: number,
    a0: number,
    a1: number,
    a2: number,
    a3: number,
    a4: number,
    a5: number,
    a6: number,
    a7: number,
    a8: number,
  ): void {
    const c = this.control;
    c[OP] = op;
    c[N_SLOT] = N;
    c[ARGS] = a0;
    c[ARGS + 1] = a1;
    c[ARGS + 2] = a2;
    c[ARGS + 3] = a3;
    c[ARGS + 4] = a4;
    c[ARGS + 5] = a5;
    c[ARGS + 6] = a6;
    c[ARGS + 7] = a7;
    c[ARGS + 8] = a8;
    this.share(units);
  }

  /**
   * Runs the work whose arguments are in the control array as chunks over `units` (blocks or
   * heads): publishes a fresh ticket, wakes the helpers, claims chunks with them until none are
   * left, then waits for the helpers' chunks to finish.
   */
  private share(units: number): void {
    const c = this.control;
    const chunks = Math.max(1, Math.min(units, CHUNKS_PER_THREAD * this.threads, 4095));
    this.work = (this.work + 1) & 255;
    Atomics.store(c, FINISHED, 0);
    Atomics.store(c, TICKET, (this.work << 24) | (chunks << 12)); // publishes the arguments written before it
    Atomics.add(c, GENERATION, 1);
    Atomics.notify(c, GENERATION);
    let mine = 0;
    for (;;) {
      const ticket = Atomics.load(c, TICKET);
      const next = ticket & 4095;
      if (next >= chunks) break;
      if (Atomics.compareExchange(c, TICKET, ticket, ticket + 1) !== ticket) continue;
      this.runChunk(next, chunks);
      mine++;
    }
    if (Atomics.add(c, FINISHED, mine) + mine === chunks) return;
    for (let spin = 0, until = performance.now() + SPIN_MS; Atomics.load(c, FINISHED) < chunks; spin++) {
      if ((spin & 1023) === 1023 && performance.now() > until) break;
    }
    for (let done = Atomics.load(c, FINISHED); done < chunks; done = Atomics.load(c, FINISHED)) Atomics.wait(c, FINISHED, done);
  }

  /**
   * Chunk `i` of `chunks` of the work in the control array, on this thread: what helperMain does
   * with a chunk, read from the same slots (no closure per product, so nothing is allocated).
   */
  private runChunk(i: number, chunks: number): void {
    const c = this.control;
    if (c[OP] === OP_ATTEND) {
      const H = c[ARGS + 6];
      const h0 = Math.floor((H * i) / chunks); // chunkUnits, without the array
      const h1 = Math.floor((H * (i + 1)) / chunks);
      if (h0 >= h1 || !this.heads) return;
      const S = c[ARGS + 5];
      const D = c[ARGS + 7];
      const headStride = c[ARGS + 8];
      const p = c[ARGS + 3] + 4 * h0 * S;
      this.heads.scores(c[ARGS] + 4 * h0 * D, c[ARGS + 1] + h0 * headStride, p, S, h1 - h0, D, headStride, this.controlFloats[ARGS + 9]);
      this.heads.softmax(p, S, h1 - h0);
      this.heads.weighted(p, c[ARGS + 2] + h0 * headStride, c[ARGS + 4] + 4 * h0 * D, S, h1 - h0, D, headStride);
      return;
    }
    const N = c[N_SLOT];
    const blocks = Math.ceil(N / 32); // channelSlice, without the array
    const from = Math.min(N, Math.floor((blocks * i) / chunks) * 32);
    const to = Math.min(N, Math.floor((blocks * (i + 1)) / chunks) * 32);
    if (from >= to) return;
    if (c[OP] === OP_Q8)
      this.own.q8_matmul(
        c[ARGS],
        c[ARGS + 1],
        c[ARGS + 2],
        c[ARGS + 3],
        c[ARGS + 4],
        c[ARGS + 5],
        c[ARGS + 6],
        c[ARGS + 7],
        N,
        c[ARGS + 8],
        from,
        to,
      );
    else this.own.f16_matmul(c[ARGS], c[ARGS + 1], c[ARGS + 2], c[ARGS + 3], c[ARGS + 4], N, c[ARGS + 5], from, to);
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
