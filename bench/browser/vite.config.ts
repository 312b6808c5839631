/** Builds the benchmark page (bench/browser) into .cache/bench/browser-dist; bench/browser/server.ts serves it. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  logLevel: 'warn',
  worker: { format: 'es' },
  build: {
    outDir: path.resolve(here, '../../.cache/bench/browser-dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 8192,
    // tfjs-wasm starts its pthreads from factory.toString(): mangled names would leave the
    // threads' copy pointing at variables that only exist in the bundle ("e is not defined").
    minify: false,
  },
});
