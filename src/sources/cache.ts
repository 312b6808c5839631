import { ModelSourceError, formatBytes, isQuotaError } from './errors';

/**
 * Where downloaded hub files are kept so a model is never downloaded twice and loads offline.
 *
 * Entries are keyed by hub, repo, revision and file (the hub is absent for huggingface.co). A file becomes visible only when its writer closes
 * with exactly the announced size: an interrupted or short write is never stored.
 * The weights are kept as a compacted safetensors file in pieces with a manifest (see
 * cachedWeights.ts); config.json is written last, so a model with config.json is complete.
 *
 * Implementations: MemoryModelCache (tests, Node), BrowserModelCache (Cache Storage; works in the
 * page and in workers of the same origin), FileSystemModelCache (Node CLI, src/sources/fsCache.ts).
 */
export interface ModelCache {
  /** The cached file, or null. */
  open(key: CacheKey): Promise<CachedFile | null>;
  /** Starts writing a file of exactly `size` bytes; nothing is visible until close() succeeds. */
  create(key: CacheKey, size: number): Promise<CacheWriter>;
  /** Cached models, newest first, including partial downloads (complete: false) that can resume. */
  list(): Promise<CachedModel[]>;
  /** Removes every file of repo@revision from `hub` (undefined: huggingface.co); true if anything was removed. */
  delete(repo: string, revision: string, hub?: string): Promise<boolean>;
}

export interface CacheKey {
  /** The hub the files came from (hubCacheId: its URL); absent for huggingface.co. */
  hub?: string;
  repo: string;
  revision: string;
  file: string;
}

export interface CachedFile {
  readonly size: number;
  /** The file's bytes from the start (each call starts a new read). */
  stream(): Promise<ReadableStream<Uint8Array>>;
}

export interface CacheWriter {
  /** Resolves when the chunk is accepted (waits while the store is behind, so memory stays bounded). */
  write(chunk: Uint8Array): Promise<void>;
  /** Commits the file; rejects (and stores nothing) if fewer or more than `size` bytes were written. */
  close(): Promise<void>;
  /** Drops everything written; nothing is stored. */
  abort(reason?: unknown): Promise<void>;
}

export interface CachedModel {
  /** The hub it was downloaded from (hubCacheId); absent for huggingface.co. */
  hub?: string;
  repo: string;
  revision: string;
  files: { file: string; bytes: number }[];
  /** Bytes the model takes in the cache. */
  totalBytes: number;
  /** When it was stored, ms since the epoch. */
  storedAt: number;
  /** false: an interrupted download; loading the model again resumes it. */
  complete: boolean;
}

/** The two files every GPT-2 checkpoint source provides (config.json doubles as the cache's "complete" mark). */
export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';

export function sizeMismatchError(key: CacheKey, expected: number, written: number): ModelSourceError {
  return new ModelSourceError(
    'corrupt',
    `${key.repo}@${key.revision}/${key.file}: received ${written} bytes but expected ${expected}, so it was not cached. Load the model again to download it afresh.`,
    true,
  );
}

export function quotaError(key: CacheKey, size: number, cause?: unknown): ModelSourceError {
  return new ModelSourceError(
    'quota',
    `The browser has no room to keep ${key.repo}@${key.revision} (${formatBytes(size)}) for offline use. ` +
      'The model still loads this time; to keep it, delete other cached models or free disk space, then load it again.',
    true,
    { cause },
  );
}

/** Stores a small text file (config.json, a manifest) whole. */
export async function putText(cache: ModelCache, key: CacheKey, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  const writer = await cache.create(key, bytes.byteLength);
  await writer.write(bytes);
  await writer.close();
}

/** A cached file's bytes as text. */
export async function readText(file: CachedFile): Promise<string> {
  return new Response(await file.stream()).text();
}

/** A store's raw operations for one file, which sizedWriter holds to the CacheWriter contract. */
export interface FileStore {
  /** Appends a chunk at byte `at`; resolves when the store can take more. */
  write(chunk: Uint8Array, at: number): Promise<void> | void;
  /** Makes the file visible. */
  commit(): Promise<void>;
  /** Drops everything written. */
  discard(reason: unknown): Promise<void>;
}

