/**
 * Hub downloads end to end in Node, against a local server in the hub's URL layout
 * (tests/helpers/hubServer.ts), checking bytes on the wire, progress, resume, the cache and
 * every fault's message. The loaded model must reproduce the fixture's reference logits.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseSafetensorsHeader, readHeaderLength } from '../../src/model/safetensors';
import {
  DownloadConfirmationError,
  MemoryModelCache,
  ModelSourceError,
  formatBytes,
  parseModelSpec,
  type LoadProgress,
} from '../../src/sources';
import { loadModel, type LoadedModel, type LoadOptions } from '../../src/sources/loadModel';
import { fixtureDir, fixtureExpected, fixtureLastLogits } from '../helpers/fixture';
import { startHubServer, type HubServer } from '../helpers/hubServer';
import { useBackend } from '../helpers/webgpuNode';

const REPO = 'org/tiny-gpt2';
const configBytes = new Uint8Array(readFileSync(path.join(fixtureDir, 'config.json')));
const weightBytes = new Uint8Array(readFileSync(path.join(fixtureDir, 'model.safetensors')));
const header = parseSafetensorsHeader(weightBytes.subarray(0, 8 + readHeaderLength(weightBytes.subarray(0, 8))));
const isUnused = (name: string) => /\.attn\.(bias|masked_bias)$/.test(name);
const usedBytes = header.tensors.filter((t) => !isUnused(t.name)).reduce((n, t) => n + t.end - t.begin, 0);
const skippedBytes = header.tensors.filter((t) => isUnused(t.name)).reduce((n, t) => n + t.end - t.begin, 0);

let hub: HubServer;
const loaded: LoadedModel[] = [];

beforeAll(async () => {
  await useBackend('cpu');
  hub = await startHubServer({
    repos: {
      [REPO]: { 'config.json': configBytes, 'model.safetensors': weightBytes },
      'org/llama-tiny': {
        'config.json': new TextEncoder().encode(JSON.stringify({ model_type: 'llama', architectures: ['LlamaForCausalLM'] })),
      },
      'org/no-weights': { 'config.json': configBytes },
      'org/truncated': { 'config.json': configBytes, 'model.safetensors': weightBytes.subarray(0, weightBytes.byteLength - 1000) },
    },
  });
});

afterAll(async () => {
  for (const l of loaded) l.model.dispose();
  await hub?.stop();
});

beforeEach(() => {
  hub.reset();
  hub.rangeEnabled = true;
  hub.redirect = true;
  hub.sendContentRange = true;
});

async function load(spec: string, options: LoadOptions = {}): Promise<{ result: LoadedModel; progress: LoadProgress[] }> {
  const progress: LoadProgress[] = [];
  const result = await loadModel(parseModelSpec(spec), {
    hubUrl: hub.url,
    retryDelayMs: 10,
    onProgress: (p) => progress.push(p),
    ...options,
  });
  loaded.push(result);
  return { result, progress };
}

async function failure(spec: string, options: LoadOptions = {}): Promise<ModelSourceError> {
  const error = await loadModel(parseModelSpec(spec), { hubUrl: hub.url, retryDelayMs: 10, ...options }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelSourceError);
  return error as ModelSourceError;
}

/** The model's last-position logits for fixture case 0 match the float64 reference (README tolerance). */
async function expectFixtureLogits(result: LoadedModel): Promise<void> {
  const testCase = fixtureExpected().cases[0];
  const cache = result.model.newCache(1);
  const logits = result.model.forward([testCase.input_ids], cache);
  const actual = (await logits.data()) as Float32Array;
  logits.dispose();
  cache.dispose();
  const expected = fixtureLastLogits(testCase);
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
  }
  expect(actual.length).toBe(expected.length);
  expect(maxDiff).toBeLessThanOrEqual(1e-4 * maxRef);
}

const weightRequests = () => hub.requests.filter((r) => r.path.endsWith('model.safetensors') && r.path.startsWith('/cdn/'));

