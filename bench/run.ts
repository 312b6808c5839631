/**
 * `npm run bench`: the engine's speed on every backend this machine has, written to
 * bench/results/*.json and docs/benchmarks.md.
 *
 *   npm run bench                              everything (about 20 minutes on 2 cores)
 *   npm run bench -- --only chromium-wasm,peer  a subset: node-wasm node-cpu chromium-wasm chromium-webgpu app peer node-large
 *                                               (node-large: gpt2-large/xl-shaped random checkpoints on wasm q8, made in $BENCH_LARGE_DIR;
 *                                                app-medium: a gpt2-medium-shaped one in the built app from a local hub, wasm, auto precision;
 *                                                quality: held-out loss, f16 greedy tokens and q8 logit error, bench/node/quality.ts;
 *                                                cache-verify: 124M load time from the disk cache with and without verification, bench/node/cacheVerify.ts;
 *                                                scaling: 124M decode and 128-token prefill at 1 and 2 threads, f32/q8/f16 in Chromium, q8/f16 in Node, and the peer's)
 *   npm run bench -- --quick                   few tokens, one run: checks the bench itself works
 *   npm run bench -- --tokens 64 --runs 3      decode length and timed runs
 *   npm run bench -- --no-docs                 leave docs/benchmarks.md alone
 *   npm run bench -- --cpu-concat              also the concat-cache baseline on the (slow) cpu backend
 *   npm run bench -- --only peer --merge       rerun some sections, keep the others from bench/results/latest.json
 *   PEER_DIR=/tmp/peer npm run bench            where the peer (transformers.js) bench is set up
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ModelBenchOptions } from './core';
import { benchModel as ensureModel, repoRoot } from './models';
import { runBrowserJobs, type BrowserRun } from './browser/runBrowser';
import type { BrowserJob } from './browser/protocol';
import { measureAppLongTasks, type AppLongTaskRun } from './browser/appLongTasks';
import { peerReady, runPeer } from './peer';
import { measureAppMedium } from './browser/appMedium';
import { WEBGPU_LONG_POSITION, machineBusyPercent, writeReport, type BenchReport, type NodeResult } from './report';
import type { NodeRunRequest } from './node/runModel';
import type { QualityResult } from './node/quality';
import type { CacheVerifyResult } from './node/cacheVerify';

const SECTIONS = [
  'node-wasm',
  'node-cpu',
  'chromium-wasm',
  'chromium-webgpu',
  'app',
  'peer',
  'node-large',
  'app-medium',
  'quality',
  'cache-verify',
  'scaling',
] as const;
type Section = (typeof SECTIONS)[number];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const value = process.argv[i + 1];
  return value && !value.startsWith('--') ? value : 'true';
}

const quick = arg('quick') === 'true';
const tokens = Number(arg('tokens') ?? (quick ? 16 : 128));
const runs = Number(arg('runs') ?? (quick ? 1 : 3));
const only = (arg('only') ?? SECTIONS.join(',')).split(',').map((s) => s.trim()) as Section[];
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section '${s}' (choose from ${SECTIONS.join(', ')})`);
const writeDocs = arg('no-docs') !== 'true';
const merge = arg('merge') === 'true';
const peerDir = process.env.PEER_DIR ?? '/tmp/peer';
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** Thread counts of the scaling section, and its paired rounds (each: a 128-token prefill and a decode per thread count). */
const SCALING_THREADS = [1, 2];
const SCALING_ROUNDS = 7;

/** Full measurement set for the 124M model on a fast backend. */
function fullOptions(): Omit<ModelBenchOptions, 'log' | 'dispatchCount'> {
  return {
    newTokens: tokens,
    runs,
    prefillLengths: [16, 128],
    positions: quick ? [20] : [20, 500],
    noCacheTokens: quick ? 0 : 32,
    recomputeEstimateTokens: quick ? 0 : 256,
    leakGenerations: quick ? 2 : 20,
    inspectorTokens: quick ? 8 : 64,
    beamStep: BEAM_STEP,
  };
}

/** Beam search's step (4 beams, the cache reordered) against a single sequence's, near the start and at position 200. */
const BEAM_STEP = { beams: 4, positions: quick ? [20] : [20, 200], rounds: quick ? 1 : 3 };

/** Just the per-position step times, for the concat-cache baseline. */
function positionsOnly(cacheKind: 'concat' | 'simd'): Omit<ModelBenchOptions, 'log' | 'dispatchCount'> {
  return {
    newTokens: Math.min(tokens, 32),
    runs: 1,
    prefillLengths: [],
    positions: quick ? [20] : [20, 500],
    noCacheTokens: 0,
    recomputeEstimateTokens: 0,
    leakGenerations: 0,
    cacheKind,
  };
}