/** Exactly `size` bytes, then close() stores them; fewer, more, a failed write or abort() store nothing. */
export function sizedWriter(key: CacheKey, size: number, store: FileStore): CacheWriter {
  let written = 0;
  let open = true;
  const fail = async (error: unknown): Promise<never> => {
    open = false;
    await store.discard(error).catch(() => undefined);
    throw error;
  };
  const assertOpen = () => {
    if (!open) throw new Error('cache writer is closed');
  };
  return {
    async write(chunk) {
      assertOpen();
      if (written + chunk.byteLength > size) return fail(sizeMismatchError(key, size, written + chunk.byteLength));
      const at = written;
      written += chunk.byteLength;
      try {
        await store.write(chunk, at);
      } catch (error) {
        await fail(error);
      }
    },
    async close() {
      assertOpen();
      if (written !== size) return fail(sizeMismatchError(key, size, written));
      open = false;
      await store.commit();
    },
    async abort(reason) {
      if (open) await fail(reason ?? new Error('download abandoned')).catch(() => undefined);
    },
  };
}

/** Groups per-file entries into models. */
export function groupCachedModels(entries: { key: CacheKey; bytes: number; storedAt: number }[]): CachedModel[] {
  const byModel = new Map<string, CachedModel>();
  for (const { key, bytes, storedAt } of entries) {
    const id = `${key.hub ?? ''} ${key.repo}@${key.revision}`;
    let model = byModel.get(id);
    if (!model) {
      model = {
        ...(key.hub ? { hub: key.hub } : {}),
        repo: key.repo,
        revision: key.revision,
        files: [],
        totalBytes: 0,
        storedAt: 0,
        complete: false,
      };
      byModel.set(id, model);
    }
    model.files.push({ file: key.file, bytes });
    model.files.sort((a, b) => (a.file < b.file ? -1 : 1));
    model.totalBytes += bytes;
    model.storedAt = Math.max(model.storedAt, storedAt);
    if (key.file === CONFIG_FILE) model.complete = true;
  }
  return [...byModel.values()].sort((a, b) => b.storedAt - a.storedAt);
}

/** Keeps files in memory: for tests and for Node processes that load one model once. */
export class MemoryModelCache implements ModelCache {
  private readonly files = new Map<string, { key: CacheKey; bytes: Uint8Array<ArrayBuffer>; storedAt: number }>();

  async open(key: CacheKey): Promise<CachedFile | null> {
    const entry = this.files.get(keyId(key));
    if (!entry) return null;
    const { bytes } = entry;
    return {
      size: bytes.byteLength,
      stream: async () => new Blob([bytes]).stream(),
    };
  }

  async create(key: CacheKey, size: number): Promise<CacheWriter> {
    const bytes = new Uint8Array(size);
    return sizedWriter(key, size, {
      write: (chunk, at) => bytes.set(chunk, at),
      commit: async () => void this.files.set(keyId(key), { key, bytes, storedAt: Date.now() }),
      discard: async () => undefined,
    });
  }

  async list(): Promise<CachedModel[]> {
    return groupCachedModels([...this.files.values()].map(({ key, bytes, storedAt }) => ({ key, bytes: bytes.byteLength, storedAt })));
  }

  async delete(repo: string, revision: string, hub?: string): Promise<boolean> {
    let removed = false;
    for (const [id, entry] of this.files) {
      if (entry.key.repo === repo && entry.key.revision === revision && entry.key.hub === hub) {
        this.files.delete(id);
        removed = true;
      }
    }
    return removed;
  }
}

function keyId(key: CacheKey): string {
  return `${key.hub ?? ''} ${key.repo}@${key.revision}/${key.file}`;
}

/** Cache Storage name; bump the version if the stored layout ever changes. */
export const BROWSER_CACHE_NAME = 'gpt2-models-v1';
// Cache Storage keys must be http(s) URLs; this one never goes to the network.
const KEY_ORIGIN = 'https://model-cache.invalid/';
const STORED_AT_HEADER = 'x-stored-at';
/** Bytes the cache stream may hold before write() waits for Cache Storage to catch up. */
const WRITE_HIGH_WATER_BYTES = 32 << 20;

/**
 * Cache Storage (window and workers). Each file is one Response, streamed in as it downloads:
 * put() consumes a ReadableStream fed by write(), so the model is never held twice in memory.
 */
export class BrowserModelCache implements ModelCache {
  private constructor(private readonly cache: Cache) {}

  static async open(name = BROWSER_CACHE_NAME): Promise<BrowserModelCache> {
    if (typeof caches === 'undefined') {
      throw new ModelSourceError(
        'unsupported',
        'This browser offers no Cache Storage here (it needs a secure context: https or localhost), so models cannot be kept for offline use.',
      );
    }
    return new BrowserModelCache(await caches.open(name));
  }