describe('hub download with Range', () => {
  it('follows the redirect, skips unused tensors, reports progress to 100% and loads the right model', async () => {
    const { result, progress } = await load(`hf:${REPO}`);
    expect(tf.getBackend()).toBe('cpu');
    await expectFixtureLogits(result);

    // Every /resolve/ request was redirected to the CDN path, as on the real hub.
    expect(hub.requests.filter((r) => r.path.includes('/resolve/')).every((r) => r.status === 302)).toBe(true);
    // Only the header and the used tensors crossed the wire: the attn.bias masks did not.
    const weightBytesServed = weightRequests().reduce((n, r) => n + r.bytes, 0);
    expect(weightBytesServed).toBe(header.dataStart + usedBytes);
    expect(weightBytesServed).toBe(weightBytes.byteLength - skippedBytes);
    expect(weightRequests().every((r) => r.status === 206)).toBe(true);
    expect(weightRequests()[0].range).toBe('bytes=0-7');
    // Header (2 requests) + one per run of used tensors between the two layers' masks.
    expect(weightRequests()).toHaveLength(2 + 3);
    expect(result.bytesRead).toBe(header.dataStart + usedBytes);
    expect(result.bytesSkipped).toBe(skippedBytes);
    expect(result.origin).toBe('network');

    const weights = progress.filter((p) => p.stage === 'weights');
    const last = weights[weights.length - 1];
    expect(last.bytesTotal).toBe(header.dataStart + usedBytes);
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(last.percent).toBe(100);
    expect(last.bytesSkipped).toBe(skippedBytes);
    expect(last.tensorsDone).toBe(last.tensorsTotal);
    expect(last.tensorsTotal).toBe(header.tensors.length - 4);
    for (let i = 1; i < weights.length; i++) expect(weights[i].bytesDone).toBeGreaterThanOrEqual(weights[i - 1].bytesDone);
    expect(progress[progress.length - 1].stage).toBe('ready');
  });

  it('merges gaps smaller than mergeGapBytes into one request', async () => {
    await load(`hf:${REPO}`, { mergeGapBytes: 1 << 20 });
    expect(weightRequests()).toHaveLength(3);
    expect(weightRequests().reduce((n, r) => n + r.bytes, 0)).toBe(weightBytes.byteLength);
  });

  it('resumes a download cut mid-file from the first missing byte', async () => {
    hub.cutNext('model.safetensors', 1_000_000); // inside wte, the first big span
    const { result, progress } = await load(`hf:${REPO}`);
    await expectFixtureLogits(result);
    const cutRequest = weightRequests().find((r) => r.bytes === 1_000_000)!;
    expect(cutRequest).toBeDefined();
    const spanStart = Number(/bytes=(\d+)-/.exec(cutRequest.range!)![1]);
    const resumed = weightRequests()[weightRequests().indexOf(cutRequest) + 1];
    expect(resumed.range).toMatch(new RegExp(`^bytes=${spanStart + 1_000_000}-`));
    // Nothing was downloaded twice.
    expect(weightRequests().reduce((n, r) => n + r.bytes, 0)).toBe(header.dataStart + usedBytes);
    const last = progress.filter((p) => p.stage === 'weights').at(-1)!;
    expect(last.resumes).toBe(1);
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(last.message).toMatch(/resumed 1×/);
  });

  it('works when Content-Range is hidden (a CDN that does not expose it), sizing from the header', async () => {
    hub.sendContentRange = false;
    hub.redirect = false;
    const { result, progress } = await load(`hf:${REPO}`);
    await expectFixtureLogits(result);
    expect(weightRequests()).toEqual([]);
    const served = hub.requests.filter((r) => r.path.endsWith('model.safetensors'));
    expect(served.every((r) => r.status === 206)).toBe(true);
    expect(served.reduce((n, r) => n + r.bytes, 0)).toBe(header.dataStart + usedBytes);
    expect(progress.filter((p) => p.stage === 'weights').at(-1)!.percent).toBe(100);
  });
});

