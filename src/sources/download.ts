import type { ByteSource } from './byteSource';
import { ModelSourceError, abortedError, formatBytes } from './errors';

export interface RemoteOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** Retries after a dropped connection or a 5xx, per span, counted since the last byte received. */
  maxRetries?: number;
  /** Wait before retry n is n × this. */
  retryDelayMs?: number;
  /** Called when a dropped download picks up again. */
  onResume?: (at: number) => void;
  /** Words for messages: 'openai-community/gpt2 (model.safetensors)'. */
  what: string;
  /** What a 404 means here (e.g. "check the repo id and revision at …"). */
  notFoundHint?: string;
  /** false: start with a plain GET (small files, read whole anyway). Default true. */
  probeRange?: boolean;
  /**
   * Give up on a request after this long without an answer or without a byte of its body (then
   * retry, resuming where it stopped). Default DEFAULT_IDLE_TIMEOUT_MS.
   */
  idleTimeoutMs?: number;
}

/** 30 s without a byte: the server stopped sending (a slow link still delivers something every few seconds). */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/**
 * A file on an HTTP server, read with Range requests when the server honours them.
 *
 * open() asks for `bytes=0-7` (the safetensors length prefix): a 206 answer proves Range works
 * and carries the file size in Content-Range; a 200 means Range is ignored, and that response's
 * body is kept to be streamed through once. read() resumes after a dropped connection with a
 * Range request from the first missing byte (or, without Range, re-requests the file and drops
 * the bytes it already delivered), so callers see one unbroken stream.
 */
export async function openRemoteFile(url: string, options: RemoteOptions): Promise<ByteSource> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const maxRetries = options.maxRetries ?? 4;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const { signal, what } = options;

  const request = async (range: string | null): Promise<Response> => {
    if (signal?.aborted) throw abortedError(what);
    // A server that accepts the connection and never answers is given up on after idleMs.
    const noAnswer = new AbortController();
    const timer = setTimeout(() => noAnswer.abort(), idleMs);
    let response: Response;
    try {
      const requestSignal = signal ? AbortSignal.any([signal, noAnswer.signal]) : noAnswer.signal;
      response = await doFetch(url, { headers: range ? { Range: range } : {}, signal: requestSignal, redirect: 'follow' });
    } catch (error) {
      if (noAnswer.signal.aborted && !signal?.aborted) throw new Stall('answer', idleMs);
      throw fetchFailure(error, url, what, signal);
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 200 || response.status === 206) return response;
    await response.body?.cancel().catch(() => undefined);
    throw httpFailure(response, url, what, options.notFoundHint);
  };

  let ranged = false;
  let size = NaN;
  let prefix: Uint8Array | null = null;
  let unread: Response | null = null;
  const probe = await withRetries(
    async () => {
      const response = await request(options.probeRange === false ? null : 'bytes=0-7');
      if (response.status !== 206) return response;
      // A CDN that does not expose Content-Range to the page (CORS) still honoured the range:
      // carry on without knowing the size; the safetensors header says how long the data is.
      const range = parseContentRange(response.headers.get('content-range'));
      if (range && range.start !== 0) {
        await response.body?.cancel().catch(() => undefined);
        throw new ModelSourceError('http', `${what}: asked for bytes 0-7 but the server sent ${response.headers.get('content-range')}. Retry, or use another server.`, true);
      }
      // Only the 8 bytes asked for are read: a proxy that answers with the whole file is not read whole.
      prefix = await readPrefix(response, 8, idleMs, (error) => fetchFailure(error, url, what, signal));
      ranged = true;
      size = range?.total ?? NaN;
      return response;
    },
    maxRetries,
    retryDelayMs,
    signal,
    what,
    (stall, tries) => stallError(stall, url, what, tries),
  );
  const etag = probe.headers.get('etag');
  if (!ranged) {
    const length = probe.headers.get('content-length');
    size = length === null ? NaN : Number(length);
    unread = probe;
  }

  const checkSameFile = (response: Response) => {
    const tag = response.headers.get('etag');
    if (etag && tag && tag !== etag) {
      throw new ModelSourceError('corrupt', `${what} changed on the server while it was downloading. Load it again to get the new version whole.`, true);
    }
  };

  /** One response covering [from, ...): its body and the file offset of its first byte. */
  const openAt = async (from: number, end: number): Promise<{ response: Response; offset: number }> => {
    if (unread && from === 0) {
      const response = unread;
      unread = null;
      return { response, offset: 0 };
    }
    if (unread) {
      await unread.body?.cancel().catch(() => undefined);
      unread = null;
    }
    if (!ranged) return { response: await request(null), offset: 0 };
    const stop = Math.min(end, Number.isFinite(size) ? size : Infinity);
    const response = await request(`bytes=${from}-${Number.isFinite(stop) ? stop - 1 : ''}`);
    checkSameFile(response);
    if (response.status === 200) return { response, offset: 0 }; // Range dropped mid-way: skip ahead
    const contentRange = response.headers.get('content-range');
    const range = parseContentRange(contentRange);
    if (contentRange !== null && (!range || range.start > from)) {
      await response.body?.cancel().catch(() => undefined);
      throw new ModelSourceError('http', `${what}: asked for bytes from ${from} but the server sent ${contentRange}. Retry.`, true);
    }
    return { response, offset: range?.start ?? from };
  };

  async function* read(start: number, end: number): AsyncGenerator<Uint8Array> {
    const stop = Number.isFinite(size) ? Math.min(end, size) : end;
    let position = start;
    if (prefix && start < prefix.byteLength) {
      const piece = prefix.subarray(start, Math.min(prefix.byteLength, stop));
      position += piece.byteLength;
      yield piece;
    }
    let failures = 0;
    while (position < stop) {
      let received = false;
      try {
        const { response, offset } = await openAt(position, stop);
        if (!response.body) throw new ModelSourceError('http', `${what}: the server sent an empty body.`, true);
        let at = offset;
        const reader = response.body.getReader();
        try {
          while (position < stop) {
            const next = await readWithin(reader, idleMs);
            if (next.done) break;
            const chunk = next.value;
            const from = Math.max(0, position - at);
            const to = Math.min(chunk.byteLength, stop - at);
            at += chunk.byteLength;
            if (to <= from) continue;
            received = true;
            position += to - from;
            yield chunk.subarray(from, to);
          }
        } finally {
          await reader.cancel().catch(() => undefined);
        }
        if (position < stop && Number.isFinite(stop)) {
          throw new TypeError(`the connection closed after ${formatBytes(position)} of ${formatBytes(stop)}`);
        }
        return;
      } catch (error) {
        if (signal?.aborted) throw abortedError(what);
        if (error instanceof ModelSourceError && !error.retryable) throw error;
        failures = received ? 1 : failures + 1;
        if (failures > maxRetries) {
          throw error instanceof Stall ? stallError(error, url, what, failures, position, stop) : interruptedError(error, what, position, stop);
        }
        await delay(retryDelayMs * failures, signal, what);
        options.onResume?.(position);
      }
    }
  }

  return { size, ranged, origin: 'network', etag, read };
}

