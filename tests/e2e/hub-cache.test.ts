/**
 * A hub model in the real app (Chromium): downloaded from a local stand-in for the hub
 * (?hub=http://127.0.0.1:PORT&model=hf:org/tiny-gpt2, the hub confirmed on the page), kept in
 * Cache Storage under that hub, and generated from again after a reload with the hub server stopped.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appUrl } from '../helpers/appServer';
import { generate, generatedText, openApp, waitForModel } from '../helpers/appPage';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { fixtureDir } from '../helpers/fixture';
import { startHubServer, type HubServer } from '../helpers/hubServer';

const REPO = 'org/tiny-gpt2';
const weightBytes = new Uint8Array(readFileSync(path.join(fixtureDir, 'model.safetensors')));
/** The fixture's two attn.bias [1,1,64,64] masks and two scalar masked_bias, which must not be downloaded. */
const MASK_BYTES = 2 * (64 * 64 * 4 + 4);

let browser: LaunchedBrowser;
let hub: HubServer;
let base: string;

beforeAll(async () => {
  base = await appUrl();
  hub = await startHubServer({
    repos: {
      [REPO]: { 'config.json': new Uint8Array(readFileSync(path.join(fixtureDir, 'config.json'))), 'model.safetensors': weightBytes },
    },
  });
  browser = await launchBrowser({ webgpu: true });
});

afterAll(async () => {
  await browser?.close();
  await hub?.stop();
});

const settings = (hubUrl: string) => ({
  hub: hubUrl,
  model: `hf:${REPO}`,
  prompt: 'Watson you are',
  max_new_tokens: 6,
  num_return_sequences: 1,
  do_sample: false,
  seed: 1,
});

/** What the page's Cache Storage holds for the app, as [url, content-length] pairs. */
async function cachedFiles(): Promise<[string, number][]> {
  return browser.page.evaluate(async () => {
    const cache = await caches.open('gpt2-models-v1');
    const entries: [string, number][] = [];
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      entries.push([request.url, Number(response?.headers.get('content-length'))]);
    }
    return entries.sort();
  });
}

describe('hub model in the browser', () => {
  test('downloads over Range requests, skipping unused tensors, and caches the model', async () => {
    const { page } = browser;
    await openApp(page, base, settings(hub.url), browser.logs);
    // A link's hub is only used once the person says so.
    expect(hub.requests).toEqual([]);
    await page.getByRole('button', { name: 'Download from this server', exact: true }).click();
    await expect.poll(() => page.locator('[data-stat=model] dd').textContent(), { timeout: 60_000 }).toContain(REPO);
    const weightRequests = hub.requests.filter((r) => r.path === `/cdn/${REPO}/main/model.safetensors`);
    expect(weightRequests.length).toBeGreaterThan(2);
    expect(weightRequests.every((r) => r.status === 206)).toBe(true);
    expect(weightRequests.reduce((n, r) => n + r.bytes, 0)).toBe(weightBytes.byteLength - MASK_BYTES);

    const files = await cachedFiles();
    // Kept under the hub it came from: huggingface.co's org/tiny-gpt2 would be another entry.
    const hubKey = `@hub/${encodeURIComponent(hub.url)}`;
    expect(files.map(([url]) => url.replace(/^.*\.invalid\//, ''))).toEqual([
      `${hubKey}/org/tiny-gpt2/@/main/config.json`,
      `${hubKey}/org/tiny-gpt2/@/main/model.safetensors.000`,
      `${hubKey}/org/tiny-gpt2/@/main/weights-manifest.json`,
    ]);
    // The compacted weights: everything but the masks (under a slightly different header).
    const cachedWeights = files[1][1];
    expect(Math.abs(cachedWeights - (weightBytes.byteLength - MASK_BYTES))).toBeLessThan(1000);
  });

  test('after a reload with the hub server stopped, the model loads from the cache and generates', async () => {
    const { page } = browser;
    await generate(page);
    const online = await generatedText(page, 1);
    expect(online.length).toBeGreaterThan(0);

    await hub.stop();
    hub.reset();
    await page.reload();
    await waitForModel(page, browser.logs);
    expect(hub.requests).toEqual([]);
    await generate(page);
    // Greedy decoding: the cached model is the same model.
    expect(await generatedText(page, 1)).toBe(online);
  });

  test('a hub model that was never cached, with the hub unreachable, gets a clear message and the built-in model', async () => {
    const { page } = browser;
    const query = Object.entries({ ...settings(hub.url), model: 'hf:org/never-downloaded' }).map(([k, v]) => [k, String(v)]);
    // Every model status the page paints, frame by frame: the failure that the built-in model
    // replaces is never shown as "did not load" on the way.
    await page.addInitScript(() => {
      const painted: string[] = [];
      (window as unknown as { __paintedModelStatus: string[] }).__paintedModelStatus = painted;
      const frame = () => {
        const status = document.querySelector('.app')?.getAttribute('data-model-status');
        if (status && painted[painted.length - 1] !== status) painted.push(status);
        requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
    });
    await page.goto(`${base}?${new URLSearchParams(query)}`);
    await waitForModel(page, browser.logs);
    await page.waitForFunction(() => (window as unknown as { __paintedModelStatus: string[] }).__paintedModelStatus.includes('ready'));
    const painted = await page.evaluate(() => (window as unknown as { __paintedModelStatus: string[] }).__paintedModelStatus);
    expect(painted).not.toContain('error');
    expect(await page.locator('[data-stat=model] dd').textContent()).toContain('Sherlock GPT-2 (built in)');
    const notice = await page.getByTestId('model-notice').textContent();
    expect(notice).toMatch(
      /^org\/never-downloaded could not be loaded, so the built-in model was loaded instead\. Could not reach 127\.0\.0\.1:\d+/,
    );
    expect(notice).toMatch(/retry/i);
  });
});

describe('a cached model is proven before use', () => {
  test('a piece overwritten with zeros at the same length in Cache Storage is caught, downloaded again, and the page says so', async () => {
    const { page } = browser;
    await hub.restart();
    hub.reset();
    const query = Object.entries(settings(hub.url)).map(([k, v]) => [k, String(v)]);
    await page.goto(`${base}?${new URLSearchParams(query)}`);
    await waitForModel(page, browser.logs);
    expect(await page.locator('[data-stat=model] dd').textContent()).toContain(REPO);
    expect(hub.requests).toEqual([]); // from the cache
    await generate(page);
    const clean = await generatedText(page, 1);

    // As a page script could: the same entry, the same length and headers, zeros inside wte.
    await page.evaluate(async () => {
      const cache = await caches.open('gpt2-models-v1');
      const request = (await cache.keys()).find((r) => r.url.endsWith('/model.safetensors.000'))!;
      const stored = (await cache.match(request))!;
      const bytes = new Uint8Array(await stored.arrayBuffer());
      bytes.fill(0, 100_000, 200_000);
      await cache.put(request, new Response(bytes, { headers: stored.headers }));
    });
    await page.reload();
    await waitForModel(page, browser.logs);
    await expect
      .poll(() => page.locator('.notice[role=status]').allTextContents(), { timeout: 60_000 })
      .toContainEqual(
        expect.stringMatching(
          /^The cached copy of org\/tiny-gpt2 could not be read \(checksum mismatch in the cached piece model\.safetensors\.000: .*\), so it was dropped and downloaded again\.$/,
        ),
      );
    expect(hub.requests.some((r) => r.path.endsWith('/model.safetensors'))).toBe(true);
    await generate(page);
    expect(await generatedText(page, 1)).toBe(clean);
  });
});
