/**
 * The CLI's downloads against servers that misbehave, on 127.0.0.1 in the hub's URL layout: a
 * server that never answers or stops sending part-way (idle timeout, then retry/resume), a proxy
 * that sends more than the range asked for, a config.json far too big or with sizes the weights
 * file cannot hold, two hubs serving the same repo id (the cache keeps them apart), a cached piece
 * changed on disk (caught by its checksum) and a CLI killed mid-download (its .partial file removed).
 * In-process main() with --hub-url, as `npm run cli` runs it.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { stderrProgress } from '../../src/cli/modelArg';
import type { LoadProgress } from '../../src/sources/progress';
import { FileSystemModelCache } from '../../src/sources/fsCache';
import { fixtureDir, repoRoot } from '../helpers/fixture';
import { startHubServer, type HubServer } from '../helpers/hubServer';

const configBytes = new Uint8Array(readFileSync(path.join(fixtureDir, 'config.json')));
const weightBytes = new Uint8Array(readFileSync(path.join(fixtureDir, 'model.safetensors')));
const config = JSON.parse(new TextDecoder().decode(configBytes)) as Record<string, unknown>;
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

let hub: HubServer;
let cacheDir: string;
const saved = { hub: process.env.GPT2_HUB_URL, cache: process.env.GPT2_CACHE_DIR, idle: process.env.GPT2_IDLE_TIMEOUT };

beforeAll(async () => {
  hub = await startHubServer({
    repos: {
      'org/tiny-gpt2': { 'config.json': configBytes, 'model.safetensors': weightBytes },
      // 2 MB of valid JSON: a config.json nobody should read whole.
      'org/huge-config': { 'config.json': json({ ...config, padding: ' '.repeat(2_000_000) }), 'model.safetensors': weightBytes },
      'org/ten-million-layers': { 'config.json': json({ ...config, n_layer: 10_000_000 }), 'model.safetensors': weightBytes },
      'org/huge-context': { 'config.json': json({ ...config, n_positions: 2_000_000_000 }), 'model.safetensors': weightBytes },
      // Sizes the memory plan accepts, that the 6.6 MB weights file cannot hold.
      'org/thousand-layers': { 'config.json': json({ ...config, n_layer: 1000 }), 'model.safetensors': weightBytes },
      'org/long-context': { 'config.json': json({ ...config, n_positions: 1_000_000 }), 'model.safetensors': weightBytes },
    },
  });
  delete process.env.GPT2_HUB_URL;
  delete process.env.GPT2_IDLE_TIMEOUT;
});

beforeEach(async () => {
  hub.reset();
  delete process.env.GPT2_IDLE_TIMEOUT;
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'gpt2-cli-trust-'));
  process.env.GPT2_CACHE_DIR = cacheDir;
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(cacheDir, { recursive: true, force: true });
});

afterAll(async () => {
  await hub?.stop();
  for (const [key, value] of [
    ['GPT2_HUB_URL', saved.hub],
    ['GPT2_CACHE_DIR', saved.cache],
    ['GPT2_IDLE_TIMEOUT', saved.idle],
  ] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

/** main() in this process; `progress` is what went to stderr outside console.error (the progress lines). */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string; progress: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const progress: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    progress.push(String(chunk));
    return true;
  });
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('\n'), progress: progress.join('') };
  } finally {
    vi.restoreAllMocks();
  }
}

const logits = (repo: string, ...extra: string[]) => [
  'logits',
  '--model',
  `hf:${repo}`,
  '--hub-url',
  hub.url,
  '--ids',
  '464,3290',
  '--json',
  ...extra,
];

