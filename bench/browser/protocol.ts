/** Messages between the benchmark page and its worker (one worker per job, so each job gets a fresh wasm module). */
import type { MatmulCeiling, ModelBenchOptions, ModelBenchResult, PairedSide } from '../core';

export interface BrowserJob {
  /** A name for the results table. */
  id: string;
  backend: 'wasm' | 'webgpu';
  /** wasm only: 'app' starts it the way the app does (src/backend/wasmThreads.ts); a number asks for that many threads. */
  threads?: 'app' | number;
  /** Model to benchmark; omitted for a ceiling-only job. */
  model?: 'tiny' | '124m' | 'builtin';
  /** Precision of the matrices (default f32). */
  precision?: 'f32' | 'f16' | 'q8';
  options?: Omit<ModelBenchOptions, 'log' | 'dispatchCount'>;
  /** Time the 124M step's matmuls alone on this backend first. */
  ceiling?: boolean;
  /**
   * Instead of `options`: load the model once per entry, its q8 / f16 kernels on that many threads,
   * and measure them in turns (pairedRuns in bench/core.ts).
   */
  paired?: { kernelThreads: number[]; rounds: number; newTokens: number; prefillLength: number };
}

export interface BrowserJobResult {
  id: string;
  backend: string;
  threads: number;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  adapter?: string;
  model?: string;
  /** The model's n_layer (dispatches per layer on WebGPU). */
  nLayer?: number;
  fetchMs?: number;
  loadMs?: number;
  /** GPT2.warmUp after the load, ms; and the precision loaded. */
  warmUpMs?: number;
  precision?: string;
  /** Threads the q8 / f16 kernels ran on after the warm-up (absent for f32: tfjs's pool, `threads`). */
  kernelThreads?: number;
  /** The matrix kernels' build in this engine (relaxed or plain SIMD). */
  matmulBuild?: string;
  bench?: ModelBenchResult;
  /**
   * `auto`'s measurement here, as the app's load takes it for a model over 300M parameters (the
   * 124M shape's c_fc product in each precision, measurePrecisions) and what it would pick.
   */
  calibration?: { speeds: { f32: number; f16?: number; q8?: number }; choice?: string };
  /** The `paired` job's measurements, one side per kernel thread count, with the threads each really ran on. */
  paired?: (PairedSide & { kernelThreads: number })[];
  ceiling?: MatmulCeiling;
  /** Bytes of wasm memory (the heap only grows) at the end. */
  wasmHeapBytes?: number;
  error?: string;
}

export type FromBenchWorker = { type: 'log'; line: string } | { type: 'done'; result: BrowserJobResult };
