/**
 * Counts GPU compute dispatches, for the benchmark and the dispatch-budget test. It wraps
 * GPUComputePassEncoder.prototype.dispatchWorkgroups once, so it sees every dispatch made through
 * any path (our programs, tfjs's own kernels), not just the ones we think we make.
 */
interface Counter {
  count: number;
}

const active = new Set<Counter>();
let installed = false;

function install(): void {
  if (installed) return;
  const encoder = (globalThis as { GPUComputePassEncoder?: { prototype: GPUComputePassEncoder } }).GPUComputePassEncoder;
  if (!encoder) throw new Error('WebGPU is not available here (no GPUComputePassEncoder), so there are no dispatches to count');
  const original = encoder.prototype.dispatchWorkgroups;
  encoder.prototype.dispatchWorkgroups = function (
    this: GPUComputePassEncoder,
    ...args: Parameters<GPUComputePassEncoder['dispatchWorkgroups']>
  ) {
    for (const counter of active) counter.count++;
    return original.apply(this, args);
  };
  installed = true;
}

export interface DispatchCounter {
  /** Dispatches recorded since start (or the last reset). */
  readonly count: number;
  reset(): void;
  stop(): number;
}

/** Starts counting; dispatches are recorded synchronously when a tfjs op runs. */
export function startDispatchCounter(): DispatchCounter {
  install();
  const counter: Counter = { count: 0 };
  active.add(counter);
  return {
    get count() {
      return counter.count;
    },
    reset() {
      counter.count = 0;
    },
    stop() {
      active.delete(counter);
      return counter.count;
    },
  };
}

/** Dispatches made while running `fn` (which may be async). */
export async function countDispatches<T>(fn: () => T | Promise<T>): Promise<{ result: T; dispatches: number }> {
  const counter = startDispatchCounter();
  try {
    const result = await fn();
    return { result, dispatches: counter.count };
  } finally {
    counter.stop();
  }
}
