/**
 * Turns a benchmark run (bench/results/*.json) into docs/benchmarks.md: the machine, the tables,
 * and each target with the number that decides it. Every figure comes from the run; nothing here
 * is typed in by hand. Rerun on its own with `npx tsx bench/report.ts [results.json]`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MatmulCeiling, ModelBenchResult, PairedSide } from './core';
import type { BrowserRun } from './browser/runBrowser';
import type { AppLongTaskRun } from './browser/appLongTasks';
import type { AppMediumRun } from './browser/appMedium';
import type { QualityResult } from './node/quality';
import type { CacheVerifyResult } from './node/cacheVerify';
import type { PeerResult } from './peer';
import { repoRoot } from './models';
import { median } from './stats';

export interface NodeResult extends Partial<ModelBenchResult> {
  where: 'node';
  backend: string;
  model: string;
  modelDescription?: string;
  readMs?: number;
  loadMs?: number;
  warmUpMs?: number;
  precision?: string;
  ceiling?: MatmulCeiling;
  peakRssMb?: number;
  threads?: number;
  /** The q8 / f16 kernels' build in this engine (relaxed or plain SIMD). */
  matmulBuild?: string;
  /** A paired run (NodeRunRequest.paired): one side per kernel thread count, with the threads each really ran on. */
  paired?: (PairedSide & { kernelThreads: number })[];
  error?: string;
}

export interface BenchReport {
  date: string;
  finished?: string;
  command: string;
  settings: { tokens: number; runs: number; quick: boolean };
  busyBeforePercent: number;
  busyAfterPercent?: number;
  machine: { cpu: string; logicalCores: number; memoryGb: number; os: string; node: string; chromium?: string; gpu: string };
  node: NodeResult[];
  browser?: BrowserRun;
  app: AppLongTaskRun[];
  /** A gpt2-medium-shaped model in the built app from a local hub (wasm, auto precision). */
  appMedium?: AppMediumRun;
  /** Held-out loss per precision, f16 greedy tokens, q8 logit error (bench/node/quality.ts). */
  quality?: QualityResult;
  /** The 124M-shaped model loaded from the disk cache with and without verifying its pieces (bench/node/cacheVerify.ts). */
  cacheVerify?: CacheVerifyResult;
  peer: PeerResult[];
  /** 124M at 1 and 2 threads, f32 / q8 / f16 (jobs `scale-{precision}-{n}t`), and the peer at the same counts. */
  scaling?: { browser: BrowserRun; peer: PeerResult[]; /** The same paired runs in Node (the CLI's engine). */ node?: NodeResult[] };
}

/** Share of the whole machine's CPU time that was busy over `ms` (all processes, /proc/stat). */
export async function machineBusyPercent(ms: number): Promise<number> {
  const sample = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { total, idle: f[3] + f[4] };
  };
  try {
    const a = sample();
    await new Promise((r) => setTimeout(r, ms));
    const b = sample();
    return Math.round((100 * (b.total - a.total - (b.idle - a.idle))) / Math.max(1, b.total - a.total));
  } catch {
    return NaN;
  }
}

const f = (x: number | undefined | null, digits = 1) => (x === undefined || x === null || Number.isNaN(x) ? '–' : x.toFixed(digits));
/** On WebGPU (SwiftShader), per-token time at this position against position 20: the built-in model's context is 256. */
export const WEBGPU_LONG_POSITION = 250;

const step = (r: Partial<ModelBenchResult> | undefined, p: number) => r?.stepMs?.find((s) => s.position === p)?.ms;
const ratio = (r: Partial<ModelBenchResult> | undefined) => {
  const a = step(r, 20);
  const b = step(r, 500);
  return a && b ? b / a : undefined;
};
const mark = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? '**met**' : '**not met**');

function browserJob(report: BenchReport, id: string) {
  return report.browser?.results.find((r) => r.id === id);
}

