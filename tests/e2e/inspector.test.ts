/**
 * The token inspector in the built app (Chromium, the built-in model, the automatic backend: wasm
 * here, where WebGPU is SwiftShader), checked against the CLI run as a separate process: model
 * probabilities from `logits`, exported log-probabilities from `generate --top-logprobs`. Then the
 * what-if: slider moves change Sampling probability and Status without a new generation. Then the
 * same by keyboard alone, and the WebGPU path (the summary computed on the GPU).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WATSON_GREEDY, WATSON_IDS, generate, openApp, outputPane, setNumber, setSample } from '../helpers/appPage';
import { appUrl } from '../helpers/appServer';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { cliOutput } from '../helpers/cliProcess';
import { repoRoot } from '../helpers/fixture';

const MODEL_DIR = path.join(repoRoot, 'public/models/sherlock-gpt2');
const artifacts = path.join(repoRoot, 'tests/e2e/artifacts');

let browser: LaunchedBrowser;
let base: string;
/** The built-in model's logits after "Watson you are", from the CLI (tfjs cpu, another process). */
let reference: number[];

function softmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

const candidates = (page: Page) => page.getByRole('table', { name: 'Candidates' });
const inspector = (page: Page) => page.getByRole('region', { name: 'Token inspector' });

/** The Candidates rows as [id, model %, sampling %, status]. */
async function rows(page: Page): Promise<{ id: number; model: number; sampling: number; status: string }[]> {
  return candidates(page)
    .locator('tbody tr')
    .evaluateAll((trs) =>
      trs.map((tr) => {
        const cells = [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '');
        return { id: Number(cells[1]), model: parseFloat(cells[2]), sampling: parseFloat(cells[3]), status: cells[4] };
      }),
    );
}

/** A screenshot for the README at 1366×768, the inspector scrolled to its top. */
async function screenshot(page: Page, name: string): Promise<void> {
  const size = page.viewportSize();
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.locator('.side').evaluate((el) => {
    el.scrollTop = 0;
  });
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, name) });
  if (size) await page.setViewportSize(size);
}

beforeAll(async () => {
  base = await appUrl();
  browser = await launchBrowser({ webgpu: true });
  reference = JSON.parse(await cliOutput(['logits', '--model', MODEL_DIR, '--ids', WATSON_IDS.join(','), '--json'])).logits;
});

afterAll(async () => {
  await browser?.close();
});

