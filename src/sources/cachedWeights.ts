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
 *
 * Each piece's size and SHA-256 go into the manifest as the piece is written; every read checks
 * both as the bytes stream past (verifiedPieces), so a piece changed or cut short in the cache is
 * caught as that piece (a CachedCopyError), never used.
 */
import { ByteReader, slice, streamChunks, type ByteSource, type HeldTensors } from '../model/checkpointStream';
import type { SafetensorsHeader, TensorEntry } from '../model/safetensors';
import { WEIGHTS_FILE, putText, quotaError, readText, type CacheKey, type CachedFile, type CacheWriter, type ModelCache } from './cache';
import { ModelSourceError, formatBytes } from './errors';
import { Sha256 } from './sha256';

export const MANIFEST_FILE = 'weights-manifest.json';
export const PIECE_BYTES = 64 << 20;
export const pieceFile = (index: number) => `model.safetensors.${String(index).padStart(3, '0')}`;

/** The manifest layout; a manifest of another version (an older app's, without checksums) is not used. */
export const MANIFEST_VERSION = 2;

export interface WeightsManifest {
  version: typeof MANIFEST_VERSION;
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
  /** Each piece's size in bytes (all pieces, stored or not). */
  pieceBytes: number[];
  /** SHA-256 (hex) of each stored piece, computed as it was written. */
  pieceSha256: string[];
}

export type ModelKey = Omit<CacheKey, 'file'>;

/** A cached copy that is not what was stored (a piece changed, cut short, a damaged manifest): drop it and download again. */
export class CachedCopyError extends ModelSourceError {
  constructor(message: string) {
    super('corrupt', message, true);
  }
}

/** The stored manifest; null when there is none; a CachedCopyError when it cannot be read or is an older app's. */
export async function readManifest(cache: ModelCache, model: ModelKey): Promise<WeightsManifest | null> {
  const file = await cache.open({ ...model, file: MANIFEST_FILE });
  if (!file) return null;
  let manifest: WeightsManifest;
  try {
    manifest = JSON.parse(await readText(file)) as WeightsManifest;
  } catch (error) {
    throw new CachedCopyError(`${MANIFEST_FILE} is damaged (${error instanceof Error ? error.message : String(error)})`);
  }
  const fields =
    typeof manifest === 'object' &&
    manifest !== null &&
    [manifest.pieceEnds, manifest.pieceBytes, manifest.pieceSha256, manifest.tensors].every(Array.isArray) &&
    manifest.pieceBytes.length === manifest.pieceEnds.length &&
    manifest.pieceSha256.length === manifest.piecesDone;
  if (manifest?.version !== MANIFEST_VERSION) {
    throw new CachedCopyError(`${MANIFEST_FILE} is from an older version of the app and holds no checksums to verify the pieces with`);
  }
  if (!fields) throw new CachedCopyError(`${MANIFEST_FILE} is damaged (fields are missing or do not agree)`);
  return manifest;
}

/** readManifest, with a manifest that cannot be used counted as none (a new download replaces it). */
export async function readManifestOrNone(cache: ModelCache, model: ModelKey): Promise<WeightsManifest | null> {
  try {
    return await readManifest(cache, model);
  } catch (error) {
    if (error instanceof CachedCopyError) return null;
    throw error;
  }
}

export function isComplete(manifest: WeightsManifest): boolean {
  return manifest.piecesDone === manifest.pieceEnds.length;
}

/**
 * A complete cached model's weights: the compacted file, read once from the start, each piece
 * checked against its stored size and SHA-256 as it streams (`verify` false: not checked, for
 * measuring what the check costs).
 */
export async function openCachedWeights(cache: ModelCache, model: ModelKey, manifest: WeightsManifest, verify = true): Promise<ByteSource> {
  const pieces = await Promise.all(manifest.pieceEnds.map((_, i) => cache.open({ ...model, file: pieceFile(i) })));
  const missing = pieces.findIndex((p) => p === null);
  if (missing >= 0) throw new CachedCopyError(`the cached piece ${pieceFile(missing)} is missing`);
  const files = pieces as CachedFile[];
  return {
    size: manifest.totalBytes,
    ranged: false,
    read: (start, end) => slice(verify ? verifiedPieces(files, manifest) : plainPieces(files), 0, start, end),
  };
}

/** The pieces' bytes, one piece after another, unchecked. */
async function* plainPieces(pieces: CachedFile[]): AsyncGenerator<Uint8Array> {
  for (const piece of pieces) yield* streamChunks(() => piece.stream());
}

