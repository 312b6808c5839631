import { CheckpointError } from '../model/errors';
import { checkFinite } from '../model/nonFinite';
import { parseSafetensorsHeader, readHeaderLength, type SafetensorsHeader, type TensorEntry } from '../model/safetensors';
import type { ByteSource } from './byteSource';
import type { ResumedTensors } from './cachedWeights';
import { ModelSourceError, abortedError } from './errors';
import type { LoadOrigin, ProgressTracker } from './progress';

/** What streamCheckpoint feeds: WeightsBuilder (src/model/checkpoint.ts) fits. */
export interface TensorSink {
  readonly plan: readonly { entry: TensorEntry }[];
  add(plan: this['plan'][number], bytes: Uint8Array): void;
  /** Frees what was added so far; called when the load fails. */
  dispose?(): void;
}

export interface StreamOptions {
  file: string;
  progress: ProgressTracker;
  signal?: AbortSignal;
  /** Gaps between used tensors up to this many bytes are downloaded and dropped rather than
   * costing another request (default 8 KiB). The attn.bias masks (4 MB each in gpt2) stay skipped. */
  mergeGapBytes?: number;
  /**
   * Asked once the header is known: where to keep the used tensors (WeightsCacheSession), and the
   * tensors a previous, interrupted load already stored (fed from there, not downloaded again).
   */
  cache?: (header: SafetensorsHeader, used: TensorEntry[], etag: string | null) => Promise<{ session: TensorCacheSink; resumed: ResumedTensors | null }>;
  /** Called once the tensor bytes still to fetch from a network source are known, before any is read; may throw to stop. */
  beforeDownload?: (bytes: number) => void;
}

/** Receives each used tensor's bytes in order (src/sources/cachedWeights.ts). */
export interface TensorCacheSink {
  add(bytes: Uint8Array): Promise<void>;
  abort(reason: unknown): Promise<void>;
}

export interface StreamResult {
  header: SafetensorsHeader;
  bytesRead: number;
  bytesSkipped: number;
  requests: number;
}

/** The span of the file one request reads, and the tensors inside it. */
export interface ByteSpan {
  start: number;
  end: number;
}

export const DEFAULT_MERGE_GAP_BYTES = 8 * 1024;

/**
 * Reads a safetensors file from `source` and hands each used tensor to the sink as soon as its
 * bytes are complete, so at most one tensor (plus one network chunk) is in memory at a time.
 *
 * Ranged sources: the header (bytes 0-7, then the header itself), then one read per run of used
 * tensors; unused tensors' bytes are never requested. Other sources: one pass over the file,
 * dropping unused bytes as they go by. When a cache writer is given, the compacted file (header
 * of used tensors + their bytes) is written alongside, tensor by tensor.
 */
export async function streamCheckpoint<S extends TensorSink>(
  source: ByteSource,
  makeSink: (header: SafetensorsHeader) => S,
  options: StreamOptions,
): Promise<StreamResult & { sink: S }> {
  const { file, progress, signal } = options;
  const knownSize = Number.isFinite(source.size) ? source.size : undefined;
  let requests = 0;
  let bytesRead = 0;
  const open = (start: number, end: number) => {
    requests++;
    return new ByteReader(source.read(start, end), start, (n) => {
      bytesRead += n;
      progress.addBytes(n);
    }, source.origin);
  };

  progress.begin('weights', file, knownSize ?? 0);
  if (knownSize !== undefined && knownSize < 8) throw tooShort(file, knownSize);

  // One reader for the whole file when ranges are not possible; else fresh readers per span.
  const whole = source.ranged ? null : open(0, Infinity);
  const readSpan = async (start: number, length: number): Promise<Uint8Array> => {
    if (whole) return whole.readExactly(length, file);
    const reader = open(start, start + length);
    try {
      return await reader.readExactly(length, file);
    } finally {
      await reader.close();
    }
  };
  const first8 = await readSpan(0, 8);
  const headerLength = readHeaderLength(first8, file);
  if (knownSize !== undefined && 8 + headerLength > knownSize) throw notSafetensors(file, headerLength, knownSize);
  const headerBytes = await readSpan(8, headerLength);
  const prefix = new Uint8Array(8 + headerLength);
  prefix.set(first8, 0);
  prefix.set(headerBytes, 8);
  const header = parseSafetensorsHeader(prefix, file, knownSize);

  const sink = makeSink(header);
  const plan = sink.plan;
  const used = plan.map((p) => p.entry);
  const dataBytes = (knownSize ?? header.dataStart + Math.max(0, ...header.tensors.map((t) => t.end))) - header.dataStart;

  let cache: TensorCacheSink | null = null;
  let resumedCount = 0;
  let resumedBytes = 0;
  try {
    const started = options.cache ? await options.cache(header, used, source.etag ?? null) : null;
    cache = started?.session ?? null;
    const resumed = started?.resumed ?? null;
    const remaining = plan.slice(resumed?.count ?? 0);
    const spans = source.ranged ? mergeSpans(remaining.map((p) => p.entry), header.dataStart, options.mergeGapBytes ?? DEFAULT_MERGE_GAP_BYTES) : [];
    const toRead = source.ranged ? spans.reduce((n, s) => n + s.end - s.start, 0) : dataBytes;
    resumedBytes = resumed?.bytes ?? 0;
    if (source.origin === 'network') options.beforeDownload?.(toRead);
    progress.setTotals({
      bytesTotal: header.dataStart + toRead,
      bytesSkipped: source.ranged ? dataBytes - toRead - resumedBytes : 0,
      tensorsTotal: plan.length,
    });
    if (resumed) {
      // Tensors a previous load already stored: feed them from the cache, download the rest.
      progress.resumed();
      for await (const bytes of resumed.tensors) {
        if (signal?.aborted) throw abortedError(file);
        sink.add(plan[resumedCount++] as S['plan'][number], bytes); // checked when it was downloaded
        progress.tensorDone();
      }
      if (resumedCount !== resumed.count) throw new ModelSourceError('corrupt', `${file}: the cached part of the download holds ${resumedCount} tensors, not ${resumed.count}. Load the model again.`, true);
    }

    let spanIndex = -1;
    let reader = whole;
    try {
      for (const item of remaining) {
        if (signal?.aborted) throw abortedError(file);
        const at = header.dataStart + item.entry.begin;
        if (source.ranged && (spanIndex < 0 || at >= spans[spanIndex].end)) {
          await reader?.close();
          spanIndex++;
          reader = open(spans[spanIndex].start, spans[spanIndex].end);
        }
        await reader!.skipTo(at, file);
        const bytes = await reader!.readExactly(item.entry.end - item.entry.begin, file, item.entry.name);
        // NaN/±Infinity are refused before a tensor is kept, so what the cache holds was checked once.
        if (source.origin !== 'cache') checkFinite(item.entry, bytes, file);
        await cache?.add(bytes);
        sink.add(item as S['plan'][number], bytes);
        progress.tensorDone();
      }
      // A full pass reads to the end so the transfer is complete and the size checks hold.
      if (whole) await whole.drain();
    } finally {
      await reader?.close();
    }
  } catch (error) {
    sink.dispose?.();
    await cache?.abort(error);
    throw error;
  }
  return { sink, header, bytesRead, bytesSkipped: Math.max(0, dataBytes - resumedBytes - (bytesRead - header.dataStart)), requests };
}

