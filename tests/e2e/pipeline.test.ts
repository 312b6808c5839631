/**
 * The sampling pipeline view, the chart and the inspector loop in the built app (Chromium, the
 * built-in model, wasm), at 1366×768 and 390×844. The top-k / top-p stages are checked against a
 * float64 replay of Hugging Face's rules over the CLI's logits (another process); the chart's
 * grey bars and its labels against its own drawing; the phone loop (tap a token, the inspector and
 * a Top-p control on screen together) and where focus goes after Branch, Close and "Use the run's
 * settings". Screenshots of the pipeline go to tests/e2e/artifacts/ for the README.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WATSON_GREEDY, WATSON_IDS, generate, openApp, outputPane, setNumber } from '../helpers/appPage';
import { appUrl } from '../helpers/appServer';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { cliOutput } from '../helpers/cliProcess';
import { repoRoot } from '../helpers/fixture';

const MODEL_DIR = path.join(repoRoot, 'public/models/sherlock-gpt2');
const artifacts = path.join(repoRoot, 'tests/e2e/artifacts');

let browser: LaunchedBrowser;
let base: string;
/** The built-in model's logits after "Watson you are", from the CLI. */
let reference: number[];

const inspector = (page: Page) => page.getByRole('region', { name: 'Token inspector' });
const pipeline = (page: Page) => page.getByRole('region', { name: 'Sampling pipeline' });
const stage = (page: Page, name: string) => pipeline(page).locator(`[data-stage="${name}"]`);

/** Top-k then top-p in float64, as Hugging Face applies them: top-p on the renormalised top-k. */
function topKThenTopP(logits: number[], k: number, p: number): { topK: number; kept: number; mass: number } {
  const max = Math.max(...logits);
  const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a]);
  const kth = logits[order[k - 1]];
  const survivors = order.filter((id) => logits[id] >= kth);
  const z = survivors.reduce((s, id) => s + Math.exp(logits[id] - max), 0);
  const probs = survivors.map((id) => Math.exp(logits[id] - max) / z); // descending
  // HF TopPLogitsWarper: ascending cumulative sum, remove where it is <= 1 - top_p; the likeliest stays.
  const ascending = [...probs].reverse();
  let cumulative = 0;
  let removed = 0;
  for (let i = 0; i < ascending.length - 1; i++) {
    cumulative += ascending[i];
    if (cumulative <= 1 - p) removed = i + 1;
  }
  const kept = probs.length - removed;
  return { topK: survivors.length, kept, mass: probs.slice(0, kept).reduce((a, b) => a + b, 0) };
}

/** Every SVG text in `scope` whose box leaves its SVG's drawing (viewBox), as "text: box". */
async function overflowingTexts(scope: Locator): Promise<string[]> {
  return scope.locator('svg').evaluateAll((svgs) =>
    (svgs as SVGSVGElement[]).flatMap((svg) => {
      const view = svg.viewBox.baseVal;
      return [...svg.querySelectorAll('text')].flatMap((t) => {
        const b = t.getBBox();
        const inside =
          b.x >= view.x - 0.5 &&
          b.y >= view.y - 0.5 &&
          b.x + b.width <= view.x + view.width + 0.5 &&
          b.y + b.height <= view.y + view.height + 0.5;
        return inside ? [] : [`${t.textContent}: ${b.x.toFixed(1)},${b.y.toFixed(1)} ${b.width.toFixed(1)}×${b.height.toFixed(1)}`];
      });
    }),
  );
}

/** Whether the element's box lies within the window. */
async function onScreen(locator: Locator): Promise<boolean> {
  return locator.evaluate((el) => {
    const r = el.getBoundingClientRect();
    return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth;
  });
}

const focusedTag = (page: Page) => page.evaluate(() => document.activeElement?.tagName ?? 'none');

beforeAll(async () => {
  base = await appUrl();
  browser = await launchBrowser({ webgpu: false });
  reference = JSON.parse(await cliOutput(['logits', '--model', MODEL_DIR, '--ids', WATSON_IDS.join(','), '--json'])).logits;
});

afterAll(async () => {
  await browser?.close();
});

