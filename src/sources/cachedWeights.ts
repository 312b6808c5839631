/**
 * How model.safetensors is kept in a ModelCache: as a *compacted* safetensors file (the header
 * rewritten to list only the tensors the model uses, then their bytes), stored in pieces of about
 * PIECE_BYTES that end on tensor boundaries, plus a small manifest.
 *
 *   weights-manifest.json     { layout of the pieces, how many are stored, the source's ETag }
 *   model.safetensors.000     compacted header + the first tensors
 *   model.safetensors.001 …   the following tensors
 *
 * Each piece is written while the download streams and becomes visible only when complete; the
 * manifest is rewritten after each piece. So when a download stops (a closed tab, a lost network),
 * the finished pieces stay, and the next load feeds those tensors from the cache and downloads
 * only the rest. A model is complete when every piece is stored; config.json is written after
 * that, so a model with config.json in the cache is a complete one.
 */
import { ByteReader, slice, streamChunks, type ByteSource, type HeldTensors } from '../model/checkpointStream';
import type { SafetensorsHeader, TensorEntry } from '../model/safetensors';
import { WEIGHTS_FILE, putText, readText, type CacheKey, type CachedFile, type CacheWriter, type ModelCache } from './cache';
import { ModelSourceError } from './errors';

export const MANIFEST_FILE = 'weights-manifest.json';
export const PIECE_BYTES = 64 << 20;
export const pieceFile = (index: number) => `model.safetensors.${String(index).padStart(3, '0')}`;

export interface WeightsManifest {
  version: 1;
  /** The source file's ETag: a partial download only resumes onto the same file. */
  etag: string | null;
  /** Size of the original model.safetensors. */
  sourceBytes: number;
  /** Size of the compacted file (all pieces together). */
  totalBytes: number;
  /** Length of the compacted header, 8-byte prefix included (at the start of piece 0). */
  headerBytes: number;
  /** Names of the stored tensors in order, and where each piece ends (exclusive tensor index). */
  tensors: string[];
  pieceEnds: number[];
  /** Pieces stored so far; complete when it equals pieceEnds.length. */
  piecesDone: number;
}

export type ModelKey = Omit<CacheKey, 'file'>;

export async function readManifest(cache: ModelCache, model: ModelKey): Promise<WeightsManifest | null> {
  const file = await cache.open({ ...model, file: MANIFEST_FILE });
  if (!file) return null;
  try {
    const manifest = JSON.parse(await readText(file)) as WeightsManifest;
    return manifest.version === 1 && Array.isArray(manifest.pieceEnds) ? manifest : null;
  } catch {
    return null;
  }
}

export function isComplete(manifest: WeightsManifest): boolean {
  return manifest.piecesDone === manifest.pieceEnds.length;
}

/** A complete cached model's weights: the compacted file, read once from the start. */
export async function openCachedWeights(cache: ModelCache, model: ModelKey, manifest: WeightsManifest): Promise<ByteSource> {
  const pieces = await Promise.all(manifest.pieceEnds.map((_, i) => cache.open({ ...model, file: pieceFile(i) })));
  if (pieces.some((p) => p === null)) throw new ModelSourceError('corrupt', 'a piece of the cached weights is missing', true);
  return { size: manifest.totalBytes, ranged: false, read: (start, end) => slice(chunksOf(pieces as CachedFile[]), 0, start, end) };
}

/** The pieces' bytes, one piece after another. */
async function* chunksOf(pieces: CachedFile[]): AsyncGenerator<Uint8Array> {
  for (const piece of pieces) yield* streamChunks(() => piece.stream());
}

