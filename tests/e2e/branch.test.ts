/**
 * Branches, attention and the logit lens in the built app (Chromium, the built-in model on the
 * app's own backend choice: wasm here). A branch from a cut candidate equals the CLI's
 * `generate --ids <prefix and the forced token>` with the same settings and seed (another process),
 * whether the worker forked the run's kept KV cache or ran a prefill; the Attention panel draws
 * layer 1 head 1; all of it by keyboard too; 20 branches and 20 attention views leave no tensors.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generate, inspectToken, openApp, outputPane, setNumber } from '../helpers/appPage';
import { appUrl } from '../helpers/appServer';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { cliOutput } from '../helpers/cliProcess';
import { repoRoot } from '../helpers/fixture';

const MODEL_DIR = path.join(repoRoot, 'public/models/sherlock-gpt2');
const SETTINGS = {
  prompt: 'Watson you are',
  do_sample: true,
  max_new_tokens: 8,
  top_k: 50,
  top_p: 0.95,
  temperature: 1,
  min_p: 0,
  repetition_penalty: 1,
  seed: 42,
  num_return_sequences: 2,
};
const artifacts = path.join(repoRoot, 'tests/e2e/artifacts');

let browser: LaunchedBrowser;
let base: string;

const branches = (page: Page) => page.getByRole('region', { name: /^Branch/ });
const candidateRows = (page: Page) => page.getByRole('table', { name: 'Candidates' }).locator('tbody tr');
const ids = (pane: ReturnType<typeof outputPane>) =>
  pane.locator('[data-part=generated] [data-token-id]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-token-id'))));

async function waitForBranches(page: Page, count: number): Promise<void> {
  await expect.poll(() => branches(page).count(), { timeout: 60_000 }).toBe(count);
  await expect
    .poll(() => branches(page).evaluateAll((els) => els.every((e) => e.getAttribute('aria-busy') === 'false')), { timeout: 120_000 })
    .toBe(true);
}

/** The ids the CLI generates after `ids` (another process, wasm) with the branch's settings: seed 42, top-p 0.95, temperature 1. */
async function cliGenerate(ids: number[], topK: number, maxNewTokens: number): Promise<number[]> {
  const args = ['--ids', ids.join(','), '--seed', '42', '--top-k', String(topK), '--top-p', '0.95', '--temperature', '1'];
  const out = JSON.parse(
    await cliOutput(['generate', '--model', MODEL_DIR, '--backend', 'wasm', ...args, '--max-new-tokens', String(maxNewTokens), '--json']),
  );
  return out.sequences[0].ids;
}

beforeAll(async () => {
  base = await appUrl();
  browser = await launchBrowser({ webgpu: false });
});

afterAll(async () => {
  await browser?.close();
});

