/**
 * The build itself: tfjs stays out of the page's JavaScript (the worker owns it), the wasm
 * binaries ship with the app (no CDN), and the server sends the cross-origin isolation headers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { contentSecurityPolicy, headersFile, HUB_CONNECT_SOURCES, LOCAL_HUB_SOURCES } from '../../vite.config';
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
  const pending = [
    ...html.matchAll(/<script[^>]+src="\.?\/?([^"]+)"/g),
    ...html.matchAll(/<link rel="modulepreload"[^>]+href="\.?\/?([^"]+)"/g),
  ].map((m) => m[1]);
  const seen = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = readFileSync(path.join(distDir, file), 'utf8');
    for (const m of code.matchAll(/(?:import|from)\s*["']\.\/([\w.-]+\.js)["']/g))
      pending.push(path.posix.join(path.posix.dirname(file), m[1]));
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

  test('the build ships its Content-Security-Policy: a meta tag before any script, and a _headers file', async () => {
    const policy = contentSecurityPolicy();
    expect(policy).toBe(
      "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' blob:; worker-src 'self' blob:; " +
        "connect-src 'self' https://huggingface.co https://*.huggingface.co https://hf.co https://*.hf.co; " +
        "img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'self'; form-action 'none'",
    );
    const html = readFileSync(path.join(distDir, 'index.html'), 'utf8');
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html);
    expect(meta?.[1].replace(/&#39;/g, "'")).toBe(policy);
    expect(html.indexOf('Content-Security-Policy')).toBeLessThan(html.indexOf('<script'));
    expect(readFileSync(path.join(distDir, '_headers'), 'utf8')).toBe(headersFile());
    expect(headersFile()).toContain(`Content-Security-Policy: ${policy}`);
    // npm start (vite preview, on this machine) also lets the worker reach hubs on loopback.
    expect((await fetch(base)).headers.get('content-security-policy')).toBe(contentSecurityPolicy(LOCAL_HUB_SOURCES));
  });

  test("the hub's download hosts, old and new, are allowed by the policy's wildcards", () => {
    // CSP host matching: '*.' matches any subdomain, at any depth.
    const allowed = (host: string) =>
      HUB_CONNECT_SOURCES.some((source) => {
        const pattern = source.replace('https://', '');
        return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern;
      });
    for (const host of [
      'huggingface.co',
      'cdn-lfs.huggingface.co',
      'cdn-lfs-us-1.hf.co',
      'cas-bridge.xethub.hf.co',
      'us-east-1.cdn.hf.co',
      'eu.cdn.hf.co',
    ]) {
      expect(allowed(host), host).toBe(true);
    }
    for (const host of ['evil.example', 'huggingface.co.evil.example', 'hf.co.example']) expect(allowed(host), host).toBe(false);
  });
});
