/**
 * `npm run preview:static` serves the build the way a plain static host does: the page and the
 * service worker with their content types and no cross-origin isolation headers (the service
 * worker adds those: tests/e2e/static-hosting.test.ts loads the app through this same server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ensureBuild } from '../helpers/appServer';
import { repoRoot } from '../helpers/fixture';

let child: ChildProcess | undefined;
afterAll(() => child?.kill());

test('serves the build with content types and without COOP / COEP headers', async () => {
  const dir = ensureBuild();
  child = spawn(process.execPath, [path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs'), 'scripts/preview-static.ts', '0', dir], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child!.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
      if (match) resolve(match[0]);
    });
    child!.once('exit', (code) => reject(new Error(`preview-static exited (${code}): ${out}`)));
  });
  const page = await fetch(url);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(await page.text()).toContain('<div id="root">');
  expect(page.headers.get('cross-origin-opener-policy')).toBeNull();
  expect(page.headers.get('cross-origin-embedder-policy')).toBeNull();
  const worker = await fetch(new URL('sw.js', url));
  expect(worker.status).toBe(200);
  expect(worker.headers.get('content-type')).toBe('text/javascript');
}, 240_000);
