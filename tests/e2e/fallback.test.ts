/**
 * The built app in Chromium without --enable-unsafe-webgpu (no WebGPU adapter): the worker falls
 * back to tfjs wasm and the page says why; forced backends and worker errors reach the page.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appUrl, TINY_MODEL_SPEC } from '../helpers/appServer';
import { generate, generatedText, openApp } from '../helpers/appPage';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { fixtureDir } from '../helpers/fixture';
import { startHubServer } from '../helpers/hubServer';

let browser: LaunchedBrowser;
let base: string;

const TINY = { model: TINY_MODEL_SPEC, prompt: 'Watson you are', max_new_tokens: 6, num_return_sequences: 1, seed: 3 };

beforeAll(async () => {
  base = await appUrl();
  browser = await launchBrowser({ webgpu: false });
});

afterAll(async () => {
  await browser?.close();
});

describe('web app without WebGPU', () => {
  test('with nothing set, the page loads the built-in model by itself', async () => {
    const { page } = browser;
    await page.goto(base);
    await expect.poll(() => page.locator('.app').getAttribute('data-model-status'), { timeout: 120_000 }).toBe('ready');
    expect(await page.locator('[data-stat=model] dd').textContent()).toContain('Sherlock GPT-2 (built in)');
    // The defaults are written into the address, so the link already reproduces a run.
    const params = new URL(page.url()).searchParams;
    expect(Object.fromEntries(params)).toMatchObject({
      model: 'embedded',
      top_k: '50',
      top_p: '0.95',
      temperature: '1',
      num_return_sequences: '3',
      do_sample: 'true',
    });
  });

  test('falls back to wasm, says why, and still generates', async () => {
    const { page } = browser;
    await openApp(page, base, TINY, browser.logs);
    await expect.poll(() => page.locator('[data-backend]').getAttribute('data-backend')).toBe('wasm');
    const reason = await page.getByTestId('backend-reason').textContent();
    expect(reason).toContain('Not WebGPU because');
    expect(reason).toContain('no WebGPU adapter');
    expect(reason).toContain('WebAssembly');
    expect(await page.locator('[data-stat=adapter] dd').textContent()).toBe('none (not WebGPU)');
    // Cross-origin isolated, so tfjs wasm runs its threaded build, with a pool of every core but
    // the page's own (defaultWasmThreads in src/backend/wasmThreads.ts; tfjs caps pools at 8).
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(Number(await page.locator('[data-stat=threads] dd').textContent())).toBe(Math.min(Math.max(1, cores - 1), 8));
    await generate(page);
    expect((await generatedText(page, 1)).length).toBeGreaterThan(0);
  });

  test('?backend=cpu forces the cpu backend and says so; the Backend menu switches', async () => {
    const { page } = browser;
    await openApp(page, base, { ...TINY, backend: 'cpu' }, browser.logs);
    await expect.poll(() => page.locator('[data-backend]').getAttribute('data-backend')).toBe('cpu');
    expect(await page.getByTestId('backend-reason').textContent()).toContain('?backend=cpu was requested');

    // The Backend menu does the same without editing the URL: a new worker, the model reloaded.
    await page.getByLabel('Backend', { exact: true }).selectOption('wasm');
    await expect.poll(() => page.locator('[data-backend]').getAttribute('data-backend'), { timeout: 60_000 }).toBe('wasm');
    await expect.poll(() => page.locator('.app').getAttribute('data-model-status'), { timeout: 60_000 }).toBe('ready');
    expect(new URL(page.url()).searchParams.get('backend')).toBe('wasm');
    // The menu asked, not the address: the note says so.
    expect(await page.getByTestId('backend-reason').textContent()).toBe(
      'Not WebGPU: WebAssembly (tfjs wasm) was chosen in the Backend menu.',
    );
  });

  test('a prompt longer than the context is cut, and the page says so', async () => {
    const { page } = browser;
    // The fixture model's context is 64 tokens.
    await openApp(
      page,
      base,
      { ...TINY, prompt: 'Holmes and Watson walked along Baker Street. '.repeat(10), max_new_tokens: 4 },
      browser.logs,
    );
    await generate(page);
    const status = await page.locator('.status-line').textContent();
    expect(status).toMatch(
      /^Done: 4 tokens\. The prompt \(\d+ tokens\) plus 4 new tokens exceed the context of 64 tokens: the first \d+ prompt tokens were left out\.$/,
    );
  });

  test('a model that cannot be loaded gives a readable message, not a crash, and the built-in model instead', async () => {
    const { page } = browser;
    await page.goto(`${base}?model=${encodeURIComponent('url:./no-such-model/')}`);
    await expect.poll(() => page.locator('.app').getAttribute('data-model-status'), { timeout: 120_000 }).toBe('ready');
    expect(await page.locator('[data-stat=model] dd').textContent()).toContain('Sherlock GPT-2 (built in)');
    const message = await page.getByTestId('model-notice').textContent();
    // vite preview answers a missing file with the app's own page.
    expect(message).toMatch(
      /could not be loaded, so the built-in model was loaded instead\. The config\.json of .*no-such-model\/ is an HTML page, not JSON/,
    );
    expect(await page.getByRole('button', { name: 'Generate', exact: true }).isDisabled()).toBe(false);
  });

  test('the model chooser loads any hub repository, lists it as downloaded, and deletes it', async () => {
    const { page } = browser;
    const file = (name: string) => new Uint8Array(readFileSync(path.join(fixtureDir, name)));
    const hub = await startHubServer({
      repos: { 'someone/tiny-gpt2': { 'config.json': file('config.json'), 'model.safetensors': file('model.safetensors') } },
    });
    try {
      await openApp(page, base, { ...TINY, hub: hub.url }, browser.logs);
      await page.getByRole('button', { name: 'Download from this server', exact: true }).click(); // the link's hub, confirmed
      await page.getByLabel('Model', { exact: true }).selectOption({ label: 'Other Hugging Face repository…' });
      await page.getByLabel('Hub repository', { exact: true }).fill('someone/tiny-gpt2');
      // Record what the load progress bar shows while the model downloads.
      await page.evaluate(() => {
        const seen: string[] = [];
        (window as unknown as { __progress: string[] }).__progress = seen;
        new MutationObserver(() => {
          const box = document.querySelector('.load-progress');
          if (box && seen[seen.length - 1] !== box.textContent) seen.push(box.textContent ?? '');
        }).observe(document.body, { subtree: true, childList: true, characterData: true });
      });
      hub.paceMs = 60; // the fixture is small: sent at once, the download can end between two frames of the progress bar
      await page.getByRole('button', { name: 'Load model', exact: true }).click();
      await expect.poll(() => page.locator('.app').getAttribute('data-model-status'), { timeout: 60_000 }).toBe('ready');
      hub.paceMs = 0;
      const progress = await page.evaluate(() => (window as unknown as { __progress: string[] }).__progress);
      expect(
        progress.some((text) => /model\.safetensors/.test(text) && /\d+%/.test(text)),
        progress.join('\n'),
      ).toBe(true);
      expect(await page.locator('[data-stat=model] dd').textContent()).toContain('someone/tiny-gpt2');
      expect(new URL(page.url()).searchParams.get('model')).toBe('hf:someone/tiny-gpt2');

      const downloaded = page.locator('.cached-models');
      await expect.poll(() => downloaded.locator('summary').textContent()).toMatch(/^Downloaded models \(1/);
      await downloaded.locator('summary').click();
      await page.getByRole('button', { name: 'Delete someone/tiny-gpt2', exact: true }).click();
      await expect.poll(() => downloaded.count()).toBe(0);
      expect(await page.evaluate(async () => (await (await caches.open('gpt2-models-v1')).keys()).length)).toBe(0);
    } finally {
      await hub.stop();
    }
  });

  test('checkpoint files picked from disk load, and Copy copies a pane', async () => {
    const { page } = browser;
    await openApp(page, base, TINY, browser.logs);
    await page.getByLabel('Model', { exact: true }).selectOption({ label: 'Files from this computer…' });
    await page
      .getByLabel('Checkpoint files', { exact: true })
      .setInputFiles([path.join(fixtureDir, 'config.json'), path.join(fixtureDir, 'model.safetensors')]);
    await page.getByRole('button', { name: 'Load model', exact: true }).click();
    // Loose files with no _name_or_path in their config: "local files", not the weights' file name.
    // (The page reads config.json for a name before the load starts, so wait for the name, not the status.)
    await expect.poll(() => page.locator('[data-stat=model] dd').textContent(), { timeout: 60_000 }).toMatch(/^local files · /);
    await expect.poll(() => page.locator('.app').getAttribute('data-model-status'), { timeout: 60_000 }).toBe('ready');

    await generate(page);
    await page.getByRole('button', { name: 'Copy output 1', exact: true }).click();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe(`${TINY.prompt}${await generatedText(page, 1)}`);
  });

  test('a picked file that is not a checkpoint is refused with a reason', async () => {
    const { page } = browser;
    await page.getByLabel('Model', { exact: true }).selectOption({ label: 'Files from this computer…' });
    await page.getByLabel('Checkpoint files', { exact: true }).setInputFiles([path.join(fixtureDir, 'config.json')]);
    await page.getByRole('button', { name: 'Load model', exact: true }).click();
    expect((await page.getByRole('alert').allTextContents()).join(' ')).toContain('No .safetensors file');
  });
});
