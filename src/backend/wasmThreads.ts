/**
 * Lets tfjs's WebAssembly backend use every core.
 *
 * tfjs-backend-wasm 4.22 sizes its XNNPACK thread pool in native code as
 *   min(requested, 8, emscripten_num_logical_cores() / 2)
 * (backend.cc: "many x86-64 processors have 2 threads per core, so we are dividing by 2"), and
 * emscripten_num_logical_cores() is navigator.hardwareConcurrency. So a 2-core machine always
 * gets 1 thread: setThreadsCount(2) loads the threaded build, getThreadsCount() still says 1, and
 * nothing runs faster (tfjs issue 8513). The halving is a guess about hyperthreads that the browser
 * already answers: hardwareConcurrency counts logical processors, which is what a pool should use.
 *
 * The fix: while the wasm module initialises (the only moment the native code reads the value),
 * report twice the real hardwareConcurrency, then put it back. Only in a worker, where nothing
 * else is looking, and only when threads can run at all (cross-origin isolated, so
 * SharedArrayBuffer exists); elsewhere tfjs picks its non-threaded build and this does nothing.
 *
 * How many: one per core but one. A decode step is matrix–vector products, bound by memory
 * bandwidth rather than arithmetic, and every kernel hands work to the pool and waits for it; the
 * page's own thread needs a core too. Measured on 2 cores (bench/notes.md), a second thread was
 * faster in one run of three and slower in the others, so there it stays at 1; machines with more
 * cores get cores - 1. The same count sizes the q8 / f16 kernels' own threads
 * (src/backend/simd/threads.ts); `?threads=` (the page) and `--threads` (the CLI) set it.
 */
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

interface ThreadScope {
  navigator?: { hardwareConcurrency?: number };
  crossOriginIsolated?: boolean;
  WorkerGlobalScope?: unknown;
}

/** True in a cross-origin isolated worker: where the threaded wasm build runs and the override is safe. */
export function canUseWasmThreads(scope: ThreadScope = globalThis as ThreadScope): boolean {
  return scope.WorkerGlobalScope !== undefined && scope.crossOriginIsolated === true && (scope.navigator?.hardwareConcurrency ?? 0) > 1;
}

/** Threads to ask for by default: every logical core but one (see above). */
export function defaultWasmThreads(cores: number): number {
  return Math.max(1, cores - 1);
}

/**
 * Threads WebAssembly runs on here (tfjs-wasm's pool and the q8 / f16 kernels): `requested`, or
 * every core but the page's; 1 where threads cannot run (a page that is not cross-origin isolated).
 */
export function wasmThreadCount(requested?: number, scope: ThreadScope = globalThis as ThreadScope): number {
  if (!canUseWasmThreads(scope)) return 1;
  return requested ?? defaultWasmThreads(scope.navigator!.hardwareConcurrency!);
}

/**
 * Call right before tf.setBackend('wasm') and call the returned function once it has resolved
 * (or failed). `threads` defaults to defaultWasmThreads(cores).
 */
export function prepareWasmThreads(threads?: number, scope: ThreadScope = globalThis as ThreadScope): () => void {
  if (!canUseWasmThreads(scope)) return () => {};
  const navigator = scope.navigator!;
  const cores = navigator.hardwareConcurrency!;
  setThreadsCount(wasmThreadCount(threads, scope));
  Object.defineProperty(navigator, 'hardwareConcurrency', { configurable: true, get: () => cores * 2 });
  return () => {
    // The real value lives on the prototype (WorkerNavigator); dropping the own property restores it.
    delete (navigator as { hardwareConcurrency?: number }).hardwareConcurrency;
  };
}

/** Threads tfjs-wasm's XNNPACK pool really has (1 when the backend runs without threads). */
export function wasmThreadsInUse(): number {
  try {
    return getThreadsCount();
  } catch {
    return 1;
  }
}