export function renderReport(report: BenchReport): string {
  const m = report.machine;
  const lines: string[] = [];
  const out = (s = '') => lines.push(s);
  const wasm = browserJob(report, 'wasm-124m');
  const wasmAll = report.browser?.results.find((r) => /^wasm-\d+-threads-124m$/.test(r.id));
  const ceiling1 = browserJob(report, 'wasm-1-thread-ceiling')?.ceiling;
  const ceilingN = wasmAll?.ceiling;
  const isF32 = (n: NodeResult) => (n.precision ?? 'f32') === 'f32';
  const nodeWasm = report.node.find((n) => n.backend === 'wasm' && n.model === '124m' && n.cacheKind === 'simd' && isF32(n));
  const nodeAt = (backend: string, precision: string) =>
    report.node.find((n) => n.backend === backend && n.model === '124m' && n.precision === precision && !n.error);
  const wasmQ8 = browserJob(report, 'wasm-124m-q8');
  const wasmF16 = browserJob(report, 'wasm-124m-f16');
  const peerQ8 = report.peer.find((p) => p.backend === 'chromium-wasm-q8' && !p.error);
  const nodeWasmConcat = report.node.find((n) => n.backend === 'wasm' && n.model === '124m' && n.cacheKind === 'concat');
  const nodeCpu = report.node.find((n) => n.backend === 'cpu' && n.model === '124m' && n.cacheKind === 'simd' && isF32(n));
  const nodeCpuConcat = report.node.find((n) => n.backend === 'cpu' && n.model === '124m' && n.cacheKind === 'concat');
  const peer1 = report.peer.find((p) => p.backend === 'chromium-wasm' && !p.error);
  const tps = (r: Partial<ModelBenchResult> | undefined) => r?.decode?.tokensPerSecond;
  const speedRow = (what: string, a: number | undefined, b: number | undefined, at: number) =>
    out(`| ${what} | ${f(a, 1)} vs ${f(b, 1)} tok/s = ${f(a && b ? a / b : undefined, 2)}× | ${mark(a && b ? a / b >= at : undefined)} |`);
  const prefillRow = (what: string, q: Partial<ModelBenchResult> | undefined, base: Partial<ModelBenchResult> | undefined) => {
    const ok = ['16', '128'].every((l) => q?.prefillMs?.[l] !== undefined && base?.prefillMs?.[l] !== undefined);
    out(
      `| ${what} | ${['16', '128'].map((l) => `${l}: ${f(q?.prefillMs?.[l], 0)} vs ${f(base?.prefillMs?.[l], 0)} ms`).join('; ')} | ${mark(ok ? ['16', '128'].every((l) => q!.prefillMs![l] <= base!.prefillMs![l]) : undefined)} |`,
    );
  };
  const peer2 = report.peer.find((p) => p.backend === 'chromium-wasm-t2' && !p.error);
  const peerBest = Math.max(peer1?.decode_tok_s ?? 0, peer2?.decode_tok_s ?? 0) || undefined;
  const decode = wasm?.bench?.decode.tokensPerSecond;

  out('# Benchmarks');
  out();
  out('Written by `npm run bench` (bench/run.ts, bench/report.ts) from one run; the raw numbers are in');
  out('`bench/results/` (git-ignored). Rerun it to check them; `npm run bench -- --quick` checks the bench itself.');
  out();
  out('## The run');
  out();
  out(`- Date: ${report.date} (to ${report.finished ?? '?'}); command: \`${report.command}\``);
  out(`- Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.memoryGb} GB memory, ${m.os}; GPU: ${m.gpu}`);
  out(`- Node ${m.node}; Chromium ${m.chromium ?? '(not run)'} (headless, playwright-core, \`--enable-unsafe-webgpu\`)`);
  out(
    `- Machine CPU busy before / after the run (all processes, 2 s samples): ${report.busyBeforePercent}% / ${report.busyAfterPercent ?? '?'}%.` +
      ' Anything else running on these 2 cores slows every number here.',
  );
  out(
    `- Decode: ${report.settings.tokens} new greedy tokens after the 16-token prompt (\`PROMPT16\` of the peer bench), median of ${report.settings.runs} timed runs after a warm-up.`,
  );
  out('- Models: **124M** = GPT-2-124M-shaped (12 layers, 768 wide, 1024 positions, 50257 vocabulary) with seeded random weights,');
  out("  made by the peer's `make_gpt2_random.py --seed 1234` (the very file the transformers.js side loads; cached in `.cache/bench/`);");
  out('  **tiny** = the `tiny-gpt2` fixture (2 layers, 32 wide, 64 positions).');
  out();

  out('## Targets');
  out();
  out('| target | measured | result |');
  out('|---|---|---|');
  const r500 = (r: NodeResult | undefined) => ratio(r);
  out(
    `| per-token time at position 500 ≤ 1.3× position 20, wasm (124M, Node) | ${f(step(nodeWasm, 20))} → ${f(step(nodeWasm, 500))} ms = ${f(r500(nodeWasm), 2)}× | ${mark(r500(nodeWasm) === undefined ? undefined : r500(nodeWasm)! <= 1.3)} |`,
  );
  out(
    `| the same in Chromium wasm (124M, the app's thread count) | ${f(step(wasm?.bench, 20))} → ${f(step(wasm?.bench, 500))} ms = ${f(ratio(wasm?.bench), 2)}× | ${mark(ratio(wasm?.bench) === undefined ? undefined : ratio(wasm?.bench)! <= 1.3)} |`,
  );
  out(
    `| the same on cpu (124M, Node; @500 on a zero-filled cache, see below) | ${f(step(nodeCpu, 20), 0)} → ${f(step(nodeCpu, 500), 0)} ms = ${f(r500(nodeCpu), 2)}× | ${mark(r500(nodeCpu) === undefined ? undefined : r500(nodeCpu)! <= 1.3)} |`,
  );
  const gpuLong = browserJob(report, 'webgpu-builtin');
  const gpuA = step(gpuLong?.bench, 20);
  const gpuB = step(gpuLong?.bench, WEBGPU_LONG_POSITION);
  const gpuRatio = gpuA && gpuB ? gpuB / gpuA : undefined;
  out(
    `| the same on WebGPU at the longest context that fits, position ${WEBGPU_LONG_POSITION} (the built-in model, context 256; SwiftShader) | ${f(gpuA)} → ${f(gpuB)} ms = ${f(gpuRatio, 2)}× | ${mark(gpuRatio === undefined ? undefined : gpuRatio <= 1.3)} |`,
  );
  const perLayer = ['webgpu-tiny', 'webgpu-builtin']
    .map((id) => browserJob(report, id))
    .filter((r) => r?.bench?.dispatchesPerToken !== undefined && r.nLayer);
  const worstPerLayer = perLayer.length ? Math.max(...perLayer.map((r) => r!.bench!.dispatchesPerToken! / r!.nLayer!)) : undefined;
  out(
    `| WebGPU decode ≤ 10 dispatches per layer per token (logits against the fixture: tests/unit/webgpu-fused.test.ts) | ${perLayer.map((r) => `${r!.model}: ${f(r!.bench!.dispatchesPerToken, 0)} per token, ${r!.nLayer} layers`).join('; ') || '–'} (the forward step's 6·n_layer + 3, and the argMax that picks the token) | ${mark(worstPerLayer === undefined ? undefined : worstPerLayer <= 10)} |`,
  );
  const est = nodeWasm?.recomputeEstimate;
  out(
    `| 256 cached tokens ≥ 10× faster than recomputing (124M, wasm, Node) | cached ${f(est && est.cachedMs / 1000, 1)} s vs recompute ≈ ${f(est && est.recomputeMs / 1000, 1)} s = ${f(est?.speedup, 1)}× | ${mark(est ? est.speedup >= 10 : undefined)} |`,
  );
  const wasmEst = wasm?.bench?.recomputeEstimate;
  out(
    `| the same in Chromium wasm | cached ${f(wasmEst && wasmEst.cachedMs / 1000, 1)} s vs recompute ≈ ${f(wasmEst && wasmEst.recomputeMs / 1000, 1)} s = ${f(wasmEst?.speedup, 1)}× | ${mark(wasmEst ? wasmEst.speedup >= 10 : undefined)} |`,
  );
  const share = decode && ceiling1 ? (100 * decode) / ceiling1.tokensPerSecond : undefined;
  out(
    `| Chromium wasm decode ≥ 85% of the single-thread matmul ceiling (same run) | ${f(decode, 1)} tok/s vs ceiling ${f(ceiling1?.tokensPerSecond, 1)} tok/s = ${f(share, 0)}% | ${mark(share === undefined ? undefined : share >= 85)} |`,
  );
  const vsDefault = decode && peer1?.decode_tok_s ? decode / peer1.decode_tok_s : undefined;
  out(
    `| ≥ 1.5× transformers.js with fp32 weights (1 wasm thread), same Chromium, both f32 | ${f(decode, 1)} vs ${f(peer1?.decode_tok_s, 1)} tok/s = ${f(vsDefault, 2)}× | ${mark(vsDefault === undefined ? undefined : vsDefault >= 1.5)} |`,
  );
  out(
    `| no slower than transformers.js at its best thread setting | ${f(decode, 1)} vs ${f(peerBest, 1)} tok/s | ${mark(decode && peerBest ? decode >= peerBest : undefined)} |`,
  );
  const inspector = wasm?.bench?.inspector;
  out(
    `| decode with the token inspector's data ≥ 90% of without (124M, Chromium wasm, generate() with top-k 50 / top-p 0.95) | ${f(inspector?.onTokensPerSecond, 1)} vs ${f(inspector?.offTokensPerSecond, 1)} tok/s = ${f(inspector && 100 * inspector.ratio, 0)}% | ${mark(inspector ? inspector.ratio >= 0.9 : undefined)} |`,
  );
  const gpuInspector = ['webgpu-124m', 'webgpu-builtin'].map((id) => browserJob(report, id)?.bench?.inspector).find(Boolean);
  if (gpuInspector) {
    out(
      `| the same on WebGPU (summary computed on the GPU; SwiftShader) | ${f(gpuInspector.onTokensPerSecond, 1)} vs ${f(gpuInspector.offTokensPerSecond, 1)} tok/s = ${f(100 * gpuInspector.ratio, 0)}% | ${mark(gpuInspector.ratio >= 0.9)} |`,
    );
  }
  for (const [label, bench] of [
    ['f32', wasm?.bench],
    ['q8', wasmQ8?.bench],
  ] as const) {
    const at = (position: number) => bench?.beamStep?.find((b) => b.position === position);
    const near = at(20);
    const far = at(200);
    out(
      `| a 4-beam step ≤ 2× a single-sequence step (124M, Chromium wasm, ${label}, position 20: one batched step, the cache reordered) | ${f(near?.beamMs, 1)} vs ${f(near?.singleMs, 1)} ms = ${f(near?.ratio, 2)}× | ${mark(near ? near.ratio <= 2 : undefined)} |`,
    );
    out(
      `| the 4-beam step at position 200 ≤ 1.3× at position 20 (${label}: the cache reordered, never recomputed) | ${f(far?.beamMs, 1)} vs ${f(near?.beamMs, 1)} ms = ${f(far && near ? far.beamMs / near.beamMs : undefined, 2)}× | ${mark(far && near ? far.beamMs / near.beamMs <= 1.3 : undefined)} |`,
    );
  }
  speedRow("q8 decode ≥ 2× f32 decode (124M, Chromium wasm, the app's threads, same run)", tps(wasmQ8?.bench), tps(wasm?.bench), 2);
  speedRow('the same in Node wasm', tps(nodeAt('wasm', 'q8')), tps(nodeWasm), 2);
  speedRow('f16 decode ≥ 1.5× f32 decode (124M, Chromium wasm)', tps(wasmF16?.bench), tps(wasm?.bench), 1.5);
  speedRow('the same in Node wasm', tps(nodeAt('wasm', 'f16')), tps(nodeWasm), 1.5);
  prefillRow('q8 prefill not slower than f32 (124M, Chromium wasm; prompt tokens: q8 vs f32)', wasmQ8?.bench, wasm?.bench);
  prefillRow('the same in Node wasm', nodeAt('wasm', 'q8'), nodeWasm);
  speedRow(
    '≥ 1.5× transformers.js at its browser default (q8 weights, 1 wasm thread), same Chromium, same weights: our q8',
    tps(wasmQ8?.bench),
    peerQ8?.decode_tok_s,
    1.5,
  );
  const firstVsWarm = [wasm, wasmQ8].filter((r) => r?.bench?.firstPrefillMs !== undefined && r.bench.prefillMs['16'] !== undefined);
  const worstFirst = firstVsWarm.length
    ? Math.max(...firstVsWarm.map((r) => r!.bench!.firstPrefillMs! / r!.bench!.prefillMs['16']))
    : undefined;
  out(
    `| the first Generate's time to first token (16-token prefill right after the load, which warms up) within 1.5× of a warm run's (Chromium wasm) | ${firstVsWarm.map((r) => `${r!.id}: ${f(r!.bench!.firstPrefillMs, 0)} vs ${f(r!.bench!.prefillMs['16'], 0)} ms (warm-up in the load: ${f(r!.warmUpMs, 0)} ms)`).join('; ') || '–'} | ${mark(worstFirst === undefined ? undefined : worstFirst <= 1.5)} |`,
  );
  const large = report.node.filter((n) => n.model === 'large' || n.model === 'xl');
  out(
    `| gpt2-large- and gpt2-xl-shaped checkpoints load and generate on wasm q8 in Node, peak memory reported | ${large.map((n) => (n.error ? `${n.model}: failed (${n.error})` : `${n.model}: ${f(n.decode?.tokensPerSecond, 1)} tok/s, peak RSS ${f((n.peakRssMb ?? 0) / 1024, 2)} GB`)).join('; ') || '–'} | ${mark(large.length === 2 ? large.every((n) => !n.error && (n.decode?.newTokens ?? 0) > 0) : undefined)} |`,
  );
  const q = report.quality;
  const dLoss = q ? q.loss.q8 - q.loss.f32 : undefined;
  out(
    `| the built-in model's held-out loss under q8 within 0.02 nats/token of f32 (${q?.heldOutTokens ?? '–'} tokens of the held-out stories, context 256, wasm) | ${q ? `f32 ${f(q.loss.f32, 4)}, q8 ${f(q.loss.q8, 4)} (${dLoss! >= 0 ? '+' : ''}${f(dLoss, 4)}), f16 ${f(q.loss.f16, 4)} nats/token` : '–'} | ${mark(dLoss === undefined ? undefined : Math.abs(dLoss) <= 0.02)} |`,
  );
  out(
    `| the fixture's greedy tokens unchanged under f16 (20 tokens per case) | ${q ? `${q.f16GreedyCases.matching} of ${q.f16GreedyCases.total} cases` : '–'} | ${mark(q ? q.f16GreedyCases.matching === q.f16GreedyCases.total : undefined)} |`,
  );
  out(
    `| q8 logits within the derived tolerance, 1.5 × 1.8% × √(4·n_layer + 1) of a row's largest \\|logit\\| (docs/precision.md) | ${q ? `fixture ${f(100 * q.q8Logits.fixtureWorst, 1)}% (tolerance ${f(100 * q.q8Logits.fixtureTolerance, 1)}%), built-in at 256 positions ${f(100 * q.q8Logits.builtInWorst, 1)}% (tolerance ${f(100 * q.q8Logits.builtInTolerance, 1)}%)` : '–'} | ${mark(q ? q.q8Logits.fixtureWorst <= q.q8Logits.fixtureTolerance && q.q8Logits.builtInWorst <= q.q8Logits.builtInTolerance : undefined)} |`,
  );
  const cv = report.cacheVerify;
  out(
    `| what verifying the cache costs: a 124M-shaped model loaded from the disk cache with each piece's SHA-256 and length checked, and without (Node cpu, f32, no warm-up, median of ${cv?.runs ?? '–'} each, same process) | ${cv ? `verified ${f(cv.verifiedMs, 0)} ms, unchecked ${f(cv.uncheckedMs, 0)} ms (+${f(cv.verifiedMs - cv.uncheckedMs, 0)} ms for ${f(cv.cachedBytes / 1e6, 0)} MB; SHA-256 alone ${f(cv.sha256MBps, 0)} MB/s)` : '–'} | ${cv ? 'measured (no target)' : 'not measured'} |`,
  );
  const am = report.appMedium;
  out(
    `| a gpt2-medium-shaped checkpoint loads from a local hub server and generates in Chromium (the built app, wasm, auto precision) | ${am ? (am.error ? `failed: ${am.error.split('\n')[0]}` : `${am.precision}: load ${am.loadTime}, first token ${am.firstToken}, ${am.tokensPerSecond} tok/s, peak PSS ${f(am.peakPssMb / 1024, 2)} GB`) : '–'} | ${mark(am ? !am.error && am.precision.startsWith('q8') : undefined)} |`,
  );
  const longest = report.app.length ? Math.max(...report.app.map((a) => a.longestTaskMs)) : undefined;
  out(
    `| no main-thread task over 50 ms during generation (the built app) | longest ${f(longest, 0)} ms | ${mark(longest === undefined ? undefined : longest <= 50)} |`,
  );
  if (report.scaling) scalingTargets(report.scaling, out);
  const leaks = [...report.node.map((n) => n.leak), ...(report.browser?.results.map((r) => r.bench?.leak) ?? [])].filter(Boolean);
  const leaked = leaks.reduce((n, l) => n + l!.leaked, 0);
  out(
    `| zero tensors leaked over 20 generations | ${leaks.map((l) => `${l!.leaked} over ${l!.generations}`).join(', ') || '–'} | ${mark(leaks.length ? leaked === 0 && leaks.some((l) => l!.generations >= 20) : undefined)} |`,
  );
  out();

  out("## Chromium (the app's engine in a module worker, like the app)");
  out();
  out(
    '| job | precision | threads | load ms (+ warm-up) | first / warm prefill 16 ms | prefill 128 ms | decode tok/s | step ms @20 / @500 | @500/@20 | peak PSS (all Chromium) | tf.memory | tfjs wasm heap | other CPU % |',
  );
  out('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of report.browser?.results ?? []) {
    if (!r.bench) continue;
    const b = r.bench;
    const precision = `${r.precision ?? 'f32'}${r.precision && r.precision !== 'f32' && r.matmulBuild ? ` (${r.matmulBuild} SIMD)` : ''}`;
    out(
      `| ${r.id} (${r.backend}${r.adapter ? ', ' + r.adapter : ''}) | ${precision} | ${r.backend === 'wasm' ? r.threads : '–'} | ${f(r.loadMs, 0)} (+ ${f(r.warmUpMs, 0)}; fetch ${f(r.fetchMs, 0)}) | ${f(b.firstPrefillMs, 0)} / ${f(b.prefillMs['16'], 0)} | ${f(b.prefillMs['128'], 0)} | ${f(b.decode.tokensPerSecond, 2)} | ${f(step(b, 20))} / ${f(step(b, 500))} | ${f(ratio(b), 2)} | ${f(r.peakPssMb, 0)} MB | ${b.memory.numTensors} tensors, ${f(b.memory.numBytes / 2 ** 20, 0)} MB | ${r.wasmHeapBytes ? f(r.wasmHeapBytes / 2 ** 20, 0) + ' MB' : '–'} | ${f(r.otherCpuPercent)} |`,
    );
  }
  for (const r of report.browser?.results ?? []) if (r.error) out(`\n- ${r.id} failed: \`${r.error.split('\n')[0]}\``);
  out();
  if (report.browser?.results.length) {
    const isolated = report.browser.results.filter((r) => !r.error).every((r) => r.crossOriginIsolated);
    out(
      `Every job's worker reported \`crossOriginIsolated\` = ${isolated} and \`navigator.hardwareConcurrency\` = ${report.browser.results[0].hardwareConcurrency};` +
        ' "threads" is what tfjs-wasm\'s pool really has (`getThreadsCount()`), not what was asked for.',
    );
    out();
  }
  if (ceiling1 || ceilingN) {
    out('### The matmul ceiling');
    out();
    out("One 124M decode step's matmuls alone, on random weights of the same shapes: per layer [1,768]·[768,2304],");
    out('[1,768]·[768,768], [1,768]·[768,3072], [1,3072]·[3072,768], ×12, plus the head [1,768]·[768,50257]; median of 7.');
    out();
    out('| wasm threads | layers ms | head ms | step ms | ceiling tok/s | head as matMul(x, wte, transposeB) ms |');
    out('|---|---|---|---|---|---|');
    if (ceiling1)
      out(
        `| 1 | ${f(ceiling1.layersMs)} | ${f(ceiling1.headMs)} | ${f(ceiling1.stepMs)} | ${f(ceiling1.tokensPerSecond)} | ${f(ceiling1.headTransposeBMs)} |`,
      );
    if (ceilingN && wasmAll)
      out(
        `| ${wasmAll.threads} | ${f(ceilingN.layersMs)} | ${f(ceilingN.headMs)} | ${f(ceilingN.stepMs)} | ${f(ceilingN.tokensPerSecond)} | ${f(ceilingN.headTransposeBMs)} |`,
      );
    out();
    if (decode && ceiling1)
      out(
        `The app's choice (${wasm?.threads} thread${wasm?.threads === 1 ? '' : 's'}) decodes at ${f(share, 0)}% of the single-thread ceiling.` +
          (wasmAll?.bench && ceilingN
            ? ` With ${wasmAll.threads} threads: ${f(wasmAll.bench.decode.tokensPerSecond, 2)} tok/s, ${f((100 * wasmAll.bench.decode.tokensPerSecond) / ceilingN.tokensPerSecond, 0)}% of the ${wasmAll.threads}-thread ceiling.`
            : ''),
      );
    out();
  }
  const gpu = browserJob(report, 'webgpu-tiny');
  if (gpu?.bench) {
    const long = browserJob(report, 'webgpu-builtin')?.bench;
    out(
      `WebGPU here is SwiftShader (${gpu.adapter ?? 'software'}): small models only. The tiny model: ${f(gpu.bench.dispatchesPerToken, 0)} GPU dispatches per generated token (forward step and argMax)`,
    );
    out(
      `(counted by wrapping \`GPUComputePassEncoder.dispatchWorkgroups\`), ${f(step(gpu.bench, 20), 0)} ms per token at position 20.` +
        (long
          ? ` The built-in model (context 256): ${f(long.dispatchesPerToken, 0)} dispatches per token, ${f(step(long, 20), 0)} ms per token at position 20 and ${f(step(long, WEBGPU_LONG_POSITION), 0)} ms at ${WEBGPU_LONG_POSITION}.`
          : ''),
    );
    out('The 124M model was not run on SwiftShader: the peer measured 12.7–15.1 s per token there, so even a 64-token context is');
    out('about 15 minutes; a real GPU is needed for numbers that mean anything.');
    out();
  }

  out("## Node (tfjs in Node; the CLI's backends)");
  out();
  out(
    '| backend | model | precision | KV cache | load ms (+ warm-up) | first / warm prefill 16 ms | prefill 128 ms | decode tok/s | step ms @20 / @500 | @500/@20 | no cache: N tokens, speedup | peak RSS | leak |',
  );
  out('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const n of report.node) {
    if (n.error) {
      out(`| ${n.backend} | ${n.model} | ${n.precision ?? 'f32'} | – | failed: ${n.error} | | | | | | | | |`);
      continue;
    }
    const nc = n.noCache ? `${n.noCache.tokens}: ${f(n.noCache.speedup, 1)}×` : '–';
    out(
      `| ${n.backend} | ${n.model} | ${n.precision ?? 'f32'} | ${n.cacheKind} | ${f(n.loadMs, 0)} (+ ${f(n.warmUpMs, 0)}) | ${f(n.firstPrefillMs, 0)} / ${f(n.prefillMs?.['16'], 0)} | ${f(n.prefillMs?.['128'], 0)} | ${f(n.decode?.tokensPerSecond, 2)} (${n.decode?.newTokens} tok) | ${f(step(n, 20))} / ${f(step(n, 500))} | ${f(ratio(n), 2)} | ${nc} | ${f(n.peakRssMb, 0)} MB | ${n.leak ? `${n.leak.leaked} / ${n.leak.generations} gens` : '–'} |`,
    );
  }
  out();
  if (est) {
    out(`Recomputation baseline (no KV cache: the whole sequence through the model for every new token, head on the last position only):`);
    out(
      `its step time measured at ${est.sampledLengths.join(', ')} tokens (${est.sampledStepMs.map((x) => f(x, 0)).join(', ')} ms) and summed over the`,
    );
    out(`${est.tokens} steps along the line through them; the cached side is a real ${est.tokens}-token greedy run.`);
    out();
  }
  if (nodeWasmConcat || nodeCpuConcat) {
    out('### KV cache: in place vs concatenation');
    out();
    out('| backend | in place: @20 / @500 ms | concat (baseline): @20 / @500 ms |');
    out('|---|---|---|');
    if (nodeWasmConcat)
      out(
        `| wasm | ${f(step(nodeWasm, 20))} / ${f(step(nodeWasm, 500))} | ${f(step(nodeWasmConcat, 20))} / ${f(step(nodeWasmConcat, 500))} |`,
      );
    if (nodeCpuConcat)
      out(
        `| cpu | ${f(step(nodeCpu, 20), 0)} / ${f(step(nodeCpu, 500), 0)} | ${f(step(nodeCpuConcat, 20), 0)} / ${f(step(nodeCpuConcat, 500), 0)} |`,
      );
    out();
  }

  if (report.app.length) {
    out('## Main thread of the built app');
    out();
    out(
      "`vite build` + `vite preview`, the tiny model, the UI's Generate button; a PerformanceObserver records every `longtask` (> 50 ms) entry.",
    );
    out();
    out(
      '| run | backend | threads | generations × tokens × sequences | long tasks during generation | longest | longest before (page + model load) | crossOriginIsolated |',
    );
    out('|---|---|---|---|---|---|---|---|');
    for (const a of report.app) {
      out(
        `| ${a.label} | ${a.backend} | ${a.threads ?? '–'} | ${a.generations} × ${a.newTokens} × ${a.sequences} | ${a.longTasksDuringGeneration.length} | ${f(a.longestTaskMs, 0)} ms | ${f(a.longestTaskBeforeMs, 0)} ms | ${a.crossOriginIsolated} |`,
      );
    }
    out();
  }

  if (report.scaling) scalingSection(report.scaling, out);

  out('## Side by side with transformers.js (the peer)');
  out();
  out('`../shared/peer` (transformers.js 4.3.2, onnxruntime-web) run by its own `bench_browser.mjs` on the same checkpoint file,');
  out(
    'the same 16-token prompt and the same number of new greedy tokens, in the same Chromium, in the same session (the command line above gives the order).',
  );
  out();
  out('| engine | wasm threads | prefill 16 ms | decode tok/s | step ms @20 | peak PSS (all Chromium) | other CPU % during |');
  out('|---|---|---|---|---|---|---|');
  if (wasm?.bench)
    out(
      `| this engine (tfjs-wasm) | ${wasm.threads} | ${f(wasm.bench.prefillMs['16'], 0)} | ${f(wasm.bench.decode.tokensPerSecond, 2)} | ${f(step(wasm.bench, 20))} | ${f(wasm.peakPssMb, 0)} MB | ${f(wasm.otherCpuPercent)} |`,
    );
  if (wasmAll?.bench)
    out(
      `| this engine (tfjs-wasm) | ${wasmAll.threads} | – | ${f(wasmAll.bench.decode.tokensPerSecond, 2)} | ${f(step(wasmAll.bench, 20))} | ${f(wasmAll.peakPssMb, 0)} MB | ${f(wasmAll.otherCpuPercent)} |`,
    );
  for (const r of [wasmQ8, wasmF16]) {
    if (r?.bench)
      out(
        `| this engine, ${r.precision} weights (${r.matmulBuild ?? '?'} SIMD kernels) | ${r.threads} | ${f(r.bench.prefillMs['16'], 0)} | ${f(r.bench.decode.tokensPerSecond, 2)} | ${f(step(r.bench, 20))} | ${f(r.peakPssMb, 0)} MB | ${f(r.otherCpuPercent)} |`,
      );
  }
  for (const p of report.peer) {
    if (p.error) out(`| transformers.js (${p.backend}) | – | failed: ${String(p.error).split('\n')[0].slice(0, 120)} | | | | |`);
    else
      out(
        `| transformers.js (${p.backend}) | ${p.wasm_num_threads ?? '?'} | ${f(p.prefill_ms, 0)} | ${f(p.decode_tok_s, 2)} | ${f(p.step_ms_pos20)} | ${f(p.peak_pss_mb_all_chromium, 0)} MB | ${f(p.other_cpu_pct_during)} |`,
      );
  }
  out();
  out(readFileSync(path.join(repoRoot, 'bench/notes.md'), 'utf8').trim());
  out();
  return lines.join('\n');
}