/** The 124M model at another precision: decode, prefill and the per-position steps (no recompute baselines). */
function precisionOptions(): Omit<ModelBenchOptions, 'log' | 'dispatchCount'> {
  return { ...fullOptions(), noCacheTokens: 0, recomputeEstimateTokens: 0, leakGenerations: quick ? 2 : 5 };
}

/** A gpt2-large/xl-shaped model: it loads, generates a few tokens, and the process's peak memory is read. */
function largeOptions(): Omit<ModelBenchOptions, 'log' | 'dispatchCount'> {
  return {
    newTokens: quick ? 4 : 16,
    runs: 1,
    prefillLengths: [16],
    positions: [],
    noCacheTokens: 0,
    recomputeEstimateTokens: 0,
    leakGenerations: 0,
  };
}

/** The tiny fixture model: 64 positions, so short runs. */
function tinyOptions(): Omit<ModelBenchOptions, 'log' | 'dispatchCount'> {
  return {
    newTokens: 40,
    runs,
    prefillLengths: [16],
    positions: [20, 50],
    noCacheTokens: 16,
    recomputeEstimateTokens: 0,
    leakGenerations: 20,
  };
}

/** A bench script (quality.ts, cacheVerify.ts) in a child process, parsed from its RESULT line (undefined if it failed). */
function runScript<T>(script: string, ...args: string[]): Promise<T | undefined> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs'), script, ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('close', () => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      resolve(line ? (JSON.parse(line.slice(7)) as T) : undefined);
    });
  });
}

/** One Node measurement in a child process (its own RSS), parsed from its RESULT line. */
function runNode(request: NodeRunRequest): Promise<NodeResult> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs'), 'bench/node/runModel.ts', JSON.stringify(request)],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice(7)) as NodeResult);
      else
        resolve({
          where: 'node',
          backend: request.backend,
          model: request.model,
          precision: request.precision,
          error: `exit ${code}`,
        } as NodeResult);
    });
  });
}

function machine(chromium?: string): BenchReport['machine'] {
  const cpus = os.cpus();
  let osName = `${os.type()} ${os.release()}`;
  try {
    osName = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? osName;
  } catch {
    // not Linux
  }
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    logicalCores: cpus.length,
    memoryGb: +(os.totalmem() / 2 ** 30).toFixed(1),
    os: `${osName} (${os.arch()}, kernel ${os.release()})`,
    node: process.version,
    chromium,
    gpu: 'none (WebGPU is SwiftShader, a software adapter)',
  };
}

