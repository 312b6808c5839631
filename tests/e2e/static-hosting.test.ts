/**
 * The built app on a plain static host: no headers at all (so no cross-origin isolation, and only
 * the Content-Security-Policy meta tag), and with exactly the headers of the build's `_headers`
 * file (cross-origin isolation + the policy, which then covers the worker too). Chromium, no WebGPU.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page, Worker } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureBuild, TINY_MODEL_SPEC } from '../helpers/appServer';
import { generate, generatedText, openApp } from '../helpers/appPage';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { startHubServer, type HubServer } from '../helpers/hubServer';
import { headersFromFile, startStaticServer, type StaticServer } from '../helpers/staticServer';

let browser: LaunchedBrowser;
let dir: string;
let other: HubServer; // some other origin a policy should not let the app reach
const TINY = { model: TINY_MODEL_SPEC, prompt: 'Watson you are', max_new_tokens: 6, num_return_sequences: 1, seed: 3 };

beforeAll(async () => {
  dir = ensureBuild();
  other = await startHubServer();
  browser = await launchBrowser({ webgpu: false });
});

afterAll(async () => {
  await browser?.close();
  await other?.stop();
});

/** Fetches `url` where `scope` runs (the page or the worker); says whether the policy blocked it. */
async function tryFetch(scope: Page | Worker, url: string): Promise<{ blocked: string[]; outcome: string }> {
  return (scope as Worker).evaluate(async (target: string) => {
    const blocked: string[] = [];
    const events = (globalThis as { document?: Document }).document ?? globalThis;
    events.addEventListener('securitypolicyviolation', (event) => blocked.push((event as SecurityPolicyViolationEvent).blockedURI));
    let outcome: string;
    try {
      outcome = `status ${(await fetch(target)).status}`;
    } catch {
      outcome = 'failed';
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    return { blocked, outcome };
  }, url);
}

const violations = () => browser.logs.filter((line) => /Content Security Policy|Refused to/i.test(line));

async function served(headers: Record<string, string>, body: (server: StaticServer) => Promise<void>): Promise<void> {
  const server = await startStaticServer(dir, headers);
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

describe('a plain static host', () => {
  test('without COOP/COEP the app runs single-threaded wasm and says so; the meta policy guards the page', async () => {
    await served({}, async (server) => {
      const { page } = browser;
      browser.logs.length = 0;
      await openApp(page, server.url, TINY, browser.logs);
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
      expect(await page.locator('[data-backend]').getAttribute('data-backend')).toBe('wasm');
      expect(await page.getByTestId('single-thread').textContent()).toMatch(
        /^WebAssembly runs on one thread: this page is served without the Cross-Origin-Opener-Policy/,
      );
      await generate(page);
      expect((await generatedText(page, 1)).length).toBeGreaterThan(0);
      expect(violations()).toEqual([]);
      // The page may not connect anywhere but its own origin and the hub.
      expect(await tryFetch(page, `${other.url}/x`)).toEqual({ blocked: [`${other.url}/x`], outcome: 'failed' });
    });
  });

  test('with the headers of _headers: threads, and the policy covers the worker that downloads models', async () => {
    const headers = headersFromFile(readFileSync(path.join(dir, '_headers'), 'utf8'));
    await served(headers, async (server) => {
      const { page } = browser;
      browser.logs.length = 0;
      await openApp(page, server.url, TINY, browser.logs);
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      expect(await page.getByTestId('single-thread').count()).toBe(0);
      await generate(page);
      expect(violations()).toEqual([]);
      const worker = page.workers().find((w) => !w.url().startsWith('blob:') && /worker/.test(w.url()));
      expect(
        worker,
        page
          .workers()
          .map((w) => w.url())
          .join(', '),
      ).toBeDefined();
      expect(await tryFetch(worker!, `${other.url}/x`)).toEqual({ blocked: [`${other.url}/x`], outcome: 'failed' });
      expect(other.requests).toEqual([]);
    });
  });
});
