/**
 * The measurements themselves, shared by the Node runner and the Chromium worker: they take a
 * loaded GPT2 on whatever tfjs backend is running and time the engine directly (greedy argmax on
 * the device, one forward() per token), so the numbers are the engine's, not the UI's.
 */
import * as tf from '@tensorflow/tfjs';
import type { GPT2 } from '../src/model/gpt2';
import { causalMask } from '../src/model/layers';
import { defaultKVCacheKind, isLayerKVCache, type KVCache, type KVCacheKind } from '../src/model/kvCache';
import { generate } from '../src/generation';
import { median } from './stats';

/** "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over": the peer's PROMPT16. */
export const PROMPT16 = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 383, 2068, 7586, 21831, 18045, 625];

export interface ModelBenchOptions {
  /** New tokens per timed decode run (after the 16-token prompt). */
  newTokens: number;
  /** Timed decode runs; the median is reported. */
  runs: number;
  /** Prompt lengths whose prefill is timed. */
  prefillLengths: number[];
  /** Positions whose single-token step time is reported (median of the 5 steps around each). */
  positions: number[];
  /** Rounds over the positions (each 5 steps per position), alternating between them; default 2. */
  positionRounds?: number;
  /** New tokens of the real no-cache generation (full recompute each step) and its cached twin; 0 skips. */
  noCacheTokens: number;
  /** Tokens for the cached-vs-recompute estimate (recompute sampled at 5 lengths, summed); 0 skips. */
  recomputeEstimateTokens: number;
  /** generate() calls for the leak check; 0 skips. */
  leakGenerations: number;
  /** New tokens per generate() run timed with and without the token inspector's data (inspectTop 256); 0 or absent skips. */
  inspectorTokens?: number;
  /** Beam search's step against a single sequence's (beamStepCost); absent skips. */
  beamStep?: { beams: number; positions: number[]; rounds: number };
  /** Which KV cache to use; undefined = the model's default. */
  cacheKind?: KVCacheKind;
  /**
   * Fill the cache before a position's steps with zeros instead of a prefill (for the `cpu`
   * backend, where a 500-token prefill takes minutes). A step's arithmetic does not depend on the
   * cached values, so its time does not either.
   */
  syntheticPrefill?: boolean;
  /** Called with progress lines. */
  log?: (line: string) => void;
  /** Counts GPU dispatches (WebGPU only): returns the running total. */
  dispatchCount?: () => number;
}

export interface StepStats {
  position: number;
  ms: number;
  samples: number;
}

export interface ModelBenchResult {
  cacheKind: string;
  prefillMs: Record<string, number>;
  /** The very first 16-token prefill after the load (which ran GPT2.warmUp), before any warm-up of the bench's own. */
  firstPrefillMs?: number;
  decode: {
    newTokens: number;
    tokensPerSecond: number;
    runs: number[];
    /** Per-step ms of the median run, index k = the step that reads position 16 + k. */
    firstTokenMs: number;
  };
  stepMs: StepStats[];
  noCache?: { tokens: number; cachedMs: number; recomputeMs: number; speedup: number };
  recomputeEstimate?: {
    tokens: number;
    cachedMs: number;
    recomputeMs: number;
    speedup: number;
    sampledLengths: number[];
    sampledStepMs: number[];
  };
  leak?: { generations: number; tensorsBefore: number; tensorsAfter: number; leaked: number; bytesLeaked: number };
  /** generate() decode tok/s (the page's sampling settings, one sequence) without and with the inspector's per-token data. */
  inspector?: { tokens: number; offTokensPerSecond: number; onTokensPerSecond: number; ratio: number; offRuns: number[]; onRuns: number[] };
  dispatchesPerToken?: number;
  /** Per position: a beam-search step (num_beams rows, a KVCache.reorder, every logit read) against a single sequence's. */
  beamStep?: BeamStepStats[];
  memory: { numTensors: number; numBytes: number; peakBytes?: number };
}

const now = () => performance.now();

export { median };

/** Deterministic filler ids (a repeated prompt) of any length. */
export function fillerIds(n: number): number[] {
  return Array.from({ length: n }, (_, i) => PROMPT16[i % PROMPT16.length]);
}

/** The model behind the forward path that makes caches of `kind` (the backend's own choice when undefined). */
const withKind = (model: GPT2, kind?: KVCacheKind): GPT2 => (kind ? model.withForward({ kind }) : model);

