/** Driving the app's page in e2e tests: open it, set controls by their labels, generate, read panes. */
import type { Locator, Page } from 'playwright-core';

export type RunStatus = 'idle' | 'running' | 'stopping' | 'done' | 'stopped' | 'error';

/** Opens the app with these URL settings and waits until the model is loaded (or fails clearly). */
export async function openApp(
  page: Page,
  baseUrl: string,
  params: Record<string, string | number | boolean>,
  logs: string[] = [],
): Promise<void> {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  await page.goto(`${baseUrl}?${query}`);
  await waitForModel(page, logs);
}

export async function waitForModel(page: Page, logs: string[] = []): Promise<void> {
  await page.waitForFunction(
    () => ['ready', 'error'].includes(document.querySelector('.app')?.getAttribute('data-model-status') ?? ''),
    null,
    { timeout: 180_000, polling: 200 },
  );
  const status = await page.locator('.app').getAttribute('data-model-status');
  if (status !== 'ready') {
    const alerts = await page.getByRole('alert').allTextContents();
    throw new Error(`model did not load: ${alerts.join(' | ')}\n${logs.join('\n')}`);
  }
}

export async function runStatus(page: Page): Promise<RunStatus> {
  return (await page.locator('.app').getAttribute('data-run-status')) as RunStatus;
}

/** Waits until the current generation has finished, stopped or failed; returns which. */
export async function waitForRunEnd(page: Page, timeout = 180_000): Promise<RunStatus> {
  await page.waitForFunction(
    () => ['done', 'stopped', 'error'].includes(document.querySelector('.app')?.getAttribute('data-run-status') ?? ''),
    null,
    { timeout, polling: 100 },
  );
  return runStatus(page);
}

/** Clicks Generate and waits for the run to end; throws with the page's message if it failed. */
export async function generate(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  const status = await waitForRunEnd(page);
  if (status !== 'done') throw new Error(`generation ended as ${status}: ${await page.locator('.status-line').textContent()}`);
}

export function outputPane(page: Page, index: number) {
  return page.getByRole('region', { name: `Output ${index}`, exact: true });
}

/**
 * Selects token `index` of `pane` (an output pane's region) and waits until the token inspector
 * shows that step: the inspector's table renders a step behind the click, and reading its rows
 * before then reads the step it showed before.
 */
export async function inspectToken(page: Page, pane: Locator, index: number): Promise<void> {
  await pane.locator(`[data-token-index="${index}"]`).click();
  const name = ((await pane.getAttribute('aria-label')) ?? '').replace(/^(Branch|Strategy): /, '');
  await page.waitForFunction(
    ([name, index]) => {
      const inspector = document.querySelector('section[aria-label="Token inspector"]');
      return inspector?.getAttribute('data-pane') === name && inspector.getAttribute('data-token-index') === index;
    },
    [name, String(index)] as const,
    { timeout: 30_000 },
  );
}

/** The generated text of pane `index` (1-based), prompt excluded. */
export async function generatedText(page: Page, index = 1): Promise<string> {
  return (await outputPane(page, index).locator('[data-part=generated]').textContent()) ?? '';
}

/** Types a value into the number box labelled `label`. */
export async function setNumber(page: Page, label: string, value: number): Promise<void> {
  await page.getByRole('spinbutton', { name: label, exact: true }).fill(String(value));
}

export async function setSample(page: Page, on: boolean): Promise<void> {
  await page.getByRole('switch', { name: 'Sample', exact: true }).setChecked(on);
}

/**
 * Starts recording every distinct text of pane 1's generated part, in the page (a
 * MutationObserver sees each render, however fast tokens come). Read with `recordedGrowth`.
 */
export async function recordGrowth(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { __growth: string[] }).__growth = seen;
    const read = () => {
      const region = document.querySelector('[aria-label="Output 1"] [data-part=generated]');
      const text = region?.textContent ?? '';
      if (seen[seen.length - 1] !== text) seen.push(text);
    };
    new MutationObserver(read).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

export async function recordedGrowth(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __growth: string[] }).__growth);
}

/** "Watson you are" as the notebook tokenised it. */
export const WATSON_IDS = [54, 13506, 345, 389];

/** The page's settings for a greedy run of six tokens on "Watson you are" (the inspector e2e's start). */
export const WATSON_GREEDY = {
  prompt: 'Watson you are',
  do_sample: false,
  max_new_tokens: 6,
  top_k: 50,
  top_p: 0.95,
  temperature: 1,
  min_p: 0,
  repetition_penalty: 1,
  seed: 42,
};
