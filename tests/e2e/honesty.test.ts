/**
 * No silent cases, in the built app (Chromium without WebGPU: the built-in model on wasm): the
 * context warning before a run and the prompt tokens the model did not read struck out after it;
 * greedy writes one sequence and says why; an empty prompt says it starts from <|endoftext|>; the
 * Precision control says f16/q8 can change the text; the fallback's plain line with its reason
 * under Details; Export holds every pane; the heatmap names its cells and shows its scale; and
 * axe-core finds no violations, idle, after a run and with the inspector, attention and lens open,
 * at 1366×768 and 390×844.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generate, inspectToken, openApp, outputPane, setNumber } from '../helpers/appPage';
import { appUrl } from '../helpers/appServer';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { repoRoot } from '../helpers/fixture';

const artifacts = path.join(repoRoot, 'tests/e2e/artifacts');
const AXE = path.join(repoRoot, 'node_modules/axe-core/axe.min.js');
const DESKTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };
const GREEDY = {
  prompt: 'Watson you are',
  do_sample: false,
  max_new_tokens: 6,
  num_return_sequences: 3,
  top_k: 50,
  top_p: 0.95,
  temperature: 1,
  min_p: 0,
  repetition_penalty: 1,
  seed: 42,
};

let browser: LaunchedBrowser;
let base: string;

beforeAll(async () => {
  base = await appUrl();
  browser = await launchBrowser({ webgpu: false });
});

afterAll(async () => {
  await browser?.close();
});

interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: { target: string[]; failureSummary: string }[];
}

/** axe-core's violations on the page as it is now (WCAG 2.x A and AA, and best practices). */
async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's Content-Security-Policy refuses inline scripts.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(readFileSync(AXE, 'utf8'));
  const checked = await page.evaluate(async () => {
    const axe = (
      window as unknown as { axe: { run: (context: Document, options: object) => Promise<{ violations: unknown[]; passes: unknown[] }> } }
    ).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return { violations: result.violations as AxeViolation[], passes: result.passes.length };
  });
  expect(checked.passes, 'axe ran its rules').toBeGreaterThan(20);
  return checked.violations.flatMap((v) =>
    v.nodes.map((n) => `${v.id} (${v.impact}): ${v.help} at ${n.target.join(' ')}: ${n.failureSummary}`),
  );
}

const settingsPanel = (page: Page) => page.getByRole('complementary', { name: 'Settings' });