describe('hub download without Range', () => {
  it('streams one full GET, dropping unused bytes, with correct totals', async () => {
    hub.rangeEnabled = false;
    const { result, progress } = await load(`hf:${REPO}`);
    await expectFixtureLogits(result);
    expect(weightRequests()).toHaveLength(1);
    expect(weightRequests()[0].status).toBe(200);
    expect(weightRequests()[0].bytes).toBe(weightBytes.byteLength);
    const last = progress.filter((p) => p.stage === 'weights').at(-1)!;
    expect(last.bytesTotal).toBe(weightBytes.byteLength);
    expect(last.bytesDone).toBe(weightBytes.byteLength);
    expect(last.percent).toBe(100);
  });

  it('restarts cleanly when the connection is cut', async () => {
    hub.rangeEnabled = false;
    hub.cutNext('model.safetensors', 3_000_000);
    const { result } = await load(`hf:${REPO}`);
    await expectFixtureLogits(result);
    expect(weightRequests().map((r) => r.bytes)).toEqual([3_000_000, weightBytes.byteLength]);
  });
});

describe('cache', () => {
  it('keeps a compacted copy and loads it again with the network gone', async () => {
    const cache = new MemoryModelCache();
    await load(`hf:${REPO}`, { cache });
    const [entry, ...others] = await cache.list();
    expect(others).toEqual([]);
    expect(entry.hub).toBe(hub.url); // not huggingface.co: kept apart from its copy of the repo
    expect(entry.repo).toBe(REPO);
    expect(entry.revision).toBe('main');
    expect(entry.complete).toBe(true);
    expect(entry.files.map((f) => f.file)).toEqual(['config.json', 'model.safetensors.000', 'weights-manifest.json']);
    const weights = entry.files.find((f) => f.file === 'model.safetensors.000')!;
    // The compacted file: used tensors only (the masks are not kept), under a rewritten header.
    expect(weights.bytes - (weightBytes.byteLength - skippedBytes)).toBeLessThan(0);
    expect(weights.bytes).toBeGreaterThan(usedBytes);
    expect(entry.files.find((f) => f.file === 'config.json')!.bytes).toBe(configBytes.byteLength);

    hub.reset();
    const offline: typeof fetch = async () => {
      throw new TypeError('fetch failed');
    };
    const { result, progress } = await load(`hf:${REPO}`, { cache, fetch: offline });
    expect(result.origin).toBe('cache');
    expect(hub.requests).toEqual([]);
    await expectFixtureLogits(result);
    const last = progress.filter((p) => p.stage === 'weights').at(-1)!;
    expect(last.origin).toBe('cache');
    expect(last.percent).toBe(100);
    expect(last.bytesTotal).toBe(weights.bytes);

    expect(await cache.delete(REPO, 'main')).toBe(false); // huggingface.co's copy: there is none
    expect(await cache.delete(REPO, 'main', hub.url)).toBe(true);
    expect(await cache.list()).toEqual([]);
  });

  it('keeps revisions apart', async () => {
    const cache = new MemoryModelCache();
    await load(`hf:${REPO}@v1`, { cache });
    expect(hub.requests.some((r) => r.path === `/${REPO}/resolve/v1/model.safetensors`)).toBe(true);
    expect((await cache.list()).map((m) => m.revision)).toEqual(['v1']);
    hub.reset();
    await load(`hf:${REPO}`, { cache });
    expect(weightRequests().length).toBeGreaterThan(0); // main was not cached yet
    expect((await cache.list()).map((m) => m.revision).sort()).toEqual(['main', 'v1']);
  });

  it('stores nothing when the server goes away part-way, and a retry then works', async () => {
    const cache = new MemoryModelCache();
    hub.goDownAfter('model.safetensors', 1_000_000);
    const error = await failure(`hf:${REPO}`, { cache, maxRetries: 2 });
    // After the cut: exactly maxRetries attempts to resume, all refused, then a clear error.
    expect(hub.requests.filter((r) => r.status === -1)).toHaveLength(2);
    expect(error.kind).toBe('interrupted');
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/kept breaking off/);
    expect(error.message).toMatch(/retry/);
    expect(await cache.list()).toEqual([]);
    expect(await cache.open({ hub: hub.url, repo: REPO, revision: 'main', file: 'model.safetensors.000' })).toBeNull();

    hub.reset();
    const { result } = await load(`hf:${REPO}`, { cache });
    await expectFixtureLogits(result);
    expect(await cache.list()).toHaveLength(1);
  });

  it('a download stopped part-way (tab closed, network gone) resumes from the stored pieces next time', async () => {
    const cache = new MemoryModelCache();
    const pieceOptions = { cache, cachePieceBytes: 1 << 20, maxRetries: 1 };
    const wteBytes = header.tensors.find((t) => t.name === 'wte.weight')!;
    // wte (6.4 MB) fills piece 0; the network goes away just after it, inside the first span.
    hub.goDownAfter('model.safetensors', wteBytes.end + 4096);
    const error = await failure(`hf:${REPO}`, pieceOptions);
    expect(error.kind).toBe('interrupted');
    const [partial] = await cache.list();
    expect(partial.complete).toBe(false);
    expect(partial.files.map((f) => f.file)).toEqual(['model.safetensors.000', 'weights-manifest.json']);

    hub.reset();
    const { result, progress } = await load(`hf:${REPO}`, pieceOptions);
    await expectFixtureLogits(result);
    // Only what was missing came over the network: header + the used tensors after wte.
    const served = weightRequests().reduce((n, r) => n + r.bytes, 0);
    expect(served).toBe(header.dataStart + usedBytes - (wteBytes.end - wteBytes.begin));
    expect(result.bytesSkipped).toBe(skippedBytes);
    const last = progress.filter((p) => p.stage === 'weights').at(-1)!;
    expect(last.resumes).toBe(1);
    expect(last.percent).toBe(100);
    expect(last.tensorsDone).toBe(last.tensorsTotal);
    const [complete] = await cache.list();
    expect(complete.complete).toBe(true);
    expect(complete.files.map((f) => f.file)).toEqual([
      'config.json',
      'model.safetensors.000',
      'model.safetensors.001',
      'weights-manifest.json',
    ]);

    // And the pieces together load offline.
    hub.reset();
    const again = await load(`hf:${REPO}`, { cache, fetch: async () => Promise.reject(new TypeError('offline')) });
    expect(again.result.origin).toBe('cache');
    await expectFixtureLogits(again.result);
  });

  it('does not resume onto a file that changed on the server', async () => {
    const cache = new MemoryModelCache();
    const pieceOptions = { cache, cachePieceBytes: 1 << 20, maxRetries: 1 };
    hub.goDownAfter('model.safetensors', 6_440_000);
    await failure(`hf:${REPO}`, pieceOptions);
    expect((await cache.list())[0].complete).toBe(false);
    hub.reset();
    // A new ETag: the file was uploaded again since the partial download.
    hub.etagSuffix = '-v2';
    const { result } = await load(`hf:${REPO}`, pieceOptions);
    hub.etagSuffix = '';
    await expectFixtureLogits(result);
    expect(weightRequests().reduce((n, r) => n + r.bytes, 0)).toBe(header.dataStart + usedBytes);
  });

  it('still loads the model when the cache has no room, and says so', async () => {
    const full = new MemoryModelCache();
    full.create = async () => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    };
    const { result } = await load(`hf:${REPO}`, { cache: full });
    await expectFixtureLogits(result);
    expect(result.cacheNote).toMatch(/not kept for offline use/);
    expect(await full.list()).toEqual([]);
  });

  it('drops a damaged cached copy and downloads the model again', async () => {
    const cache = new MemoryModelCache();
    await load(`hf:${REPO}`, { cache });
    const piece = { hub: hub.url, repo: REPO, revision: 'main', file: 'model.safetensors.000' };
    const original = (await cache.open(piece))!;
    // Overwrite the cached weights with a file that holds one tiny tensor only.
    const writer = await cache.create(piece, 100);
    const bytes = new Uint8Array(100);
    new DataView(bytes.buffer).setBigUint64(0, 92n, true);
    bytes.set(new TextEncoder().encode('{"wte.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'.padEnd(92, ' ')), 8);
    await writer.write(bytes);
    await writer.close();
    hub.reset();
    const { result } = await load(`hf:${REPO}`, { cache });
    expect(result.origin).toBe('network');
    expect(result.cacheNote).toMatch(/could not be read/);
    await expectFixtureLogits(result);
    expect((await cache.open(piece))!.size).toBe(original.size);
  });
});