describe('sampling pipeline (1366×768)', () => {
  test('Top-k 50 and Top-p 0.5 on the first greedy token: the stages equal the float64 replay over the renormalised top-50', async () => {
    const { page } = browser;
    await page.setViewportSize({ width: 1366, height: 768 });
    await openApp(page, base, WATSON_GREEDY, browser.logs);
    await generate(page);
    await outputPane(page, 1).locator('[data-token-index="0"]').click();
    await expect.poll(() => inspector(page).getAttribute('data-token-index')).toBe('0');
    await setNumber(page, 'Top-k', 50);
    await setNumber(page, 'Top-p', 0.5);

    const want = topKThenTopP(reference, 50, 0.5);
    expect(want.topK).toBe(50);
    await expect.poll(() => stage(page, 'top_p').getAttribute('data-kept')).toBe(String(want.kept));
    expect(await stage(page, 'top_k').getAttribute('data-kept')).toBe('50');
    expect(Math.abs(Number(await stage(page, 'top_p').getAttribute('data-mass')) - want.mass)).toBeLessThan(1e-4);
    // Stages in generation's order; the ones these settings turn off are listed as off.
    expect(
      await pipeline(page)
        .locator('[data-stage]')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-stage'))),
    ).toEqual(['repetition_penalty', 'temperature', 'top_k', 'top_p', 'min_p']);
    expect(await stage(page, 'min_p').getAttribute('data-off')).toBe('true');
    // An off stage lets through all it receives.
    expect([await stage(page, 'min_p').getAttribute('data-kept'), await stage(page, 'min_p').getAttribute('data-mass')]).toEqual([
      String(want.kept),
      '1',
    ]);
    expect(await stage(page, 'temperature').getAttribute('data-kept')).toBe('50257'); // GPT-2's vocabulary
    expect(await stage(page, 'top_p').textContent()).toContain(`of the 50 tokens top-k kept, the ${want.kept} likeliest already hold`);
    // The table agrees: the kept rows are the ones the top-p stage kept.
    const keptRows = await inspector(page).getByRole('table', { name: 'Candidates' }).locator('tbody tr[data-status="kept"]').count();
    expect(keptRows).toBe(want.kept);

    // The chart: grey bars for cut tokens, with their statuses; every label inside the drawing.
    const chart = page.getByTestId('distribution-chart');
    const cut = chart.locator('rect[data-status="cut by top-p"]');
    expect(await cut.count()).toBeGreaterThan(0);
    expect(await cut.first().evaluate((el) => getComputedStyle(el).fill)).toBe('rgb(203, 200, 193)');
    expect(Number(await cut.first().getAttribute('height'))).toBeGreaterThan(1);
    expect(await chart.locator('rect[data-status="kept"]').count()).toBe(want.kept);
    expect(await overflowingTexts(inspector(page))).toEqual([]);
    // README: the page with the inspector's column scrolled to the pipeline.
    await pipeline(page).evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: await artifact('pipeline-desktop.png') });
    await page.getByTestId('draw').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: await artifact('inspector-chart.png') });

    // Measured, not asserted: the longest main-thread task while each Top-p slider is dragged across its range.
    for (const slider of [
      pipeline(page).getByRole('slider', { name: 'Top-p (pipeline)' }),
      page.getByRole('slider', { name: 'Top-p', exact: true }),
    ]) {
      console.log(
        `${(await slider.getAttribute('aria-label')) ?? 'Top-p'}: longest task while dragged ${await longestTaskWhileDragging(page, slider)} ms`,
      );
    }
    await setNumber(page, 'Top-p', 0.5);
  });

  test('Branch keeps the inspector on the studied token, shows the new pane, and leaves focus on the button; Close and "Use the run\'s settings" keep focus on the page', async () => {
    const { page } = browser;
    const rowBranch = inspector(page).locator('tbody tr').nth(5).getByRole('button', { name: 'Branch' });
    await rowBranch.focus();
    await page.keyboard.press('Enter');
    const branchPane = page.getByRole('region', { name: /^Branch: / });
    await expect.poll(() => branchPane.count()).toBe(1);
    await expect.poll(() => branchPane.getAttribute('aria-busy')).toBe('false');
    expect(await focusedTag(page)).toBe('BUTTON');
    expect(await inspector(page).getAttribute('data-pane')).toBe('Output 1');
    expect(await inspector(page).getAttribute('data-token-index')).toBe('0');
    await expect.poll(() => branchPane.evaluate((el) => el.getBoundingClientRect().top < window.innerHeight)).toBe(true);

    await branchPane.getByRole('button', { name: /^Close/ }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => branchPane.count()).toBe(0);
    expect(await focusedTag(page)).not.toBe('BODY');

    // With "Follow newest", a new branch takes the inspector and the focus (its tokens).
    await inspector(page)
      .getByRole('checkbox', { name: /^Follow newest/ })
      .check();
    await rowBranch.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => branchPane.count()).toBe(1);
    await expect.poll(() => inspector(page).getAttribute('data-pane')).toMatch(/^Output 1 › token 1 › /);
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('listbox');
    await expect.poll(() => branchPane.getAttribute('aria-busy')).toBe('false');
    await branchPane.getByRole('button', { name: /^Close/ }).click();
    await expect.poll(() => branchPane.count()).toBe(0);
    await expect.poll(() => inspector(page).getAttribute('data-pane')).toBe('Output 1');
    await inspector(page)
      .getByRole('checkbox', { name: /^Follow newest/ })
      .uncheck();

    await page.getByRole('button', { name: "Use the run's settings" }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('button', { name: "Use the run's settings" }).count()).toBe(0);
    await expect.poll(() => focusedTag(page)).not.toBe('BODY');
  });
});