describe('no silent cases', () => {
  test('a run that overflows the context is announced before it runs, and the prompt it did not read is struck out', async () => {
    const { page } = browser;
    await page.setViewportSize(DESKTOP);
    await openApp(page, base, { ...GREEDY, prompt: 'To Sherlock Holmes she is always', max_new_tokens: 512 }, browser.logs);
    const warning = page.getByTestId('context-warning');
    await expect.poll(() => warning.isVisible()).toBe(true);
    expect(await warning.locator('p').textContent()).toBe(
      "The model's context holds 256 tokens: a 6-token prompt and 512 new tokens do not fit. " +
        'The run would write at most 255 new tokens. ' +
        'The model would not read the first 5 tokens of the prompt (struck out in the output). ' +
        'Set Max new tokens to 250 or less to keep the whole prompt.',
    );
    // Generate names the warning as its description, so a screen reader hears it before running.
    const describedBy = (await page.getByRole('button', { name: 'Generate', exact: true }).getAttribute('aria-describedby')) ?? '';
    expect(describedBy.split(' ')).toContain(await warning.getAttribute('id'));
    await page.screenshot({ path: path.join(artifacts, 'context-warning.png') });

    await generate(page);
    const pane = outputPane(page, 1);
    expect(await pane.locator('[data-part=dropped]').textContent()).toBe('To Sherlock Holmes she is');
    expect(await pane.locator('[data-part=prompt]').textContent()).toBe('To Sherlock Holmes she is always');
    expect(await pane.getByTestId('dropped-note').isVisible()).toBe(true);
    expect(await pane.locator('[data-part=generated] [data-token-id]').count()).toBe(255);
    await pane.screenshot({ path: path.join(artifacts, 'context-dropped.png') });

    // The fix the warning offers keeps the whole prompt.
    await warning.getByRole('button', { name: 'Use 250 new tokens' }).click();
    expect(await page.getByRole('spinbutton', { name: 'Max new tokens', exact: true }).inputValue()).toBe('250');
    await expect.poll(() => warning.count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Generate');
    expect(await settingsPanel(page).getByText("The model's context holds 256 tokens, prompt included").textContent()).toContain(
      'this prompt (6 tokens) leaves room for 250',
    );
  });

  test('greedy writes one sequence and says so; an empty prompt says it starts from <|endoftext|>', async () => {
    const { page } = browser;
    await openApp(page, base, { ...GREEDY, prompt: '', max_new_tokens: 4 }, browser.logs);
    expect(await settingsPanel(page).getByText('Greedy decoding writes one sequence (they would all be the same).').isVisible()).toBe(true);
    // 4 new tokens after an empty prompt fit without counting: the tokenizer's chunk is not even loaded.
    expect(
      await settingsPanel(page)
        .getByText("The model's context holds 256 tokens, prompt included: this prompt and 4 new tokens fit.")
        .count(),
    ).toBe(1);
    const loaded = await page.evaluate(() => performance.getEntriesByType('resource').map((entry) => entry.name));
    expect(loaded.some((name) => /\/assets\/tokenBytes-/.test(name))).toBe(true);
    expect(loaded.some((name) => /\/assets\/tokenizer-/.test(name))).toBe(false);
    const hint = page.getByTestId('empty-prompt-hint');
    expect(await hint.textContent()).toMatch(/^Empty: the model starts from <\|endoftext\|>/);
    expect(await page.getByRole('textbox', { name: 'Prompt' }).getAttribute('aria-describedby')).toBe(await hint.getAttribute('id'));
    await generate(page);
    expect(await page.getByRole('region', { name: /^Output \d$/ }).count()).toBe(1);
    const pane = outputPane(page, 1);
    expect(await pane.locator('[data-part=start-token]').textContent()).toBe('<|endoftext|>');
    expect(await pane.getByTestId('start-note').textContent()).toMatch(/The prompt was empty: the model started from <\|endoftext\|>/);
  });

  test('Precision says f16 and q8 can change the text; the seed promises the same text only at the same precision', async () => {
    const { page } = browser;
    const precision = page.getByRole('combobox', { name: 'Precision' });
    const ids = ((await precision.getAttribute('aria-describedby')) ?? '').split(' ');
    const description = await Promise.all(ids.map((id) => page.locator(`[id="${id}"]`).textContent()));
    expect(description.join(' ')).toMatch(/f16 and q8 round the weights.*sampled text under the same seed can differ from f32/);
    expect(await page.getByText('same seed, same text').count()).toBe(0);
    expect(
      await settingsPanel(page)
        .getByText(/The same seed and settings give the same text at the same precision/)
        .count(),
    ).toBe(1);
  });

  test('without WebGPU: one plain line, the technical reason behind Details', async () => {
    const { page } = browser;
    const notice = page.getByTestId('backend-reason');
    expect(await notice.locator('> p').textContent()).toBe(
      'The model runs on your processor (WebAssembly), not on a graphics card (WebGPU).',
    );
    const details = notice.locator('details');
    expect(await details.evaluate((el: HTMLDetailsElement) => el.open)).toBe(false);
    const reason = notice.locator('details p');
    expect(await reason.isVisible()).toBe(false);
    await notice.getByText('Details', { exact: true }).click();
    expect(await reason.isVisible()).toBe(true);
    expect(await reason.textContent()).toMatch(/^Not WebGPU because no WebGPU adapter is available/);
  });

  test('Export after a Branch holds one sequence per pane, each token with OpenAI field names and its id', async () => {
    const { page } = browser;
    await openApp(page, base, GREEDY, browser.logs);
    await generate(page);
    await inspectToken(page, outputPane(page, 1), 2);
    const rows = page.getByRole('table', { name: 'Candidates' }).locator('tbody tr');
    const forced = Number(await rows.nth(1).getAttribute('data-token-id'));
    await rows.nth(1).getByRole('button', { name: 'Branch', exact: true }).click();
    const branch = page.getByRole('region', { name: /^Branch/ });
    await expect.poll(() => branch.getAttribute('aria-busy'), { timeout: 60_000 }).toBe('false');

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export' }).click();
    const exported = JSON.parse(readFileSync(await (await download).path(), 'utf8'));
    expect(
      exported.sequences.map((s: { key: string; parent: string | null; position: number | null }) => [s.key, s.parent, s.position]),
    ).toEqual([
      ['run-0', null, null],
      [expect.stringMatching(/^branch-\d+$/), 'run-0', 2],
    ]);
    const [run, branched] = exported.sequences;
    expect(branched.tokens[0].id).toBe(forced);
    expect(branched.prompt_ids).toEqual([...exported.prompt_ids, ...run.tokens.slice(0, 2).map((t: { id: number }) => t.id)]);
    for (const token of [...run.tokens, ...branched.tokens]) {
      expect(Object.keys(token).sort()).toEqual(['bytes', 'id', 'logprob', 'token', 'top_logprobs']);
      expect(new TextDecoder().decode(Uint8Array.from(token.bytes))).toBe(token.token);
    }
    expect(run.tokens.map((t: { token: string }) => t.token).join('')).toBe(run.text);
  });

  test('the attention heatmap names a cell’s tokens on hover and on focus, and shows its colour scale', async () => {
    const { page } = browser;
    await page.setViewportSize(DESKTOP);
    await openApp(page, base, GREEDY, browser.logs);
    await generate(page);
    await outputPane(page, 1).locator('[data-token-index="2"]').click();
    const attention = page.getByRole('region', { name: 'Attention' });
    await attention.getByRole('button', { name: 'Show attention' }).click();
    const heatmap = attention.getByTestId('attention-heatmap');
    await expect.poll(() => heatmap.count(), { timeout: 60_000 }).toBe(1);
    const T = Number(await heatmap.getAttribute('data-length'));
    await heatmap.scrollIntoViewIfNeeded();
    const box = (await heatmap.boundingBox())!;
    // The cell of query 3 ("␣you"), key 1 ("W").
    await page.mouse.move(box.x + (0.5 / T) * box.width, box.y + (2.5 / T) * box.height);
    const readout = attention.getByTestId('heatmap-readout');
    expect(await readout.textContent()).toMatch(/^Query 3 "␣you" → key 1 "W": \d+\.\d\d % of its attention\.$/);
    await page.mouse.move(box.x + (2.5 / T) * box.width, box.y + (0.5 / T) * box.height);
    expect(await readout.textContent()).toBe('Query 1 "W" cannot see key 3 "␣you": it comes later.');
    await page.mouse.move(0, 0);
    await heatmap.focus();
    expect(await readout.textContent()).toMatch(new RegExp(`^Query ${T} ".*" → key ${T} `));
    await page.keyboard.press('Home');
    expect(await readout.textContent()).toMatch(new RegExp(`^Query ${T} ".*" → key 1 "W"`));
    await page.keyboard.press('ArrowUp');
    expect(await readout.textContent()).toMatch(new RegExp(`^Query ${T - 1} ".*" → key 1 "W"`));
    const scale = attention.getByTestId('heat-scale');
    expect(await scale.isVisible()).toBe(true);
    expect(await scale.locator('.heat-scale-tick').allTextContents()).toEqual(['0 %', '5 %', '25 %', '50 %', '100 %']);
    await attention.screenshot({ path: path.join(artifacts, 'attention-scale.png') });
    await page.setViewportSize({ width: 1360, height: 900 });
  });

  for (const [name, size] of [
    ['1366×768', DESKTOP],
    ['390×844', PHONE],
  ] as const) {
    test(`axe-core: no violations at ${name}, idle, after a run, with the inspector, attention and lens open`, async () => {
      const { page } = browser;
      await page.setViewportSize(size);
      await openApp(page, base, { ...GREEDY, do_sample: true, num_return_sequences: 2 }, browser.logs);
      expect(await axeViolations(page), 'idle').toEqual([]);
      await page.screenshot({ path: path.join(artifacts, `honesty-${size.width}-idle.png`) });
      await generate(page);
      expect(await axeViolations(page), 'after a run').toEqual([]);
      await outputPane(page, 1).locator('[data-token-index="1"]').click();
      await expect.poll(() => page.getByRole('region', { name: 'Token inspector' }).getAttribute('data-token-index')).toBe('1');
      const attention = page.getByRole('region', { name: 'Attention' });
      await attention.getByRole('button', { name: 'Show attention' }).click();
      await expect.poll(() => attention.getByTestId('attention-heatmap').count(), { timeout: 60_000 }).toBe(1);
      const lens = page.getByRole('region', { name: 'Layer by layer' });
      await lens.getByRole('button', { name: 'Read every layer' }).click();
      await expect.poll(() => lens.locator('tbody tr').count(), { timeout: 60_000 }).toBe(6);
      await setNumber(page, 'Top-k', 5); // the inspector shows cut candidates too
      expect(await axeViolations(page), 'inspector, attention and lens').toEqual([]);
      await lens.scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(artifacts, `honesty-${size.width}.png`) });
      await page.setViewportSize({ width: 1360, height: 900 });
    });
  }
});