describe('stalled servers time out and resume', () => {
  it('a server that accepts the connection and never answers is given up on after the idle timeout', async () => {
    hub.stallNext('config.json', -1, 100);
    const result = await run(logits('org/tiny-gpt2', '--idle-timeout', '0.2'));
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      /^error: 127\.0\.0\.1:\d+ did not answer within 0\.2 s \(config\.json of org\/tiny-gpt2@main, 5 tries\)\. .*retry/,
    );
    expect(result.err.split('\n')).toHaveLength(1);
  }, 30_000);

  it('a body that stops part-way is resumed after the idle timeout and the model loads', async () => {
    hub.stallNext('model.safetensors', 100_000);
    const result = await run(logits('org/tiny-gpt2', '--idle-timeout', '0.2'));
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out).logits).toHaveLength(50257);
    const weights = hub.requests.filter((r) => r.path.startsWith('/cdn/') && r.path.endsWith('model.safetensors'));
    // The stalled request, then one resuming from the first byte that did not arrive.
    const stalled = weights.findIndex((r) => r.bytes === 100_000);
    expect(stalled).toBeGreaterThan(0);
    expect(weights[stalled + 1].range).toMatch(
      new RegExp(`^bytes=${Number(/^bytes=(\d+)-/.exec(weights[stalled].range!)![1]) + 100_000}-`),
    );
  }, 30_000);

  it('a server that keeps stalling ends in one line saying it stopped sending', async () => {
    hub.stallNext('model.safetensors', 100_000);
    hub.stallNext('model.safetensors', 0, 100); // every resume after that gets nothing at all
    const result = await run(logits('org/tiny-gpt2', '--idle-timeout', '0.2'));
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      /^error: 127\.0\.0\.1:\d+ stopped sending model\.safetensors of org\/tiny-gpt2@main: nothing arrived for 0\.2 s, 5 times in a row \(at [\d.]+ [kM]B of [\d.]+ MB\)\. .*retry/,
    );
  }, 60_000);

  it('GPT2_IDLE_TIMEOUT sets the timeout too, and a bad --idle-timeout is a usage error', async () => {
    hub.stallNext('config.json', -1, 100);
    process.env.GPT2_IDLE_TIMEOUT = '0.2';
    try {
      expect((await run(logits('org/tiny-gpt2'))).err).toMatch(/did not answer within 0\.2 s/);
    } finally {
      delete process.env.GPT2_IDLE_TIMEOUT;
    }
    const bad = await run(logits('org/tiny-gpt2', '--idle-timeout', 'soon'));
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^error: --idle-timeout must be a number of seconds above 0, got 'soon'/);
  }, 30_000);

  it('shows download progress on stderr when it is not a terminal', async () => {
    const result = await run(logits('org/tiny-gpt2'));
    expect(result.code).toBe(0);
    expect(result.progress).toMatch(/Downloading model\.safetensors: [\d.]+ (bytes|[kM]B) of [\d.]+ MB/);
    expect(result.progress).toMatch(/Loaded \([\d.]+ MB read\)\n$/);
  });
});

