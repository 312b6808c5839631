/**
 * Issue 24 item 2: a link never downloads without a yes. A fresh page opened on
 * `?model=url:<another server>/…` requests nothing from that server until the person says yes
 * (the question names the server), loads the built-in model meanwhile, and "Not now" keeps it so.
 * And a load keeps the outputs on screen, marked with the model that wrote them once another has loaded.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appUrl, TINY_MODEL_SPEC } from '../helpers/appServer';
import { generate, generatedText, openApp, outputPane } from '../helpers/appPage';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { fixtureDir } from '../helpers/fixture';
import { startHubServer, type HubServer } from '../helpers/hubServer';

let browser: LaunchedBrowser;
let base: string;
let hub: HubServer;
const file = (name: string) => new Uint8Array(readFileSync(path.join(fixtureDir, name)));

beforeAll(async () => {
  base = await appUrl();
  hub = await startHubServer({
    repos: { 'rel/tiny': { 'config.json': file('config.json'), 'model.safetensors': file('model.safetensors') } },
  });
  hub.redirect = false;
  browser = await launchBrowser({ webgpu: false, offline: true });
});

afterAll(async () => {
  await browser?.close();
  await hub?.stop();
});

const status = (page: Page) => page.locator('.app').getAttribute('data-model-status');
const modelName = (page: Page) => page.locator('[data-stat=model] dd').textContent();
const storedModel = (page: Page) =>
  page.evaluate(() => JSON.parse(localStorage.getItem('gpt2-browser:settings') ?? '{}').model as string | undefined);

describe('a url: link asks before any request', () => {
  test('nothing is requested before the yes; the question names the host; yes loads it, and only then is it kept', async () => {
    const { page } = browser;
    const folder = `${hub.url}/rel/tiny/resolve/main/`;
    hub.reset();
    await page.goto(`${base}?model=${encodeURIComponent(`url:${folder}`)}&max_new_tokens=4&num_return_sequences=1`);
    const question = page.getByTestId('link-confirm');
    await expect.poll(() => question.count(), { timeout: 60_000 }).toBe(1);
    expect(await question.textContent()).toContain(`from ${new URL(hub.url).host}`);
    await expect.poll(() => status(page), { timeout: 120_000 }).toBe('ready');
    expect(await modelName(page)).toContain('Sherlock GPT-2 (built in)');
    expect(hub.requests).toEqual([]);
    expect(await storedModel(page)).not.toBe(`url:${folder}`);

    await page.getByRole('button', { name: `Load from ${new URL(hub.url).host}`, exact: true }).click();
    await expect.poll(() => page.locator('.app').getAttribute('data-model-status'), { timeout: 60_000 }).toBe('ready');
    await expect.poll(() => hub.requests.length, { timeout: 60_000 }).toBeGreaterThan(0);
    await expect.poll(() => storedModel(page), { timeout: 60_000 }).toBe(`url:${folder}`);
    expect(await question.count()).toBe(0);
  });

  test('"Not now" keeps the built-in model and requests nothing', async () => {
    const { page } = browser;
    const folder = `${hub.url}/rel/tiny/resolve/main/`;
    await page.evaluate(() => localStorage.clear());
    hub.reset();
    await page.goto(`${base}?model=${encodeURIComponent(`url:${folder}`)}`);
    const question = page.getByTestId('link-confirm');
    await expect.poll(() => question.count(), { timeout: 60_000 }).toBe(1);
    await expect.poll(() => status(page), { timeout: 120_000 }).toBe('ready');
    await page.getByRole('button', { name: 'Not now', exact: true }).click();
    expect(await question.count()).toBe(0);
    expect(await modelName(page)).toContain('Sherlock GPT-2 (built in)');
    expect(hub.requests).toEqual([]);
    expect(await storedModel(page)).toBe('embedded');
  });
});

describe('a load keeps the outputs', () => {
  test('after another model has loaded, the run stays, marked with the model that wrote it, until the next Generate', async () => {
    const { page } = browser;
    await openApp(
      page,
      base,
      { model: TINY_MODEL_SPEC, prompt: 'Watson you are', max_new_tokens: 4, num_return_sequences: 1 },
      browser.logs,
    );
    await generate(page);
    const text = await generatedText(page, 1);
    await page.getByLabel('Model', { exact: true }).selectOption('embedded');
    await page.getByRole('button', { name: 'Load model', exact: true }).click();
    const mark = page.getByTestId('earlier-model');
    await expect.poll(() => mark.count(), { timeout: 120_000 }).toBe(1);
    expect(await mark.textContent()).toMatch(
      /^The outputs below were written by \.\/test-models\/tiny-gpt2\/ \(\w+\), before the model in use now was loaded\./,
    );
    expect(await outputPane(page, 1).count()).toBe(1);
    expect(await generatedText(page, 1)).toBe(text);
    await generate(page);
    expect(await mark.count()).toBe(0);
  });
});
