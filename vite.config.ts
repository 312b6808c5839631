import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Connect, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { serviceWorkerSource } from './src/offline/serviceWorker';

const root = path.dirname(fileURLToPath(import.meta.url));
const wasmDist = path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
/** Must equal TFJS_WASM_DIR in src/backend/wasmAssets.ts, where the worker looks (bundle.test.ts checks both ends). */
const WASM_DIR = 'tfjs-wasm';

/**
 * The Content-Security-Policy the built app ships, in one place: the build writes it into
 * index.html (a meta tag, for any static host) and into `_headers` (with the cross-origin isolation
 * headers, for hosts that read that file: Netlify, Cloudflare Pages), and `vite preview` sends it.
 *
 * Only the app's own origin, the Hugging Face hub and its CDN, and compiling WebAssembly:
 *  - script-src 'self' 'wasm-unsafe-eval' blob:: the app's scripts; tfjs's .wasm binaries (served by the
 *    app) compiled; and the script each tfjs-wasm thread imports, which tfjs makes into a blob: URL;
 *  - worker-src 'self' blob:: the generation worker, and the threads tfjs-wasm starts from blob: URLs;
 *  - connect-src: the app (the built-in model, the .wasm files) and the hub. The hub redirects file
 *    downloads to CDN hosts that change over time (cdn-lfs*.hf.co, cas-bridge.xethub.hf.co, regional
 *    *.cdn.hf.co), so its domains are allowed by wildcard (a CSP `*.hf.co` covers every subdomain depth);
 *  - nothing else: no plugins, no inline scripts, no forms, no <base> elsewhere.
 */
export const HUB_CONNECT_SOURCES = ['https://huggingface.co', 'https://*.huggingface.co', 'https://hf.co', 'https://*.hf.co'];

export function contentSecurityPolicy(extraConnectSources: readonly string[] = []): string {
  const directives: Record<string, string[]> = {
    'default-src': ["'self'"],
    'script-src': ["'self'", "'wasm-unsafe-eval'", 'blob:'],
    'worker-src': ["'self'", 'blob:'],
    'connect-src': ["'self'", ...HUB_CONNECT_SOURCES, ...extraConnectSources],
    'img-src': ["'self'", 'data:'],
    'style-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'none'"],
  };
  return Object.entries(directives)
    .map(([name, sources]) => `${name} ${sources.join(' ')}`)
    .join('; ');
}

/** wasm threads need SharedArrayBuffer, which needs a cross-origin isolated page. */
export const CROSS_ORIGIN_ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * `vite preview` (npm start) runs on this machine: besides the shipped policy it lets the worker
 * reach hubs on loopback (a local mirror, the tests' stand-in hub). The shipped files do not.
 */
export const LOCAL_HUB_SOURCES = ['http://127.0.0.1:*', 'http://localhost:*'];

/** The `_headers` file: every path gets cross-origin isolation and the policy. */
export function headersFile(): string {
  const headers = { ...CROSS_ORIGIN_ISOLATION, 'Content-Security-Policy': contentSecurityPolicy() };
  return `/*\n${Object.entries(headers)
    .map(([name, value]) => `  ${name}: ${value}`)
    .join('\n')}\n`;
}

/**
 * The built app carries its Content-Security-Policy (above): a meta tag
 * in index.html, which works on any static host, and a `_headers` file with the policy and the
 * cross-origin isolation headers, for hosts that read one. Builds only: the dev server injects
 * inline scripts (hot reload) that the policy would block.
 */
function contentSecurityPolicyFiles(): Plugin {
  return {
    name: 'content-security-policy',
    apply: 'build',
    transformIndexHtml: () => [
      { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy() }, injectTo: 'head-prepend' },
    ],
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: '_headers', source: headersFile() });
    },
  };
}

/**
 * Serves tfjs's .wasm files from the app itself (no CDN, works offline): copied into the build,
 * and served straight from node_modules by the dev server. Nothing binary is committed.
 */
function tfjsWasmFiles(): Plugin {
  const files = readdirSync(wasmDist).filter((f) => f.endsWith('.wasm'));
  return {
    name: 'tfjs-wasm-files',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const match = req.url?.match(new RegExp(`/${WASM_DIR}/([\\w.-]+\\.wasm)$`));
        if (!match || !files.includes(match[1])) return next();
        res.setHeader('Content-Type', 'application/wasm');
        res.end(readFileSync(path.join(wasmDist, match[1])));
      });
    },
    generateBundle() {
      for (const file of files) {
        this.emitFile({ type: 'asset', fileName: `${WASM_DIR}/${file}`, source: readFileSync(path.join(wasmDist, file)) });
      }
    },
  };
}

