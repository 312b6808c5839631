/**
 * A stand-in for the Hugging Face hub on 127.0.0.1, in its URL layout:
 *   GET /{repo}/resolve/{revision}/{file}  → 302 to /cdn/{repo}/{revision}/{file} (like the hub's CDN hop)
 *   GET /cdn/...                            → the file, honouring `Range: bytes=a-b` (206) unless switched off
 * with the switches tests need: Range on/off, cut a connection after N body bytes (once), and
 * counters of requests and body bytes served. CORS headers let a page on another port use it.
 * Like the hub for LFS files, a file held in memory is announced with its SHA-256: in
 * `X-Linked-Etag` (and `X-Linked-Size`) on the redirect and as the `ETag` of the file itself.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A file too big to hold: `head`, then zeros up to `size` (only small ranges of it can be asked for). */
export interface VirtualFile {
  size: number;
  head: Uint8Array;
}

export interface HubRepoFiles {
  [file: string]: Uint8Array | VirtualFile;
}

/** Bytes [start, end) of a file, real or virtual. */
function sliceOf(file: Uint8Array | VirtualFile, start: number, end: number): Uint8Array {
  if (file instanceof Uint8Array) return file.subarray(start, end);
  if (end - start > 64 << 20) throw new Error(`the test hub does not serve ${end - start} bytes of a virtual file`);
  const out = new Uint8Array(end - start);
  if (start < file.head.byteLength) out.set(file.head.subarray(start, Math.min(end, file.head.byteLength)));
  return out;
}

const sizeOf = (file: Uint8Array | VirtualFile) => (file instanceof Uint8Array ? file.byteLength : file.size);

export interface ServedRequest {
  path: string;
  range: string | null;
  status: number;
  bytes: number;
}

export interface HubServer {
  readonly url: string;
  readonly port: number;
  /** repo id → files, served at every revision. Mutable between requests. */
  readonly repos: Map<string, HubRepoFiles>;
  /** When false, Range headers are ignored (200 with the whole file). */
  rangeEnabled: boolean;
  /** When false, /resolve/ serves the file directly instead of redirecting. */
  redirect: boolean;
  /** Appended to every ETag: change it to make the files look re-uploaded (the ETag is then no SHA-256). */
  etagSuffix: string;
  /** file name → the SHA-256 announced for it instead of its own (a hub whose stated digest disagrees with the bytes). */
  statedSha256: Map<string, string>;
  /** When false, 206 answers carry no Content-Range (as when a CDN does not expose it to CORS). */
  sendContentRange: boolean;
  /** Body bytes sent, summed over all requests since the last reset(). */
  bytesServed: number;
  requests: ServedRequest[];
  /** The next response for `file` is cut (socket destroyed) after `afterBytes` body bytes; `times` responses in a row. */
  cutNext(file: string, afterBytes: number, times?: number): void;
  /** Like cutNext, then every later request is dropped too (the network went away), until reset(). */
  goDownAfter(file: string, afterBytes: number): void;
  /**
   * The next `times` responses for `file` longer than `afterBytes` stall: `afterBytes` body bytes
   * are sent, then nothing more while the connection stays open; with `afterBytes` < 0 not even the
   * status line is sent (a server that accepts the connection and never answers). Calls queue up:
   * a later call applies once the earlier ones are used up.
   */
  stallNext(file: string, afterBytes: number, times?: number): void;
  /** Bytes of filler sent after every 206 body, beyond the range asked for (a misbehaving proxy); 0 = none. */
  rangeOverrun: number;
  /** When > 0, every body goes out in 8 pieces this many ms apart (a slow network: a download's progress passes through its percentages); 0 = at once. */
  paceMs: number;
  reset(): void;
  /** Stops accepting connections (and drops open ones). */
  stop(): Promise<void>;
  /** Starts again on the same port. */
  restart(): Promise<void>;
}