/** a / b, undefined when either is missing. */
const ratioOf = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a / b);

/** One precision at 1 and 2 threads: decode tok/s, 128-token prefill ms, the threads that ran, how measured. */
interface ScalingRow {
  ran: [string, string];
  decode: [number | undefined, number | undefined];
  prefill: [number | undefined, number | undefined];
  /** 2 threads over 1 (decode speed-up, prefill speed-up): paired, the median of the rounds' own ratios. */
  ratio: { decode: number | undefined; prefill: number | undefined };
  how: string;
  error?: string;
}

/** The median of b[i] / a[i] over the rounds both sides have; undefined with none. */
function pairedRatio(a: number[] | undefined, b: number[] | undefined): number | undefined {
  const n = Math.min(a?.length ?? 0, b?.length ?? 0);
  return n ? median(Array.from({ length: n }, (_, i) => b![i] / a![i])) : undefined;
}

/** A paired measurement's row: medians of each side, × the median of the rounds' own ratios. */
function pairedRow(sides: (PairedSide & { kernelThreads: number })[] | undefined, where: string, error?: string): ScalingRow {
  const [one, two] = [sides?.[0], sides?.[1]];
  const med = (xs: number[] | undefined) => (xs?.length ? median(xs) : undefined);
  return {
    ran: [one ? `kernels ${one.kernelThreads}` : '–', two ? `kernels ${two.kernelThreads}` : '–'],
    decode: [med(one?.tokensPerSecond), med(two?.tokensPerSecond)],
    prefill: [med(one?.prefillMs), med(two?.prefillMs)],
    ratio: { decode: pairedRatio(one?.tokensPerSecond, two?.tokensPerSecond), prefill: pairedRatio(two?.prefillMs, one?.prefillMs) },
    how: `paired: ${one?.prefillMs.length ?? 0} rounds in turns in ${where}; medians, × = the median of the rounds' ratios`,
    error,
  };
}

