/**
 * Files on HTTP servers (the hub, its CDN, a folder URL) as ByteSources: Range requests when the
 * server honours them, one streamed GET when it does not, and one retry policy for every request
 * (RemoteFile.retry) so a dropped connection, a 5xx or a stall picks up where it stopped.
 */
import type { ByteSource } from '../model/checkpointStream';
import { ModelSourceError, abortedError, formatBytes } from './errors';
import { errorMessage } from '../util/errorMessage';
import { Sha256, hubSha256 } from './sha256';

export interface RemoteOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** Retries after a dropped connection, a 5xx or a stall, counted since the last byte received (default 4). */
  maxRetries?: number;
  /** Wait before retry n is n × this (default 500 ms). */
  retryDelayMs?: number;
  /** Called when a dropped download picks up again. */
  onResume?: (at: number) => void;
  /** Words for messages: 'model.safetensors of openai-community/gpt2@main'. */
  what: string;
  /** What a 404 means here (e.g. "check the repo id and revision at …"). */
  notFoundHint?: string;
  /** false: start with a plain GET (small files, read whole anyway). Default true. */
  probeRange?: boolean;
  /** Give up on a request after this long without an answer or a byte of its body, then retry (default DEFAULT_IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
}

/** 30 s without a byte: the server stopped sending (a slow link still delivers something every few seconds). */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/**
 * A file on an HTTP server. open() asks for `bytes=0-7` (the safetensors length prefix): a 206
 * proves Range works and carries the size in Content-Range; a 200 means Range is ignored, and that
 * response's body is kept to be streamed through once. read() resumes after a dropped connection
 * with a Range request from the first missing byte (without Range: the file again, dropping what
 * was delivered), so callers see one unbroken stream.
 */
export class RemoteFile implements ByteSource {
  ranged = false;
  size = NaN;
  etag: string | null = null;
  /** The SHA-256 the server states for the file (a hub's X-Linked-Etag / ETag of an LFS file), or null. */
  sha256: string | null = null;
  /** The probe's bytes 0-7 (ranged), or its whole unread response (not ranged). */
  private prefix: Uint8Array = new Uint8Array(0);
  private unread: Response | null = null;
  private readonly doFetch: typeof fetch;
  private readonly maxRetries: number;
  private readonly idleMs: number;

  private constructor(
    readonly url: string,
    private readonly options: RemoteOptions,
  ) {
    this.doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.maxRetries = options.maxRetries ?? 4;
    this.idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  }

  static async open(url: string, options: RemoteOptions): Promise<RemoteFile> {
    const file = new RemoteFile(url, options);
    for (let failures = 0; ;) {
      try {
        await file.probe();
        return file;
      } catch (error) {
        await file.retry(error, ++failures);
      }
    }
  }

  async *read(start: number, end: number): AsyncGenerator<Uint8Array> {
    const stop = Number.isFinite(this.size) ? Math.min(end, this.size) : end;
    let position = start;
    if (start < this.prefix.byteLength) {
      const piece = this.prefix.subarray(start, Math.min(this.prefix.byteLength, stop));
      position += piece.byteLength;
      yield piece;
    }
    for (let failures = 0; position < stop;) {
      try {
        const { body, offset } = await this.openAt(position, stop);
        let at = offset;
        for await (const chunk of this.chunks(body)) {
          const from = Math.max(0, position - at);
          const to = Math.min(chunk.byteLength, stop - at);
          at += chunk.byteLength;
          if (to <= from) continue;
          failures = 0; // bytes arrived: the count starts again
          position += to - from;
          yield chunk.subarray(from, to);
          if (position >= stop) return;
        }
        if (Number.isFinite(stop)) throw new TypeError(`the connection closed after ${formatBytes(position)} of ${formatBytes(stop)}`);
        return;
      } catch (error) {
        await this.retry(error, ++failures, { position, stop });
        this.options.onResume?.(position);
      }
    }
  }

  /** The one retry policy: waits failures × retryDelayMs before trying again, or throws what to report. */
  private async retry(error: unknown, failures: number, at?: { position: number; stop: number }): Promise<void> {
    const { signal, what } = this.options;
    if (signal?.aborted) throw abortedError(what);
    if (error instanceof ModelSourceError && (!error.retryable || error.kind === 'aborted')) throw error;
    // A server that cannot be reached at all is reported at once; a connection lost part-way is retried.
    if (!at && error instanceof ModelSourceError && error.kind === 'network') throw error;
    if (failures > this.maxRetries) {
      if (error instanceof Stall) throw stallError(error, this.url, what, failures, at);
      throw at
        ? interruptedError(error, what, at)
        : error instanceof ModelSourceError
          ? error
          : fetchFailure(error, this.url, what, signal);
    }
    await delay((this.options.retryDelayMs ?? 500) * failures, signal, what);
  }

