/**
 * Model sources: where GPT-2 checkpoints come from, with progress, cache and resume.
 *
 * ── Loading (worker only: it creates tfjs tensors) ───────────────────────────────────────────
 *   import { loadModel } from '../sources/loadModel';
 *   const { model, label, origin } = await loadModel(parseModelSpec('gpt2-medium'), {
 *     hubUrl,                      // default https://huggingface.co; the page takes ?hub=URL
 *     cache: await BrowserModelCache.open(),   // keep files for offline use; omit for no cache
 *     pageUrl,                     // the page's document.baseURI (resolves 'embedded' from a worker)
 *     signal,                      // AbortSignal to cancel
 *     onProgress: (p) => post(p),  // LoadProgress: bytesDone/bytesTotal, percent, bytesPerSecond, etaSeconds, message
 *   });
 *   // model is a ready GPT2 (src/model/gpt2.ts); failures throw ModelSourceError:
 *   //   err.message says what happened and what to do; err.retryable says a retry can help;
 *   //   err.kind: 'bad-spec'|'not-found'|'not-gpt2'|'network'|'http'|'interrupted'|'corrupt'|'quota'|'aborted'
 *   //             |'needs-confirmation' (askAboveBytes: DownloadConfirmationError.bytes)|'unsupported'.
 *   // A load that succeeded but could not be cached (quota) reports it in `cacheNote` instead.
 *
 * ── Everything below is safe on the main thread (no tfjs) ─────────────────────────────────────
 * Specs:   parseModelSpec('gpt2' | 'gpt2-medium' | 'gpt2-large' | 'gpt2-xl' | 'distilgpt2'
 *                         | 'hf:owner/name[@rev]' | 'url:/models/tiny-gpt2/' | 'embedded' | '')
 *          specFromFiles(fileList)  → { kind: 'files', config, weights } from a picker or a drop
 *          formatModelSpec(spec) (for ?model=), describeModelSpec(spec) (for labels)
 * Presets: PRESETS (id, repo, label, parameters, fileBytes, downloadBytes, note), findPreset(id)
 * Cache:   const cache = await BrowserModelCache.open();
 *          await cache.list()   → CachedModel[] { repo, revision, files, totalBytes, storedAt, complete }
 *          await cache.delete(repo, revision, hub?)   (hub: CachedModel.hub; absent = huggingface.co)
 *          await storageEstimate() → { usage, quota } | null
 * Hub:     DEFAULT_HUB_URL, hubFileUrl(hub, repo, rev, file) = `${hub}/${repo}/resolve/${rev}/${file}`,
 *          hubCacheId(hubUrl) (what the cache files that hub's downloads under; undefined = huggingface.co)
 * Misc:    embeddedModelUrl(pageUrl?), formatBytes(n), describeProgress(p)
 *
 * How the download works: the weights go through the one checkpoint loader
 * (src/model/checkpointStream.ts, readCheckpoint) from a RemoteFile (download.ts): the safetensors
 * header is read first (Range: bytes=0-7, then the header); then only the byte ranges of tensors the
 * model uses are requested (adjacent ones merged), and each tensor is decoded and uploaded as soon
 * as its bytes are in, so the file is never held in memory whole. Servers that ignore Range get one
 * streamed GET instead. Dropped connections resume from the last byte received. The cache stores a
 * compacted model.safetensors holding just the used tensors, in pieces with a manifest (see
 * cachedWeights.ts), written while streaming; a download stopped part-way resumes from the stored
 * pieces on the next load. Only whole pieces are ever stored; a model with config.json is complete.
 */
export { parseModelSpec, formatModelSpec, describeModelSpec, DEFAULT_REVISION, type ModelSpec } from './spec';
export { PRESETS, findPreset, presetForRepo, type ModelPreset } from './presets';
export { specFromFiles } from './localFiles';
export { embeddedModelUrl, EMBEDDED_MODEL_FOLDER } from './embedded';
export { DEFAULT_HUB_URL, hubFileUrl, hubRepoUrl, hubCacheId } from './hub';
export { ModelSourceError, DownloadConfirmationError, formatBytes, type SourceErrorKind } from './errors';
export { describeProgress, formatDuration, type LoadProgress, type LoadOrigin, type ProgressListener } from './progress';
export {
  BrowserModelCache,
  MemoryModelCache,
  storageEstimate,
  BROWSER_CACHE_NAME,
  type ModelCache,
  type CachedModel,
  type CacheKey,
} from './cache';
export type { LoadOptions, LoadedModel } from './loadModel';