/** One forward step and its greedy token, read back (the read is the synchronisation point). */
async function greedyStep(model: GPT2, ids: number[][], cache: ReturnType<GPT2['newCache']>): Promise<number> {
  const logits = model.forward(ids, cache); // [1, vocab]
  const best = tf.argMax(logits, -1);
  const [id] = await best.data();
  tf.dispose([logits, best]);
  return id;
}

/** Greedy decode with the cache: returns the time of each step (the first entry is the prefill). */
export async function timedGreedy(
  model: GPT2,
  prompt: number[],
  newTokens: number,
  kind?: KVCacheKind,
  dispatchCount?: () => number,
): Promise<{ stepsMs: number[]; ids: number[]; stepDispatches: number[] }> {
  const m = withKind(model, kind);
  const cache = m.newCache(1, model.config.nPositions);
  const stepsMs: number[] = [];
  const ids: number[] = [];
  const stepDispatches: number[] = [];
  try {
    let input = [prompt];
    for (let i = 0; i < newTokens; i++) {
      const d0 = dispatchCount?.() ?? 0;
      const t0 = now();
      const id = await greedyStep(m, input, cache);
      stepsMs.push(now() - t0);
      stepDispatches.push((dispatchCount?.() ?? 0) - d0);
      ids.push(id);
      input = [[id]];
    }
  } finally {
    cache.dispose();
  }
  return { stepsMs, ids, stepDispatches };
}

/** Prefill time of `length` tokens into a fresh cache, up to the logits being read. */
export async function timedPrefill(model: GPT2, length: number, kind?: KVCacheKind): Promise<number> {
  const m = withKind(model, kind);
  const cache = m.newCache(1, model.config.nPositions);
  try {
    const t0 = now();
    await greedyStep(m, [fillerIds(length)], cache);
    return now() - t0;
  } finally {
    cache.dispose();
  }
}

/** Puts `length` positions of zero keys and values into every layer of an empty cache. */
function zeroFill(model: GPT2, cache: KVCache, length: number): void {
  const { nLayer, nHead, nEmbd } = model.config;
  if (!isLayerKVCache(cache)) throw new Error("zero-filling needs the generic path's cache");
  tf.tidy(() => {
    const zeros = tf.zeros([1, length, 3 * nEmbd]) as tf.Tensor3D; // [B, T, 3C]: queries, keys, values
    const mask = causalMask(length, length);
    for (let layer = 0; layer < nLayer; layer++) cache.attend(layer, zeros, nHead, mask);
  });
  cache.advance(length);
}

/** Times of 5 single-token steps around `position` (prefill up to position - 2 first). */
async function stepTimesAt(model: GPT2, position: number, kind?: KVCacheKind, synthetic = false): Promise<number[]> {
  const start = Math.max(1, position - 2);
  const m = withKind(model, kind);
  const cache = m.newCache(1, model.config.nPositions);
  try {
    if (synthetic) zeroFill(model, cache, start - 1);
    let id = await greedyStep(m, [synthetic ? [PROMPT16[0]] : fillerIds(start)], cache);
    const times: number[] = [];
    for (let p = start; p < start + 5 && p < model.config.nPositions; p++) {
      const t0 = now();
      id = await greedyStep(m, [[id]], cache);
      times.push(now() - t0);
    }
    return times;
  } finally {
    cache.dispose();
  }
}

/**
 * Step time at each position: the median of 5 steps around it, in `rounds` rounds that visit the
 * positions in turn (20, 500, 20, 500, ...), so a machine that slows down or speeds up during the
 * run moves every position alike and their ratio stays fair.
 */
async function timedPositions(
  model: GPT2,
  positions: number[],
  rounds: number,
  kind?: KVCacheKind,
  synthetic = false,
): Promise<StepStats[]> {
  const times = positions.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < positions.length; i++) times[i].push(...(await stepTimesAt(model, positions[i], kind, synthetic)));
  }
  return positions.map((position, i) => ({ position, ms: median(times[i]), samples: times[i].length }));
}

