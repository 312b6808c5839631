/**
 * BrowserModelCache's logic on a stand-in for Cache Storage (Node has none): a file is stored only
 * when complete and the right size, quota failures become a clear note while the model still
 * loads, and list/delete see what the loader stored. The real Cache Storage runs in
 * tests/e2e/hub-cache.test.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BrowserModelCache, parseModelSpec } from '../../src/sources';
import { loadModel } from '../../src/sources/loadModel';
import { fixtureDir } from '../helpers/fixture';
import { startHubServer, type HubServer } from '../helpers/hubServer';
import { useBackend } from '../helpers/webgpuNode';

/** The part of the Cache interface BrowserModelCache uses, keeping what put() fully read. */
class FakeCache {
  readonly store = new Map<string, { body: Uint8Array; headers: Headers }>();
  putError: Error | null = null;
  async put(url: string, response: Response): Promise<void> {
    const body = new Uint8Array(await response.arrayBuffer()); // rejects if the stream errors
    if (this.putError) throw this.putError;
    this.store.set(url, { body, headers: new Headers(response.headers) });
  }
  async match(request: string | Request): Promise<Response | undefined> {
    const entry = this.store.get(typeof request === 'string' ? request : request.url);
    return entry && new Response(entry.body.slice(), { headers: entry.headers });
  }
  async keys(): Promise<Request[]> {
    return [...this.store.keys()].map((url) => new Request(url));
  }
  async delete(request: string | Request): Promise<boolean> {
    return this.store.delete(typeof request === 'string' ? request : request.url);
  }
}

const fake = new FakeCache();
let hub: HubServer;
let estimate: { usage: number; quota: number } | null = null;
const key = { repo: 'org/m', revision: 'main', file: 'model.safetensors.000' };

beforeAll(async () => {
  await useBackend('cpu');
  Object.assign(globalThis, { caches: { open: async () => fake } });
  Object.defineProperty(globalThis, 'navigator', {
    configurable: true,
    value: { storage: { estimate: async () => estimate ?? Promise.reject(new Error('no estimate')) } },
  });
  hub = await startHubServer({
    repos: {
      'org/tiny-gpt2': {
        'config.json': new Uint8Array(readFileSync(path.join(fixtureDir, 'config.json'))),
        'model.safetensors': new Uint8Array(readFileSync(path.join(fixtureDir, 'model.safetensors'))),
      },
    },
  });
});

afterAll(async () => {
  await hub?.stop();
  delete (globalThis as { caches?: unknown }).caches;
  delete (globalThis as { navigator?: unknown }).navigator;
});

afterEach(() => {
  fake.store.clear();
  fake.putError = null;
  estimate = null;
});

describe('BrowserModelCache', () => {
  it('stores a file written in pieces, with its size, and reads it back', async () => {
    const cache = await BrowserModelCache.open();
    const writer = await cache.create(key, 6);
    await writer.write(new Uint8Array([1, 2, 3]));
    await writer.write(new Uint8Array([4, 5, 6]));
    await writer.close();
    const file = (await cache.open(key))!;
    expect(file.size).toBe(6);
    expect(new Uint8Array(await new Response(await file.stream()).arrayBuffer())).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6]));
  });

  it('stores nothing when fewer bytes than announced arrive, or the writer is abandoned', async () => {
    const cache = await BrowserModelCache.open();
    const short = await cache.create(key, 10);
    await short.write(new Uint8Array(4));
    await expect(short.close()).rejects.toThrow(/received 4 bytes but expected 10, so it was not cached/);
    const abandoned = await cache.create(key, 4);
    await abandoned.write(new Uint8Array(2));
    await abandoned.abort(new Error('connection lost'));
    expect(fake.store.size).toBe(0);
    expect(await cache.open(key)).toBeNull();
  });

  it('refuses up front, with a clear message, when the browser says it will not fit', async () => {
    estimate = { usage: 900, quota: 1000 };
    const cache = await BrowserModelCache.open();
    await expect(cache.create(key, 500)).rejects.toThrow(
      /The browser has no room to keep org\/m@main \(500 bytes\) for offline use\. The model still loads this time/,
    );
  });

  it('turns QuotaExceededError from Cache Storage into that message', async () => {
    fake.putError = new DOMException('Quota exceeded', 'QuotaExceededError');
    const cache = await BrowserModelCache.open();
    const writer = await cache.create(key, 3);
    await writer.write(new Uint8Array(3));
    await expect(writer.close()).rejects.toThrow(/has no room to keep org\/m@main/);
  });

  it('a model loads even when the cache is full, and nothing is left behind', async () => {
    fake.putError = new DOMException('Quota exceeded', 'QuotaExceededError');
    const loaded = await loadModel(parseModelSpec('hf:org/tiny-gpt2'), { hubUrl: hub.url, cache: await BrowserModelCache.open() });
    expect(loaded.cacheNote).toMatch(/loaded but was not kept for offline use: The browser has no room to keep org\/tiny-gpt2@main/);
    expect(fake.store.size).toBe(0);
    loaded.model.dispose();
  });

  it('list() and delete() see what a load stored', async () => {
    const cache = await BrowserModelCache.open();
    const loaded = await loadModel(parseModelSpec('hf:org/tiny-gpt2@v2'), { hubUrl: hub.url, cache });
    loaded.model.dispose();
    const [model, ...rest] = await cache.list();
    expect(rest).toEqual([]);
    expect(model).toMatchObject({ hub: hub.url, repo: 'org/tiny-gpt2', revision: 'v2', complete: true });
    expect(model.files.map((f) => f.file)).toEqual(['config.json', 'model.safetensors.000', 'weights-manifest.json']);
    expect(model.totalBytes).toBe(model.files.reduce((n, f) => n + f.bytes, 0));
    expect(model.storedAt).toBeGreaterThan(Date.now() - 60_000);
    expect(await cache.delete('org/tiny-gpt2', 'v2')).toBe(false); // that is huggingface.co's copy
    expect(await cache.delete('org/tiny-gpt2', 'v2', hub.url)).toBe(true);
    expect(await cache.list()).toEqual([]);
    expect(await cache.delete('org/tiny-gpt2', 'v2', hub.url)).toBe(false);
  });
});
