import type { LoadOrigin } from './progress';

/**
 * A checkpoint file as a stream of bytes. `ranged` sources (Range-capable servers, Blobs, cached
 * files in memory) can read any span cheaply, so unused tensors are never read; others are read
 * once from start to end and the unused bytes are dropped as they pass.
 */
export interface ByteSource {
  /** Total file size in bytes; NaN when the server did not say (no Content-Length). */
  readonly size: number;
  readonly ranged: boolean;
  readonly origin: LoadOrigin;
  /** The server's ETag for the file, when it sent one (a resumed download must match it). */
  readonly etag?: string | null;
  /** Yields exactly the bytes [start, end) in order (end may be Infinity for "to the end"). */
  read(start: number, end: number): AsyncIterable<Uint8Array>;
}

/** A Blob (a picked File, fs.openAsBlob in Node) read span by span: never loaded whole. */
export function blobSource(blob: Blob, origin: LoadOrigin = 'file'): ByteSource {
  return {
    size: blob.size,
    ranged: true,
    origin,
    read: (start, end) => streamChunks(() => blob.slice(start, Math.min(end, blob.size)).stream()),
  };
}

/** A source that can only be read once, start to end (a cached Response body). */
export function streamSource(
  size: number,
  open: () => Promise<ReadableStream<Uint8Array>>,
  origin: LoadOrigin,
): ByteSource {
  return {
    size,
    ranged: false,
    origin,
    async *read(start, end) {
      let position = 0;
      for await (const chunk of streamChunks(open)) {
        const from = Math.max(0, start - position);
        const to = Math.min(chunk.byteLength, end - position);
        position += chunk.byteLength;
        if (to > from) yield chunk.subarray(from, to);
        if (position >= end) return;
      }
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
      if (next.done) {
        done = true;
        return;
      }
      if (next.value.byteLength > 0) yield next.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