/**
 * The pieces' bytes, one piece after another, each piece checked as it streams: its length
 * against the manifest (counted, not taken from the store, at its end or as soon as it runs long)
 * and its SHA-256 against the one stored when it was written (at its last byte, before the
 * next piece is read). A fault is a CachedCopyError naming the piece.
 */
export async function* verifiedPieces(pieces: CachedFile[], manifest: WeightsManifest): AsyncGenerator<Uint8Array> {
  for (const [index, piece] of pieces.entries()) {
    const name = pieceFile(index);
    const expected = manifest.pieceBytes[index];
    const hasher = new Sha256();
    let bytes = 0;
    for await (const chunk of streamChunks(() => piece.stream())) {
      bytes += chunk.byteLength;
      if (bytes > expected) throw pieceSizeError(name, bytes, expected);
      hasher.update(chunk);
      if (bytes === expected) {
        const actual = hasher.digest();
        if (actual !== manifest.pieceSha256[index]) {
          throw new CachedCopyError(
            `checksum mismatch in the cached piece ${name}: its SHA-256 is ${actual}, not the ${manifest.pieceSha256[index]} stored when it was written`,
          );
        }
      }
      yield chunk;
    }
    if (bytes < expected) throw pieceSizeError(name, bytes, expected);
  }
}

function pieceSizeError(name: string, bytes: number, expected: number): CachedCopyError {
  const how = bytes < expected ? 'truncated' : 'longer than it was stored';
  return new CachedCopyError(`the cached piece ${name} is ${how}: ${bytes} bytes (${formatBytes(bytes)}) instead of ${expected}`);
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
  /** The SHA-256 of the piece being written, fed what the writer is. */
  private hasher: Sha256 | null = null;
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
      version: MANIFEST_VERSION,
      etag,
      sourceBytes: header.dataStart + Math.max(0, ...header.tensors.map((t) => t.end)),
      totalBytes,
      headerBytes: compact.byteLength,
      tensors: used.map((t) => t.name),
      pieceEnds,
      piecesDone: 0,
      pieceBytes: piecesBytes(compact.byteLength, used, pieceEnds),
      pieceSha256: [],
    };
    let manifest = fresh;
    let resumed: HeldTensors | null = null;
    try {
      const stored = await readManifestOrNone(cache, model);
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
        this.writer = await this.cache.create({ ...this.model, file: pieceFile(this.piece) }, this.manifest.pieceBytes[this.piece]);
        this.hasher = new Sha256();
        if (this.piece === 0) await this.write(this.layout.compact);
      }
      await this.write(bytes);
      this.nextTensor++;
      if (this.nextTensor === this.manifest.pieceEnds[this.piece]) {
        const finished = this.writer;
        this.writer = null;
        await finished.close();
        this.manifest.pieceSha256[this.piece] = this.hasher!.digest();
        this.piece++;
        this.manifest.piecesDone = this.piece;
        await putText(this.cache, { ...this.model, file: MANIFEST_FILE }, JSON.stringify(this.manifest));
      }
    } catch (error) {
      await this.fail(error);
    }
  }

  /** Bytes of all the pieces together (the compacted weights the cache keeps). */
  get totalBytes(): number {
    return this.manifest.totalBytes;
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
    // The store names the piece it could not take; the person needs room for the whole model.
    const quota = error instanceof ModelSourceError && error.kind === 'quota';
    this.onError(quota ? quotaError({ ...this.model, file: WEIGHTS_FILE }, this.manifest.totalBytes, error) : error);
  }

  private async write(bytes: Uint8Array): Promise<void> {
    this.hasher!.update(bytes);
    await this.writer!.write(bytes);
  }
}

/** Each piece's size: the compacted header in the first, then the tensors up to its end. */
function piecesBytes(headerBytes: number, used: readonly TensorEntry[], pieceEnds: readonly number[]): number[] {
  return pieceEnds.map((end, index) => {
    const first = index === 0 ? 0 : pieceEnds[index - 1];
    let bytes = index === 0 ? headerBytes : 0;
    for (let i = first; i < end; i++) bytes += used[i].end - used[i].begin;
    return bytes;
  });
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
    const reader = new ByteReader(verifiedPieces(pieces as CachedFile[], manifest), 0, WEIGHTS_FILE);
    try {
      await reader.skipTo(manifest.headerBytes);
      // verifiedPieces checks a piece's checksum on its last chunk, so before its last tensor is handed on.
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
