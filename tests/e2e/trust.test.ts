/**
 * What a failed load, a link and a big download may do to the page (the built app in Chromium,
 * without WebGPU, offline: every host but 127.0.0.1 is unresolvable, huggingface.co included).
 *  - A load is a transaction: a failed choice leaves the working model working and is not kept;
 *    a page opened on a model that fails loads the built-in one and says why.
 *  - A link's hub= is offered, never used or kept before the person says yes; the hub in use is shown.
 *  - A link naming a model over 1 GB asks before downloading it.
 *  - A prompt too long for an address stays out of it (kept in storage; a reload restores it).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appUrl } from '../helpers/appServer';
import { generate, generatedText, setSample, waitForModel } from '../helpers/appPage';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { fixtureDir } from '../helpers/fixture';
import { startHubServer, type HubServer } from '../helpers/hubServer';
import { assemble } from '../helpers/safetensorsWriter';

let browser: LaunchedBrowser;
let base: string;
let hub: HubServer;
let tmp: string;
const SHORT = { max_new_tokens: 4, num_return_sequences: 1, do_sample: false, prompt: 'Watson you are' };
const file = (name: string) => new Uint8Array(readFileSync(path.join(fixtureDir, name)));

/** A gpt2-medium-shaped model.safetensors that is all header: 1.4 GB of zeros nobody should fetch. */
function bigModel() {
  const config = {
    ...JSON.parse(new TextDecoder().decode(file('config.json'))),
    n_embd: 1024,
    n_layer: 24,
    n_head: 16,
    n_positions: 1024,
    n_ctx: 1024,
  };
  const C = 1024;
  const shapes: [string, number[]][] = [
    ['wte.weight', [50257, C]],
    ['wpe.weight', [1024, C]],
  ];
  for (let i = 0; i < 24; i++) {
    for (const [name, shape] of [
      ['ln_1.weight', [C]],
      ['ln_1.bias', [C]],
      ['attn.c_attn.weight', [C, 3 * C]],
      ['attn.c_attn.bias', [3 * C]],
      ['attn.c_proj.weight', [C, C]],
      ['attn.c_proj.bias', [C]],
      ['ln_2.weight', [C]],
      ['ln_2.bias', [C]],
      ['mlp.c_fc.weight', [C, 4 * C]],
      ['mlp.c_fc.bias', [4 * C]],
      ['mlp.c_proj.weight', [4 * C, C]],
      ['mlp.c_proj.bias', [C]],
    ] as [string, number[]][])
      shapes.push([`h.${i}.${name}`, shape]);
  }
  shapes.push(['ln_f.weight', [C]], ['ln_f.bias', [C]]);
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of shapes) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const head = assemble(header, new Uint8Array(0));
  return { config: new TextEncoder().encode(JSON.stringify(config)), weights: { size: head.byteLength + offset, head }, dataBytes: offset };
}
const big = bigModel();

beforeAll(async () => {
  base = await appUrl();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'gpt2-e2e-trust-'));
  hub = await startHubServer({
    repos: {
      'someone/tiny-gpt2': { 'config.json': file('config.json'), 'model.safetensors': file('model.safetensors') },
      'someone/slow-gpt2': { 'config.json': file('config.json'), 'model.safetensors': file('model.safetensors') },
      'org/big': { 'config.json': big.config, 'model.safetensors': big.weights },
    },
  });
  browser = await launchBrowser({ webgpu: false, offline: true });
});

