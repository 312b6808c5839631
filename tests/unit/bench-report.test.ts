/**
 * The benchmark report decides each target from the run's numbers: a synthetic run with known
 * figures must come out as the right ratios, percentages and met / not met marks.
 */
import { describe, expect, test } from 'vitest';
import { renderReport, type BenchReport } from '../../bench/report';

const steps = (at20: number, at500: number) => [
  { position: 20, ms: at20, samples: 15 },
  { position: 500, ms: at500, samples: 5 },
];
const bench = (tps: number, at20: number, at500: number) => ({
  cacheKind: 'simd',
  prefillMs: { '16': 100, '128': 800 },
  decode: { newTokens: 128, tokensPerSecond: tps, runs: [tps], firstTokenMs: 100 },
  stepMs: steps(at20, at500),
  recomputeEstimate: {
    tokens: 256,
    cachedMs: 10_000,
    recomputeMs: 150_000,
    speedup: 15,
    sampledLengths: [16, 80, 144, 207, 271],
    sampledStepMs: [100, 300, 500, 700, 900],
  },
  leak: { generations: 20, tensorsBefore: 150, tensorsAfter: 150, leaked: 0, bytesLeaked: 0 },
  memory: { numTensors: 150, numBytes: 6e8 },
});
const ceiling = (tps: number) => ({ stepMs: 1000 / tps, tokensPerSecond: tps, layersMs: 30, headMs: 10, headTransposeBMs: 90 });
const job = (id: string, threads: number, extra: object) => ({
  id,
  backend: 'wasm',
  threads,
  crossOriginIsolated: true,
  hardwareConcurrency: 2,
  peakPssMb: 2000,
  otherCpuPercent: 1,
  ...extra,
});

const report: BenchReport = {
  date: '2026-11-29T13:00:00Z',
  command: 'npm run bench',
  settings: { tokens: 128, runs: 3, quick: false },
  busyBeforePercent: 2,
  machine: { cpu: 'Test CPU', logicalCores: 2, memoryGb: 24, os: 'Linux', node: 'v20', chromium: '156', gpu: 'none' },
  node: [
    { where: 'node', backend: 'wasm', model: '124m', ...bench(20, 40, 48) },
    { where: 'node', backend: 'cpu', model: '124m', ...bench(1, 1000, 1400) },
  ],
  browser: {
    chromium: '156',
    results: [
      job('wasm-1-thread-ceiling', 1, { ceiling: ceiling(25) }),
      job('wasm-124m', 2, {
        bench: {
          ...bench(24, 40, 50),
          inspector: { tokens: 64, offTokensPerSecond: 40, onTokensPerSecond: 38, ratio: 0.95, offRuns: [40], onRuns: [38] },
        },
        ceiling: ceiling(40),
      }),
      {
        ...job('webgpu-tiny', 0, { backend: 'webgpu', model: 'tiny', nLayer: 2 }),
        bench: { ...bench(30, 28, 28), dispatchesPerToken: 15 },
      },
      {
        ...job('webgpu-builtin', 0, { backend: 'webgpu', model: 'builtin', nLayer: 4 }),
        bench: {
          ...bench(3, 300, 300),
          stepMs: [
            { position: 20, ms: 300, samples: 5 },
            { position: 250, ms: 420, samples: 5 },
          ],
          dispatchesPerToken: 27,
        },
      },
    ],
  },
  app: [
    {
      label: 'auto',
      backend: 'wasm',
      threads: '2',
      newTokens: 40,
      sequences: 3,
      generations: 2,
      longTasksDuringGeneration: [61],
      longestTaskMs: 61,
      longestTaskBeforeMs: 80,
      crossOriginIsolated: true,
    },
  ],
  peer: [
    { peer: 'transformers.js', backend: 'chromium-wasm', decode_tok_s: 14, wasm_num_threads: 1 },
    { peer: 'transformers.js', backend: 'chromium-wasm-t2', decode_tok_s: 20, wasm_num_threads: 2 },
  ],
};