  /** Asks for bytes 0-7 (or, with probeRange false, the whole file) and learns whether Range works. */
  private async probe(): Promise<void> {
    const response = await this.request(this.options.probeRange === false ? null : 'bytes=0-7');
    this.etag = response.headers.get('etag');
    this.sha256 = hubSha256(response.headers);
    if (response.status !== 206) {
      // A compressed body's Content-Length counts encoded bytes, not the file's: then the safetensors header tells.
      const length = response.headers.get('content-length');
      const encoding = response.headers.get('content-encoding');
      this.size = length === null || (encoding !== null && encoding !== 'identity') ? NaN : Number(length);
      this.unread = response;
      return;
    }
    // A CDN that does not expose Content-Range (CORS) still honoured the range: carry on without
    // knowing the size; the safetensors header says how long the data is.
    const range = parseContentRange(response.headers.get('content-range'));
    if (range && range.start !== 0) {
      await response.body?.cancel().catch(() => undefined);
      throw new ModelSourceError(
        'http',
        `${this.options.what}: asked for bytes 0-7 but the server sent ${response.headers.get('content-range')}. Retry, or use another server.`,
        true,
      );
    }
    // Only the 8 bytes asked for are read: a proxy that answers with the whole file is not read whole.
    const parts: Uint8Array[] = [];
    for await (const chunk of this.chunks(response.body, 8)) parts.push(chunk);
    this.prefix = concatBytes(parts);
    this.ranged = true;
    this.size = range?.total ?? NaN;
  }

  /** One response covering [from, …): its body and the file offset of its first byte. */
  private async openAt(from: number, end: number): Promise<{ body: ReadableStream<Uint8Array> | null; offset: number }> {
    const unread = this.unread;
    this.unread = null;
    if (unread && from === 0) return { body: unread.body, offset: 0 };
    await unread?.body?.cancel().catch(() => undefined);
    if (!this.ranged) return { body: (await this.request(null)).body, offset: 0 };
    const response = await this.request(`bytes=${from}-${Number.isFinite(end) ? end - 1 : ''}`);
    const tag = response.headers.get('etag');
    const contentRange = response.headers.get('content-range');
    const range = parseContentRange(contentRange);
    const problem =
      this.etag && tag && tag !== this.etag
        ? new ModelSourceError(
            'corrupt',
            `${this.options.what} changed on the server while it was downloading. Load it again to get the new version whole.`,
            true,
          )
        : response.status === 206 && contentRange !== null && (!range || range.start > from)
          ? new ModelSourceError(
              'http',
              `${this.options.what}: asked for bytes from ${from} but the server sent ${contentRange}. Retry.`,
              true,
            )
          : null;
    if (problem) {
      await response.body?.cancel().catch(() => undefined);
      throw problem;
    }
    return { body: response.body, offset: response.status === 200 ? 0 : (range?.start ?? from) }; // a 200: Range dropped mid-way, skip ahead
  }

  /** A GET (with a Range header when given) that must answer 200 or 206 within the idle timeout. */
  private async request(range: string | null): Promise<Response> {
    const { signal, what } = this.options;
    if (signal?.aborted) throw abortedError(what);
    const noAnswer = new AbortController();
    const timer = setTimeout(() => noAnswer.abort(), this.idleMs);
    let response: Response;
    try {
      const requestSignal = signal ? AbortSignal.any([signal, noAnswer.signal]) : noAnswer.signal;
      response = await this.doFetch(this.url, { headers: range ? { Range: range } : {}, signal: requestSignal, redirect: 'follow' });
    } catch (error) {
      if (noAnswer.signal.aborted && !signal?.aborted) throw new Stall('answer', this.idleMs);
      throw fetchFailure(error, this.url, what, signal);
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 200 || response.status === 206) return response;
    await response.body?.cancel().catch(() => undefined);
    throw httpFailure(response, this.url, what, this.options.notFoundHint);
  }

  /** A body's chunks (up to `limit` bytes), a Stall when nothing arrives for the idle timeout; always released. */
  private async *chunks(body: ReadableStream<Uint8Array> | null, limit = Infinity): AsyncGenerator<Uint8Array> {
    if (!body) throw new ModelSourceError('http', `${this.options.what}: the server sent an empty body.`, true);
    const reader = body.getReader();
    try {
      for (let taken = 0; taken < limit;) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stalled = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Stall('body', this.idleMs)), this.idleMs)));
        const next = await Promise.race([reader.read(), stalled]).finally(() => clearTimeout(timer));
        if (next.done) return;
        const chunk = next.value.subarray(0, limit - taken);
        taken += chunk.byteLength;
        yield chunk;
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }
}

/**
 * `source` with its bytes checked against `sha256` whenever a load reads the whole file from the
 * start, in order (a server without Range, or spans that leave no gap): the last byte is handed on
 * only if the digest matches, else a ModelSourceError naming the file. A load that skips bytes
 * (unused tensors over Range) reads less than the whole file, so nothing is checked.
 */
