/**
 * The built app in Chromium with WebGPU (SwiftShader here), on the tiny fixture model: the worker
 * runs on webgpu, text streams, Stop stops, and the sampling controls do what they say.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appUrl, TINY_MODEL_SPEC } from '../helpers/appServer';
import {
  generate,
  generatedText,
  openApp,
  outputPane,
  recordedGrowth,
  recordGrowth,
  runStatus,
  setNumber,
  setSample,
  waitForRunEnd,
} from '../helpers/appPage';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { repoRoot } from '../helpers/fixture';

let browser: LaunchedBrowser;
let base: string;

/** Short runs: the tiny model has a 64-token context, and SwiftShader is slow. */
/** SwiftShader is a software adapter, which the app skips for wasm unless WebGPU is asked for by name. */
const START = {
  backend: 'webgpu',
  model: TINY_MODEL_SPEC,
  prompt: 'Watson you are',
  max_new_tokens: 4,
  num_return_sequences: 1,
  do_sample: true,
  top_k: 50,
  top_p: 0.95,
  temperature: 1,
  seed: 42,
};

beforeAll(async () => {
  base = await appUrl();
  browser = await launchBrowser({ webgpu: true });
  await openApp(browser.page, base, START, browser.logs);
});

afterAll(async () => {
  await browser?.close();
});