export interface BeamStepStats {
  position: number;
  beams: number;
  /** Median ms of a single sequence's decode step (one row, every logit read back). */
  singleMs: number;
  /** Median ms of a beam-search step: KVCache.reorder of the rows, one batched forward of `beams` rows, every logit read back. */
  beamMs: number;
  /** beamMs / singleMs. */
  ratio: number;
  samples: number;
}

/**
 * Beam search's cost per step against a single sequence's, at each position: what one batched
 * step of `beams` rows costs (the weights read once for all of them) plus the cache's reorder
 * (each step a different parent pattern, so rows really move), both reading every logit back as
 * generate() does. Steps alternate between the two in `rounds` rounds, so a machine that slows
 * down moves both alike.
 */
export async function beamStepCost(
  model: GPT2,
  beams: number,
  positions: number[],
  rounds: number,
  kind?: KVCacheKind,
): Promise<BeamStepStats[]> {
  const m = withKind(model, kind);
  const step = async (cache: KVCache, rows: number, parents: number[] | null): Promise<number> => {
    const t0 = now();
    if (parents) cache.reorder(parents);
    const logits = m.forward(
      Array.from({ length: rows }, (_, b) => [PROMPT16[b % PROMPT16.length]]),
      cache,
    );
    await logits.data();
    logits.dispose();
    return now() - t0;
  };
  const stats: BeamStepStats[] = [];
  for (const position of positions) {
    const single: number[] = [];
    const beam: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const cache = m.newCache(1, position + 8);
      const prefill = m.forward([fillerIds(position)], cache); // the steps then read positions `position`, `position` + 1, …
      await prefill.data();
      prefill.dispose();
      const batch = cache.repeat(beams);
      for (let s = 0; s < 3; s++) {
        single.push(await step(cache, 1, null));
        // Parents rotate (0,0,1,2,…), (1,1,2,3,…): every step moves most rows, as a real search does.
        beam.push(
          await step(
            batch,
            beams,
            Array.from({ length: beams }, (_, b) => (Math.max(0, b - 1) + s) % beams),
          ),
        );
      }
      cache.dispose();
      batch.dispose();
    }
    const singleMs = median(single);
    const beamMs = median(beam);
    stats.push({ position, beams, singleMs, beamMs, ratio: beamMs / singleMs, samples: beam.length });
  }
  return stats;
}

/** One no-cache step: the whole sequence through a fresh cache, logits of the last position only. */
async function recomputeStep(model: GPT2, ids: number[]): Promise<number> {
  const m = withKind(model, 'concat');
  const cache = m.newCache(1, ids.length);
  try {
    return await greedyStep(m, [ids], cache);
  } finally {
    cache.dispose();
  }
}

async function timedRecomputeGeneration(model: GPT2, prompt: number[], newTokens: number): Promise<number> {
  const ids = [...prompt];
  const t0 = now();
  for (let i = 0; i < newTokens; i++) ids.push(await recomputeStep(model, ids));
  return now() - t0;
}

