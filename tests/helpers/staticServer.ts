/**
 * A plain static file server on 127.0.0.1, as a simple host would run the built app: files and
 * content types, no other headers, unless `headers` are given (e.g. those of the build's _headers file).
 * `forward` sends some paths to another server instead (a hub mirror on the app's own origin, which
 * the shipped Content-Security-Policy allows), passing the request's Range header and the answer as it is.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.md': 'text/markdown',
};

export interface StaticServer {
  url: string;
  stop(): Promise<void>;
}

/** A path's address on the other server, or null to serve it from the folder. */
export type Forward = (pathname: string) => string | null;

function forwardTo(target: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  const range = req.headers.range;
  const upstream = http.get(target, { headers: range ? { range } : {} }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => res.destroy());
}

/** `port` 0 (the default): any free port. */
export async function startStaticServer(
  root: string,
  headers: Record<string, string> = {},
  forward?: Forward,
  port = 0,
): Promise<StaticServer> {
  const server = http.createServer((req, res) => {
    const target = forward?.(new URL(req.url ?? '/', 'http://x').pathname);
    if (target) return forwardTo(target + new URL(req.url ?? '/', 'http://x').search, req, res);
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = path.join(root, pathname);
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!existsSync(file)) return void res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not Found');
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
      ...headers,
    });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const listening = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${listening}/`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The headers a `_headers` file (Netlify / Cloudflare Pages format) sets for `/*`. */
export function headersFromFile(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split('\n').slice(1)) {
    const match = /^\s+([\w-]+):\s*(.+)$/.exec(line);
    if (match) headers[match[1]] = match[2].trim();
  }
  return headers;
}
