/**
 * The build itself: tfjs stays out of the page's JavaScript (the worker owns it), the wasm
 * binaries ship with the app (no CDN), and the server sends the cross-origin isolation headers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { servedApp } from '../helpers/appServer';

let base: string;
let distDir: string;
const TFJS_MARKERS = /WEBGPU_|WEBGL_VERSION|setWasmPaths|WASM_HAS_SIMD_SUPPORT/;

beforeAll(async () => {
  ({ url: base, dir: distDir } = await servedApp());
});

/** The scripts index.html loads, and everything they import statically. */
function pageScripts(): string[] {
  const html = readFileSync(path.join(distDir, 'index.html'), 'utf8');
  const pending = [...html.matchAll(/<script[^>]+src="\.?\/?([^"]+)"/g), ...html.matchAll(/<link rel="modulepreload"[^>]+href="\.?\/?([^"]+)"/g)].map((m) => m[1]);
  const seen = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = readFileSync(path.join(distDir, file), 'utf8');
    for (const m of code.matchAll(/(?:import|from)\s*["']\.\/([\w.-]+\.js)["']/g)) pending.push(path.posix.join(path.posix.dirname(file), m[1]));
  }
  return [...seen];
}

describe('the built app', () => {
  test('the page bundle has no tfjs; the worker bundle has it', () => {
    const scripts = pageScripts();
    expect(scripts.length).toBeGreaterThan(0);
    for (const file of scripts) {
      const code = readFileSync(path.join(distDir, file), 'utf8');
      // Flag names and messages every tfjs build carries, minified or not.
      expect(code, file).not.toMatch(TFJS_MARKERS);
    }
    const workers = readdirSync(path.join(distDir, 'assets')).filter((f) => f.startsWith('worker') && f.endsWith('.js'));
    expect(workers.length).toBe(1);
    expect(readFileSync(path.join(distDir, 'assets', workers[0]), 'utf8')).toMatch(TFJS_MARKERS);
  });

  test('tfjs wasm binaries are served by the app itself', async () => {
    for (const file of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
      const response = await fetch(`${base}tfjs-wasm/${file}`);
      expect(response.status, file).toBe(200);
      const bytes = new Uint8Array(await response.arrayBuffer());
      expect([...bytes.slice(0, 4)]).toEqual([0x00, 0x61, 0x73, 0x6d]); // "\0asm"
    }
  });

  test('the preview server sends COOP/COEP so wasm threads work', async () => {
    const response = await fetch(base);
    expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(response.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
  });
});