/** q8 / f16 from their paired job (medians of the rounds), f32 from its two jobs. */
function scalingRows(scaling: NonNullable<BenchReport['scaling']>): Record<'f32' | 'q8' | 'f16', ScalingRow> {
  const results = scaling.browser.results;
  const paired = (precision: 'q8' | 'f16'): ScalingRow => {
    const r = results.find((x) => x.id === `scale-${precision}`);
    return pairedRow(r?.paired, `one worker (${r?.matmulBuild ?? '?'} SIMD)`, r?.error);
  };
  const [one, two] = [1, 2].map((t) => results.find((x) => x.id === `scale-f32-${t}t`));
  return {
    q8: paired('q8'),
    f16: paired('f16'),
    f32: {
      ran: [one ? `tfjs ${one.threads}` : '–', two ? `tfjs ${two.threads}` : '–'],
      decode: [one?.bench?.decode.tokensPerSecond, two?.bench?.decode.tokensPerSecond],
      prefill: [one?.bench?.prefillMs['128'], two?.bench?.prefillMs['128']],
      ratio: {
        decode: ratioOf(two?.bench?.decode.tokensPerSecond, one?.bench?.decode.tokensPerSecond),
        prefill: ratioOf(one?.bench?.prefillMs['128'], two?.bench?.prefillMs['128']),
      },
      how: 'one job per thread count (tfjs-wasm fixes its pool at start), median of the decode runs',
      error: (one ?? two)?.error,
    },
  };
}

