import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { TFJS_WASM_DIR as WASM_DIR } from './src/backend/wasmAssets';

const root = path.dirname(fileURLToPath(import.meta.url));
const wasmDist = path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');

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
  worker: { format: 'es' },

  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
});