  async open(key: CacheKey): Promise<CachedFile | null> {
    const response = await this.cache.match(cacheUrl(key));
    if (!response || !response.body) return null;
    const size = Number(response.headers.get('content-length'));
    await response.body.cancel(); // a body reads once: each stream() matches again
    if (!Number.isFinite(size)) return null;
    return {
      size,
      stream: async () => {
        const again = await this.cache.match(cacheUrl(key));
        if (!again?.body)
          throw new ModelSourceError('not-found', `${key.repo}@${key.revision}/${key.file} is no longer cached. Load it again.`, true);
        return again.body;
      },
    };
  }

  async create(key: CacheKey, size: number): Promise<CacheWriter> {
    await checkRoomFor(key, size);
    // put() reads the stream as the download writes it; writer.ready holds a write back while
    // Cache Storage is WRITE_HIGH_WATER_BYTES behind, so the model is never held twice in memory.
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(
      undefined,
      new ByteLengthQueuingStrategy({ highWaterMark: WRITE_HIGH_WATER_BYTES }),
    );
    const writer = writable.getWriter();
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(size), [STORED_AT_HEADER]: String(Date.now()) };
    let failure: unknown = null;
    const stored = this.cache.put(cacheUrl(key), new Response(readable, { headers })).catch((error: unknown) => {
      failure = isQuotaError(error) ? quotaError(key, size, error) : error;
      writer.abort(failure).catch(() => undefined); // wakes a write waiting for room
    });
    const check = () => {
      if (failure) throw failure;
    };
    return sizedWriter(key, size, {
      write: async (chunk) => {
        check();
        await writer.ready.catch(check);
        writer.write(chunk).catch(() => undefined); // a failure surfaces through `failure`
      },
      commit: async () => {
        await writer.close().catch(check);
        await stored;
        check();
      },
      // Erroring the stream makes put() reject, so nothing is stored.
      discard: async (reason) => {
        await writer.abort(reason).catch(() => undefined);
        await stored;
      },
    });
  }

  async list(): Promise<CachedModel[]> {
    const entries: { key: CacheKey; bytes: number; storedAt: number }[] = [];
    for (const request of await this.cache.keys()) {
      const key = parseCacheUrl(request.url);
      if (!key) continue;
      const response = await this.cache.match(request);
      if (!response) continue;
      entries.push({
        key,
        bytes: Number(response.headers.get('content-length')) || 0,
        storedAt: Number(response.headers.get(STORED_AT_HEADER)) || 0,
      });
      await response.body?.cancel();
    }
    return groupCachedModels(entries);
  }

  async delete(repo: string, revision: string, hub?: string): Promise<boolean> {
    let removed = false;
    for (const request of await this.cache.keys()) {
      const key = parseCacheUrl(request.url);
      if (key && key.repo === repo && key.revision === revision && key.hub === hub) {
        removed = (await this.cache.delete(request)) || removed;
      }
    }
    return removed;
  }
}

/** Refuses early, with a clear message, when the browser says the file cannot fit. */
async function checkRoomFor(key: CacheKey, size: number): Promise<void> {
  const estimate = await storageEstimate();
  if (estimate && estimate.quota - estimate.usage < size) throw quotaError(key, size);
}

/** How much the browser lets this origin store, or null where it does not say. */
export async function storageEstimate(): Promise<{ usage: number; quota: number } | null> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage?.estimate) return null;
  try {
    const { usage, quota } = await storage.estimate();
    return usage === undefined || quota === undefined ? null : { usage, quota };
  } catch {
    return null;
  }
}

/** Files from another hub than huggingface.co live under this prefix and the hub's encoded URL. */
const HUB_PREFIX = '@hub/';

function cacheUrl(key: CacheKey): string {
  const hub = key.hub ? `${HUB_PREFIX}${encodeURIComponent(key.hub)}/` : '';
  return `${KEY_ORIGIN}${hub}${key.repo.split('/').map(encodeURIComponent).join('/')}/@/${encodeURIComponent(key.revision)}/${encodeURIComponent(key.file)}`;
}

function parseCacheUrl(url: string): CacheKey | null {
  if (!url.startsWith(KEY_ORIGIN)) return null;
  let rest = url.slice(KEY_ORIGIN.length);
  let hub: string | undefined;
  if (rest.startsWith(HUB_PREFIX)) {
    const end = rest.indexOf('/', HUB_PREFIX.length);
    if (end < 0) return null;
    hub = decodeURIComponent(rest.slice(HUB_PREFIX.length, end));
    rest = rest.slice(end + 1);
  }
  const parts = rest.split('/@/');
  if (parts.length !== 2) return null;
  const [revision, file] = parts[1].split('/');
  if (!revision || !file) return null;
  return {
    ...(hub ? { hub } : {}),
    repo: parts[0].split('/').map(decodeURIComponent).join('/'),
    revision: decodeURIComponent(revision),
    file: decodeURIComponent(file),
  };
}