export function checkedAgainstSha256(source: ByteSource, sha256: string, what: string): ByteSource {
  const hasher = new Sha256();
  let hashed = 0; // bytes 0..hashed-1 went through the hasher, in order
  let gap = false;
  return {
    get size() {
      return source.size;
    },
    get ranged() {
      return source.ranged;
    },
    async *read(start, end) {
      let at = start;
      let last = false;
      for await (const chunk of source.read(start, end)) {
        const chunkEnd = at + chunk.byteLength;
        if (at > hashed) gap = true;
        if (!gap && chunkEnd > hashed) {
          hasher.update(chunk.subarray(hashed - at));
          hashed = chunkEnd;
          if (hashed === source.size) {
            last = true;
            checkDigest(hasher.digest(), sha256, what);
          }
        }
        at = chunkEnd;
        yield chunk;
      }
      // A file of unknown size is whole when a read to its end finishes with no gap.
      if (!gap && !last && end === Infinity && !Number.isFinite(source.size) && at === hashed) checkDigest(hasher.digest(), sha256, what);
    },
  };
}

/** A whole-file download whose bytes do not hash to the SHA-256 the hub states: nothing of it may be kept. */
export class DigestMismatchError extends ModelSourceError {}

function checkDigest(actual: string, stated: string, what: string): void {
  if (actual === stated) return;
  throw new DigestMismatchError(
    'corrupt',
    `${what} does not match the SHA-256 the hub states for it: the bytes received hash to ${actual}, the hub says ${stated}. ` +
      'The download was refused and nothing of it was kept. Retry; if it fails the same way, the file on the server (or a proxy on the way) is damaged.',
    true,
  );
}

/**
 * Fetches a small file (config.json) as text, with the same messages as the big one. A file
 * longer than `maxBytes` is refused after reading at most that many bytes of it.
 */
export async function fetchText(url: string, options: RemoteOptions, maxBytes = Infinity): Promise<string> {
  const file = await RemoteFile.open(url, { ...options, probeRange: false });
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of file.read(0, Infinity)) {
    parts.push(chunk.slice());
    length += chunk.byteLength;
    if (length > maxBytes) throw tooLargeError(options.what, file.size, maxBytes); // the rest is never read
  }
  return new TextDecoder().decode(concatBytes(parts));
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  parts.reduce((at, part) => (out.set(part, at), at + part.byteLength), 0);
  return out;
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
    super(
      phase === 'answer' ? `no answer within ${seconds(idleMs)}` : `the server stopped sending: nothing arrived for ${seconds(idleMs)}`,
    );
  }
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** "(at 1.2 MB of 6.5 MB)", or nothing before the download started. */
function where(at?: { position: number; stop: number }): string {
  if (!at) return '';
  return ` (at ${formatBytes(at.position)}${Number.isFinite(at.stop) ? ` of ${formatBytes(at.stop)}` : ''})`;
}

function stallError(stall: Stall, url: string, what: string, tries: number, at?: { position: number; stop: number }): ModelSourceError {
  const host = safeHost(url);
  const said =
    stall.phase === 'answer'
      ? `${host} did not answer within ${seconds(stall.idleMs)} (${what}, ${tries} ${tries === 1 ? 'try' : 'tries'})${where(at)}.`
      : `${host} stopped sending ${what}: nothing arrived for ${seconds(stall.idleMs)}, ${tries} ${tries === 1 ? 'time' : 'times in a row'}${where(at)}.`;
  return new ModelSourceError(
    'interrupted',
    `${said} The server or the connection is stuck; check the connection and retry (a retry resumes where the download stopped).`,
    true,
    { cause: stall },
  );
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
    return new ModelSourceError(
      'not-found',
      `${what} was not found (${status} from ${safeHost(url)}). ${notFoundHint ?? 'Check the address.'}`,
      false,
    );
  }
  if (response.status === 401 || response.status === 403) {
    return new ModelSourceError(
      'http',
      `${what} is private, gated or does not exist (${status}): this app downloads public models only, without logging in. Check the repo id, pick a public GPT-2 repo, or download the files yourself and open them as local files.`,
      false,
    );
  }
  if (response.status === 416) {
    return new ModelSourceError(
      'corrupt',
      `${what} is empty or shorter than a safetensors header (${status}). Check that it is a real model.safetensors.`,
      false,
    );
  }
  const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
  return new ModelSourceError(
    'http',
    `Downloading ${what} failed with ${status} from ${safeHost(url)}. ${retryable ? 'The server may be busy: retry in a moment.' : 'Check the address and the model name.'}`,
    retryable,
  );
}

function interruptedError(error: unknown, what: string, at: { position: number; stop: number }): ModelSourceError {
  if (error instanceof ModelSourceError && error.kind !== 'network') return error;
  const detail = errorMessage(error);
  return new ModelSourceError(
    'interrupted',
    `The download of ${what} kept breaking off (${detail}) at ${formatBytes(at.position)}${Number.isFinite(at.stop) ? ` of ${formatBytes(at.stop)}` : ''}. Nothing incomplete was kept; check the connection and retry.`,
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
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(what));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