describe('the loop on a phone (390×844)', () => {
  test('tapping a token brings the inspector and a Top-p control on screen together; moving it changes the top_p stage', async () => {
    const { page } = browser;
    await page.setViewportSize({ width: 390, height: 844 });
    await openApp(page, base, { ...WATSON_GREEDY, top_k: 50, top_p: 0.5 }, browser.logs);
    await generate(page);
    await outputPane(page, 1).locator('[data-token-index="0"]').click();
    await expect.poll(() => inspector(page).getAttribute('data-token-index')).toBe('0');
    const slider = pipeline(page).getByRole('slider', { name: 'Top-p (pipeline)' });
    await expect.poll(() => onScreen(slider)).toBe(true);
    await expect.poll(() => inspector(page).evaluate((el) => el.getBoundingClientRect().top)).toBeGreaterThanOrEqual(-1);
    const before = await stage(page, 'top_p').getAttribute('data-kept');
    await slider.fill('0.9');
    await expect.poll(() => stage(page, 'top_p').getAttribute('data-kept')).not.toBe(before);
    expect(await page.getByRole('spinbutton', { name: 'Top-p', exact: true }).inputValue()).toBe('0.9');
    expect(await overflowingTexts(inspector(page))).toEqual([]);
    // The table scrolls inside its box: nothing wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await slider.fill('0.5');
    await expect.poll(() => stage(page, 'top_p').getAttribute('data-kept')).toBe(before);
    await stage(page, 'top_k').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: await artifact('pipeline-phone.png') });
  });
});

describe('the chosen token is always in Candidates', () => {
  test('seeded run at temperature 1.5 (top-k 0, top-p 1): each of the first 8 tokens has its own row once selected', async () => {
    const { page } = browser;
    await page.setViewportSize({ width: 1366, height: 768 });
    await openApp(
      page,
      base,
      { ...WATSON_GREEDY, do_sample: true, temperature: 1.5, top_k: 0, top_p: 1, max_new_tokens: 8, seed: 7 },
      browser.logs,
    );
    await generate(page);
    const ranks: number[] = [];
    for (let i = 0; i < 8; i++) {
      const token = outputPane(page, 1).locator(`[data-token-index="${i}"]`);
      const id = await token.getAttribute('data-token-id');
      await token.click();
      await expect.poll(() => inspector(page).getAttribute('data-token-index')).toBe(String(i));
      const row = inspector(page).getByRole('table', { name: 'Candidates' }).locator(`tbody tr[data-token-id="${id}"]`);
      await expect.poll(() => row.count()).toBe(1);
      ranks.push(Number(await row.getAttribute('data-rank')));
      expect(await row.evaluate((tr) => tr.classList.contains('chosen'))).toBe(true);
    }
    console.log(`chosen ranks of the first 8 tokens: ${ranks.join(', ')}`);
  });
});

/** Drags `slider` from one end to the other in 60 moves; returns the longest main-thread task meanwhile (ms, 0: none over 50). */
async function longestTaskWhileDragging(page: Page, slider: Locator): Promise<number> {
  await slider.scrollIntoViewIfNeeded();
  const box = (await slider.boundingBox())!;
  await page.evaluate(() => {
    const w = window as unknown as { longTasks: number[]; longTaskObserver?: PerformanceObserver };
    w.longTasks = [];
    w.longTaskObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) w.longTasks.push(entry.duration);
    });
    w.longTaskObserver.observe({ type: 'longtask' });
  });
  await page.mouse.move(box.x + 2, box.y + box.height / 2);
  await page.mouse.down();
  for (let i = 0; i <= 60; i++) await page.mouse.move(box.x + 2 + ((box.width - 4) * i) / 60, box.y + box.height / 2);
  await page.mouse.up();
  await page.waitForTimeout(500);
  return page.evaluate(() => {
    const w = window as unknown as { longTasks: number[]; longTaskObserver?: PerformanceObserver };
    w.longTaskObserver?.disconnect();
    return Math.round(Math.max(0, ...w.longTasks));
  });
}

async function artifact(name: string): Promise<string> {
  mkdirSync(artifacts, { recursive: true });
  return path.join(artifacts, name);
}