export async function benchModel(model: GPT2, o: ModelBenchOptions): Promise<ModelBenchResult> {
  const log = o.log ?? (() => {});
  const kind = o.cacheKind;
  const cacheKind = kind ?? (tf.getBackend() === 'webgpu' ? 'webgpu' : defaultKVCacheKind());
  const maxPos = model.config.nPositions;

  // The first Generate's prefill: what a person pays right after the load (which warmed the model up).
  const firstPrefillMs = o.prefillLengths.includes(16) ? await timedPrefill(model, 16, kind) : undefined;
  // Warm-up: compiles kernels / packs weights (XNNPACK packs each weight on first use).
  await timedGreedy(model, PROMPT16, Math.min(8, o.newTokens), kind);
  log(`warm-up done (${cacheKind} cache)`);

  const prefillMs: Record<string, number> = {};
  for (const length of o.prefillLengths.filter((l) => l < maxPos)) {
    await timedPrefill(model, length, kind); // warm the shapes
    prefillMs[length] = median([await timedPrefill(model, length, kind), await timedPrefill(model, length, kind)]);
    log(`prefill ${length}: ${prefillMs[length].toFixed(1)} ms`);
  }

  const newTokens = Math.min(o.newTokens, maxPos - PROMPT16.length);
  const runs: { tps: number; steps: number[] }[] = [];
  const decodeDispatches: number[] = [];
  for (let r = 0; r < o.runs; r++) {
    const { stepsMs, stepDispatches } = await timedGreedy(model, PROMPT16, newTokens, kind, o.dispatchCount);
    decodeDispatches.push(...stepDispatches.slice(1)); // single-token steps only, not the prompt's pass
    const decodeMs = stepsMs.slice(1).reduce((a, b) => a + b, 0);
    runs.push({ tps: (stepsMs.length - 1) / (decodeMs / 1000), steps: stepsMs });
    log(`decode run ${r}: ${runs[r].tps.toFixed(2)} tok/s`);
  }
  const dispatchesPerToken = o.dispatchCount ? median(decodeDispatches) : undefined;
  const sorted = [...runs].sort((a, b) => a.tps - b.tps);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)];

  const positions = o.positions.filter((p) => p + 3 <= maxPos);
  const stepMs = await timedPositions(model, positions, o.positionRounds ?? 2, kind, o.syntheticPrefill);
  for (const { position, ms, samples } of stepMs) log(`step at position ${position}: ${ms.toFixed(2)} ms (median of ${samples})`);

  const result: ModelBenchResult = {
    cacheKind,
    prefillMs,
    firstPrefillMs,
    decode: { newTokens, tokensPerSecond: mid.tps, runs: runs.map((r) => +r.tps.toFixed(3)), firstTokenMs: mid.steps[0] },
    stepMs,
    dispatchesPerToken,
    memory: { numTensors: 0, numBytes: 0 },
  };

  if (o.beamStep) {
    result.beamStep = await beamStepCost(
      model,
      o.beamStep.beams,
      o.beamStep.positions.filter((p) => p + 8 <= maxPos),
      o.beamStep.rounds,
      kind,
    );
    for (const b of result.beamStep) {
      log(
        `position ${b.position}: ${b.beams}-beam step ${b.beamMs.toFixed(2)} ms, single ${b.singleMs.toFixed(2)} ms (×${b.ratio.toFixed(2)})`,
      );
    }
  }

  if (o.noCacheTokens > 0) {
    const n = Math.min(o.noCacheTokens, maxPos - PROMPT16.length);
    const cached = await timedGreedy(model, PROMPT16, n, kind);
    const cachedMs = cached.stepsMs.reduce((a, b) => a + b, 0);
    const recomputeMs = await timedRecomputeGeneration(model, PROMPT16, n);
    result.noCache = { tokens: n, cachedMs, recomputeMs, speedup: recomputeMs / cachedMs };
    log(`${n} tokens: cached ${cachedMs.toFixed(0)} ms, recompute ${recomputeMs.toFixed(0)} ms`);
  }

  if (o.recomputeEstimateTokens > 0) {
    const n = Math.min(o.recomputeEstimateTokens, maxPos - PROMPT16.length);
    const cached = await timedGreedy(model, PROMPT16, n, kind);
    const cachedMs = cached.stepsMs.reduce((a, b) => a + b, 0);
    // Step k of a recompute generation reads 16 + k tokens; time 5 evenly spaced k and sum the
    // piecewise-linear curve through them over all n steps (recompute cost grows smoothly with length).
    const ks = [0, 0.25, 0.5, 0.75, 1].map((f) => Math.round(f * (n - 1)));
    const sampledStepMs: number[] = [];
    for (const k of ks) {
      const ids = fillerIds(PROMPT16.length + k);
      await recomputeStep(model, ids.slice(0, Math.min(ids.length, 32))); // keep kernels warm
      const t0 = now();
      await recomputeStep(model, ids);
      sampledStepMs.push(now() - t0);
    }
    let recomputeMs = 0;
    for (let k = 0; k < n; k++) {
      const j = Math.min(
        ks.length - 2,
        ks.findIndex((_, i) => i < ks.length - 1 && k <= ks[i + 1]),
      );
      const f = (k - ks[j]) / Math.max(1, ks[j + 1] - ks[j]);
      recomputeMs += sampledStepMs[j] + f * (sampledStepMs[j + 1] - sampledStepMs[j]);
    }
    result.recomputeEstimate = {
      tokens: n,
      cachedMs,
      recomputeMs,
      speedup: recomputeMs / cachedMs,
      sampledLengths: ks.map((k) => PROMPT16.length + k),
      sampledStepMs,
    };
    log(`${n} tokens: cached ${cachedMs.toFixed(0)} ms, recompute ~${recomputeMs.toFixed(0)} ms (estimated)`);
  }

  if (o.inspectorTokens) {
    result.inspector = await inspectorOverhead(model, Math.min(o.inspectorTokens, maxPos - PROMPT16.length - 1), Math.max(2, o.runs));
    log(
      `inspector: ${result.inspector.offTokensPerSecond.toFixed(2)} tok/s off, ${result.inspector.onTokensPerSecond.toFixed(2)} on (${(100 * result.inspector.ratio).toFixed(0)}%)`,
    );
  }

  if (o.leakGenerations > 0) {
    result.leak = await leakCheck(model, o.leakGenerations);
    log(`leak check: ${result.leak.leaked} tensors over ${o.leakGenerations} generations`);
  }

  const mem = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
  result.memory = { numTensors: mem.numTensors, numBytes: mem.numBytes };
  return result;
}