describe('token inspector', () => {
  test('greedy "Watson you are": the first token\'s candidates carry the model\'s probabilities (CLI logits, 0.01 points)', async () => {
    const { page } = browser;
    await openApp(page, base, WATSON_GREEDY, browser.logs);
    await generate(page);
    const first = outputPane(page, 1).locator('[data-token-index="0"]');
    await first.click();
    await expect.poll(() => inspector(page).getAttribute('data-token-index')).toBe('0');

    const table = candidates(page);
    expect(await table.locator('thead th').allTextContents()).toEqual([
      'Token',
      'Id',
      'Model probability',
      'Sampling probability',
      'Status',
    ]);
    const shown = await rows(page);
    expect(shown.length).toBeGreaterThanOrEqual(20);
    const p = softmax(reference);
    const order = [...p.keys()].sort((a, b) => p[b] - p[a]);
    expect(shown.map((r) => r.id)).toEqual(order.slice(0, shown.length));
    for (const r of shown) expect(Math.abs(r.model - p[r.id] * 100)).toBeLessThanOrEqual(0.01);
    expect(Number(await first.getAttribute('data-token-id'))).toBe(order[0]); // greedy took the likeliest
    // Texts are shown with visible whitespace, as text.
    expect(await table.locator('tbody tr').first().locator('td').first().textContent()).toMatch(/^␣/);
    // Model probabilities render with two decimals.
    expect(await table.locator('tbody tr td:nth-child(3)').first().textContent()).toMatch(/^\d+\.\d\d %$/);
    await screenshot(page, 'inspector.png');
  });

  test('Top-k 3 keeps exactly 3 rows with no new generation; Top-k 0 and Top-p 0.5 keep the smallest set reaching 0.5', async () => {
    const { page } = browser;
    const runStatusBefore = await page.locator('.app').getAttribute('data-run-status');
    const textBefore = await outputPane(page, 1).locator('[data-part=generated]').textContent();

    await setNumber(page, 'Top-k', 3);
    await expect.poll(async () => (await rows(page)).filter((r) => r.status === 'kept').length).toBe(3);
    const kept = (await rows(page)).filter((r) => r.status === 'kept');
    expect(kept.reduce((s, r) => s + r.sampling, 0)).toBeCloseTo(100, 1);
    expect((await rows(page)).filter((r) => r.status === 'cut by top-k').length).toBe((await rows(page)).length - 3);
    await expect.poll(() => page.getByTestId('settings-note').textContent()).toContain('top-k 3 (the run used 50)');

    await setNumber(page, 'Top-k', 0);
    await setNumber(page, 'Top-p', 0.5);
    await page.getByRole('button', { name: 'Show 100' }).click();
    const p = softmax(reference).sort((a, b) => b - a);
    let needed = 0;
    for (let c = 0; c < 0.5; needed++) c += p[needed];
    await expect.poll(async () => (await rows(page)).filter((r) => r.status === 'kept').length).toBe(needed);
    expect((await rows(page)).slice(0, needed).every((r) => r.status === 'kept')).toBe(true);
    expect((await rows(page)).slice(needed).every((r) => r.status === 'cut by top-p')).toBe(true);
    await screenshot(page, 'inspector-what-if.png');

    // Nothing ran again: same run, same text.
    expect(await page.locator('.app').getAttribute('data-run-status')).toBe(runStatusBefore);
    expect(await outputPane(page, 1).locator('[data-part=generated]').textContent()).toBe(textBefore);
    await page.getByRole('button', { name: "Use the run's settings" }).click();
    await expect.poll(() => page.getByTestId('settings-note').textContent()).toContain("the run's own settings");
    expect(await page.getByRole('spinbutton', { name: 'Top-k', exact: true }).inputValue()).toBe('50');
  });

  test('Tokens shows the prompt as 54 13506 345 389 with the token count', async () => {
    const { page } = browser;
    await page.getByRole('switch', { name: 'Tokens' }).check();
    const ids = await outputPane(page, 1).locator('[data-part=prompt] .chip-id').allTextContents();
    expect(ids).toEqual(WATSON_IDS.map(String));
    await expect.poll(() => outputPane(page, 1).getByTestId('token-count').textContent()).toBe('4 prompt tokens · 6 generated tokens');
    await page.getByRole('switch', { name: 'Tokens' }).uncheck();
  });

  test("Export downloads the run whose log-probabilities match the CLI's --top-logprobs", async () => {
    const { page } = browser;
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export' }).click();
    const file = await (await download).path();
    const exported = JSON.parse(readFileSync(file, 'utf8'));
    expect(exported).toMatchObject({
      prompt: 'Watson you are',
      prompt_ids: WATSON_IDS,
      seed: null,
      settings: { do_sample: false, max_new_tokens: 6 },
    });
    expect(exported.model.name).toBeTruthy();
    const cliOut = JSON.parse(
      await cliOutput([
        'generate',
        '--model',
        MODEL_DIR,
        '--prompt',
        'Watson you are',
        '--greedy',
        '--max-new-tokens',
        '6',
        '--json',
        '--top-logprobs',
        '20',
      ]),
    );
    const mine = exported.sequences[0].tokens;
    const theirs = cliOut.sequences[0].tokens;
    expect(mine.map((t: { id: number }) => t.id)).toEqual(theirs.map((t: { id: number }) => t.id));
    mine.forEach((t: { logprob: number; token: string; bytes: number[]; top_logprobs: { id: number; logprob: number }[] }, i: number) => {
      expect(Math.abs(t.logprob - theirs[i].logprob)).toBeLessThan(1e-3);
      expect(t.token).toBe(theirs[i].token);
      expect(t.bytes).toEqual(theirs[i].bytes);
      expect(t.top_logprobs.map((a) => a.id)).toEqual(theirs[i].top_logprobs.map((a: { id: number }) => a.id));
      t.top_logprobs.forEach((a, j) => expect(Math.abs(a.logprob - theirs[i].top_logprobs[j].logprob)).toBeLessThan(1e-3));
    });
  });

  test('keyboard alone: Tab into a pane, arrows move, Enter selects; sliders and Show 100 by keys', async () => {
    const { page } = browser;
    const listbox = outputPane(page, 1).getByRole('listbox', { name: 'Output 1 tokens' });
    // Walk the page with Tab until the pane's token list has focus.
    await page.locator('body').focus();
    let reached = false;
    for (let i = 0; i < 60 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await listbox.evaluate((el) => el === document.activeElement);
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await expect.poll(() => inspector(page).getAttribute('data-token-index')).toBe('2');
    expect(await outputPane(page, 1).locator('[data-token-index="2"]').getAttribute('aria-selected')).toBe('true');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press(' ');
    await expect.poll(() => inspector(page).getAttribute('data-token-index')).toBe('1');

    // The Top-k box by keyboard: focus, type, and the table follows.
    const topK = page.getByRole('spinbutton', { name: 'Top-k', exact: true });
    await topK.focus();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('2');
    await expect.poll(async () => (await rows(page)).filter((r) => r.status === 'kept').length).toBe(2);
    const more = page.getByRole('button', { name: /^Show (100|20)$/ });
    await more.focus();
    await page.keyboard.press('Enter');
    expect((await rows(page)).length === 20 || (await rows(page)).length === 100).toBe(true);
  });
});

describe('token inspector while sampling', () => {
  test('follows the newest token of the selected pane while it streams; a rerun with the same seed marks where it departs', async () => {
    const { page } = browser;
    await openApp(page, base, { ...WATSON_GREEDY, do_sample: true, max_new_tokens: 200, num_return_sequences: 2, top_k: 50 }, browser.logs);
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    await expect
      .poll(async () => Number((await inspector(page).getAttribute('data-token-index')) ?? -1), { timeout: 60_000 })
      .toBeGreaterThanOrEqual(3);
    // Following: the inspector moves on with the pane while the run goes on.
    const first = Number(await inspector(page).getAttribute('data-token-index'));
    await expect
      .poll(async () => Number(await inspector(page).getAttribute('data-token-index')), { timeout: 60_000 })
      .toBeGreaterThan(first);
    expect(await page.getByRole('region', { name: 'Token inspector' }).textContent()).toContain('following the newest');
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await expect.poll(() => page.locator('.app').getAttribute('data-run-status')).toBe('stopped');

    // Same prompt and seed, top-k 1: each pane departs where the sampled token was not the likeliest.
    await setNumber(page, 'Max new tokens', 12);
    await generate(page);
    const sampledIds = await outputPane(page, 1)
      .locator('[data-token-id]')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-token-id'))));
    await setNumber(page, 'Top-k', 1);
    await generate(page);
    const greedyIds = await outputPane(page, 1)
      .locator('[data-token-id]')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-token-id'))));
    const departsAt = greedyIds.findIndex((id, i) => id !== sampledIds[i]);
    const note = await outputPane(page, 1).locator('.departure-note').textContent();
    if (departsAt < 0) expect(note).toContain('same tokens as the last run');
    else {
      expect(note).toContain(`departs from the last run at token ${departsAt + 1}`);
      expect(await outputPane(page, 1).getAttribute('data-departs-at')).toBe(String(departsAt));
      expect(await outputPane(page, 1).locator('.departure').count()).toBe(1);
    }
  });

  test('settings that keep more tokens than the worker lists say so', async () => {
    const { page } = browser;
    await outputPane(page, 1).locator('[data-token-index="0"]').click();
    await setNumber(page, 'Top-k', 0);
    await setNumber(page, 'Top-p', 1);
    await expect.poll(() => page.getByTestId('beyond-listed').count()).toBe(1);
    await expect.poll(() => page.getByTestId('kept').textContent()).toMatch(/^50,257 tokens, 100\.00 %/);
    await setNumber(page, 'Top-k', 50);
    await expect.poll(() => page.getByTestId('beyond-listed').count()).toBe(0);
  });
});

describe('token inspector on WebGPU (the summary computed on the GPU)', () => {
  test("sampled run: candidates match the CLI's probabilities and the draw lands on the chosen token", async () => {
    const { page } = browser;
    await openApp(
      page,
      base,
      { ...WATSON_GREEDY, backend: 'webgpu', do_sample: true, max_new_tokens: 3, num_return_sequences: 2 },
      browser.logs,
    );
    await expect.poll(() => page.locator('[data-backend]').getAttribute('data-backend')).toBe('webgpu');
    await setSample(page, true);
    await generate(page);
    await outputPane(page, 2).locator('[data-token-index="0"]').click();
    await expect.poll(() => inspector(page).getAttribute('data-pane')).toBe('Output 2');
    const p = softmax(reference);
    for (const r of await rows(page)) expect(Math.abs(r.model - p[r.id] * 100)).toBeLessThanOrEqual(0.01);
    const chosen = Number(await outputPane(page, 2).locator('[data-token-index="0"]').getAttribute('data-token-id'));
    await expect.poll(() => page.getByTestId('draw').textContent()).toContain('fell on');
    expect(await candidates(page).locator(`tr[data-token-id="${chosen}"]`).getAttribute('class')).toContain('chosen');
    expect(await candidates(page).locator(`tr[data-token-id="${chosen}"]`).getAttribute('data-status')).toBe('kept');
  });
});
