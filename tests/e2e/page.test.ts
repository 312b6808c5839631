/**
 * The page as a new user meets it (the built app in Chromium without WebGPU, the tiny fixture
 * model): invalid number boxes, an address with values out of range, one status after a failed
 * load, focus after Generate and Stop, Escape, files dropped on the page, top-p 0, headings.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generate, generatedText, openApp, outputPane, setNumber, waitForModel, waitForRunEnd } from '../helpers/appPage';
import { appUrl, TINY_MODEL_PATH, TINY_MODEL_SPEC } from '../helpers/appServer';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { fixtureDir, repoRoot } from '../helpers/fixture';

let browser: LaunchedBrowser;
let base: string;
let tmp: string;
const TINY = { model: TINY_MODEL_SPEC, prompt: 'Watson you are', max_new_tokens: 6, num_return_sequences: 1, seed: 3 };
const artifacts = path.join(repoRoot, 'tests/e2e/artifacts');

beforeAll(async () => {
  base = await appUrl();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'gpt2-e2e-page-'));
  browser = await launchBrowser({ webgpu: false });
});

afterAll(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const box = (page: Page, label: string) => page.getByRole('spinbutton', { name: label, exact: true });
const generateButton = (page: Page) => page.getByRole('button', { name: 'Generate', exact: true });
const status = (page: Page) => page.locator('.status-line');
/** The accessible name of the focused element (its label, or a button's text). */
const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return 'body';
    const labelledBy = el.getAttribute('aria-labelledby');
    if (labelledBy) return document.getElementById(labelledBy)?.textContent ?? '';
    return (el as HTMLInputElement).labels?.[0]?.textContent ?? el.textContent ?? '';
  });

async function shot(page: Page, name: string, width = 1366, height = 768): Promise<void> {
  const size = page.viewportSize();
  await page.setViewportSize({ width, height });
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, name) });
  if (size) await page.setViewportSize(size);
}