/**
 * Decode speed through generate() with the page's default sampling (top-k 50, top-p 0.95, one
 * sequence, seed 42) without and with the token inspector's data (inspectTop 256), in alternating
 * rounds (off, on, off, on, ...) so both sides see the same machine; medians of the rounds.
 */
export async function inspectorOverhead(model: GPT2, tokens: number, rounds: number): Promise<NonNullable<ModelBenchResult['inspector']>> {
  const options = { max_new_tokens: tokens, do_sample: true, top_k: 50, top_p: 0.95, seed: 42, eos_token_id: null };
  const rate = async (inspectTop: number) => {
    const stream = generate(model, PROMPT16, options, { inspectTop });
    for (;;) {
      const step = await stream.next();
      if (step.done) return step.value.timings.decodeTokensPerSecond;
    }
  };
  await rate(256); // warm-up: shapes and programs of both paths
  await rate(0);
  const offRuns: number[] = [];
  const onRuns: number[] = [];
  for (let r = 0; r < rounds; r++) {
    offRuns.push(await rate(0));
    onRuns.push(await rate(256));
  }
  const off = median(offRuns);
  const on = median(onRuns);
  return { tokens, offTokensPerSecond: off, onTokensPerSecond: on, ratio: on / off, offRuns, onRuns };
}

/** Runs generate() (sampling, 3 sequences, then greedy) `n` times and counts tensors left behind. */
export async function leakCheck(model: GPT2, n: number): Promise<NonNullable<ModelBenchResult['leak']>> {
  const run = async (i: number) => {
    const options =
      i % 2 === 0
        ? { max_new_tokens: 6, do_sample: true, top_k: 50, top_p: 0.95, temperature: 0.9, num_return_sequences: 3, seed: i }
        : { max_new_tokens: 6, do_sample: false };
    const stream = generate(model, 'The quick brown fox', options);
    for (;;) {
      const step = await stream.next();
      if (step.done) break;
    }
  };
  await run(0); // first call may create lazily kept tensors (e.g. a transposed head)
  await run(1);
  const before = tf.memory();
  for (let i = 0; i < n; i++) await run(i);
  const after = tf.memory();
  return {
    generations: n,
    tensorsBefore: before.numTensors,
    tensorsAfter: after.numTensors,
    leaked: after.numTensors - before.numTensors,
    bytesLeaked: after.numBytes - before.numBytes,
  };
}

/** GPT-2-124M's decode-step matmul shapes: per layer c_attn, attn c_proj, c_fc, mlp c_proj. */
export const LAYER_MATMULS: [number, number][] = [
  [768, 2304],
  [768, 768],
  [768, 3072],
  [3072, 768],
];

export interface MatmulCeiling {
  /** One 124M decode step's matmuls alone (12 layers × 4 + head), ms, median. */
  stepMs: number;
  tokensPerSecond: number;
  layersMs: number;
  /** The head [1,768]·[768,50257] with the weight already [768, 50257]. */
  headMs: number;
  /** The same head as matMul(x, wte [50257,768], transposeB = true), as a tied head would run it. */
  headTransposeBMs: number;
}

/**
 * The matmul floor of a 124M decode step: the same shapes on random weights, nothing else.
 * Decode tok/s as a share of `tokensPerSecond` says how close the engine is to what the
 * backend's matmul can do.
 */
