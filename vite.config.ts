import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

const root = path.dirname(fileURLToPath(import.meta.url));
const wasmDist = path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
/** Must equal TFJS_WASM_DIR in src/backend/wasmAssets.ts, where the worker looks (bundle.test.ts checks both ends). */
const WASM_DIR = 'tfjs-wasm';

/** wasm threads need SharedArrayBuffer, which needs a cross-origin isolated page. */
const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

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

export default defineConfig({
  base: './',
  plugins: [react(), tfjsWasmFiles(), noTfjsOnMainThread()],
  // The worker bundle (built on its own) and the dev server's dependency pre-bundling both need the patch.
  worker: { format: 'es', plugins: () => [tfjsWasmThreads()] },
  optimizeDeps: { rolldownOptions: { plugins: [tfjsWasmThreads()] } },

  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
});