describe('number boxes and the address', () => {
  test('a rejected value stays marked with its range, and no run starts until it is fixed or put back', async () => {
    const { page } = browser;
    await openApp(page, base, TINY, browser.logs);
    await box(page, 'Top-p').fill('7');
    expect(await box(page, 'Top-p').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByTestId('invalid-top_p').textContent()).toMatch(/^Top-p must be a number from 0 to 1\. Put back 0\.95$/);
    // The message is the box's description, so a screen reader reads it with the box.
    const described = await box(page, 'Top-p').getAttribute('aria-describedby');
    expect(described?.split(' ')).toContain(await page.getByTestId('invalid-top_p').getAttribute('id'));
    expect(await generateButton(page).isDisabled()).toBe(true);
    expect(await page.getByTestId('generate-blocked').textContent()).toBe(
      'To generate, fix Top-p (a number from 0 to 1) or put its value back.',
    );
    // Leaving the box keeps what was typed: the page never shows one value and runs another.
    await page.getByLabel('Prompt', { exact: true }).focus();
    expect(await box(page, 'Top-p').inputValue()).toBe('7');

    // Ctrl+Enter refuses, says so, and goes to the box.
    await page.getByLabel('Prompt', { exact: true }).press('Control+Enter');
    expect(await status(page).textContent()).toBe('Not generating. To generate, fix Top-p (a number from 0 to 1) or put its value back.');
    expect(await status(page).getAttribute('role')).toBe('alert');
    expect(await page.locator('.app').getAttribute('data-run-status')).toBe('idle');
    expect(await focused(page)).toBe('Top-p');

    // Top-k -3 and letters in Temperature (a number box reads them as no number) are refused too.
    await box(page, 'Top-k').fill('-3');
    await box(page, 'Temperature').focus();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('e');
    expect(await page.getByTestId('invalid-top_k').textContent()).toContain('Top-k must be a whole number from 0 to 200.');
    expect(await page.getByTestId('invalid-temperature').textContent()).toContain('Temperature must be a number from 0 to 2.');
    expect(await page.getByTestId('generate-blocked').textContent()).toBe(
      'To generate, fix Top-k (a whole number from 0 to 200), Top-p (a number from 0 to 1) and Temperature (a number from 0 to 2) or put their values back.',
    );
    await shot(page, 'invalid-setting.png');
    await shot(page, 'invalid-setting-phone.png', 390, 844);

    // Put back (a button), Escape, and a valid value each end one problem; then Generate runs.
    await page.getByRole('button', { name: 'Put back 0.95', exact: true }).click();
    expect(await box(page, 'Top-p').inputValue()).toBe('0.95');
    expect(await focused(page)).toBe('Top-p');
    await box(page, 'Temperature').focus();
    await page.keyboard.press('Escape');
    expect(await box(page, 'Temperature').inputValue()).toBe('1');
    await box(page, 'Top-k').fill('40');
    expect(await page.getByTestId('generate-blocked').count()).toBe(0);
    expect(await box(page, 'Top-k').getAttribute('aria-invalid')).toBeNull();
    await generate(page);
    expect(new URL(page.url()).searchParams.get('top_k')).toBe('40');
    // A box made invalid after that is marked, but nothing was refused yet: the status stays the run's.
    await box(page, 'Top-p').fill('7');
    expect(await status(page).textContent()).toBe('Done: 6 tokens.');
    await page.keyboard.press('Escape');
  });

  test('values the address cannot have are listed in one notice; an unknown backend is not a menu choice', async () => {
    const { page } = browser;
    await openApp(page, base, { ...TINY, top_k: -3, top_p: 7, temperature: 'abc', backend: 'foo' }, browser.logs);
    const notice = page.getByTestId('address-notice');
    expect(await notice.locator('li').allTextContents()).toEqual([
      'backend=foo is not one of auto, webgpu, wasm, webgl, cpu: choosing automatically',
      'top_k=-3 → 0 (allowed: a whole number from 0 to 200; 0 turns top-k off)',
      'top_p=7 → 1 (allowed: a number from 0 to 1 in steps of 0.01)',
      'temperature=abc is not a number: kept 1',
    ]);
    expect(await box(page, 'Top-k').inputValue()).toBe('0');
    const choices = await page
      .getByLabel('Backend', { exact: true })
      .locator('option')
      .evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
    expect(choices).toEqual(['auto', 'webgpu', 'wasm', 'webgl', 'cpu']);
    expect(await page.getByLabel('Backend', { exact: true }).inputValue()).toBe('auto');
    expect(await page.getByTestId('backend-reason').textContent()).not.toContain('foo');
    // The address now holds what the page uses, so a reload has nothing to report.
    expect(new URL(page.url()).searchParams.get('top_k')).toBe('0');
    expect(new URL(page.url()).searchParams.has('backend')).toBe(false);
    await shot(page, 'address-notice.png');
    await page.getByRole('button', { name: 'Dismiss', exact: true }).click();
    expect(await notice.count()).toBe(0);
    await page.reload();
    await waitForModel(page, browser.logs);
    expect(await notice.count()).toBe(0);
  });
});