describe('faults', () => {
  it('an unknown repo says it was not found and how to fix it', async () => {
    const error = await failure('hf:org/does-not-exist');
    expect(error.kind).toBe('not-found');
    expect(error.message).toMatch(/config\.json of org\/does-not-exist@main was not found/);
    expect(error.message).toMatch(/Check the repo id/);
  });

  it('a repo without model.safetensors says so', async () => {
    const error = await failure('hf:org/no-weights');
    expect(error.kind).toBe('not-found');
    expect(error.message).toMatch(/has no model\.safetensors/);
  });

  it('a repo that is not GPT-2 is refused before any weights are fetched', async () => {
    const error = await failure('hf:org/llama-tiny');
    expect(error.kind).toBe('not-gpt2');
    expect(error.message).toMatch(/is not a GPT-2 model: its config\.json says model_type "llama" \(LlamaForCausalLM\)/);
    expect(hub.requests.some((r) => r.path.endsWith('model.safetensors'))).toBe(false);
  });

  it('a truncated file is reported as corrupt and not cached', async () => {
    const cache = new MemoryModelCache();
    const error = await failure('hf:org/truncated', { cache });
    expect(error.kind).toBe('corrupt');
    expect(error.message).toMatch(/model\.safetensors/);
    expect(await cache.list()).toEqual([]);
  });

  it('no network gives a retryable message naming the host', async () => {
    const closed = await startHubServer();
    const url = closed.url;
    await closed.stop();
    const error = await failure(`hf:${REPO}`, { hubUrl: url });
    expect(error.kind).toBe('network');
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(new RegExp(`Could not reach 127\\.0\\.0\\.1:${closed.port}`));
    expect(error.message).toMatch(/retry/);
  });

  it('askAboveBytes stops before a bigger download, once the header says how big, and nothing more is fetched', async () => {
    const cache = new MemoryModelCache();
    const error = await failure(`hf:${REPO}`, { cache, askAboveBytes: 1_000_000 });
    expect(error).toBeInstanceOf(DownloadConfirmationError);
    expect(error.kind).toBe('needs-confirmation');
    expect((error as DownloadConfirmationError).bytes).toBe(usedBytes);
    expect(error.message).toBe(`org/tiny-gpt2 is a ${formatBytes(usedBytes)} download. It was not started: confirm to download it.`);
    // The 8-byte probe and the header only.
    expect(weightRequests().reduce((n, r) => n + r.bytes, 0)).toBe(header.dataStart);
    // Under the limit, or already cached, nothing asks.
    const { result } = await load(`hf:${REPO}`, { cache, askAboveBytes: 10_000_000 });
    expect(result.origin).toBe('network');
    expect((await load(`hf:${REPO}`, { cache, askAboveBytes: 1 })).result.origin).toBe('cache');
  });

  it('a cancelled load stops with an aborted error', async () => {
    const controller = new AbortController();
    const error = await failure(`hf:${REPO}`, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.stage === 'weights' && p.bytesDone > 1_000_000) controller.abort();
      },
    });
    expect(error.kind).toBe('aborted');
  });
});
