/**
 * The built app on a plain static host: with no headers at all its service worker (src/offline)
 * makes the page cross-origin isolated (threads, a model from a hub mirror on the same origin, the
 * meta Content-Security-Policy still guarding it; its q8 text on 2 threads equals the CLI's on 1),
 * and after that first visit the page opens and
 * generates with the server gone and the network off. And with exactly the headers of the build's
 * `_headers` file (cross-origin isolation + the policy, which then covers the worker too). Chromium, no WebGPU.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page, Worker } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureBuild, TINY_MODEL_SPEC } from '../helpers/appServer';
import { generate, generatedText, openApp, waitForModel } from '../helpers/appPage';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { fixtureDir } from '../helpers/fixture';
import { startHubServer, type HubServer } from '../helpers/hubServer';
import { cliOutput } from '../helpers/cliProcess';
import { headersFromFile, startStaticServer, type StaticServer } from '../helpers/staticServer';

const REPO = 'org/tiny-gpt2';
let browser: LaunchedBrowser;
let dir: string;
let other: HubServer; // some other origin a policy should not let the app reach
let hub: HubServer; // the hub mirror, reached through the static host's own origin (/hub/…, and its /cdn/ hop)
const TINY = { model: TINY_MODEL_SPEC, prompt: 'Watson you are', max_new_tokens: 6, num_return_sequences: 1, seed: 3 };

beforeAll(async () => {
  dir = ensureBuild();
  other = await startHubServer();
  hub = await startHubServer({
    repos: {
      [REPO]: {
        'config.json': new Uint8Array(readFileSync(path.join(fixtureDir, 'config.json'))),
        'model.safetensors': new Uint8Array(readFileSync(path.join(fixtureDir, 'model.safetensors'))),
      },
    },
  });
  browser = await launchBrowser({ webgpu: false });
});

afterAll(async () => {
  await browser?.close();
  await other?.stop();
  await hub?.stop();
});

/** The CLI's greedy text for the fixture at q8 on one thread: 'Watson you are', 6 new tokens. */
async function cliQ8OneThread(): Promise<string> {
  const args = ['generate', '--model', fixtureDir, '--prompt', 'Watson you are', '--greedy', '--max-new-tokens', '6'];
  const out = JSON.parse(await cliOutput([...args, '--backend', 'wasm', '--dtype', 'q8', '--threads', '1', '--json'])) as {
    sequences: { text: string }[];
  };
  return out.sequences[0].text;
}

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
  test('without COOP/COEP the service worker isolates the page: 2 threads, a hub mirror model; then offline it opens and generates', async () => {
    const { page, context } = browser;
    browser.logs.length = 0;
    const forward = (pathname: string) =>
      pathname.startsWith('/hub/')
        ? `${hub.url}/${pathname.slice('/hub/'.length)}`
        : pathname.startsWith('/cdn/')
          ? `${hub.url}${pathname}`
          : null;
    const server = await startStaticServer(dir, {}, forward);
    try {
      const settings = {
        model: `hf:${REPO}`,
        hub: `${server.url}hub`,
        threads: 2,
        dtype: 'q8',
        prompt: 'Watson you are',
        max_new_tokens: 6,
        num_return_sequences: 1,
        do_sample: false,
      };
      await openApp(page, server.url, settings, browser.logs); // first visit: the worker installs, the page reloads through it
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(`${server.url}sw.js`);
      expect(await page.getByTestId('single-thread').count()).toBe(0);

      await page.getByRole('button', { name: 'Download from this server', exact: true }).click();
      await expect.poll(() => page.locator('[data-stat=model] dd').textContent(), { timeout: 60_000 }).toContain(REPO);
      expect(hub.requests.some((r) => r.path === `/cdn/${REPO}/main/model.safetensors`)).toBe(true);
      expect(await page.locator('[data-stat=precision] dd').textContent()).toMatch(/^q8/);
      expect(await page.locator('[data-stat=threads] dd').textContent()).toBe('2 (q8 kernels)');
      await generate(page);
      // Its products and its attention ran on 2 threads (the cache leased in the kernels' shared
      // memory): the same text as the CLI's q8 greedy run on 1 thread, another process.
      expect(await generatedText(page, 1)).toBe(await cliQ8OneThread());
      expect(violations()).toEqual([]);
      // The page may still connect nowhere but its own origin and the hub.
      expect(await tryFetch(page, `${other.url}/x`)).toEqual({ blocked: [`${other.url}/x`], outcome: 'failed' });
    } finally {
      await server.stop();
    }

    // No server, no network: the page, its scripts, tfjs's .wasm files and the built-in model come from the worker's cache.
    await context.setOffline(true);
    try {
      await page.goto(
        `${server.url}?${new URLSearchParams({ model: 'embedded', threads: '2', prompt: 'Watson you are', max_new_tokens: '6', num_return_sequences: '1' })}`,
      );
      await waitForModel(page, browser.logs);
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      expect(await page.locator('[data-stat=model] dd').textContent()).toContain('Sherlock GPT-2 (built in)');
      await generate(page);
      expect((await generatedText(page, 1)).length).toBeGreaterThan(0);
    } finally {
      await context.setOffline(false);
    }
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