describe('one status', () => {
  test("after a load fails: the failure, once, and the output of the run before kept as the loaded model's", async () => {
    const { page } = browser;
    await openApp(page, base, TINY, browser.logs);
    await generate(page);
    expect(await status(page).textContent()).toBe('Done: 6 tokens.');
    const broken = path.join(tmp, 'model.safetensors');
    writeFileSync(broken, readFileSync(path.join(fixtureDir, 'model.safetensors')).subarray(0, 100_000));
    writeFileSync(path.join(tmp, 'config.json'), readFileSync(path.join(fixtureDir, 'config.json')));
    await page.getByLabel('Model', { exact: true }).selectOption({ label: 'Files from this computer…' });
    await page.getByLabel('Checkpoint files', { exact: true }).setInputFiles([path.join(tmp, 'config.json'), broken]);
    await page.getByRole('button', { name: 'Load model', exact: true }).click();
    await expect.poll(() => status(page).getAttribute('data-status-kind'), { timeout: 60_000 }).toBe('load-error');
    expect(await status(page).textContent()).toMatch(/model\.safetensors: file is truncated.* Still using \.\/test-models\/tiny-gpt2\/\.$/);
    expect(await page.locator('.notice.error, .status-line.error').count()).toBe(1);
    expect(await page.getByRole('alert').count()).toBe(1);
    // A failed load changes nothing: the run's output stays, still the loaded model's (not marked as an earlier one's).
    expect(await outputPane(page, 1).count()).toBe(1);
    expect(await page.getByTestId('earlier-model').count()).toBe(0);
    expect(await page.locator('.results').textContent()).not.toContain('Done:');
    await shot(page, 'load-failed.png');
    // The kept model still answers, and the status is the run's again.
    await generate(page);
    expect(await status(page).textContent()).toBe('Done: 6 tokens.');
    expect(await page.getByRole('alert').count()).toBe(0);
  });

  test('top-p 0 with sampling: the hint beside the control and in the status, and the panes are the same', async () => {
    const { page } = browser;
    await openApp(page, base, { ...TINY, num_return_sequences: 3, do_sample: true, top_p: 0 }, browser.logs);
    const hint = page.locator('.number-field', { has: box(page, 'Top-p') }).locator('.field-hint');
    expect(await hint.textContent()).toBe(
      'Top-p 0 keeps only the likeliest token: sampling is greedy decoding then, and every sequence is the same.',
    );
    const sequencesHint = page.locator('.number-field', { has: box(page, 'Sequences') }).locator('.field-hint');
    expect(await sequencesHint.textContent()).toBe('Top-p 0 keeps only the likeliest token, so all 3 sequences will be the same.');
    await generate(page);
    expect(await status(page).textContent()).toBe(
      'Done: 18 tokens. Top-p 0 keeps only the likeliest token, so the 3 outputs are the same (as greedy decoding).',
    );
    const texts = await Promise.all([1, 2, 3].map((i) => generatedText(page, i)));
    expect(new Set(texts).size).toBe(1);
    await setNumber(page, 'Top-p', 0.5);
    expect(await hint.textContent()).toBe('Keep the likeliest tokens up to this total probability.');
  });
});

describe('keyboard', () => {
  test('focus goes to Stop while a run goes and back to Generate after; not when it was elsewhere', async () => {
    const { page } = browser;
    await openApp(page, base, TINY, browser.logs);
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { __focus: string[] }).__focus = seen;
      document.addEventListener('focusin', (event) => seen.push((event.target as HTMLElement).textContent ?? ''));
    });
    await generateButton(page).focus();
    await page.keyboard.press('Enter');
    expect(await waitForRunEnd(page)).toBe('done');
    const seen = await page.evaluate(() => (window as unknown as { __focus: string[] }).__focus);
    expect(seen.slice(-2)).toEqual(['Stop', 'Generate']);
    expect(await focused(page)).toBe('Generate');

    // Started from the prompt with Ctrl+Enter: focus stays where the person is.
    await page.getByLabel('Prompt', { exact: true }).press('Control+Enter');
    expect(await waitForRunEnd(page)).toBe('done');
    expect(await focused(page)).toBe('Prompt');
  });

  test('Escape stops a run', async () => {
    const { page } = browser;
    await openApp(page, base, { ...TINY, max_new_tokens: 60 }, browser.logs);
    // Escape as soon as the run shows as running (before any token can come back from the worker).
    await page.evaluate(() => {
      const app = document.querySelector('.app')!;
      new MutationObserver((_, observer) => {
        if (app.getAttribute('data-run-status') !== 'running') return;
        observer.disconnect();
        window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }));
      }).observe(app, { attributes: true, attributeFilter: ['data-run-status'] });
    });
    await generateButton(page).click();
    expect(await waitForRunEnd(page)).toBe('stopped');
    expect(await status(page).textContent()).toMatch(/^Stopped after \d+ tokens?\.$/);
  });

  test('headings go h1 → h2 → h3 with no level skipped', async () => {
    const { page } = browser;
    await openApp(page, base, TINY, browser.logs);
    await generate(page);
    const levels = await page.locator('h1, h2, h3, h4, h5, h6').evaluateAll((hs) => hs.map((h) => Number(h.tagName[1])));
    expect(levels[0]).toBe(1);
    expect(levels.filter((l) => l === 1)).toHaveLength(1);
    for (let i = 1; i < levels.length; i++) expect(levels[i] - levels[i - 1]).toBeLessThanOrEqual(1);
    expect(levels).toContain(3);
  });
});