export async function matmulCeiling(repeats = 7, layers = 12, vocab = 50257, log?: (s: string) => void): Promise<MatmulCeiling> {
  const weights = tf.tidy(() =>
    Array.from({ length: layers }, () =>
      LAYER_MATMULS.map(([i, o]) => tf.keep(tf.randomNormal([i, o], 0, 0.02, 'float32', 1)) as tf.Tensor2D),
    ),
  );
  const head = tf.keep(tf.randomNormal([768, vocab], 0, 0.02, 'float32', 2)) as tf.Tensor2D;
  const headT = tf.keep(tf.randomNormal([vocab, 768], 0, 0.02, 'float32', 3)) as tf.Tensor2D;
  const x768 = tf.keep(tf.randomNormal([1, 768])) as tf.Tensor2D;
  const x3072 = tf.keep(tf.randomNormal([1, 3072])) as tf.Tensor2D;
  const timeIt = async (f: () => tf.Tensor[]): Promise<number> => {
    const t0 = now();
    const outs = f();
    await Promise.all(outs.map((t) => t.data()));
    const ms = now() - t0;
    tf.dispose(outs);
    return ms;
  };
  const layerPass = () => weights.flatMap((w) => w.map((m) => tf.matMul(m.shape[0] === 768 ? x768 : x3072, m)));
  const headPass = () => [tf.matMul(x768, head)];
  const headTPass = () => [tf.matMul(x768, headT, false, true)];
  try {
    await timeIt(layerPass); // warm-up: packs weights
    await timeIt(headPass);
    await timeIt(headTPass);
    const layerTimes: number[] = [];
    const headTimes: number[] = [];
    const headTTimes: number[] = [];
    for (let r = 0; r < repeats; r++) {
      layerTimes.push(await timeIt(layerPass));
      headTimes.push(await timeIt(headPass));
      if (r < 3) headTTimes.push(await timeIt(headTPass));
    }
    const layersMs = median(layerTimes);
    const headMs = median(headTimes);
    const stepMs = layersMs + headMs;
    log?.(
      `matmul ceiling: layers ${layersMs.toFixed(1)} ms + head ${headMs.toFixed(1)} ms (transposeB head ${median(headTTimes).toFixed(1)} ms)`,
    );
    return { stepMs, tokensPerSecond: 1000 / stepMs, layersMs, headMs, headTransposeBMs: median(headTTimes) };
  } finally {
    tf.dispose([...weights.flat(), head, headT, x768, x3072]);
  }
}

/** One model's side of a paired measurement: every round's prefill and decode. */
export interface PairedSide {
  label: string;
  /** Prefill of `prefillLength` tokens, ms, one per round. */
  prefillMs: number[];
  /** Greedy decode after PROMPT16, tokens per second, one per round. */
  tokensPerSecond: number[];
}

/**
 * The same measurements on several models (one checkpoint loaded at several thread counts, say),
 * taken in turns: each round runs a prefill and a decode on every model before the next round,
 * so a machine that speeds up or slows down during the run moves every side alike and their
 * ratio stays fair. Medians are the caller's.
 */
export async function pairedRuns(
  models: { label: string; model: GPT2 }[],
  o: { rounds: number; newTokens: number; prefillLength: number; log?: (s: string) => void },
): Promise<PairedSide[]> {
  const sides: PairedSide[] = models.map(({ label }) => ({ label, prefillMs: [], tokensPerSecond: [] }));
  for (const { model } of models) {
    await timedGreedy(model, PROMPT16, 8); // warm-up: the kernels tier up, the helpers spin up
    await timedPrefill(model, o.prefillLength);
  }
  for (let round = 0; round < o.rounds; round++) {
    for (const [i, { model }] of models.entries()) {
      const side = sides[i];
      side.prefillMs.push(await timedPrefill(model, o.prefillLength));
      const { stepsMs } = await timedGreedy(model, PROMPT16, o.newTokens);
      const decodeMs = stepsMs.slice(1).reduce((a, b) => a + b, 0);
      side.tokensPerSecond.push((stepsMs.length - 1) / (decodeMs / 1000));
      o.log?.(
        `round ${round} ${side.label}: prefill ${o.prefillLength} ${side.prefillMs.at(-1)!.toFixed(1)} ms, decode ${side.tokensPerSecond.at(-1)!.toFixed(2)} tok/s`,
      );
    }
  }
  return sides;
}