/** The done-when rows of the threads work: 2 threads against 1 for q8, and against transformers.js at 2 threads. */
function scalingTargets(scaling: NonNullable<BenchReport['scaling']>, out: (s?: string) => void): void {
  const q8 = scalingRows(scaling).q8;
  const decodeX = q8.ratio.decode;
  const prefillX = q8.ratio.prefill;
  const peerQ8 = scaling.peer.find((p) => p.backend === 'chromium-wasm-t2-q8' && !p.error);
  const peerX = ratioOf(q8.decode[1], peerQ8?.decode_tok_s);
  out(
    `| q8 decode on 2 threads ≥ 1.5× on 1 (124M, Chromium wasm, paired rounds in one worker; × = median of the rounds' ratios) | ${f(q8.decode[1], 1)} vs ${f(q8.decode[0], 1)} tok/s (medians); ${f(decodeX, 2)}× | ${mark(decodeX === undefined ? undefined : decodeX >= 1.5)} |`,
  );
  out(
    `| q8 128-token prefill on 2 threads ≥ 1.6× on 1 (same run, same statistic) | ${f(q8.prefill[1], 0)} vs ${f(q8.prefill[0], 0)} ms (medians); ${f(prefillX, 2)}× | ${mark(prefillX === undefined ? undefined : prefillX >= 1.6)} |`,
  );
  const calibration = scaling.browser.results.find((r) => r.calibration)?.calibration;
  const chosen = calibration?.choice as 'f32' | 'f16' | 'q8' | undefined;
  const speeds = calibration?.speeds;
  const notSlower = chosen && speeds ? (speeds[chosen] ?? Infinity) <= speeds.f32 : undefined;
  out(
    `| \`auto\` never picks a precision slower than f32 here without a memory reason (its load-time measurement in Chromium wasm: 124M's c_fc product per precision; unit test: auto-precision) | ${speeds ? `f32 ${f(speeds.f32, 2)} ms, q8 ${f(speeds.q8, 2)} ms, f16 ${f(speeds.f16, 2)} ms → ${chosen}` : '–'} | ${mark(notSlower)} |`,
  );
  out(
    `| our q8 on 2 threads ≥ 3× transformers.js q8 on 2 threads (same Chromium, same weights) | ${f(q8.decode[1], 1)} vs ${f(peerQ8?.decode_tok_s, 1)} tok/s = ${f(peerX, 2)}× | ${mark(peerX === undefined ? undefined : peerX >= 3)} |`,
  );
}

