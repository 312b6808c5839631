/**
 * The one checkpoint loader: reads a safetensors file from a ByteSource and hands each tensor the
 * model uses to a sink (WeightsBuilder) as soon as its bytes are in, so the file is never held
 * whole and at most one tensor (plus one chunk) is in memory at a time.
 *
 * Ranged sources (bytes in memory, a Blob, a server that honours Range) are read as the header
 * (bytes 0-7, then the header itself), then one span per run of used tensors: unused tensors (the
 * attn.bias masks) are never read. One-pass sources (a cached file, a server without Range) are
 * read once, start to end, dropping unused bytes as they pass. Where the bytes come from (hub,
 * folder, files, cache) and what else happens to them (progress, the cache's copy, a resumed
 * download) is the caller's: src/sources/loadModel.ts.
 */
import { CheckpointError, inFile } from './errors';
import { checkFinite } from './nonFinite';
import { checkHeaderFits, parseSafetensorsHeader, readHeaderLength, type SafetensorsHeader, type TensorEntry } from './safetensors';

/** A checkpoint file as spans of bytes. */
export interface ByteSource {
  /** Total file size in bytes; NaN when unknown (a server that sent no Content-Length). */
  readonly size: number;
  /** true: any span is cheap to read; false: read it once, from the start. */
  readonly ranged: boolean;
  /** Yields exactly the bytes [start, end) in order (end may be Infinity: to the end). */
  read(start: number, end: number): AsyncIterable<Uint8Array>;
}

/** Bytes in memory, or a Blob (a picked File, fs.openAsBlob) read span by span and never whole. */
export function bytesSource(data: ArrayBuffer | ArrayBufferView | Blob): ByteSource {
  // Bytes are an ArrayBuffer or a view of one; anything else is a Blob, or a file read by ranges
  // that has a Blob's slice/stream (fsCache's fileAsBlob for files over 4 GiB), so not `instanceof Blob`.
  if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) {
    return {
      size: data.size,
      ranged: true,
      read: (start, end) => streamChunks(() => data.slice(start, Math.min(end, data.size)).stream()),
    };
  }
  // A Node Buffer or other view may sit inside a larger ArrayBuffer: read through its window.
  const view = ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data as ArrayBuffer);
  return {
    size: view.byteLength,
    ranged: true,
    async *read(start, end) {
      if (Math.min(end, view.byteLength) > start) yield view.subarray(start, Math.min(end, view.byteLength));
    },
  };
}

