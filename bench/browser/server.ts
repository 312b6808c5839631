/**
 * Serves the built benchmark page, the models and tfjs's .wasm files on 127.0.0.1 with the
 * cross-origin isolation headers (COOP/COEP), which wasm threads need (SharedArrayBuffer).
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { benchModel, repoRoot, type ModelName } from '../models';

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};
const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export const browserDist = path.join(repoRoot, '.cache/bench/browser-dist');
const wasmDist = path.join(repoRoot, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');

function resolveFile(urlPath: string): string | undefined {
  const model = urlPath.match(/^\/models\/(tiny|124m|builtin)\/(config\.json|model\.safetensors)$/);
  if (model) return path.join(benchModel(model[1] as ModelName).dir, model[2]);
  const wasm = urlPath.match(/^\/tfjs-wasm\/([\w.-]+\.wasm)$/);
  if (wasm) return path.join(wasmDist, wasm[1]);
  const file = path.normalize(path.join(browserDist, urlPath === '/' ? 'index.html' : urlPath));
  return file.startsWith(browserDist) ? file : undefined;
}

export function startBenchServer(): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    const file = resolveFile(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, ISOLATION);
      res.end('not found');
      return;
    }
    res.writeHead(200, {
      ...ISOLATION,
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => server.close() });
    }),
  );
}