/** Retries an operation that failed with a retryable error (network down, 5xx, a stall) a few times. */
async function withRetries<T>(
  attempt: () => Promise<T>,
  maxRetries: number,
  retryDelayMs: number,
  signal: AbortSignal | undefined,
  what: string,
  onStalled: (stall: Stall, tries: number) => ModelSourceError,
): Promise<T> {
  for (let failures = 0; ; ) {
    try {
      return await attempt();
    } catch (error) {
      if (signal?.aborted) throw abortedError(what);
      const retryable = error instanceof Stall || (error instanceof ModelSourceError && error.retryable && error.kind !== 'aborted');
      if (!retryable || ++failures > maxRetries || (error as ModelSourceError).kind === 'network') {
        throw error instanceof Stall ? onStalled(error, failures) : error;
      }
      await delay(retryDelayMs * failures, signal, what);
    }
  }
}

/**
 * Fetches a small file (config.json) as text, with the same messages as the big one. A file
 * longer than `maxBytes` is refused after reading at most that many bytes of it.
 */
export async function fetchText(url: string, options: RemoteOptions, maxBytes = Infinity): Promise<string> {
  const source = await openRemoteFile(url, { ...options, probeRange: false });
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of source.read(0, Infinity)) {
    parts.push(chunk.slice());
    length += chunk.byteLength;
    if (length > maxBytes) break; // stops the download: the rest is never read
  }
  if (length > maxBytes) throw tooLargeError(options.what, source.size, maxBytes);
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** A small file (config.json) that is far bigger than it can be. */
export function tooLargeError(what: string, size: number, maxBytes: number): ModelSourceError {
  const actual = Number.isFinite(size) && size > maxBytes ? formatBytes(size) : `more than ${formatBytes(maxBytes)}`;
  return new ModelSourceError(
    'not-gpt2',
    `${what} is ${actual}: a GPT-2 config.json is a few hundred bytes, and more than ${formatBytes(maxBytes)} is refused (this is not a model's config.json). Check the address or the file.`,
  );
}