describe('progress on a pipe', () => {
  it('prints a line when a download starts, then one every few seconds, also while nothing arrives', () => {
    vi.useFakeTimers();
    try {
      const lines: string[] = [];
      let clock = 0;
      const printer = stderrProgress({ isTTY: false, write: (text: string) => lines.push(text) > 0 } as never, 5000, () => clock);
      const report = (bytesDone: number, stage: LoadProgress['stage'] = 'weights') =>
        printer.onProgress({ stage, origin: 'network', bytesDone, message: `${stage} ${bytesDone}` } as LoadProgress);
      report(0);
      expect(lines).toEqual(['weights 0\n']);
      clock = 1000;
      report(1000); // too soon for another line
      clock = 5000;
      vi.advanceTimersByTime(5000);
      expect(lines.at(-1)).toBe('weights 1000\n');
      clock = 16_000; // the server went quiet: the timer still reports, saying for how long
      vi.advanceTimersByTime(10_000);
      expect(lines.at(-1)).toBe('weights 1000 · no data for 15 s\n');
      report(2000, 'ready');
      expect(lines.at(-1)).toBe('ready 2000\n');
      const count = lines.length;
      vi.advanceTimersByTime(60_000); // done: no more lines
      expect(lines).toHaveLength(count);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps local files and cached models quiet on a pipe', () => {
    const lines: string[] = [];
    const printer = stderrProgress({ isTTY: false, write: (text: string) => lines.push(text) > 0 } as never);
    printer.onProgress({ stage: 'weights', origin: 'file', bytesDone: 0, message: 'x' } as LoadProgress);
    printer.onProgress({ stage: 'ready', origin: 'cache', bytesDone: 0, message: 'x' } as LoadProgress);
    printer.close();
    expect(lines).toEqual([]);
  });
});

describe('unbounded inputs are bounded', () => {
  it('a 206 answer longer than the range asked for is read only up to the range', async () => {
    hub.rangeOverrun = 256 << 20; // every partial answer carries 256 MB it was not asked for
    const result = await run(logits('org/tiny-gpt2'));
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    // The server stops when the client hangs up; what it got out is socket buffers, not 256 MB a request.
    const overrun = hub.requests.filter((r) => r.status === 206).reduce((n, r) => n + r.bytes, 0) - weightBytes.byteLength;
    expect(overrun).toBeLessThan(64 << 20);
  }, 60_000);

  it('a config.json over 1 MB is refused without being read whole', async () => {
    const result = await run(logits('org/huge-config'));
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      /^error: config\.json of org\/huge-config@main is 2\.00 MB: a GPT-2 config\.json is a few hundred bytes, and more than 1\.00 MB is refused/,
    );
    expect(hub.requests.some((r) => r.path.endsWith('model.safetensors'))).toBe(false);
  });

  it('n_layer 10⁷ and n_positions 2·10⁹ are refused from config.json alone, before a byte of the weights is fetched', async () => {
    for (const repo of ['org/ten-million-layers', 'org/huge-context']) {
      hub.reset();
      const result = await run(logits(repo));
      expect(result.code).toBe(1);
      // The memory plan sees the sizes first: nothing is expanded, nothing of the weights is asked for.
      expect(result.err).toMatch(/^error: Not loading: .* needs [\d.]+ [GTP]B/);
      expect(hub.requests.some((r) => r.path.endsWith('model.safetensors'))).toBe(false);
    }
  }, 30_000);

  it('sizes that fit in memory but not in the weights file are refused against the file before anything is expanded', async () => {
    const layers = await run(logits('org/thousand-layers'));
    expect(layers.code).toBe(1);
    expect(layers.err).toMatch(
      /^error: .*config\.json says n_layer 1000 .* at least [\d.]+ MB of weights, but model\.safetensors holds [\d.]+ MB/,
    );
    const context = await run(logits('org/long-context'));
    expect(context.code).toBe(1);
    expect(context.err).toMatch(/^error: .*config\.json says n_positions 1000000 .* but model\.safetensors holds [\d.]+ MB/);
  }, 30_000);
});

describe('the cache knows which hub files came from', () => {
  it('a repo downloaded from a mirror is not what a later load from another hub gets', async () => {
    const other = await startHubServer({
      repos: { 'openai-community/gpt2': { 'config.json': configBytes, 'model.safetensors': weightBytes } },
    });
    const mirror = await startHubServer({
      repos: { 'openai-community/gpt2': { 'config.json': configBytes, 'model.safetensors': weightBytes } },
    });
    try {
      const args = (url: string) => ['logits', '--model', 'gpt2', '--hub-url', url, '--ids', '464', '--json'];
      expect((await run(args(mirror.url))).code).toBe(0);
      expect(mirror.requests.length).toBeGreaterThan(0);

      // Same --model, another hub: its own download, not the mirror's copy from the cache.
      expect((await run(args(other.url))).code).toBe(0);
      expect(other.requests.some((r) => r.path.endsWith('model.safetensors'))).toBe(true);

      // Each hub's copy is cached under its own origin.
      mirror.reset();
      other.reset();
      expect((await run(args(mirror.url))).code).toBe(0);
      expect((await run(args(other.url))).code).toBe(0);
      expect([...mirror.requests, ...other.requests]).toEqual([]);
      const cached = await new FileSystemModelCache(cacheDir).list();
      expect(cached.map((m) => [m.hub, m.repo, m.complete]).sort()).toEqual(
        [
          [mirror.url, 'openai-community/gpt2', true],
          [other.url, 'openai-community/gpt2', true],
        ].sort(),
      );
    } finally {
      await other.stop();
      await mirror.stop();
    }
  });
});