describe('benchmark report', () => {
  const md = renderReport(report);
  const row = (start: string) => md.split('\n').find((l) => l.startsWith(`| ${start}`)) ?? '';

  test('states the machine and the run', () => {
    expect(md).toContain('Test CPU, 2 logical cores, 24 GB memory');
    expect(md).toContain('Chromium 156');
  });

  test('position ratios decide the flat-cost targets', () => {
    expect(row('per-token time at position 500')).toMatch(/40\.0 → 48\.0 ms = 1\.20× \| \*\*met\*\*/);
    expect(row('the same on cpu')).toMatch(/= 1\.40× \| \*\*not met\*\*/);
    expect(row('the same on WebGPU at the longest context')).toMatch(/300\.0 → 420\.0 ms = 1\.40× \| \*\*not met\*\*/);
  });

  test('WebGPU dispatches per layer: the worst model decides', () => {
    // tiny: 15 / 2 = 7.5; builtin: 27 / 4 = 6.75 → met. 23 on the tiny model would be 11.5 per layer.
    expect(row('WebGPU decode ≤ 10 dispatches')).toMatch(/tiny: 15 per token, 2 layers; builtin: 27 per token, 4 layers.*\*\*met\*\*/);
    const heavy = structuredClone(report);
    heavy.browser!.results[2].bench!.dispatchesPerToken = 23;
    expect(
      renderReport(heavy)
        .split('\n')
        .find((l) => l.startsWith('| WebGPU decode')),
    ).toMatch(/\*\*not met\*\*/);
  });

  test('decode against the single-thread ceiling and the peer', () => {
    expect(row('Chromium wasm decode ≥ 85%')).toMatch(/24\.0 tok\/s vs ceiling 25\.0 tok\/s = 96% \| \*\*met\*\*/);
    expect(row('≥ 1.5× transformers.js')).toMatch(/= 1\.71× \| \*\*met\*\*/);
    expect(row('no slower than transformers.js')).toMatch(/24\.0 vs 20\.0 tok\/s \| \*\*met\*\*/);
  });

  test('long tasks and leaks', () => {
    expect(row('no main-thread task over 50 ms')).toMatch(/longest 61 ms \| \*\*not met\*\*/);
    expect(row('zero tensors leaked')).toMatch(/\*\*met\*\*/);
    expect(row('256 cached tokens')).toMatch(/= 15\.0× \| \*\*met\*\*/);
  });

  test('beam search: a 4-beam step against a single sequence, and at position 200 against 20', () => {
    const beams = structuredClone(report);
    beams.browser!.results[1].bench!.beamStep = [
      { position: 20, beams: 4, singleMs: 40, beamMs: 70, ratio: 1.75, samples: 9 },
      { position: 200, beams: 4, singleMs: 45, beamMs: 98, ratio: 98 / 45, samples: 9 },
    ];
    const lines = renderReport(beams).split('\n');
    const rows = lines.filter((l) => l.startsWith('| a 4-beam step') || l.startsWith('| the 4-beam step'));
    expect(rows[0]).toMatch(/f32, position 20.*\| 70\.0 vs 40\.0 ms = 1\.75× \| \*\*met\*\*/);
    expect(rows[1]).toMatch(/f32: the cache reordered.*\| 98\.0 vs 70\.0 ms = 1\.40× \| \*\*not met\*\*/);
    expect(rows[2]).toMatch(/q8, position 20/); // no q8 run in this report: no mark
    expect(rows[2]).not.toMatch(/\*\*met\*\*/);
  });

  test("the token inspector's cost: on/off decode ratio against 90%", () => {
    expect(row('decode with the token inspector')).toMatch(/38\.0 vs 40\.0 tok\/s = 95% \| \*\*met\*\*/);
    const slow = structuredClone(report);
    slow.browser!.results[1].bench!.inspector = {
      tokens: 64,
      offTokensPerSecond: 40,
      onTokensPerSecond: 34,
      ratio: 0.85,
      offRuns: [40],
      onRuns: [34],
    };
    expect(
      renderReport(slow)
        .split('\n')
        .find((l) => l.startsWith('| decode with the token inspector')),
    ).toMatch(/= 85% \| \*\*not met\*\*/);
  });

  test('something not measured is said to be not measured, not passed', () => {
    const empty = renderReport({ ...report, node: [], browser: undefined, app: [], peer: [] });
    expect(empty.split('\n').filter((l) => l.includes('**met**'))).toEqual([]);
    expect(empty).toContain('not measured');
  });

  test('the thread scaling table: q8 / f16 paired (medians of rounds), f32 per job, the ratios, the threads that ran, the peer, the targets', () => {
    const f32Job = (threads: number, tps: number, prefill: number) =>
      job(`scale-f32-${threads}t`, threads, { precision: 'f32', bench: { ...bench(tps, 40, 50), prefillMs: { '128': prefill } } });
    /**
     * A paired job: per side the rounds' prefill ms and tok/s (medians: 1 thread 745 ms / 70 tok/s, 2 threads 380 / 112).
     * The × is the median of the rounds' own ratios: decode 1.6, 1.67, 1.6 → 1.60; prefill 1.86, 2.37, 2.00 → 2.00
     * (the ratio of the medians, 745 / 380 = 1.96, is not what is shown).
     */
    const pairedJob = (precision: string, ran: number) =>
      job(`scale-${precision}`, 1, {
        precision,
        matmulBuild: 'relaxed',
        paired: [
          { label: '1 thread', kernelThreads: 1, prefillMs: [745, 900, 700], tokensPerSecond: [70, 60, 75] },
          { label: '2 threads', kernelThreads: ran, prefillMs: [400, 380, 350], tokensPerSecond: [112, 100, 120] },
        ],
      });
    const scaling = {
      browser: { chromium: '156', results: [f32Job(1, 37, 800), f32Job(2, 48, 500), pairedJob('q8', 2), pairedJob('f16', 2)] },
      node: [
        {
          where: 'node' as const,
          backend: 'wasm',
          model: '124m',
          precision: 'q8',
          matmulBuild: 'plain',
          paired: [
            { label: '1 thread', kernelThreads: 1, prefillMs: [480, 470], tokensPerSecond: [120, 118] },
            { label: '2 threads', kernelThreads: 2, prefillMs: [250, 240], tokensPerSecond: [200, 190] },
          ],
        },
      ],
      peer: [
        { peer: 'transformers.js', backend: 'chromium-wasm-t1', decode_tok_s: 18, prefill_ms: 300, wasm_num_threads: 1 },
        { peer: 'transformers.js', backend: 'chromium-wasm-t2', decode_tok_s: 27, prefill_ms: 200, wasm_num_threads: 2 },
        { peer: 'transformers.js', backend: 'chromium-wasm-t1-q8', error: 'not run: no ONNX export' },
      ],
    };
    const scaled = renderReport({ ...report, scaling }).split('\n');
    const row = (start: string) => scaled.find((l) => l.startsWith(start)) ?? '';
    expect(row('| this engine | q8 |')).toMatch(
      /^\| this engine \| q8 \| kernels 1 → kernels 2 \| 70\.00 → 112\.00 \| 1\.60 \| 745 → 380 \| 2\.00 \| paired: 3 rounds in turns/,
    );
    expect(row('| this engine | f32 |')).toMatch(
      /^\| this engine \| f32 \| tfjs 1 → tfjs 2 \| 37\.00 → 48\.00 \| 1\.30 \| 800 → 500 \| 1\.60 \|/,
    );
    expect(row('| transformers.js | fp32 |')).toMatch(
      /^\| transformers\.js \| fp32 \| 1 → 2 \| 18\.00 → 27\.00 \| 1\.50 \| 300 → 200 \(its 16-token prompt\) \| – \|/,
    );
    // Node, the CLI's engine: 200/120 = 1.67, 190/118 = 1.61 → 1.64; 480/250 = 1.92, 470/240 = 1.96 → 1.94.
    expect(row("| this engine in Node (the CLI's) | q8 |")).toMatch(
      /^\| this engine in Node \(the CLI's\) \| q8 \| kernels 1 → kernels 2 \| 119\.00 → 195\.00 \| 1\.64 \| 475 → 245 \| 1\.94 \| paired: 2 rounds in turns in one Node process \(plain SIMD\)/,
    );
    expect(row('| transformers.js | q8')).toMatch(/– → – \| – \|.*not run: no ONNX export$/);
    // The targets: 1.60 ≥ 1.5; 2.00 ≥ 1.6; the peer's q8 at 2 threads was not run.
    expect(row('| q8 decode on 2 threads ≥ 1.5× on 1')).toContain('112.0 vs 70.0 tok/s (medians); 1.60× | **met** |');
    expect(row('| q8 128-token prefill on 2 threads ≥ 1.6× on 1')).toContain('380 vs 745 ms (medians); 2.00× | **met** |');
    expect(row('| our q8 on 2 threads ≥ 3× transformers.js q8 on 2 threads')).toContain('| not measured |');
    // A 2-thread side that got 1 thread does not pass unnoticed: the row says what ran.
    const slow = renderReport({
      ...report,
      scaling: { ...scaling, browser: { ...scaling.browser, results: [pairedJob('q8', 1)] } },
    }).split('\n');
    expect(slow.find((l) => l.startsWith('| this engine | q8 |'))).toContain('kernels 1 → kernels 1');
  });
});