describe('branches', () => {
  test('Branch from a cut candidate continues like `generate --ids` with the same settings and seed, from the kept cache and from a prefill alike', async () => {
    const { page } = browser;
    await openApp(page, base, SETTINGS, browser.logs);
    await generate(page);
    const pane = outputPane(page, 2);
    await inspectToken(page, pane, 3);
    // Top-k 2 makes the third candidate a cut one; the branch samples under these settings.
    await setNumber(page, 'Top-k', 2);
    await expect.poll(() => candidateRows(page).nth(2).getAttribute('data-status')).toBe('cut by top-k');
    const forced = Number(await candidateRows(page).nth(2).getAttribute('data-token-id'));
    const forcedText = (await candidateRows(page).nth(2).locator('td').first().textContent())!.replace(/␣/g, ' ').replace(/↵/g, '\n');
    await candidateRows(page).nth(2).getByRole('button', { name: 'Branch', exact: true }).click();
    await waitForBranches(page, 1);

    const branch = branches(page).first();
    expect(await branch.getAttribute('aria-label')).toMatch(/^Branch: Output 2 › token 4 › "/);
    const prefixText =
      'Watson you are' +
      (await pane.locator('[data-token-index="0"], [data-token-index="1"], [data-token-index="2"]').allTextContents()).join('');
    expect(await branch.locator('[data-part=prompt]').textContent()).toBe(prefixText);
    const branchText = (await branch.locator('[data-part=generated]').textContent())!;
    expect(branchText.startsWith(forcedText)).toBe(true);
    expect(Number(await branch.getAttribute('data-reused-positions'))).toBeGreaterThan(0); // forked from the finished run's cache

    // The same continuation on the command line: prefix ids, the forced token, same settings and seed.
    const prefix = [54, 13506, 345, 389, ...(await ids(pane)).slice(0, 3)];
    const branchIds = await ids(branch);
    expect(branchIds[0]).toBe(forced);
    const out = await cliGenerate([...prefix, forced], 2, 8);
    expect(branchIds.slice(1)).toEqual(out);

    mkdirSync(artifacts, { recursive: true });
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.screenshot({ path: path.join(artifacts, 'branch.png') });
    await page.setViewportSize({ width: 1360, height: 900 });
  });

  test('a branch can be branched, and shows its cumulative log-probability; branches run while the main run streams', async () => {
    const { page } = browser;
    const first = branches(page).first();
    await inspectToken(page, first, 2);
    await candidateRows(page).nth(0).getByRole('button', { name: 'Branch', exact: true }).click();
    await waitForBranches(page, 2);
    const nested = branches(page).nth(1);
    expect(await nested.getAttribute('aria-label')).toMatch(/^Branch: Output 2 › token 4 › ".*" › token 3 › "/);
    expect(await nested.getByTestId('pane-logprob').textContent()).toMatch(/^log-prob -\d+\.\d\d over \d+ tokens$/);

    // While a long run streams, a branch from its first token starts and finishes beside it. The run's
    // cache is not kept yet, so the worker runs a prefill: the tokens are those of `generate --ids` all the same.
    await setNumber(page, 'Top-k', 50);
    await setNumber(page, 'Max new tokens', 200);
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    await expect.poll(async () => outputPane(page, 1).locator('[data-token-index="2"]').count(), { timeout: 60_000 }).toBe(1);
    await outputPane(page, 1).locator('[data-token-index="0"]').click();
    await expect.poll(() => page.getByRole('region', { name: 'Token inspector' }).getAttribute('data-token-index')).toBe('0');
    const forced = Number(await candidateRows(page).nth(1).getAttribute('data-token-id'));
    await candidateRows(page).nth(1).getByRole('button', { name: 'Branch', exact: true }).click();
    await expect.poll(() => branches(page).count(), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => branches(page).first().getAttribute('data-reused-positions'), { timeout: 120_000 }).toBe('0');
    expect(await page.locator('.app').getAttribute('data-run-status')).toBe('running');
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await expect.poll(() => page.locator('.app').getAttribute('data-run-status')).toBe('stopped');
    const branchIds = await ids(branches(page).first());
    const out = await cliGenerate([54, 13506, 345, 389, forced], 50, 200);
    expect(branchIds).toEqual([forced, ...out]);
    await setNumber(page, 'Max new tokens', 8);
  });
});

describe('attention and the logit lens', () => {
  test('the Attention panel draws layer 1 head 1 for the built-in model; the lens reads every layer', async () => {
    const { page } = browser;
    await openApp(page, base, { ...SETTINGS, do_sample: false, num_return_sequences: 1 }, browser.logs);
    await generate(page);
    await outputPane(page, 1).locator('[data-token-index="2"]').click();
    const attention = page.getByRole('region', { name: 'Attention' });
    expect(await attention.getByRole('combobox', { name: 'Layer' }).inputValue()).toBe('0');
    expect(await attention.getByRole('combobox', { name: 'Head' }).locator('option:checked').textContent()).toBe('1');
    await attention.getByRole('button', { name: 'Show attention' }).click();
    const heatmap = attention.getByTestId('attention-heatmap');
    await expect.poll(() => heatmap.count(), { timeout: 60_000 }).toBe(1);
    expect(await heatmap.getAttribute('data-length')).toBe(String(4 + 8));
    expect(await heatmap.getAttribute('aria-label')).toMatch(/^Layer 1, head 1: attention of 12 tokens/);
    // Drawn: the diagonal is coloured, the future (above it) is blank.
    const pixels = await heatmap.evaluate((canvas: HTMLCanvasElement) => {
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      const at = (q: number, k: number) => data[4 * (q * canvas.width + k)];
      return { first: at(0, 0), future: at(0, 5), last: at(11, 11) };
    });
    expect(pixels.first).toBeLessThan(100); // token 1 attends only to itself: full weight, dark
    expect(pixels.future).toBe(245);
    // The text view: a token's row shades what it attends to; its weights sum to 1.
    await attention.locator('.attention-token').nth(5).hover();
    const weights = await attention
      .locator('.attention-token')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-weight') ?? 0)));
    expect(weights.slice(0, 6).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(weights.slice(6).every((w) => w === 0)).toBe(true);

    const lens = page.getByRole('region', { name: 'Layer by layer' });
    await lens.getByRole('button', { name: 'Read every layer' }).click();
    await expect.poll(() => lens.locator('tbody tr').count(), { timeout: 60_000 }).toBe(6);
    // Greedy: the last layer's first choice is the token that was chosen.
    const chosen = await outputPane(page, 1).locator('[data-token-index="2"]').getAttribute('data-token-id');
    expect(await lens.locator('tbody tr').last().locator('td').first().getAttribute('data-token-id')).toBe(chosen);
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.locator('.side').evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await page.screenshot({ path: path.join(artifacts, 'attention.png') });
    await page.setViewportSize({ width: 1360, height: 900 });
  });

  test('by keyboard alone: select a token, Branch from its third candidate, show the attention', async () => {
    const { page } = browser;
    const tokens = outputPane(page, 1).getByRole('listbox', { name: 'Output 1 tokens' });
    await tokens.focus();
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('region', { name: 'Token inspector' }).getAttribute('data-token-index')).toBe('1');
    const before = await branches(page).count();
    const third = candidateRows(page).nth(2).getByRole('button', { name: 'Branch', exact: true });
    await third.focus();
    await page.keyboard.press('Enter');
    await waitForBranches(page, before + 1);
    const show = page
      .getByRole('region', { name: 'Attention' })
      .getByRole('button', { name: /^(Show attention|Refresh|Show for this text)$/ });
    await show.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('attention-heatmap').count(), { timeout: 60_000 }).toBe(1);
  });

  test('20 branches and 20 attention views leave no tensors behind', async () => {
    const { page } = browser;
    const memory = async () => (await page.locator('[data-stat=memory] dd').textContent()) ?? '';
    const attention = page.getByRole('region', { name: 'Attention' });
    const showButton = attention.getByRole('button', { name: /^(Show attention|Refresh|Show for this text)$/ });
    const branchOnce = async () => {
      await inspectToken(page, outputPane(page, 1), 1);
      const count = await branches(page).count();
      await candidateRows(page).nth(1).getByRole('button', { name: 'Branch', exact: true }).click();
      await waitForBranches(page, count + 1);
      await branches(page)
        .last()
        .getByRole('button', { name: /^Close branch: / })
        .click();
      await waitForBranches(page, count);
    };
    const attendOnce = async (layer: number) => {
      await attention.getByRole('combobox', { name: 'Layer' }).selectOption(String(layer % 6));
      await showButton.click();
      await expect.poll(() => attention.getByRole('status').count(), { timeout: 60_000 }).toBe(0);
    };
    // Warm up: the worker keeps a few finished runs' caches for branching (a bounded number).
    for (let i = 0; i < 6; i++) await branchOnce();
    await attendOnce(0);
    const before = await memory();
    expect(before).toMatch(/^\d+ tensors/);
    for (let i = 0; i < 20; i++) await branchOnce();
    for (let i = 0; i < 20; i++) await attendOnce(i);
    await expect.poll(memory).toBe(before);
  });
});