describe('web app on WebGPU', () => {
  test('the worker runs on webgpu, on a cross-origin isolated page', async () => {
    const { page } = browser;
    await expect.poll(() => page.locator('[data-backend]').getAttribute('data-backend')).toBe('webgpu');
    await expect.poll(() => page.locator('[data-stat=backend] dd').textContent()).toBe('webgpu');
    expect((await page.locator('[data-stat=adapter] dd').textContent())?.toLowerCase()).toContain('swiftshader');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  });

  test('text streams into the pane token by token', async () => {
    const { page } = browser;
    await setNumber(page, 'Max new tokens', 6);
    await recordGrowth(page);
    await generate(page);
    const growth = (await recordedGrowth(page)).filter((text) => text !== '');
    const final = await generatedText(page, 1);
    // Each recorded text extends the one before, and at least 3 distinct ones came before the last.
    expect(growth[growth.length - 1]).toBe(final);
    for (let i = 1; i < growth.length; i++) expect(growth[i].startsWith(growth[i - 1])).toBe(true);
    expect(growth.length - 1).toBeGreaterThanOrEqual(3);
  });

  test('Stop halts the growth', async () => {
    const { page } = browser;
    await setNumber(page, 'Max new tokens', 50);
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    await expect.poll(() => generatedText(page, 1), { timeout: 60_000 }).toMatch(/\S+.*\S+/s);
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    expect(await waitForRunEnd(page)).toBe('stopped');
    const stoppedAt = await generatedText(page, 1);
    const tokens = Number(await page.locator('[data-stat=tokens] dd').textContent());
    expect(tokens).toBeLessThan(50);
    await page.waitForTimeout(1500);
    expect(await generatedText(page, 1)).toBe(stoppedAt);
    expect(await runStatus(page)).toBe('stopped');
  });

  test('Top-k 1 makes sampling give the greedy text', async () => {
    const { page } = browser;
    await setNumber(page, 'Max new tokens', 4);
    await setSample(page, false);
    await generate(page);
    const greedy = await generatedText(page, 1);
    expect(greedy.length).toBeGreaterThan(0);

    await setSample(page, true);
    await setNumber(page, 'Seed', 1234);
    // Move the slider with the keyboard: Home (0 = off), then one step right.
    const slider = page.getByRole('slider', { name: 'Top-k', exact: true });
    await slider.focus();
    await slider.press('Home');
    await slider.press('ArrowRight');
    await expect.poll(() => page.getByRole('spinbutton', { name: 'Top-k', exact: true }).inputValue()).toBe('1');
    await generate(page);
    expect(await generatedText(page, 1)).toBe(greedy);
  });

  test('the same seed gives the same text, a different seed a different one', async () => {
    const { page } = browser;
    await setNumber(page, 'Top-k', 50);
    await setNumber(page, 'Seed', 7);
    await generate(page);
    const first = await generatedText(page, 1);
    await generate(page);
    expect(await generatedText(page, 1)).toBe(first);
    await setNumber(page, 'Seed', 8);
    await generate(page);
    expect(await generatedText(page, 1)).not.toBe(first);
  });

  test('3 sequences stream into 3 panes', async () => {
    const { page } = browser;
    await setNumber(page, 'Sequences', 3);
    await generate(page);
    const texts = await Promise.all([1, 2, 3].map((i) => generatedText(page, i)));
    for (const text of texts) expect(text.length).toBeGreaterThan(0);
    expect(new Set(texts).size).toBeGreaterThan(1);
    await expect.poll(() => outputPane(page, 4).count()).toBe(0);
    expect(Number(await page.locator('[data-stat=tokens] dd').textContent())).toBe(3 * 4);
  });

  test('a prompt with HTML is shown as text, never run', async () => {
    const { page } = browser;
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const attack = '<img src=x onerror=alert(1)>';
    await page.getByLabel('Prompt', { exact: true }).fill(attack);
    await setNumber(page, 'Sequences', 1);
    await setNumber(page, 'Max new tokens', 2);
    await generate(page);
    const pane = outputPane(page, 1);
    expect(await pane.locator('[data-part=prompt]').textContent()).toBe(attack);
    expect(await page.locator('.results img').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  test('Ctrl+Enter generates, and the URL reproduces the run', async () => {
    const { page } = browser;
    await page.getByLabel('Prompt', { exact: true }).fill('Holmes said');
    await setNumber(page, 'Seed', 99);
    await page.getByLabel('Prompt', { exact: true }).press('Control+Enter');
    expect(await waitForRunEnd(page)).toBe('done');
    const text = await generatedText(page, 1);
    const link = page.url();
    expect(new URL(link).searchParams.get('seed')).toBe('99');
    expect(new URL(link).searchParams.get('prompt')).toBe('Holmes said');

    await page.goto(link);
    await expect.poll(() => page.locator('.app').getAttribute('data-model-status'), { timeout: 120_000 }).toBe('ready');
    await generate(page);
    expect(await generatedText(page, 1)).toBe(text);
  });

  test('a finished generation shows measured stats (and is saved as the docs screenshot)', async () => {
    const { page } = browser;
    // The shipped Sherlock model when it is there (the page's default), else the tiny fixture;
    // on the backend the app picks by itself (here: wasm, as SwiftShader is slower).
    const embedded = existsSync(path.join(repoRoot, 'public/models/sherlock-gpt2/model.safetensors'));
    await openApp(
      page,
      base,
      {
        backend: 'auto',
        model: embedded ? 'embedded' : TINY_MODEL_SPEC,
        prompt: embedded ? 'To Sherlock Holmes she is always' : 'Watson you are',
        max_new_tokens: embedded ? 40 : 30,
        num_return_sequences: 3,
        do_sample: true,
        top_k: 50,
        top_p: 0.95,
        temperature: 1,
        seed: 42,
      },
      browser.logs,
    );
    await generate(page);
    for (const i of [1, 2, 3]) expect((await generatedText(page, i)).length).toBeGreaterThan(0);
    const stat = (key: string) => page.locator(`[data-stat=${key}] dd`).textContent();
    expect(await stat('load-time')).toMatch(/^\d+(\.\d+)? m?s$/);
    expect(await stat('ttft')).toMatch(/^\d+(\.\d+)? m?s$/);
    expect(Number(await stat('tokens-per-second'))).toBeGreaterThan(0);
    // The README's picture: a laptop screen, Surprise on, a token of pane 2 in the inspector.
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.getByRole('switch', { name: 'Surprise' }).check();
    await outputPane(page, 2).locator('[data-token-index="3"]').click();
    await expect.poll(() => page.getByRole('region', { name: 'Token inspector' }).getAttribute('data-pane')).toBe('Output 2');
    const artifacts = path.join(repoRoot, 'tests/e2e/artifacts');
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'app.png') });
    await page.setViewportSize({ width: 1360, height: 900 });
  }, 300_000);
});