/**
 * Lets tfjs-backend-wasm's threads start from a bundled module worker. tfjs starts each wasm
 * thread from the *source text* of Emscripten's factory function (Function.prototype.toString),
 * and that function refers to `_scriptDir`, a variable of the scope around it. Bundled (and
 * minified) that name is gone, so every thread died with "_scriptDir is not defined" (or "e is
 * not defined"). Declaring it inside the factory makes the source text self-contained; in a
 * worker its value was undefined anyway (no document.currentScript), which Emscripten handles.
 */
const THREADED_FACTORY = /tfjs-backend-wasm[\\/]wasm-out[\\/]tfjs-backend-wasm-threaded-simd\.js$/;
const FACTORY_HEAD = 'function(WasmBackendModuleThreadedSimd) {\n  WasmBackendModuleThreadedSimd = WasmBackendModuleThreadedSimd || {};';
function tfjsWasmThreads(): Plugin {
  return {
    name: 'tfjs-wasm-threads',
    transform(code, id) {
      if (!THREADED_FACTORY.test(id)) return null;
      if (!code.includes(FACTORY_HEAD)) this.error('tfjs-backend-wasm changed: the threaded factory this plugin patches is not there');
      return { code: code.replace(FACTORY_HEAD, `${FACTORY_HEAD}\n  var _scriptDir;`), map: null };
    },
  };
}

/**
 * The main thread must never load tfjs (the worker owns it): fail the build if any page chunk
 * pulls in a @tensorflow module. Worker bundles are built separately and are not checked here.
 */
function noTfjsOnMainThread(): Plugin {
  return {
    name: 'no-tfjs-on-main-thread',
    apply: 'build',
    generateBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk') continue;
        const offender = chunk.moduleIds.find((id) => id.includes('@tensorflow'));
        if (offender) this.error(`tfjs must stay in the worker, but page chunk ${chunk.fileName} includes ${offender}`);
      }
    },
  };
}

/** Every file under `dir`, as paths relative to it with / separators, sorted. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/** The service worker's file name, at the root of the build (its scope is the whole app). */
export const SERVICE_WORKER_FILE = 'sw.js';

/**
 * Writes sw.js (src/offline/serviceWorker.ts) once the build is complete: it caches every file of
 * the build (the page, the scripts, tfjs's .wasm files, public/: the built-in model) under a
 * version that is a hash of all of them, so each build replaces the previous one's files.
 */
function offlineServiceWorker(): Plugin {
  let outDir = '';
  return {
    name: 'offline-service-worker',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      const files = filesUnder(outDir).filter((file) => file !== SERVICE_WORKER_FILE && file !== '_headers');
      const hash = createHash('sha256');
      for (const file of files)
        hash
          .update(file)
          .update('\0')
          .update(readFileSync(path.join(outDir, file)));
      const urls = files.map((file) => encodeURI(file));
      writeFileSync(path.join(outDir, SERVICE_WORKER_FILE), serviceWorkerSource(hash.digest('hex').slice(0, 16), urls));
    },
  };
}

/**
 * Checkpoints are binary: served as application/octet-stream, never compressed. `vite preview` gives
 * a file of unknown type no Content-Type and then gzips it as text; the browser's HTTP cache can
 * then answer a Range request from that gzip copy with the encoded length as the file's size
 * (the service worker's precache fills it beside the page's own download), and a first visit read
 * the built-in model as cut in half. Static hosts already serve unknown types as octet-stream.
 */
function binaryCheckpoints(): Plugin {
  const octetStream: Connect.NextHandleFunction = (request, response, next) => {
    if (/\.safetensors(\.\d+)?(\?|$)/.test(request.url ?? '')) response.setHeader('Content-Type', 'application/octet-stream');
    next();
  };
  return {
    name: 'binary-checkpoints',
    configurePreviewServer: (server) => void server.middlewares.use(octetStream),
    configureServer: (server) => void server.middlewares.use(octetStream),
  };
}

export default defineConfig({
  base: './',
  plugins: [react(), tfjsWasmFiles(), noTfjsOnMainThread(), contentSecurityPolicyFiles(), offlineServiceWorker(), binaryCheckpoints()],
  // The worker bundle (built on its own) and the dev server's dependency pre-bundling both need the patch.
  worker: { format: 'es', plugins: () => [tfjsWasmThreads()] },
  optimizeDeps: { rolldownOptions: { plugins: [tfjsWasmThreads()] } },

  server: { headers: CROSS_ORIGIN_ISOLATION },
  preview: { headers: { ...CROSS_ORIGIN_ISOLATION, 'Content-Security-Policy': contentSecurityPolicy(LOCAL_HUB_SOURCES) } },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
});