describe('files from this computer', () => {
  /** Drops files made in the page (the fixture's, fetched from the app, or text) on `target`, as a person's drag would. */
  async function drop(page: Page, target: string, files: { name: string; url?: string; text?: string }[]): Promise<void> {
    await page.evaluate(
      async ({ target, files }) => {
        const data = new DataTransfer();
        for (const f of files) {
          const body = f.url ? await (await fetch(f.url)).blob() : new Blob([f.text ?? '']);
          data.items.add(new File([body], f.name));
        }
        const at = document.querySelector(target)!;
        const fire = (type: string) => at.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
        fire('dragenter');
        fire('dragover');
        // The page shows its drop zone on its next render.
        const overlay = () => document.querySelector('[data-testid=drop-overlay]') !== null;
        for (let frame = 0; frame < 100 && !overlay(); frame++) await new Promise((resolve) => requestAnimationFrame(resolve));
        (window as unknown as { __overlay: boolean }).__overlay = overlay();
        fire('drop');
      },
      { target, files },
    );
  }
  const modelName = (page: Page) => page.locator('[data-stat=model] dd').textContent();

  test('config.json and model.safetensors dropped on the page load, named after the config', async () => {
    const { page } = browser;
    await openApp(page, base, TINY, browser.logs);
    const config = { ...JSON.parse(readFileSync(path.join(fixtureDir, 'config.json'), 'utf8')), _name_or_path: 'someone/dropped-gpt2' };
    await drop(page, '.results', [
      { name: 'config.json', text: JSON.stringify(config) },
      { name: 'model.safetensors', url: `${TINY_MODEL_PATH}model.safetensors` },
    ]);
    expect(await page.evaluate(() => (window as unknown as { __overlay: boolean }).__overlay)).toBe(true);
    await expect.poll(() => modelName(page), { timeout: 60_000 }).toMatch(/^someone\/dropped-gpt2 · /);
    expect(await page.getByTestId('drop-overlay').count()).toBe(0);
    await waitForModel(page, browser.logs);
    await generate(page);
    expect((await generatedText(page, 1)).length).toBeGreaterThan(0);
  });

  test('anything else dropped gets a clear message, and the model stays', async () => {
    const { page } = browser;
    await drop(page, '.model-section', [{ name: 'notes.txt', text: 'Elementary.' }]);
    await expect
      .poll(() => status(page).textContent())
      .toBe(
        'The dropped files are not a model: No .safetensors file among the chosen files (notes.txt). Pick the config.json and model.safetensors of a GPT-2 checkpoint together.',
      );
    expect(await status(page).getAttribute('role')).toBe('alert');
    expect(await modelName(page)).toMatch(/^someone\/dropped-gpt2 · /);
    await shot(page, 'drop-refused.png');
  });

  test('a picked folder names the model after the folder; picked files after "local files", not model.safetensors', async () => {
    const { page } = browser;
    await page.getByLabel('Model', { exact: true }).selectOption({ label: 'Files from this computer…' });
    await page.getByLabel('Or their folder', { exact: true }).setInputFiles(fixtureDir);
    await page.getByRole('button', { name: 'Load model', exact: true }).click();
    await expect.poll(() => modelName(page), { timeout: 60_000 }).toMatch(/^tiny-gpt2 · /);
    await page
      .getByLabel('Checkpoint files', { exact: true })
      .setInputFiles([path.join(fixtureDir, 'config.json'), path.join(fixtureDir, 'model.safetensors')]);
    await page.getByRole('button', { name: 'Load model', exact: true }).click();
    await expect.poll(() => modelName(page), { timeout: 60_000 }).toMatch(/^local files · /);
  });
});
