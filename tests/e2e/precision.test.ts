/**
 * The page's precision: ?dtype= loads the built-in model with q8 weights on wasm and the stats say
 * so; the labelled Precision select reloads it as f32; the model menu shows each preset's download
 * and memory at the chosen precision; a model that cannot fit is refused before its download, with
 * the plan's message. Screenshots at 1366×768 and phone size go to tests/e2e/artifacts/.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appUrl } from '../helpers/appServer';
import { generate, generatedText, openApp, waitForModel } from '../helpers/appPage';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { repoRoot } from '../helpers/fixture';
import { startHubServer, type HubServer } from '../helpers/hubServer';

let browser: LaunchedBrowser;
let base: string;
let hub: HubServer;

beforeAll(async () => {
  base = await appUrl();
  browser = await launchBrowser({ webgpu: false });
  const config = new TextEncoder().encode(
    JSON.stringify({ model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 1600, n_layer: 48, n_head: 25 }),
  );
  hub = await startHubServer({ repos: { 'org/xl-shaped': { 'config.json': config, 'model.safetensors': new Uint8Array(64) } } });
});

afterAll(async () => {
  await browser?.close();
  await hub?.stop();
});

const BUILT_IN = {
  model: 'embedded',
  backend: 'wasm',
  prompt: 'Watson, you are',
  max_new_tokens: 5,
  num_return_sequences: 1,
  do_sample: false,
};

describe('weight precision on the page', () => {
  test('?dtype=q8 loads the built-in model with q8 weights; the stats say so; it generates', async () => {
    const { page } = browser;
    await openApp(page, base, { ...BUILT_IN, dtype: 'q8' }, browser.logs);
    expect(await page.locator('[data-stat=precision] dd').textContent()).toMatch(/^q8 · weights 0\.\d\d GB$/);
    await expect.poll(() => page.getByLabel('Precision', { exact: true }).inputValue()).toBe('q8');
    await generate(page);
    expect((await generatedText(page, 1)).length).toBeGreaterThan(0);
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(repoRoot, 'tests/e2e/artifacts/precision-1366.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(repoRoot, 'tests/e2e/artifacts/precision-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1360, height: 900 });
  });

  test('the Precision select reloads the model in the chosen precision and puts it in the address', async () => {
    const { page } = browser;
    await openApp(page, base, { ...BUILT_IN, dtype: 'q8' }, browser.logs);
    await page.getByLabel('Precision', { exact: true }).selectOption('f32');
    await expect.poll(() => page.locator('[data-stat=precision] dd').textContent(), { timeout: 60_000 }).toMatch(/^f32/);
    await waitForModel(page, browser.logs);
    expect(new URL(page.url()).searchParams.get('dtype')).toBe('f32');
    await page.getByLabel('Precision', { exact: true }).selectOption('auto');
    await expect
      .poll(() => page.locator('[data-stat=precision] dd').textContent(), { timeout: 60_000 })
      .toMatch(/^f32 · weights .* \(auto: .+\)$/);
    expect(new URL(page.url()).searchParams.has('dtype')).toBe(false);
  });

  test("the model menu shows each preset's download and memory at the chosen precision", async () => {
    const { page } = browser;
    await openApp(page, base, { ...BUILT_IN, dtype: 'q8' }, browser.logs);
    const labels = await page.getByLabel('Model', { exact: true }).locator('option').allTextContents();
    expect(labels).toContain('gpt2-xl: GPT-2 XL, 1.5B parameters, 6.2 GB download, needs 5.2 GB as q8');
    expect(labels).toContain('gpt2: GPT-2 small, 124M parameters, 498 MB download, needs 0.7 GB as q8');
  });

  test('a model that cannot fit is refused before its weights are fetched, with the numbers and what would fit', async () => {
    const { page } = browser;
    hub.reset();
    await page.goto(
      `${base}?${new URLSearchParams(Object.entries({ ...BUILT_IN, model: 'hf:org/xl-shaped', hub: hub.url, dtype: 'f32' }).map(([k, v]) => [k, String(v)]))}`,
    );
    // A link's hub waits for a yes (issue 15); then the model is planned, refused, and the page falls back to the built-in model.
    await page.getByRole('button', { name: 'Download from this server' }).click();
    await expect
      .poll(async () => (await page.getByTestId('load-error').allTextContents()).join(' '), { timeout: 60_000 })
      .toContain('Not loading');
    const alert = (await page.getByTestId('load-error').allTextContents()).join(' ');
    expect(alert).toContain('Not loading: org/xl-shaped needs 7.0 GB as f32');
    expect(alert).toContain('As q8 it needs 1.6 GB of weights and fits: choose Precision q8');
    expect(hub.requests.some((r) => r.path.includes('model.safetensors'))).toBe(false);
  });
});
