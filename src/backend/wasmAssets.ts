/**
 * The folder, relative to the app's base URL, where the build puts tfjs's .wasm binaries
 * (copied from node_modules by vite.config.ts, so the app needs no CDN and works offline).
 */
export const TFJS_WASM_DIR = 'tfjs-wasm';

/** URL prefix to hand to tfjs-backend-wasm's setWasmPaths(). */
export function wasmPathPrefix(appBaseUrl: string): string {
  return new URL(`${TFJS_WASM_DIR}/`, appBaseUrl).href;
}