/** Used tensors (sorted by offset) → few byte spans: neighbours closer than maxGap share one. */
export function mergeSpans(entries: readonly TensorEntry[], dataStart: number, maxGap: number): ByteSpan[] {
  const spans: ByteSpan[] = [];
  for (const entry of [...entries].sort((a, b) => a.begin - b.begin)) {
    const start = dataStart + entry.begin;
    const end = dataStart + entry.end;
    const last = spans[spans.length - 1];
    if (last && start - last.end <= maxGap) last.end = Math.max(last.end, end);
    else spans.push({ start, end });
  }
  return spans;
}

function tooShort(file: string, size: number): CheckpointError {
  return new CheckpointError(`${file}: the file is ${size} bytes, too short to be a safetensors file (it starts with an 8-byte header length)`);
}

/** The first 8 bytes promise a header longer than the file: whatever this is, it is not safetensors. */
function notSafetensors(file: string, headerLength: number, size: number): CheckpointError {
  return new CheckpointError(
    `${file} is not a safetensors file: its first 8 bytes give a header length of ${headerLength} bytes, past the end of the ${size}-byte file`,
  );
}

/**
 * Pulls exact byte counts out of a chunk stream: readExactly(n) copies the next n bytes into one
 * fresh (aligned) buffer; skipTo(offset) drops bytes up to a file offset.
 */
class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private pending: Uint8Array | null = null;

  constructor(
    chunks: AsyncIterable<Uint8Array>,
    private position: number,
    private readonly onBytes: (count: number) => void,
    /** Where the bytes come from: what to do about a file that ends early depends on it. */
    private readonly origin: LoadOrigin,
  ) {
    this.iterator = chunks[Symbol.asyncIterator]();
  }

  async readExactly(length: number, file: string, tensor?: string): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const chunk = await this.next(file, tensor);
      const take = Math.min(chunk.byteLength, length - filled);
      out.set(chunk.subarray(0, take), filled);
      filled += take;
      this.consume(chunk, take);
    }
    return out;
  }

  async skipTo(offset: number, file: string): Promise<void> {
    while (this.position < offset) {
      const chunk = await this.next(file);
      this.consume(chunk, Math.min(chunk.byteLength, offset - this.position));
    }
  }

  /** Reads (and counts) whatever is left. */
  async drain(): Promise<void> {
    if (this.pending) this.consume(this.pending, this.pending.byteLength);
    for (;;) {
      const next = await this.iterator.next();
      if (next.done) return;
      this.onBytes(next.value.byteLength);
      this.position += next.value.byteLength;
    }
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }

  private async next(file: string, tensor?: string): Promise<Uint8Array> {
    if (this.pending) return this.pending;
    const next = await this.iterator.next();
    if (next.done) {
      const where = tensor ? ` in tensor '${tensor}'` : '';
      throw new ModelSourceError('corrupt', `${file} ended at byte ${this.position}${where}, before the end its header promises: the file is truncated. ${this.origin === 'file' ? 'Copy or export it again.' : 'Download it again.'}`, this.origin !== 'file');
    }
    this.onBytes(next.value.byteLength);
    this.pending = next.value;
    return next.value;
  }

  private consume(chunk: Uint8Array, count: number): void {
    this.position += count;
    this.pending = count < chunk.byteLength ? chunk.subarray(count) : null;
  }
}