/** Decode tok/s and 128-token prefill ms of each precision at 1 and 2 threads, with the ratio; the peer's rows under them. */
function scalingSection(scaling: NonNullable<BenchReport['scaling']>, out: (s?: string) => void): void {
  const rows = scalingRows(scaling);
  out('## Threads: 124M at 1 and 2 threads (Chromium wasm, and Node for the CLI; one run)');
  out();
  out('| engine | precision | threads that ran | decode tok/s 1 → 2 threads | × | prefill 128 ms 1 → 2 threads | × | how |');
  out('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const precision of ['f32', 'q8', 'f16'] as const) {
    const r = rows[precision];
    out(
      `| this engine | ${precision} | ${r.ran.join(' → ')} | ${f(r.decode[0], 2)} → ${f(r.decode[1], 2)} | ${f(r.ratio.decode, 2)} | ${f(r.prefill[0], 0)} → ${f(r.prefill[1], 0)} | ${f(r.ratio.prefill, 2)} | ${r.how} |${r.error ? ` error: ${r.error.split('\n')[0]}` : ''}`,
    );
  }
  for (const precision of ['q8', 'f16'] as const) {
    const node = scaling.node?.find((n) => n.precision === precision || (n.error && n.precision === precision));
    if (!node) continue;
    const r = pairedRow(node.paired, `one Node process (${node.matmulBuild ?? '?'} SIMD)`, node.error);
    out(
      `| this engine in Node (the CLI's) | ${precision} | ${r.ran.join(' → ')} | ${f(r.decode[0], 2)} → ${f(r.decode[1], 2)} | ${f(r.ratio.decode, 2)} | ${f(r.prefill[0], 0)} → ${f(r.prefill[1], 0)} | ${f(r.ratio.prefill, 2)} | ${r.how} |${r.error ? ` error: ${r.error}` : ''}`,
    );
  }
  for (const dtype of ['fp32', 'q8']) {
    const peer = [1, 2].map((t) => scaling.peer.find((p) => p.backend === `chromium-wasm-t${t}${dtype === 'q8' ? '-q8' : ''}`));
    const error = peer.find((r) => r?.error)?.error;
    out(
      `| transformers.js | ${dtype} | ${peer.map((r) => r?.wasm_num_threads ?? '–').join(' → ')} | ${peer.map((r) => f(r?.decode_tok_s, 2)).join(' → ')} | ${f(ratioOf(peer[1]?.decode_tok_s, peer[0]?.decode_tok_s), 2)} | ${peer.map((r) => f(r?.prefill_ms, 0)).join(' → ')} (its 16-token prompt) | – | its own bench (bench_browser.mjs), one process per thread count |${error ? ` ${error}` : ''}`,
    );
  }
  out();
  out(
    '"threads that ran": tfjs-wasm\'s pool (`getThreadsCount()`) for f32, and the q8 / f16 kernels\' own threads after the warm-up ' +
      "(their products split by output channel, attention by head). Chromium's memory is not sampled during this section: reading " +
      'it every 250 ms stalled the threaded runs. The q8 / f16 sides share one worker and take turns, so a machine that drifts ' +
      'during the run slows both; the f32 jobs and the peer ran one after another. On a shared or busy machine the ratios say ' +
      'little: see the run\'s "other CPU %".',
  );
  out();
}

export function writeReport(report: BenchReport, file: string): void {
  writeFileSync(file, renderReport(report));
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const source = process.argv[2] ?? path.join(repoRoot, 'bench/results/latest.json');
  writeReport(JSON.parse(readFileSync(source, 'utf8')) as BenchReport, path.join(repoRoot, 'docs/benchmarks.md'));
  process.stderr.write(`wrote docs/benchmarks.md from ${source}\n`);
}