/** A request that got no answer, or a body that stopped, for the idle timeout: retried, then reported. */
class Stall extends Error {
  constructor(
    readonly phase: 'answer' | 'body',
    readonly idleMs: number,
  ) {
    super(phase === 'answer' ? `no answer within ${seconds(idleMs)}` : `the server stopped sending: nothing arrived for ${seconds(idleMs)}`);
  }
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

function stallError(stall: Stall, url: string, what: string, tries: number, position?: number, stop?: number): ModelSourceError {
  const host = safeHost(url);
  const at = position === undefined ? '' : ` (at ${formatBytes(position)}${stop !== undefined && Number.isFinite(stop) ? ` of ${formatBytes(stop)}` : ''})`;
  const said =
    stall.phase === 'answer'
      ? `${host} did not answer within ${seconds(stall.idleMs)} (${what}, ${tries} ${tries === 1 ? 'try' : 'tries'})${at}.`
      : `${host} stopped sending ${what}: nothing arrived for ${seconds(stall.idleMs)}, ${tries} ${tries === 1 ? 'time' : 'times in a row'}${at}.`;
  return new ModelSourceError(
    'interrupted',
    `${said} The server or the connection is stuck; check the connection and retry (a retry resumes where the download stopped).`,
    true,
    { cause: stall },
  );
}

/** reader.read(), or a Stall after `ms` without a chunk (the caller cancels the reader). */
async function readWithin<T>(reader: ReadableStreamDefaultReader<T>, ms: number): Promise<ReadableStreamReadResult<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Stall('body', ms)), ms);
  });
  try {
    return await Promise.race([reader.read(), stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/** The first `length` bytes of a response body (fewer if it is shorter); the rest is never read. */
async function readPrefix(response: Response, length: number, idleMs: number, failure: (error: unknown) => Error): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let filled = 0;
  if (!response.body) return out.subarray(0, 0);
  const reader = response.body.getReader();
  try {
    while (filled < length) {
      const next = await readWithin(reader, idleMs);
      if (next.done) break;
      const take = Math.min(next.value.byteLength, length - filled);
      out.set(next.value.subarray(0, take), filled);
      filled += take;
    }
  } catch (error) {
    throw error instanceof Stall ? error : failure(error);
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return out.subarray(0, filled);
}

export function parseContentRange(value: string | null): { start: number; end: number; total: number | null } | null {
  const match = value ? /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(value.trim()) : null;
  if (!match) return null;
  return { start: Number(match[1]), end: Number(match[2]), total: match[3] === '*' ? null : Number(match[3]) };
}

function fetchFailure(error: unknown, url: string, what: string, signal?: AbortSignal): ModelSourceError {
  if (signal?.aborted) return abortedError(what);
  const host = safeHost(url);
  const detail = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
  return new ModelSourceError(
    'network',
    `Could not reach ${host} to download ${what} (${detail}). Check the network connection${host === 'huggingface.co' ? '' : ' and the hub address'}, then retry. Models downloaded before still load offline.`,
    true,
    { cause: error },
  );
}

function httpFailure(response: Response, url: string, what: string, notFoundHint?: string): ModelSourceError {
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  // The hub answers 401 for repos that do not exist (or are private) and says which in X-Error-Code.
  const hubError = response.headers.get('x-error-code');
  if (response.status === 404 || hubError === 'RepoNotFound' || hubError === 'RevisionNotFound' || hubError === 'EntryNotFound') {
    return new ModelSourceError('not-found', `${what} was not found (${status} from ${safeHost(url)}). ${notFoundHint ?? 'Check the address.'}`, false);
  }
  if (response.status === 401 || response.status === 403) {
    return new ModelSourceError(
      'http',
      `${what} is private, gated or does not exist (${status}): this app downloads public models only, without logging in. Check the repo id, pick a public GPT-2 repo, or download the files yourself and open them as local files.`,
      false,
    );
  }
  if (response.status === 416) {
    return new ModelSourceError('corrupt', `${what} is empty or shorter than a safetensors header (${status}). Check that it is a real model.safetensors.`, false);
  }
  const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
  return new ModelSourceError(
    'http',
    `Downloading ${what} failed with ${status} from ${safeHost(url)}. ${retryable ? 'The server may be busy: retry in a moment.' : 'Check the address and the model name.'}`,
    retryable,
  );
}

function interruptedError(error: unknown, what: string, position: number, stop: number): ModelSourceError {
  if (error instanceof ModelSourceError && error.kind !== 'network') return error;
  const detail = error instanceof Error ? error.message : String(error);
  const of = Number.isFinite(stop) ? ` of ${formatBytes(stop)}` : '';
  return new ModelSourceError(
    'interrupted',
    `The download of ${what} kept breaking off (${detail}) at ${formatBytes(position)}${of}. Nothing incomplete was kept; check the connection and retry.`,
    true,
    { cause: error },
  );
}

function safeHost(url: string): string {
  try {
    return new URL(url, (globalThis as { location?: { href: string } }).location?.href).host || url;
  } catch {
    return url;
  }
}

function delay(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(what));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(what));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
