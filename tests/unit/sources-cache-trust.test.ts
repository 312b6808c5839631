/**
 * A cached model is proven before use: each piece's length and SHA-256 are kept when it is written
 * and checked as it is read; a copy that fails is dropped, downloaded again and the load says so.
 * A download that reads the whole file is checked against the SHA-256 the hub states. Messages
 * name the right piece and the model's whole size. Runs on MemoryModelCache and a local hub.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryModelCache, ModelSourceError, formatBytes, parseModelSpec, type ModelCache } from '../../src/sources';
import { quotaError, type CacheKey } from '../../src/sources/cache';
import { MANIFEST_FILE, pieceFile, readManifest } from '../../src/sources/cachedWeights';
import { loadModel, type LoadedModel, type LoadOptions } from '../../src/sources/loadModel';
import { fixtureDir, fixtureExpected } from '../helpers/fixture';
import { startHubServer, type HubServer } from '../helpers/hubServer';
import { useBackend } from '../helpers/webgpuNode';

const REPO = 'org/tiny-gpt2';
const configBytes = new Uint8Array(readFileSync(path.join(fixtureDir, 'config.json')));
const weightBytes = new Uint8Array(readFileSync(path.join(fixtureDir, 'model.safetensors')));
/** Small pieces, so the fixture's weights are kept in several (the first holds wte, 6.4 MB). */
const PIECES = { cachePieceBytes: 8 << 10 };

let hub: HubServer;
let model: Omit<CacheKey, 'file'>;

beforeAll(async () => {
  await useBackend('cpu');
  hub = await startHubServer({ repos: { [REPO]: { 'config.json': configBytes, 'model.safetensors': weightBytes } } });
  model = { hub: hub.url, repo: REPO, revision: 'main' };
});
afterAll(async () => hub?.stop());
beforeEach(() => {
  hub.reset();
  hub.rangeEnabled = true;
  hub.statedSha256.clear();
});

async function load(cache: ModelCache | null, options: LoadOptions = {}): Promise<LoadedModel> {
  return loadModel(parseModelSpec(`hf:${REPO}`), { hubUrl: hub.url, cache, retryDelayMs: 10, ...PIECES, ...options });
}

/** The last position's logits for the fixture's first case: what a clean load gives. */
async function logitsOf(loaded: LoadedModel): Promise<number[]> {
  const kv = loaded.model.newCache(1);
  const logits = loaded.model.forward([fixtureExpected().cases[0].input_ids], kv);
  const values = Array.from((await logits.data()) as Float32Array);
  logits.dispose();
  kv.dispose();
  loaded.model.dispose();
  return values;
}

/** Replaces a cached file's bytes (as an edit on disk or in Cache Storage would). */
async function overwrite(cache: ModelCache, file: string, edit: (bytes: Uint8Array) => Uint8Array): Promise<void> {
  const stored = (await cache.open({ ...model, file }))!;
  const bytes = edit(new Uint8Array(await new Response(await stored.stream()).arrayBuffer()));
  const writer = await cache.create({ ...model, file }, bytes.byteLength);
  await writer.write(bytes);
  await writer.close();
}

let clean: number[];
beforeAll(async () => {
  clean = await logitsOf(await load(null));
});