/** The compacted layout for these used tensors (sorted by offset): header bytes and piece boundaries. */
export function compactLayout(header: SafetensorsHeader, used: readonly TensorEntry[], pieceBytes = PIECE_BYTES) {
  const compact = compactHeader(header, used, header.dataStart + Math.max(0, ...header.tensors.map((t) => t.end)));
  const pieceEnds: number[] = [];
  let bytes = compact.byteLength;
  used.forEach((entry, i) => {
    bytes += entry.end - entry.begin;
    if (bytes >= pieceBytes || i === used.length - 1) {
      pieceEnds.push(i + 1);
      bytes = 0;
    }
  });
  if (used.length === 0) pieceEnds.push(0);
  const totalBytes = compact.byteLength + used.reduce((n, e) => n + e.end - e.begin, 0);
  return { compact, pieceEnds, totalBytes };
}

/**
 * The header of the compacted file: the used tensors only, packed in order, with the original
 * metadata plus the original size (gpt2-browser.source_bytes), padded so data starts 8-aligned.
 */
export function compactHeader(header: SafetensorsHeader, used: readonly TensorEntry[], sourceBytes?: number): Uint8Array {
  const json: Record<string, unknown> = {};
  const metadata: Record<string, string> = { ...header.metadata };
  if (sourceBytes !== undefined) metadata['gpt2-browser.source_bytes'] = String(sourceBytes);
  json.__metadata__ = metadata;
  let offset = 0;
  for (const entry of used) {
    const length = entry.end - entry.begin;
    json[entry.name] = { dtype: entry.dtype, shape: entry.shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  const encoder = new TextEncoder();
  let text = JSON.stringify(json);
  text += ' '.repeat((8 - (encoder.encode(text).byteLength % 8)) % 8);
  const body = encoder.encode(text);
  const out = new Uint8Array(8 + body.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.byteLength), true);
  out.set(body, 8);
  return out;
}

/**
 * Writes the pieces of one model while it downloads (and resumes a partial one). Cache failures
 * (quota, a broken store) switch caching off and are reported through `onError`; they never stop
 * the load. abort() keeps the finished pieces so the next load can resume.
 */
export class WeightsCacheSession {
  private writer: CacheWriter | null = null;
  private piece: number;
  private nextTensor: number;
  private disabled = false;

  private constructor(
    private readonly cache: ModelCache,
    private readonly model: ModelKey,
    private readonly manifest: WeightsManifest,
    private readonly layout: { compact: Uint8Array; used: readonly TensorEntry[] },
    private readonly onError: (error: unknown) => void,
  ) {
    this.piece = manifest.piecesDone;
    this.nextTensor = manifest.piecesDone === 0 ? 0 : manifest.pieceEnds[manifest.piecesDone - 1];
  }

  /**
   * Starts caching the used tensors of `header`, picking up a stored partial download of the same
   * file (same ETag, same tensors) if there is one; anything else stored for the model is dropped.
   */
  static async begin(
    cache: ModelCache,
    model: ModelKey,
    header: SafetensorsHeader,
    used: readonly TensorEntry[],
    etag: string | null,
    onError: (error: unknown) => void,
    pieceBytes = PIECE_BYTES,
  ): Promise<{ session: WeightsCacheSession; resumed: HeldTensors | null }> {
    const { compact, pieceEnds, totalBytes } = compactLayout(header, used, pieceBytes);
    const fresh: WeightsManifest = {
      version: 1,
      etag,
      sourceBytes: header.dataStart + Math.max(0, ...header.tensors.map((t) => t.end)),
      totalBytes,
      headerBytes: compact.byteLength,
      tensors: used.map((t) => t.name),
      pieceEnds,
      piecesDone: 0,
    };
    let manifest = fresh;
    let resumed: HeldTensors | null = null;
    try {
      const stored = await readManifest(cache, model);
      const sameFile =
        stored !== null &&
        etag !== null &&
        stored.etag === etag &&
        stored.totalBytes === totalBytes &&
        stored.headerBytes === compact.byteLength &&
        stored.tensors.join('\n') === fresh.tensors.join('\n') &&
        stored.pieceEnds.join(',') === pieceEnds.join(',');
      if (sameFile && stored.piecesDone > 0 && !isComplete(stored)) {
        resumed = await storedTensors(cache, model, stored, used);
        if (resumed) manifest = stored;
      }
      if (!resumed) await cache.delete(model.repo, model.revision, model.hub);
    } catch (error) {
      onError(error);
      return { session: new WeightsCacheSession(cache, model, { ...fresh }, { compact, used }, onError).off(), resumed: null };
    }
    return { session: new WeightsCacheSession(cache, model, { ...manifest }, { compact, used }, onError), resumed };
  }

  /** Hands over the next tensor's bytes (tensors arrive in order). */
  async add(bytes: Uint8Array): Promise<void> {
    if (this.disabled) return;
    try {
      if (!this.writer) {
        this.writer = await this.cache.create({ ...this.model, file: pieceFile(this.piece) }, this.pieceSize(this.piece));
        if (this.piece === 0) await this.writer.write(this.layout.compact);
      }
      await this.writer.write(bytes);
      this.nextTensor++;
      if (this.nextTensor === this.manifest.pieceEnds[this.piece]) {
        const finished = this.writer;
        this.writer = null;
        await finished.close();
        this.piece++;
        this.manifest.piecesDone = this.piece;
        await putText(this.cache, { ...this.model, file: MANIFEST_FILE }, JSON.stringify(this.manifest));
      }
    } catch (error) {
      await this.fail(error);
    }
  }

  /** True once every piece is stored. */
  get complete(): boolean {
    return !this.disabled && isComplete(this.manifest);
  }

  /** Drops the piece in progress; finished pieces stay for a later resume. */
  async abort(reason: unknown): Promise<void> {
    const writer = this.writer;
    this.writer = null;
    this.disabled = true;
    await writer?.abort(reason).catch(() => undefined);
  }

  private off(): this {
    this.disabled = true;
    return this;
  }

  private async fail(error: unknown): Promise<void> {
    await this.abort(error);
    await this.cache.delete(this.model.repo, this.model.revision, this.model.hub).catch(() => undefined);
    this.onError(error);
  }

  private pieceSize(index: number): number {
    const first = index === 0 ? 0 : this.manifest.pieceEnds[index - 1];
    const end = this.manifest.pieceEnds[index];
    let bytes = index === 0 ? this.layout.compact.byteLength : 0;
    for (let i = first; i < end; i++) bytes += this.layout.used[i].end - this.layout.used[i].begin;
    return bytes;
  }
}

/** The stored pieces of a partial download, as the tensors they hold (null if any piece is missing or the wrong size). */
async function storedTensors(
  cache: ModelCache,
  model: ModelKey,
  manifest: WeightsManifest,
  used: readonly TensorEntry[],
): Promise<HeldTensors | null> {
  const count = manifest.pieceEnds[manifest.piecesDone - 1];
  const pieces = await Promise.all(Array.from({ length: manifest.piecesDone }, (_, i) => cache.open({ ...model, file: pieceFile(i) })));
  const tensorBytes = used.slice(0, count).reduce((n, e) => n + e.end - e.begin, 0);
  const storedBytes = pieces.reduce((n, p) => n + (p?.size ?? NaN), 0);
  if (!(storedBytes === manifest.headerBytes + tensorBytes)) return null;
  async function* tensors(): AsyncGenerator<Uint8Array> {
    const reader = new ByteReader(chunksOf(pieces as CachedFile[]), 0, WEIGHTS_FILE);
    try {
      await reader.skipTo(manifest.headerBytes);
      for (const entry of used.slice(0, count)) yield await reader.readExactly(entry.end - entry.begin, entry.name);
    } catch (error) {
      // A stored part that cannot be read back is dropped, so the next attempt starts clean.
      await cache.delete(model.repo, model.revision, model.hub).catch(() => undefined);
      throw error;
    } finally {
      await reader.close();
    }
  }
  return { count, bytes: tensorBytes, tensors: tensors() };
}
