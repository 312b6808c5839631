/**
 * A gpt2-medium-shaped checkpoint (random weights, 1.4 GB of F32) in the built app, in Chromium,
 * on wasm with the automatic precision (q8: over 300M parameters): served by a local stand-in for
 * the hub (tests/helpers/hubServer.ts, the hub's URL layout and its CDN redirect), loaded by the
 * app's own link path (?model=hf:…&hub=…, the hub confirmed as a person would), then one generation. Reads the page's stats.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { generate, openApp, waitForModel } from '../../tests/helpers/appPage';
import { startHubServer } from '../../tests/helpers/hubServer';
import { benchModel } from '../models';
import { buildApp, previewApp } from './appLongTasks';
import { launchChromium } from './chromium';

export interface AppMediumRun {
  model: string;
  backend: string;
  precision: string;
  loadTime: string;
  firstToken: string;
  tokensPerSecond: string;
  newTokens: number;
  text: string;
  peakPssMb: number;
  bytesServed: number;
  error?: string;
}

export async function measureAppMedium(log: (line: string) => void, newTokens = 16): Promise<AppMediumRun> {
  const files = benchModel('medium');
  const hub = await startHubServer({
    repos: {
      'bench/gpt2-medium-random': {
        'config.json': readFileSync(path.join(files.dir, 'config.json')),
        'model.safetensors': readFileSync(path.join(files.dir, 'model.safetensors')),
      },
    },
  });
  const { port, server } = await previewApp(buildApp());
  const browser = await launchChromium(log);
  const stat = async (key: string) => ((await browser.page.locator(`[data-stat=${key}] dd`).textContent()) ?? '?').trim();
  try {
    browser.resetPeak();
    log('app-medium: loading the gpt2-medium-shaped model from the local hub in the app');
    await openApp(browser.page, `http://127.0.0.1:${port}/`, {
      backend: 'wasm',
      model: 'hf:bench/gpt2-medium-random',
      hub: hub.url,
      prompt: 'The quick brown fox jumps over the lazy dog.',
      max_new_tokens: newTokens,
      num_return_sequences: 1,
      do_sample: false,
    });
    // A link's hub is only offered until the person says yes (the page meanwhile runs the built-in
    // model): say yes, then wait for the model the link names.
    await browser.page.getByRole('button', { name: 'Download from this server', exact: true }).click();
    // A link's model over 1 GB asks before downloading too (f32 of this shape is 1.4 GB; q8 is less).
    const offer = browser.page.getByRole('button', { name: /^Download [\d.]+ [MG]B$/ });
    await browser.page.waitForFunction(
      () =>
        /gpt2-medium-random/.test(document.querySelector('[data-stat=model] dd')?.textContent ?? '') ||
        document.querySelector('[data-testid=download-offer]') !== null,
      null,
      { timeout: 600_000, polling: 500 },
    );
    if ((await offer.count()) > 0) await offer.click();
    await browser.page.waitForFunction(
      () => (document.querySelector('[data-stat=model] dd')?.textContent ?? '').includes('gpt2-medium-random'),
      null,
      { timeout: 600_000, polling: 500 },
    );
    await waitForModel(browser.page);
    await generate(browser.page);
    const run: AppMediumRun = {
      model: files.description,
      backend: await stat('backend'),
      precision: await stat('precision'),
      loadTime: await stat('load-time'),
      firstToken: await stat('ttft'),
      tokensPerSecond: await stat('tokens-per-second'),
      newTokens,
      text: ((await browser.page.locator('[aria-label="Output 1"] [data-part=generated]').textContent()) ?? '').slice(0, 80),
      peakPssMb: browser.peakPssMb(),
      bytesServed: hub.bytesServed,
    };
    log(
      `app-medium: ${run.backend}, ${run.precision}, load ${run.loadTime}, first token ${run.firstToken}, ${run.tokensPerSecond} tok/s, peak PSS ${run.peakPssMb.toFixed(0)} MB`,
    );
    return run;
  } catch (error) {
    return {
      model: files.description,
      backend: '?',
      precision: '?',
      loadTime: '?',
      firstToken: '?',
      tokensPerSecond: '?',
      newTokens,
      text: '',
      peakPssMb: browser.peakPssMb(),
      bytesServed: hub.bytesServed,
      error: String((error as Error).message).slice(0, 300),
    };
  } finally {
    await browser.close();
    await server.close();
    await hub.stop();
  }
}