/** Every file under `dir`, as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe('the disk cache is proven before use', () => {
  it('a cached piece changed at the same length is caught: dropped, downloaded again, the same output, and a note says so', async () => {
    const first = await run(logits('org/tiny-gpt2'));
    expect(first.code).toBe(0);
    const piece = (await filesUnder(cacheDir)).find((f) => f.endsWith('model.safetensors.000'))!;
    const bytes = await readFile(path.join(cacheDir, piece));
    bytes.fill(0, 100_000, 200_000); // inside wte: the header still parses, the values are wrong
    await writeFile(path.join(cacheDir, piece), bytes);
    hub.reset();
    const second = await run(logits('org/tiny-gpt2'));
    expect(second.code).toBe(0);
    expect(second.err).toMatch(
      /^note: The cached copy of org\/tiny-gpt2 could not be read \(checksum mismatch in the cached piece model\.safetensors\.000: its SHA-256 is [0-9a-f]{64}, not the [0-9a-f]{64} stored when it was written\), so it was dropped and downloaded again\.$/,
    );
    expect(second.out).toBe(first.out);
    expect(hub.requests.some((r) => r.path.endsWith('model.safetensors'))).toBe(true);
    // Whole again: the third run reads the cache without a word.
    hub.reset();
    const third = await run(logits('org/tiny-gpt2'));
    expect([third.err, third.out, hub.requests]).toEqual(['', first.out, []]);
  }, 60_000);

  it('a CLI killed mid-download leaves a .partial file; the next run downloads the piece again and removes it', async () => {
    // The first answer stops sending after wte (6.4 MB, the first tensor kept in piece .000); the connection stays open.
    hub.rangeEnabled = false;
    hub.stallNext('model.safetensors', 6_450_000);
    const child = spawn(
      process.execPath,
      [path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs'), 'src/cli/main.ts', ...logits('org/tiny-gpt2')],
      { cwd: repoRoot, env: { ...process.env, GPT2_CACHE_DIR: cacheDir }, stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      // Wait (without a time limit of our own) until the download has written part of a piece.
      for (;;) {
        const partial = (await filesUnder(cacheDir).catch(() => [])).find((f) => f.includes('.partial-'));
        if (partial && (await stat(path.join(cacheDir, partial))).size > 6_000_000) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      child.kill('SIGKILL');
      await exited;
      hub.rangeEnabled = true;
    }
    expect((await filesUnder(cacheDir)).filter((f) => f.includes('.partial-'))).toHaveLength(1);
    hub.reset();
    const rerun = await run(logits('org/tiny-gpt2'));
    expect(rerun.code).toBe(0);
    const left = await filesUnder(cacheDir);
    expect(left.filter((f) => f.includes('.partial-'))).toEqual([]);
    expect(left.map((f) => path.basename(f)).sort()).toEqual(['config.json', 'model.safetensors.000', 'weights-manifest.json']);
  }, 120_000);

  it('a temporary file of a download still running (another process) is left alone', async () => {
    const model = { hub: hub.url, repo: 'org/other', revision: 'main' };
    const cache = new FileSystemModelCache(cacheDir);
    const running = await cache.create({ ...model, file: 'a' }, 4); // this process: running
    const dir = path.join(cacheDir, '@hub', encodeURIComponent(hub.url), encodeURIComponent('org/other'), 'main');
    await writeFile(path.join(dir, `b.partial-${process.ppid}-1`), 'x'); // the parent process: running
    const writer = await cache.create({ ...model, file: 'c' }, 1);
    await writer.abort();
    await running.abort();
    expect((await readdir(dir)).filter((f) => f.includes('.partial-'))).toEqual([`b.partial-${process.ppid}-1`]);
  });
});

describe('addresses the CLI cannot download from', () => {
  it('url:file:/// answers what to do, not "not implemented"', async () => {
    const result = await run(['logits', '--model', 'url:file:///tmp/gpt2/', '--ids', '464', '--json']);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      /^error: Cannot use the model "url:file:\/\/\/tmp\/gpt2\/": url: downloads from http\(s\) folder addresses only, not file: addresses\. For a model on this computer, give its folder \(--model DIR/,
    );
  });
});