afterAll(async () => {
  await browser?.close();
  await hub?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const status = (page: Page) => page.locator('.app').getAttribute('data-model-status');
const modelName = (page: Page) => page.locator('[data-stat=model] dd').textContent();
const storedModel = (page: Page) =>
  page.evaluate(() => JSON.parse(localStorage.getItem('gpt2-browser:settings') ?? '{}').model as string | undefined);
const storedHub = (page: Page) =>
  page.evaluate(() => JSON.parse(localStorage.getItem('gpt2-browser:settings') ?? '{}').hub as string | undefined);

/** Waits until the page is done loading and the built-in model answers. */
async function builtInReady(page: Page): Promise<void> {
  await expect.poll(() => status(page), { timeout: 120_000 }).toBe('ready');
  expect(await modelName(page)).toContain('Sherlock GPT-2 (built in)');
}

describe('a load is a transaction', () => {
  test('choosing gpt2 with no network keeps the built-in model, which still generates; a reload opens on it', async () => {
    const { page } = browser;
    await page.goto(`${base}?${new URLSearchParams(Object.entries(SHORT).map(([k, v]) => [k, String(v)]))}`);
    await builtInReady(page);

    await page.getByLabel('Model', { exact: true }).selectOption('gpt2');
    await page.getByRole('button', { name: 'Load model', exact: true }).click();
    const error = page.getByTestId('load-error');
    await expect.poll(() => error.count(), { timeout: 60_000 }).toBe(1);
    expect(await error.textContent()).toMatch(
      /^Could not reach huggingface\.co to download config\.json of openai-community\/gpt2@main .* Still using Sherlock GPT-2 \(built in\)\.$/,
    );
    expect(await status(page)).toBe('ready');
    expect(await modelName(page)).toContain('Sherlock GPT-2 (built in)');

    // The built-in model still answers, and the failed choice was not kept anywhere.
    await generate(page);
    expect((await generatedText(page, 1)).length).toBeGreaterThan(0);
    expect(new URL(page.url()).searchParams.get('model')).toBe('embedded');
    expect(await storedModel(page)).toBe('embedded');

    await page.reload();
    await builtInReady(page);
    expect(await page.getByTestId('load-error').count()).toBe(0);
    await generate(page);
  });

  test('a page opened on a model that cannot load falls back to the built-in model and says why', async () => {
    const { page } = browser;
    await page.goto(`${base}?model=gpt2&max_new_tokens=4&num_return_sequences=1`);
    await builtInReady(page);
    const notice = await page.getByTestId('model-notice').textContent();
    expect(notice).toMatch(
      /^GPT-2 small \(openai-community\/gpt2\) could not be loaded, so the built-in model was loaded instead\. Could not reach huggingface\.co/,
    );
    // The address and storage follow the model in use once the page has rendered it.
    await expect.poll(() => new URL(page.url()).searchParams.get('model')).toBe('embedded');
    await expect.poll(() => storedModel(page)).toBe('embedded');
    await generate(page);
  });

  test('local files that fail to load leave the working model working', async () => {
    const { page } = browser;
    const broken = path.join(tmp, 'model.safetensors');
    writeFileSync(broken, file('model.safetensors').subarray(0, 3_000_000));
    writeFileSync(path.join(tmp, 'config.json'), file('config.json'));
    await page.getByLabel('Model', { exact: true }).selectOption({ label: 'Files from this computer…' });
    await page.getByLabel('Checkpoint files', { exact: true }).setInputFiles([path.join(tmp, 'config.json'), broken]);
    await page.getByRole('button', { name: 'Load model', exact: true }).click();
    const error = page.getByTestId('load-error');
    await expect.poll(() => error.count(), { timeout: 60_000 }).toBe(1);
    const text = await error.textContent();
    expect(text).toMatch(/model\.safetensors: file is truncated.*Check the files.* Still using Sherlock GPT-2 \(built in\)\.$/);
    expect(text).not.toMatch(/download/i);
    expect(new URL(page.url()).searchParams.get('model')).toBe('embedded');
    await generate(page);
  });
});

describe('links cannot redirect downloads', () => {
  test("a link's hub is offered, not used, until the person says yes; then it is shown and kept", async () => {
    const { page } = browser;
    hub.reset();
    await page.goto(`${base}?hub=${encodeURIComponent(hub.url)}&model=hf:someone/tiny-gpt2&max_new_tokens=4&num_return_sequences=1`);
    const offer = page.getByTestId('hub-offer');
    await expect.poll(() => offer.count(), { timeout: 60_000 }).toBe(1);
    expect(await offer.textContent()).toContain(`This link asks to download models from ${hub.url} instead of https://huggingface.co`);
    await builtInReady(page); // meanwhile: the built-in model, nothing from the link's server
    expect(hub.requests).toEqual([]);
    expect(await storedHub(page)).toBeUndefined();
    expect(new URL(page.url()).searchParams.get('hub')).toBeNull();

    await page.getByRole('button', { name: 'Download from this server', exact: true }).click();
    await expect.poll(() => modelName(page), { timeout: 60_000 }).toContain('someone/tiny-gpt2');
    expect(hub.requests.length).toBeGreaterThan(0);
    expect(await page.getByTestId('hub-in-use').textContent()).toContain(`Hub models download from ${hub.url}, not https://huggingface.co`);
    expect(await storedHub(page)).toBe(hub.url);
    expect(new URL(page.url()).searchParams.get('model')).toBe('hf:someone/tiny-gpt2');

    // While another model downloads (this one stalls), the loaded one still answers Generate.
    hub.stallNext('model.safetensors', 100_000, 100);
    await page.getByLabel('Hub repository', { exact: true }).fill('someone/slow-gpt2');
    await page.getByRole('button', { name: 'Load model', exact: true }).click();
    await expect.poll(() => status(page)).toBe('loading');
    await generate(page);
    expect((await generatedText(page, 1)).length).toBeGreaterThan(0);
    expect(await status(page)).toBe('loading');
    expect(await modelName(page)).toContain('someone/tiny-gpt2');

    // Another link's hub is offered again; Ignore leaves the confirmed one in use.
    await page.goto(`${base}?hub=${encodeURIComponent('http://127.0.0.1:9')}`);
    await expect.poll(() => offer.count(), { timeout: 60_000 }).toBe(1);
    await page.getByRole('button', { name: 'Ignore', exact: true }).click();
    expect(await offer.count()).toBe(0);
    // The link named no model: the person's own loads, from the hub they confirmed.
    await expect.poll(() => modelName(page), { timeout: 60_000 }).toContain('someone/tiny-gpt2');
    expect(await page.getByTestId('hub-in-use').textContent()).toContain(hub.url);
    expect(await storedHub(page)).toBe(hub.url);
  });

  test('a link naming a model over 1 GB asks before downloading it', async () => {
    const { page } = browser;
    hub.reset();
    await page.goto(`${base}?model=hf:org/big&max_new_tokens=4&num_return_sequences=1`);
    const offer = page.getByTestId('download-offer');
    await expect.poll(() => offer.count(), { timeout: 60_000 }).toBe(1);
    expect(await offer.textContent()).toMatch(/This page was opened to load org\/big, a 1\.4\d GB download\. It has not started/);
    await builtInReady(page);
    // Only the config, the 8-byte probe and the header were fetched: none of the weights.
    const served = hub.requests.filter((r) => r.path.startsWith('/cdn/org/big/')).reduce((n, r) => n + r.bytes, 0);
    expect(served).toBeLessThan(big.weights.head.byteLength + big.config.byteLength + 100);
    await page.getByRole('button', { name: 'Not now', exact: true }).click();
    expect(await offer.count()).toBe(0);
    expect(await storedModel(page)).toBe('embedded');
  });
});

describe('the page says what it does with temperature 0', () => {
  test('temperature 0 while sampling is greedy here, and the control says so', async () => {
    const { page } = browser;
    await setSample(page, true);
    await page.getByRole('spinbutton', { name: 'Temperature', exact: true }).fill('0');
    const hint = page
      .locator('.number-field', { has: page.getByRole('spinbutton', { name: 'Temperature', exact: true }) })
      .locator('.field-hint');
    expect(await hint.textContent()).toMatch(/^0 = greedy decoding here .*Hugging Face refuses temperature 0 when sampling/);
    await waitForModel(page, browser.logs);
  });
});

describe('the address stays loadable', () => {
  test('a 100,000-character prompt leaves a short address that reloads, the prompt comes back from storage, and the page says the link lacks it', async () => {
    const { page } = browser;
    await page.goto(`${base}?${new URLSearchParams(Object.entries(SHORT).map(([k, v]) => [k, String(v)]))}`);
    await builtInReady(page);
    const prompt = 'Holmes '.repeat(14_285) + 'Watso'; // 100,000 characters
    await page.getByLabel('Prompt', { exact: true }).fill(prompt);
    await expect.poll(() => new URL(page.url()).searchParams.has('prompt')).toBe(false);
    expect(page.url().length).toBeLessThan(2_000);
    const note = page.locator('[data-note=prompt-not-in-link]');
    expect(await note.textContent()).toMatch(/^This prompt \(100,000 characters\) is too long for the page's address/);

    const reload = await page.reload();
    expect(reload?.status()).toBe(200);
    await builtInReady(page);
    expect(await page.getByLabel('Prompt', { exact: true }).inputValue()).toBe(prompt);
    expect(await note.count()).toBe(1);

    // A short prompt goes back into the address and the note goes away.
    await page.getByLabel('Prompt', { exact: true }).fill('Watson you are');
    await expect.poll(() => new URL(page.url()).searchParams.get('prompt')).toBe('Watson you are');
    expect(await note.count()).toBe(0);
  });
});