/** Iterates a ReadableStream's chunks and always releases it (cancel on early exit). */
export async function* streamChunks(
  open: () => ReadableStream<Uint8Array> | Promise<ReadableStream<Uint8Array>>,
): AsyncGenerator<Uint8Array> {
  const reader = (await open()).getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if ((done = next.done)) return;
      if (next.value.byteLength > 0) yield next.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** The bytes [start, end) of `chunks`, whose first byte is at file offset `offset`. */
export async function* slice(chunks: AsyncIterable<Uint8Array>, offset: number, start: number, end: number): AsyncGenerator<Uint8Array> {
  let at = offset;
  for await (const chunk of chunks) {
    const from = Math.max(0, start - at);
    const to = Math.min(chunk.byteLength, end - at);
    at += chunk.byteLength;
    if (to > from) yield chunk.subarray(from, to);
    if (at >= end) return;
  }
}

/** Where the loader puts the tensors it reads: WeightsBuilder fits. */
export interface TensorSink {
  readonly plan: readonly { entry: TensorEntry }[];
  add(plan: this['plan'][number], bytes: Uint8Array): void;
  /** Frees what was added so far; called when the load fails. */
  dispose?(): void;
}

/** The first `count` tensors of the plan, held elsewhere (the stored part of an interrupted download): fed from there, not read again. */
export interface HeldTensors {
  count: number;
  bytes: number;
  /** Their bytes, in plan order. */
  tensors: AsyncIterable<Uint8Array>;
}

/** Receives a copy of each tensor read, in order (the cache), and hears when the load fails. */
export interface TensorCopy {
  add(bytes: Uint8Array): Promise<void>;
  abort(reason: unknown): Promise<void>;
}

/** What a load will read, known once the header is in (before any tensor is read). */
export interface ReadPlan {
  /** Bytes of tensors still to read from the source. */
  tensorBytes: number;
  /** Bytes this load reads from the source in all: the header and those tensors. */
  bytesTotal: number;
  /** Bytes of tensors the model does not use that a ranged read never fetches. */
  bytesSkipped: number;
  tensors: number;
  /** Tensors fed from HeldTensors rather than read. */
  held: number;
}

export interface ReadOptions {
  /** The file's name, for messages. */
  file?: string;
  signal?: AbortSignal;
  /** Gaps between used tensors up to this many bytes are read and dropped rather than costing another span (default 8 KiB). */
  mergeGapBytes?: number;
  /** Bytes that were checked for NaN and ±Infinity before (the cache's): not checked again. */
  checked?: boolean;
  /** Once the header is in: tensors already held, and where to copy each tensor read. */
  onHeader?(header: SafetensorsHeader, used: TensorEntry[]): Promise<{ held?: HeldTensors | null; copy?: TensorCopy | null }>;
  /** Once what is to be read is known, before any tensor is read; may throw to stop. */
  onPlan?(plan: ReadPlan): void;
  /** Bytes as they arrive from the source. */
  onBytes?(count: number): void;
  /** After each tensor reaches the sink. */
  onTensor?(): void;
}

export interface ReadResult<S> {
  sink: S;
  header: SafetensorsHeader;
  bytesRead: number;
  bytesSkipped: number;
  /** Spans asked of the source (a one-pass read counts one). */
  requests: number;
}

export const DEFAULT_MERGE_GAP_BYTES = 8 * 1024;

/**
 * Reads the file in `source` into the sink that `makeSink` builds from its header. NaN and
 * ±Infinity are refused before a tensor is kept. On failure the sink (and the copy) are dropped.
 */
export async function readCheckpoint<S extends TensorSink>(
  source: ByteSource,
  makeSink: (header: SafetensorsHeader) => S,
  options: ReadOptions = {},
): Promise<ReadResult<S>> {
  const { file = 'model.safetensors', signal } = options;
  const knownSize = Number.isFinite(source.size) ? source.size : undefined;
  let requests = 0;
  let bytesRead = 0;
  const open = (start: number, end: number) => {
    requests++;
    return new ByteReader(source.read(start, end), start, file, (n) => {
      bytesRead += n;
      options.onBytes?.(n);
    });
  };
  // One reader for the whole file when ranges are not possible; else fresh readers per span.
  const whole = source.ranged ? null : open(0, Infinity);
  const readSpan = async (start: number, length: number): Promise<Uint8Array> => {
    const reader = whole ?? open(start, start + length);
    try {
      return (await reader.readExactly(length)).slice();
    } finally {
      if (!whole) await reader.close();
    }
  };

  let header: SafetensorsHeader;
  try {
    const first8 = await readSpan(0, Math.min(8, knownSize ?? 8)); // a shorter file is named as one
    const headerLength = readHeaderLength(first8, file);
    checkHeaderFits(headerLength, knownSize, file); // before asking for more bytes than there are
    const prefix = new Uint8Array(8 + headerLength);
    prefix.set(first8, 0);
    prefix.set(await readSpan(8, headerLength), 8);
    header = parseSafetensorsHeader(prefix, file, knownSize);
  } catch (error) {
    await whole?.close();
    throw error;
  }

  const sink = makeSink(header);
  const plan = sink.plan;
  const used = plan.map((p) => p.entry);
  const dataBytes = (knownSize ?? header.dataStart + Math.max(0, ...header.tensors.map((t) => t.end))) - header.dataStart;
  let copy: TensorCopy | null = null;
  let heldBytes: number;
  let reader = whole;
  try {
    const started = (await options.onHeader?.(header, used)) ?? {};
    copy = started.copy ?? null;
    const held = started.held ?? null;
    heldBytes = held?.bytes ?? 0;
    const remaining = plan.slice(held?.count ?? 0);
    const spans = source.ranged
      ? mergeSpans(
          remaining.map((p) => p.entry),
          header.dataStart,
          options.mergeGapBytes ?? DEFAULT_MERGE_GAP_BYTES,
        )
      : [];
    const tensorBytes = source.ranged ? spans.reduce((n, s) => n + s.end - s.start, 0) : dataBytes;
    options.onPlan?.({
      tensorBytes,
      bytesTotal: header.dataStart + tensorBytes,
      bytesSkipped: source.ranged ? dataBytes - tensorBytes - heldBytes : 0,
      tensors: plan.length,
      held: held?.count ?? 0,
    });
    const give = (item: S['plan'][number], bytes: Uint8Array) => {
      sink.add(item, bytes);
      options.onTensor?.();
    };
    if (held) {
      let fed = 0;
      for await (const bytes of held.tensors) {
        signal?.throwIfAborted();
        give(plan[fed++], bytes); // checked when it was first read
      }
      if (fed !== held.count)
        throw new CheckpointError(inFile(file, `the stored part of the file holds ${fed} tensors, not ${held.count}`));
    }

    let span = -1;
    for (const item of remaining) {
      signal?.throwIfAborted();
      const at = header.dataStart + item.entry.begin;
      if (source.ranged && (span < 0 || at >= spans[span].end)) {
        await reader?.close();
        span++;
        reader = open(spans[span].start, spans[span].end);
      }
      await reader!.skipTo(at);
      const bytes = await reader!.readExactly(item.entry.end - item.entry.begin, item.entry.name);
      if (!options.checked) checkFinite(item.entry, bytes, file);
      await copy?.add(bytes);
      give(item, bytes);
    }
    // A one-pass read goes to the end, so the transfer is complete and the size checks hold.
    if (whole) await whole.drain();
  } catch (error) {
    sink.dispose?.();
    await copy?.abort(error);
    throw error;
  } finally {
    await reader?.close();
  }
  return { sink, header, bytesRead, bytesSkipped: Math.max(0, dataBytes - heldBytes - (bytesRead - header.dataStart)), requests };
}

/** Used tensors → few byte spans: neighbours closer than maxGap share one. */
export function mergeSpans(entries: readonly TensorEntry[], dataStart: number, maxGap: number): { start: number; end: number }[] {
  const spans: { start: number; end: number }[] = [];
  for (const entry of [...entries].sort((a, b) => a.begin - b.begin)) {
    const start = dataStart + entry.begin;
    const end = dataStart + entry.end;
    const last = spans[spans.length - 1];
    if (last && start - last.end <= maxGap) last.end = Math.max(last.end, end);
    else spans.push({ start, end });
  }
  return spans;
}

/**
 * Pulls exact byte counts out of a chunk stream whose first byte is at file offset `position`:
 * readExactly(n) gives the next n bytes (a view of the chunk when one chunk holds them all, else
 * a copy), skipTo(offset) drops bytes up to a file offset.
 */
export class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private pending: Uint8Array | null = null;

  constructor(
    chunks: AsyncIterable<Uint8Array>,
    private position: number,
    private readonly file: string,
    private readonly onBytes: (count: number) => void = () => undefined,
  ) {
    this.iterator = chunks[Symbol.asyncIterator]();
  }

  async readExactly(length: number, tensor?: string): Promise<Uint8Array> {
    const first = length > 0 ? await this.next(tensor) : new Uint8Array(0);
    if (first.byteLength >= length) {
      this.consume(first, length);
      return first.subarray(0, length);
    }
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const chunk = await this.next(tensor);
      const take = Math.min(chunk.byteLength, length - filled);
      out.set(chunk.subarray(0, take), filled);
      filled += take;
      this.consume(chunk, take);
    }
    return out;
  }

  async skipTo(offset: number): Promise<void> {
    while (this.position < offset) {
      const chunk = await this.next();
      this.consume(chunk, Math.min(chunk.byteLength, offset - this.position));
    }
  }

  /** Reads (and counts) whatever is left. */
  async drain(): Promise<void> {
    this.pending = null;
    for (let next = await this.iterator.next(); !next.done; next = await this.iterator.next()) this.onBytes(next.value.byteLength);
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }

  private async next(tensor?: string): Promise<Uint8Array> {
    if (this.pending) return this.pending;
    const next = await this.iterator.next();
    if (next.done) {
      const where = tensor ? ` in tensor '${tensor}'` : '';
      throw new CheckpointError(
        `${this.file} ended at byte ${this.position}${where}, before the end its header promises: the file is truncated`,
      );
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