describe('cached pieces are verified as they are read', () => {
  it('the manifest keeps each piece’s size and SHA-256', async () => {
    const cache = new MemoryModelCache();
    await logitsOf(await load(cache));
    const manifest = (await readManifest(cache, model))!;
    expect(manifest.pieceEnds.length).toBeGreaterThan(3);
    for (const [i, digest] of manifest.pieceSha256.entries()) {
      const piece = (await cache.open({ ...model, file: pieceFile(i) }))!;
      const bytes = new Uint8Array(await new Response(await piece.stream()).arrayBuffer());
      expect(piece.size).toBe(manifest.pieceBytes[i]);
      const { createHash } = await import('node:crypto');
      expect(digest).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });

  it('a piece overwritten with zeros at the same length is caught, dropped, downloaded again; the output equals a clean run', async () => {
    const cache = new MemoryModelCache();
    await logitsOf(await load(cache));
    await overwrite(cache, pieceFile(2), (bytes) => new Uint8Array(bytes.byteLength));
    hub.reset();
    const again = await load(cache);
    expect(again.origin).toBe('network');
    expect(again.cacheNote).toMatch(
      /^The cached copy of org\/tiny-gpt2 could not be read \(checksum mismatch in the cached piece model\.safetensors\.002: its SHA-256 is [0-9a-f]{64}, not the [0-9a-f]{64} stored when it was written\), so it was dropped and downloaded again\.$/,
    );
    expect(await logitsOf(again)).toEqual(clean);
    // The fresh copy is whole again: the next load uses it without a word.
    const third = await load(cache);
    expect(third.origin).toBe('cache');
    expect(third.cacheNote).toBeUndefined();
    expect(await logitsOf(third)).toEqual(clean);
  });

  it('a piece cut short is reported as that piece, not where the stream runs out', async () => {
    const cache = new MemoryModelCache();
    await logitsOf(await load(cache));
    await overwrite(cache, pieceFile(1), (bytes) => bytes.subarray(0, bytes.byteLength - 1000));
    const again = await load(cache);
    expect(again.cacheNote).toMatch(
      /the cached piece model\.safetensors\.001 is truncated: \d+ bytes \([^)]+\) instead of \d+\), so it was dropped/,
    );
    expect(await logitsOf(again)).toEqual(clean);
  });

  it('a truncated weights-manifest.json is dropped and downloaded again, with a notice', async () => {
    const cache = new MemoryModelCache();
    await logitsOf(await load(cache));
    await overwrite(cache, MANIFEST_FILE, (bytes) => bytes.subarray(0, 40));
    const again = await load(cache);
    expect(again.origin).toBe('network');
    expect(again.cacheNote).toMatch(
      /could not be read \(weights-manifest\.json is damaged \(.*JSON.*\)\), so it was dropped and downloaded again/,
    );
    expect(await logitsOf(again)).toEqual(clean);
    expect((await load(cache)).origin).toBe('cache');
  });

  it('a damaged stored part of an interrupted download is dropped and the whole model downloaded, with a notice', async () => {
    const cache = new MemoryModelCache();
    hub.rangeEnabled = false; // one response for the whole file, cut after the second layer's first tensors
    hub.goDownAfter('model.safetensors', 6_540_000);
    await expect(load(cache, { maxRetries: 1 })).rejects.toThrow(ModelSourceError);
    hub.reset();
    expect((await readManifest(cache, model))!.piecesDone).toBeGreaterThan(1);
    await overwrite(cache, pieceFile(1), (bytes) => bytes.map((b) => b ^ 1));
    const again = await load(cache);
    expect(again.cacheNote).toMatch(
      /stored part of an interrupted download of org\/tiny-gpt2 could not be read \(checksum mismatch in the cached piece model\.safetensors\.001/,
    );
    expect(await logitsOf(again)).toEqual(clean);
  });

  it('verifyCache: false reads the copy unchecked (only for measuring the check)', async () => {
    const cache = new MemoryModelCache();
    await logitsOf(await load(cache));
    await overwrite(cache, pieceFile(2), (bytes) => new Uint8Array(bytes.byteLength));
    const unchecked = await load(cache, { verifyCache: false });
    expect(unchecked.origin).toBe('cache');
    expect(await logitsOf(unchecked)).not.toEqual(clean);
  });
});

describe("whole-file downloads are checked against the hub's SHA-256", () => {
  it('a server without Range: the matching file loads, one whose bytes disagree is refused naming the file, nothing kept', async () => {
    hub.rangeEnabled = false;
    const cache = new MemoryModelCache();
    expect(await logitsOf(await load(cache))).toEqual(clean);
    await cache.delete(REPO, 'main', hub.url);
    hub.statedSha256.set('model.safetensors', 'ab'.repeat(32));
    const error = await load(cache).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ModelSourceError);
    expect((error as Error).message).toMatch(
      /^model\.safetensors of org\/tiny-gpt2@main does not match the SHA-256 the hub states for it: the bytes received hash to [0-9a-f]{64}, the hub says (ab){32}\. The download was refused/,
    );
    expect(await cache.list()).toEqual([]);
  });

  it('a ranged load skips unused tensors, so it is not a whole-file read and a wrong stated digest is not checked', async () => {
    hub.statedSha256.set('model.safetensors', 'ab'.repeat(32));
    expect(await logitsOf(await load(null))).toEqual(clean);
  });
});

describe('storage full', () => {
  it("names the model's whole size, not the piece that did not fit", async () => {
    const cache = new MemoryModelCache();
    const create = cache.create.bind(cache);
    cache.create = async (key, size) => {
      if (key.file === pieceFile(1)) throw quotaError(key, size);
      return create(key, size);
    };
    const loaded = await load(cache);
    const manifestBytes = await loadManifestTotal();
    expect(loaded.cacheNote).toContain(`no room to keep org/tiny-gpt2@main (${formatBytes(manifestBytes)})`);
    expect(manifestBytes).toBeGreaterThan(5 << 20);
    await logitsOf(loaded);
  });
});

describe('storage full at config.json, the last file written', () => {
  it("names the model's whole size too", async () => {
    const cache = new MemoryModelCache();
    const create = cache.create.bind(cache);
    cache.create = async (key, size) => {
      if (key.file === 'config.json') throw quotaError(key, size);
      return create(key, size);
    };
    const loaded = await load(cache);
    const whole = (await loadManifestTotal()) + configBytes.byteLength;
    expect(loaded.cacheNote).toContain(`no room to keep org/tiny-gpt2@main (${formatBytes(whole)})`);
    expect(await cache.list()).toEqual([]);
    await logitsOf(loaded);
  });
});

/** The compacted size of the fixture's weights (what the cache keeps), from a clean cached load. */
async function loadManifestTotal(): Promise<number> {
  const cache = new MemoryModelCache();
  await logitsOf(await load(cache));
  return (await readManifest(cache, model))!.totalBytes;
}