export async function startHubServer(options: { port?: number; repos?: Record<string, HubRepoFiles> } = {}): Promise<HubServer> {
  const cuts = new Map<string, { afterBytes: number; times: number; thenDown?: boolean }>();
  const stalls = new Map<string, { afterBytes: number; times: number }[]>();
  /** The stall that applies to a response of `length` bytes for `file`, counted as used. */
  const takeStall = (file: string, length: number | null): { afterBytes: number } | null => {
    const queue = stalls.get(file);
    const next = queue?.[0];
    if (!next || (length === null ? next.afterBytes >= 0 : next.afterBytes < 0 || next.afterBytes >= length)) return null;
    if (--next.times <= 0) queue!.shift();
    return next;
  };
  let down = false;
  const sockets = new Set<import('node:net').Socket>();

  const state: HubServer = {
    url: '',
    port: 0,
    repos: new Map(Object.entries(options.repos ?? {})),
    rangeEnabled: true,
    redirect: true,
    sendContentRange: true,
    etagSuffix: '',
    statedSha256: new Map(),
    rangeOverrun: 0,
    paceMs: 0,
    bytesServed: 0,
    requests: [],
    cutNext(file, afterBytes, times = 1) {
      cuts.set(file, { afterBytes, times });
    },
    goDownAfter(file, afterBytes) {
      cuts.set(file, { afterBytes, times: 1, thenDown: true });
    },
    stallNext(file, afterBytes, times = 1) {
      stalls.set(file, [...(stalls.get(file) ?? []), { afterBytes, times }]);
    },
    reset() {
      down = false;
      state.bytesServed = 0;
      state.requests = [];
      state.rangeOverrun = 0;
      state.paceMs = 0;
      cuts.clear();
      stalls.clear();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
    restart: () => new Promise<void>((resolve) => server.listen(state.port, '127.0.0.1', () => resolve())),
  };

  const cors = {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Headers': 'Range',
    'Access-Control-Expose-Headers': 'Content-Range, Content-Length, ETag, Accept-Ranges, X-Error-Code, X-Linked-Etag, X-Linked-Size',
    'Cross-Origin-Resource-Policy': 'cross-origin',
    'Cache-Control': 'no-store',
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = decodeURIComponent(url.pathname);
    const log: ServedRequest = { path, range: req.headers.range ?? null, status: 0, bytes: 0 };
    state.requests.push(log);
    if (down) {
      log.status = -1;
      req.socket.destroy();
      return;
    }
    const send = (status: number, headers: Record<string, string | number>, body?: Uint8Array | string) => {
      log.status = status;
      res.writeHead(status, { ...cors, ...headers });
      res.end(body);
    };
    if (req.method === 'OPTIONS') return send(204, { 'Access-Control-Allow-Methods': 'GET, HEAD' });

    const resolve = /^\/(.+)\/resolve\/([^/]+)\/([^/]+)$/.exec(path);
    const cdn = /^\/cdn\/(.+)\/([^/]+)\/([^/]+)$/.exec(path);
    const match = resolve ?? cdn;
    if (!match) return send(404, { 'Content-Type': 'text/plain' }, 'Not Found');
    const [, repo, revision, file] = match;
    if (takeStall(file, null)) {
      log.status = -2;
      return; // accepted, never answered
    }
    const body = state.repos.get(repo)?.[file];
    if (!body) {
      // Like the hub: unknown repos answer 401 + X-Error-Code, missing files 404.
      if (!state.repos.has(repo))
        return send(401, { 'X-Error-Code': 'RepoNotFound', 'Content-Type': 'text/plain' }, 'Repository not found');
      return send(404, { 'X-Error-Code': 'EntryNotFound', 'Content-Type': 'text/plain' }, 'Entry not found');
    }
    const bodySize = sizeOf(body);
    const sha256 = state.statedSha256.get(file) ?? sha256Of(body);
    const etag = sha256 ? `"${sha256}${state.etagSuffix}"` : `"${repo}-${file}-${bodySize}${state.etagSuffix}"`;
    if (resolve && state.redirect) {
      const linked: Record<string, string | number> = sha256 ? { 'X-Linked-Etag': etag, 'X-Linked-Size': bodySize } : {};
      return send(302, { Location: `/cdn/${repo}/${encodeURIComponent(revision)}/${file}`, ...linked });
    }

    let start = 0;
    let end = bodySize - 1;
    let status = 200;
    const headers: Record<string, string | number> = { 'Content-Type': 'application/octet-stream', ETag: etag };
    if (state.rangeEnabled) headers['Accept-Ranges'] = 'bytes';
    const range = state.rangeEnabled ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '') : null;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), bodySize - 1) : bodySize - 1;
      if (start >= bodySize || end < start) {
        return send(416, { 'Content-Range': `bytes */${bodySize}` });
      }
      status = 206;
      if (state.sendContentRange) headers['Content-Range'] = `bytes ${start}-${end}/${bodySize}`;
    }
    let payload: Uint8Array;
    try {
      payload = sliceOf(body, start, end + 1);
    } catch (error) {
      return send(500, { 'Content-Type': 'text/plain' }, (error as Error).message);
    }
    const overrun = status === 206 ? state.rangeOverrun : 0;
    headers['Content-Length'] = payload.byteLength + overrun;
    log.status = status;
    res.writeHead(status, { ...cors, ...headers });
    if (req.method === 'HEAD') return res.end();

    const stall = takeStall(file, payload.byteLength);
    if (stall) {
      const part = payload.subarray(0, stall.afterBytes);
      log.bytes = part.byteLength;
      state.bytesServed += part.byteLength;
      res.flushHeaders();
      if (part.byteLength > 0) res.write(part); // ...and then nothing: the connection stays open until the client gives up
      return;
    }
    if (overrun > 0) {
      res.write(payload);
      log.bytes = payload.byteLength;
      state.bytesServed += payload.byteLength;
      void sendFiller(res, overrun, (n) => {
        log.bytes += n;
        state.bytesServed += n;
      });
      return;
    }

    const cut = cuts.get(file);
    if (cut && cut.afterBytes < payload.byteLength) {
      if (--cut.times <= 0) cuts.delete(file);
      if (cut.thenDown) down = true;
      const part = payload.subarray(0, cut.afterBytes);
      log.bytes = part.byteLength;
      state.bytesServed += part.byteLength;
      // Flush what fits, then drop the connection mid-body, as a flaky network would.
      res.write(part, () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    log.bytes = payload.byteLength;
    state.bytesServed += payload.byteLength;
    if (state.paceMs > 0) {
      const pieces = 8;
      const paceMs = state.paceMs;
      const sendPiece = (i: number) => {
        if (res.destroyed) return;
        const piece = payload.subarray(Math.floor((payload.byteLength * i) / pieces), Math.floor((payload.byteLength * (i + 1)) / pieces));
        if (i === pieces - 1) res.end(piece);
        else res.write(piece, () => setTimeout(() => sendPiece(i + 1), paceMs));
      };
      sendPiece(0);
      return;
    }
    res.end(payload);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  Object.assign(state, { port, url: `http://127.0.0.1:${port}` });
  return state;
}

const digests = new WeakMap<Uint8Array, string>();

/** A file's SHA-256 (hex), computed once per file; null for a virtual file (too big to hash here). */
function sha256Of(file: Uint8Array | VirtualFile): string | null {
  if (!(file instanceof Uint8Array)) return null;
  let digest = digests.get(file);
  if (!digest) digests.set(file, (digest = createHash('sha256').update(file).digest('hex')));
  return digest;
}

/** Writes `total` filler bytes with backpressure, stopping as soon as the client goes away; counts what was handed to the socket. */
async function sendFiller(res: http.ServerResponse, total: number, count: (bytes: number) => void): Promise<void> {
  const chunk = new Uint8Array(1 << 20).fill(0x20);
  let left = total;
  while (left > 0 && !res.destroyed && !res.socket?.destroyed) {
    const piece = chunk.subarray(0, Math.min(chunk.byteLength, left));
    left -= piece.byteLength;
    count(piece.byteLength);
    if (!res.write(piece)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.once('drain', done);
        res.once('close', done);
      });
    }
  }
  if (!res.destroyed) res.end();
}