async function main(): Promise<void> {
  const started = new Date();
  const busyBefore = await machineBusyPercent(2000);
  log(`machine CPU busy before the run: ${busyBefore}% (other processes distort every number; compare only quiet runs)`);
  if (only.some((s) => s.startsWith('node') || s.startsWith('chromium') || s === 'peer')) ensureModel('124m');

  const report: BenchReport = {
    date: started.toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    settings: { tokens, runs, quick },
    busyBeforePercent: busyBefore,
    machine: machine(),
    node: [],
    browser: undefined,
    app: [],
    peer: [],
  };

  // The browser first: the targets that matter most (wasm in Chromium, the peer) get the quietest machine.
  if (only.includes('chromium-wasm') || only.includes('chromium-webgpu')) {
    const jobs: BrowserJob[] = [];
    if (only.includes('chromium-wasm')) {
      jobs.push({ id: 'wasm-1-thread-ceiling', backend: 'wasm', threads: 1, ceiling: true });
      jobs.push({ id: 'wasm-124m', backend: 'wasm', threads: 'app', model: '124m', options: { ...fullOptions(), noCacheTokens: 0 } });
      jobs.push({ id: 'wasm-124m-q8', backend: 'wasm', threads: 'app', model: '124m', precision: 'q8', options: precisionOptions() });
      jobs.push({ id: 'wasm-124m-f16', backend: 'wasm', threads: 'app', model: '124m', precision: 'f16', options: precisionOptions() });
      // Every core, for comparison with the app's choice.
      const cores = os.cpus().length;
      if (cores > 1)
        jobs.push({
          id: `wasm-${cores}-threads-124m`,
          backend: 'wasm',
          threads: cores,
          model: '124m',
          options: { ...positionsOnly('simd'), newTokens: tokens, runs: Math.min(runs, 2) },
          ceiling: true,
        });
      jobs.push({ id: 'wasm-tiny', backend: 'wasm', threads: 'app', model: 'tiny', options: tinyOptions() });
    }
    if (only.includes('chromium-webgpu')) {
      // SwiftShader emulates the GPU on the CPU: the tiny model only, and few tokens.
      jobs.push({
        id: 'webgpu-tiny',
        backend: 'webgpu',
        model: 'tiny',
        options: {
          newTokens: quick ? 4 : 16,
          runs: 1,
          prefillLengths: [16],
          positions: [20],
          noCacheTokens: 0,
          recomputeEstimateTokens: 0,
          leakGenerations: quick ? 1 : 5,
        },
      });
      // Position 20 against the longest context that fits: the built-in model (context 256) is small enough for SwiftShader.
      jobs.push({
        id: 'webgpu-builtin',
        backend: 'webgpu',
        model: 'builtin',
        options: {
          newTokens: quick ? 4 : 8,
          runs: 1,
          prefillLengths: [],
          positions: [20, WEBGPU_LONG_POSITION],
          noCacheTokens: 0,
          recomputeEstimateTokens: 0,
          leakGenerations: 0,
          inspectorTokens: quick ? 4 : 8,
        },
      });
    }
    const run: BrowserRun = await runBrowserJobs(jobs, log);
    report.browser = run;
    report.machine = machine(run.chromium);
  }

  if (only.includes('scaling')) {
    // The same 124M model at 1 and 2 threads, in one Chromium run with its memory left unsampled
    // (sampling stalls threads: launchChromium). q8 and f16: one worker loads the checkpoint with
    // its kernels on 1 and on 2 threads and measures them in turns (paired rounds, so the
    // machine's drift moves both alike). f32's threads are tfjs-wasm's pool, fixed when the
    // backend starts: one job per thread count.
    const options = {
      newTokens: tokens,
      runs,
      prefillLengths: [128],
      positions: [],
      noCacheTokens: 0,
      recomputeEstimateTokens: 0,
      leakGenerations: 0,
    };
    const jobs: BrowserJob[] = [
      ...(['q8', 'f16'] as const).map((precision) => ({
        id: `scale-${precision}`,
        backend: 'wasm' as const,
        threads: 1,
        model: '124m' as const,
        precision,
        paired: { kernelThreads: SCALING_THREADS, rounds: quick ? 1 : SCALING_ROUNDS, newTokens: tokens, prefillLength: 128 },
      })),
      ...SCALING_THREADS.map((threads) => ({
        id: `scale-f32-${threads}t`,
        backend: 'wasm' as const,
        threads,
        model: '124m' as const,
        precision: 'f32' as const,
        options,
      })),
    ];
    const scaling: NonNullable<BenchReport['scaling']> = { browser: await runBrowserJobs(jobs, log, { sampleMemory: false }), peer: [] };
    // The same paired runs in Node, the CLI's engine (--threads 1 and 2).
    scaling.node = [];
    for (const precision of ['q8', 'f16'] as const) {
      const paired = { kernelThreads: SCALING_THREADS, rounds: quick ? 1 : SCALING_ROUNDS, newTokens: tokens, prefillLength: 128 };
      scaling.node.push(await runNode({ backend: 'wasm', model: '124m', precision, options: options, paired }));
    }
    const why = peerReady(peerDir);
    for (const threads of SCALING_THREADS) {
      for (const dtype of ['fp32', 'q8'] as const) {
        scaling.peer.push(
          why
            ? { peer: 'transformers.js', backend: `chromium-wasm-t${threads}${dtype === 'q8' ? '-q8' : ''}`, error: `not run: ${why}` }
            : runPeer(peerDir, threads, tokens, runs, log, dtype),
        );
      }
    }
    report.scaling = scaling;
  }

  if (only.includes('peer')) {
    const why = peerReady(peerDir);
    if (why) {
      log(`peer skipped: ${why}`);
      report.peer.push({ peer: 'transformers.js', backend: 'chromium-wasm', error: `not run: ${why}` });
    } else {
      report.peer.push(runPeer(peerDir, undefined, tokens, runs, log));
      report.peer.push(runPeer(peerDir, undefined, tokens, runs, log, 'q8')); // transformers.js's own default on wasm
      report.peer.push(runPeer(peerDir, 2, tokens, runs, log));
    }
  }

  if (only.includes('app')) {
    report.app = await measureAppLongTasks(
      [
        { label: 'auto backend (wasm here), 3 sequences', backend: 'auto', newTokens: 40, sequences: 3, generations: 2 },
        { label: 'WebGPU forced (SwiftShader), 1 sequence', backend: 'webgpu', newTokens: 12, sequences: 1, generations: 1 },
      ] satisfies Omit<
        AppLongTaskRun,
        'longTasksDuringGeneration' | 'longestTaskMs' | 'longestTaskBeforeMs' | 'crossOriginIsolated' | 'threads'
      >[],
      log,
    );
  }

  if (only.includes('app-medium')) report.appMedium = await measureAppMedium(log);
  if (only.includes('quality')) report.quality = await runScript<QualityResult>('bench/node/quality.ts');
  if (only.includes('cache-verify')) report.cacheVerify = await runScript<CacheVerifyResult>('bench/node/cacheVerify.ts', String(runs));

  if (only.includes('node-wasm')) {
    report.node.push(await runNode({ backend: 'wasm', model: '124m', options: fullOptions(), ceiling: true }));
    report.node.push(await runNode({ backend: 'wasm', model: '124m', options: positionsOnly('concat') }));
    report.node.push(await runNode({ backend: 'wasm', model: '124m', precision: 'q8', options: precisionOptions() }));
    report.node.push(await runNode({ backend: 'wasm', model: '124m', precision: 'f16', options: precisionOptions() }));
    report.node.push(await runNode({ backend: 'wasm', model: 'tiny', options: tinyOptions() }));
  }
  if (only.includes('node-cpu')) {
    // Pure-JS matmuls: a 124M step takes seconds, so fewer tokens and no recompute baselines.
    // Position 500 on a zero-filled cache: a real 498-token prefill on cpu takes minutes.
    const cpu124m = { ...positionsOnly('simd'), newTokens: quick ? 4 : 12, runs: 1, prefillLengths: [16], syntheticPrefill: true };
    report.node.push(await runNode({ backend: 'cpu', model: '124m', options: cpu124m }));
    // The concat baseline on cpu costs minutes more (a 498-token prefill again): only when asked.
    if (arg('cpu-concat') === 'true')
      report.node.push(await runNode({ backend: 'cpu', model: '124m', options: { ...cpu124m, prefillLengths: [], cacheKind: 'concat' } }));
    report.node.push(await runNode({ backend: 'cpu', model: '124m', precision: 'q8', options: { ...cpu124m, newTokens: quick ? 8 : 32 } }));
    report.node.push(await runNode({ backend: 'cpu', model: 'tiny', options: tinyOptions() }));
  }
  if (only.includes('node-large')) {
    for (const model of ['large', 'xl'] as const) {
      ensureModel(model);
      report.node.push(await runNode({ backend: 'wasm', model, precision: 'q8', options: largeOptions() }));
    }
  }

  report.busyAfterPercent = await machineBusyPercent(2000);
  const latest = path.join(repoRoot, 'bench/results/latest.json');
  if (merge && existsSync(latest)) {
    // Keep what this run did not measure from the previous run, and say so in the command.
    const previous = JSON.parse(readFileSync(latest, 'utf8')) as BenchReport;
    if (!report.browser) report.browser = previous.browser;
    else if (previous.browser) {
      // Browser jobs merge by id: the ones not rerun now stay from before.
      const rerun = new Set(report.browser.results.map((r) => r.id));
      report.browser.results.push(...previous.browser.results.filter((r) => !rerun.has(r.id)));
    }
    if (report.node.length === 0) report.node = previous.node;
    else {
      // Node runs merge by backend, model, precision and cache: the ones not rerun now stay from before.
      const key = (n: NodeResult) => `${n.backend}/${n.model}/${n.precision ?? 'f32'}/${n.cacheKind ?? ''}`;
      const rerun = new Set(report.node.map(key));
      // A run that failed before it loaded has no precision to match: a rerun of its backend and model replaces it.
      const rerunModels = new Set(report.node.map((n) => `${n.backend}/${n.model}`));
      report.node.push(...previous.node.filter((n) => !rerun.has(key(n)) && !(n.error && rerunModels.has(`${n.backend}/${n.model}`))));
    }
    if (report.app.length === 0) report.app = previous.app;
    report.appMedium ??= previous.appMedium;
    report.quality ??= previous.quality;
    report.cacheVerify ??= previous.cacheVerify;
    if (report.peer.length === 0) report.peer = previous.peer;
    else if (previous.peer.length) {
      const rerun = new Set(report.peer.map((p) => p.backend));
      report.peer.push(...previous.peer.filter((p) => !rerun.has(p.backend)));
    }
    if (!report.machine.chromium) report.machine.chromium = previous.machine.chromium;
    report.command = `${previous.command} (${previous.date}), then ${report.command} for: ${only.join(', ')}`;
  }
  report.finished = new Date().toISOString();
  const resultsDir = path.join(repoRoot, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2));
  writeFileSync(path.join(resultsDir, 'latest.json'), JSON.stringify(report, null, 2));
  log(`results: ${path.relative(repoRoot, file)}`);
  if (writeDocs) {
    writeReport(report, path.join(repoRoot, 'docs/benchmarks.md'));
    log('wrote docs/benchmarks.md');
  }
}

main().catch((error) => {
  log(`bench failed: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
