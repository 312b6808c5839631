/**
 * Local files (a picked File pair, a folder in the CLI), the compacted cache file, and the
 * CLI's disk cache: each must load the fixture model exactly.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelArgToSpec, loadModelArg } from '../../src/cli/modelArg';
import { ModelSourceError } from '../../src/sources';
import { FileSystemModelCache } from '../../src/sources/fsCache';
import { loadModel, type LoadedModel } from '../../src/sources/loadModel';
import type { LoadProgress } from '../../src/sources/progress';
import { fixtureDir, fixtureExpected, fixtureLastLogits } from '../helpers/fixture';
import { startHubServer, type HubServer } from '../helpers/hubServer';
import { useBackend } from '../helpers/webgpuNode';

const configBytes = new Uint8Array(readFileSync(path.join(fixtureDir, 'config.json')));
const weightBytes = new Uint8Array(readFileSync(path.join(fixtureDir, 'model.safetensors')));
const loaded: LoadedModel[] = [];
let hub: HubServer;
let tmp: string;

beforeAll(async () => {
  await useBackend('cpu');
  hub = await startHubServer({ repos: { 'org/tiny-gpt2': { 'config.json': configBytes, 'model.safetensors': weightBytes } } });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'gpt2-sources-'));
});

afterAll(async () => {
  for (const l of loaded) l.model.dispose();
  await hub?.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function expectFixtureLogits(result: LoadedModel): Promise<void> {
  loaded.push(result);
  const testCase = fixtureExpected().cases[1];
  const cache = result.model.newCache(1);
  const logits = result.model.forward([testCase.input_ids], cache);
  const actual = (await logits.data()) as Float32Array;
  logits.dispose();
  cache.dispose();
  const expected = fixtureLastLogits(testCase);
  const maxRef = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const maxDiff = expected.reduce((m, v, i) => Math.max(m, Math.abs(actual[i] - v)), 0);
  expect(maxDiff).toBeLessThanOrEqual(1e-4 * maxRef);
}

describe('local files', () => {
  it('loads a picked File pair tensor by tensor, reading only the used bytes', async () => {
    const progress: LoadProgress[] = [];
    const result = await loadModel(
      {
        kind: 'files',
        config: new File([configBytes], 'config.json'),
        weights: new File([weightBytes], 'model.safetensors'),
        name: 'model.safetensors',
      },
      { onProgress: (p) => progress.push(p) },
    );
    await expectFixtureLogits(result);
    expect(result.origin).toBe('file');
    expect(result.bytesSkipped).toBe(2 * (64 * 64 * 4 + 4));
    expect(progress.at(-1)!.stage).toBe('ready');
    expect(progress.filter((p) => p.stage === 'weights').at(-1)!.percent).toBe(100);
  });

  it('refuses a config.json that is not GPT-2', async () => {
    const error = await loadModel({
      kind: 'files',
      config: new File([JSON.stringify({ model_type: 'bert', architectures: ['BertModel'] })], 'config.json'),
      weights: new File([weightBytes], 'model.safetensors'),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelSourceError);
    expect((error as ModelSourceError).message).toMatch(
      /model\.safetensors is not a GPT-2 model: its config\.json says model_type "bert" \(BertModel\)/,
    );
  });

  it('reports a truncated file as corrupt, naming the tensor', async () => {
    const error = await loadModel({
      kind: 'files',
      config: new File([configBytes], 'config.json'),
      weights: new File([weightBytes.subarray(0, 3_000_000)], 'model.safetensors'),
    }).catch((e: unknown) => e);
    expect((error as ModelSourceError).kind).toBe('corrupt');
    expect((error as ModelSourceError).message).toMatch(/model\.safetensors: file is truncated/);
    // A file on this computer: nothing to download again, and retrying the same file cannot help.
    expect((error as ModelSourceError).message).not.toMatch(/download/i);
    expect((error as ModelSourceError).message).toMatch(/Check the files/);
    expect((error as ModelSourceError).retryable).toBe(false);
  });
});

describe('CLI --model', () => {
  it('reads a folder as before', async () => {
    const spec = await modelArgToSpec(fixtureDir);
    expect(spec.kind).toBe('files');
    await expectFixtureLogits(await loadModelArg(fixtureDir, { cacheDir: null, onProgress: () => undefined }));
  });

  it('downloads hf:REPO from --hub-url once, then loads it from the disk cache', async () => {
    const cacheDir = path.join(tmp, 'cache');
    const first = await loadModelArg('hf:org/tiny-gpt2', { hubUrl: hub.url, cacheDir, onProgress: () => undefined });
    expect(first.origin).toBe('network');
    await expectFixtureLogits(first);
    const cached = await new FileSystemModelCache(cacheDir).list();
    expect(cached.map((m) => [m.hub, m.repo, m.revision, m.files.map((f) => f.file).sort()])).toEqual([
      [hub.url, 'org/tiny-gpt2', 'main', ['config.json', 'model.safetensors.000', 'weights-manifest.json']],
    ]);
    // Under the hub it came from, and no temporary files left behind.
    const folder = path.join(cacheDir, '@hub', encodeURIComponent(hub.url), encodeURIComponent('org/tiny-gpt2'), 'main');
    expect((await readdir(folder)).sort()).toEqual(['config.json', 'model.safetensors.000', 'weights-manifest.json']);

    hub.reset();
    const second = await loadModelArg('hf:org/tiny-gpt2', { env: { GPT2_HUB_URL: hub.url }, cacheDir, onProgress: () => undefined });
    expect(second.origin).toBe('cache');
    expect(hub.requests).toEqual([]);
    await expectFixtureLogits(second);

    expect(await new FileSystemModelCache(cacheDir).delete('org/tiny-gpt2', 'main', hub.url)).toBe(true);
    expect(await new FileSystemModelCache(cacheDir).list()).toEqual([]);
  });

  it('explains an argument that is neither a folder nor a model name', async () => {
    await expect(modelArgToSpec('./no/such/folder')).rejects.toThrow(/--model \.\/no\/such\/folder: no such folder/);
    await expect(modelArgToSpec('gpt3')).rejects.toThrow(/Cannot use the model "gpt3"/);
  });
});

describe('FileSystemModelCache', () => {
  it('never exposes a file whose size is wrong', async () => {
    const cache = new FileSystemModelCache(path.join(tmp, 'sizes'));
    const key = { repo: 'a/b', revision: 'main', file: 'model.safetensors' };
    const short = await cache.create(key, 10);
    await short.write(new Uint8Array(4));
    await expect(short.close()).rejects.toThrow(/received 4 bytes but expected 10, so it was not cached/);
    expect(await cache.open(key)).toBeNull();
    const aborted = await cache.create(key, 4);
    await aborted.write(new Uint8Array(4));
    await aborted.abort();
    expect(await cache.open(key)).toBeNull();
    expect(await readdir(path.join(tmp, 'sizes', 'a%2Fb', 'main'))).toEqual([]);
  });
});
