/**
 * Beam search, More samplers and Compare strategies in the built app (Chromium, the built-in
 * model, wasm). Beams 3 on "Watson you are" writes the CLI's `generate --num-beams 3` text (another
 * process); the live beam tree marks kept, pruned and finished nodes and is keyboard reachable;
 * Typical-p 0.5 shows `cut by typical-p` rows in the inspector. Screenshots go to
 * tests/e2e/artifacts/ for the README.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generate, generatedText, inspectToken, openApp, outputPane, setNumber, setSample } from '../helpers/appPage';
import { appUrl } from '../helpers/appServer';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';
import { cliOutput } from '../helpers/cliProcess';
import { repoRoot } from '../helpers/fixture';

const MODEL_DIR = path.join(repoRoot, 'public/models/sherlock-gpt2');
const PROMPT = 'Watson you are';
const artifacts = path.join(repoRoot, 'tests/e2e/artifacts');

let browser: LaunchedBrowser;
let base: string;
/** The CLI's texts for the prompt, 12 new tokens (another process): `--num-beams 3`, and `--greedy`. */
let cliBeams: string;
let cliGreedy: string;

/** The text of the CLI's `generate` with `args` on the built-in model and the prompt, 12 new tokens. */
async function cliText(args: string[]): Promise<string> {
  const out = JSON.parse(
    await cliOutput(['generate', '--model', MODEL_DIR, '--prompt', PROMPT, ...args, '--max-new-tokens', '12', '--json']),
  ) as { sequences: { text: string }[] };
  return out.sequences[0].text;
}

const beamTree = (page: Page) => page.getByRole('region', { name: /^Beam search/ });
const openMoreSamplers = async (page: Page) => {
  const details = page.locator('details.more-samplers');
  if (!(await details.evaluate((el) => (el as HTMLDetailsElement).open))) await details.locator('summary').click();
};

/**
 * axe-core's violations on the page as it is now (WCAG 2.x A and AA, best practices), as "rule at
 * target" lines. Controls dimmed because Sample is off (the page's `.dimmed`, opacity 0.55, older
 * than this file) are left out: axe counts them as low contrast.
 */
async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's Content-Security-Policy refuses inline scripts.
  if (!(await page.evaluate(() => 'axe' in window)))
    await page.evaluate(readFileSync(path.join(repoRoot, 'node_modules/axe-core/axe.min.js'), 'utf8'));
  return page.evaluate(async () => {
    type Violation = { id: string; nodes: { target: string[] }[] };
    const axe = (window as unknown as { axe: { run: (context: object, options: object) => Promise<{ violations: Violation[] }> } }).axe;
    const result = await axe.run({ include: [document], exclude: [['.dimmed']] }, { resultTypes: ['violations'] });
    return result.violations.flatMap((v) => v.nodes.map((n) => `${v.id} at ${n.target.join(' ')}`));
  });
}

async function artifact(name: string): Promise<string> {
  mkdirSync(artifacts, { recursive: true });
  return path.join(artifacts, name);
}

beforeAll(async () => {
  base = await appUrl();
  browser = await launchBrowser({ webgpu: false });
  cliBeams = await cliText(['--num-beams', '3']);
  cliGreedy = await cliText(['--greedy']);
});

afterAll(async () => {
  await browser?.close();
});

/** Every drawn edge of the beam tree, and how far (px) its ends are from the right-middle of its parent and the left-middle of its node. */
async function edgeGeometry(page: Page) {
  return beamTree(page)
    .getByTestId('beam-edges')
    .evaluate((svg) => {
      const box = svg.getBoundingClientRect();
      const node = (at: string) => {
        const [step, index] = at.split(':').map(Number);
        return svg.parentElement!.querySelectorAll(`[data-beam-step="${step}"]`)[index].getBoundingClientRect();
      };
      return [...svg.querySelectorAll('path')].map((path) => {
        const start = path.getPointAtLength(0);
        const end = path.getPointAtLength(path.getTotalLength());
        const from = node(path.getAttribute('data-from')!);
        const to = node(path.getAttribute('data-to')!);
        return {
          from: path.getAttribute('data-from')!,
          to: path.getAttribute('data-to')!,
          miss: Math.max(
            Math.abs(box.left + start.x - from.right),
            Math.abs(box.top + start.y - (from.top + from.height / 2)),
            Math.abs(box.left + end.x - to.left),
            Math.abs(box.top + end.y - (to.top + to.height / 2)),
          ),
        };
      });
    });
}

describe('beam search', () => {
  test('Beams 3, 12 new tokens: the pane equals the CLI; the tree keeps 3 per step, greys pruned ones, ranks the finished', async () => {
    const { page } = browser;
    await page.setViewportSize({ width: 1366, height: 768 });
    await openApp(page, base, { prompt: PROMPT, max_new_tokens: 12, num_return_sequences: 1 }, browser.logs);
    await setSample(page, false);
    await openMoreSamplers(page);
    await setNumber(page, 'Beams', 3);
    await generate(page);

    expect(await generatedText(page, 1)).toBe(cliBeams);
    expect(new URL(page.url()).searchParams.get('num_beams')).toBe('3');

    const tree = beamTree(page);
    await expect.poll(() => tree.getAttribute('aria-label')).toMatch(/^Beam search: 3 beams, ended after \d+ steps?/);
    const statuses = await tree
      .locator('[data-beam-step]')
      .evaluateAll((els) =>
        els.map((e) => ({ step: Number(e.getAttribute('data-beam-step')), status: e.getAttribute('data-beam-status') })),
      );
    const steps = Math.max(...statuses.map((s) => s.step)) + 1;
    expect(steps).toBeGreaterThan(1);
    // Every step the search went on from kept 3 beams (the last step's candidates all had to stop: finished or pruned).
    for (let step = 0; step < steps - 1; step++) {
      expect(statuses.filter((s) => s.step === step && s.status === 'kept').length, `step ${step}`).toBeGreaterThanOrEqual(3);
      expect(statuses.filter((s) => s.step === step).length).toBe(6); // 2 × num_beams candidates
    }
    expect(statuses.filter((s) => s.status === 'pruned').length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s.status === 'finished').length).toBeGreaterThan(0);
    const pruned = tree.locator('[data-beam-status="pruned"]').first();
    expect(await pruned.evaluate((el) => getComputedStyle(el).color)).toBe('rgb(106, 111, 122)'); // greyed (--muted)
    // The final ranking lists the returned sequence with its score.
    const ranking = tree.getByRole('list', { name: 'Final ranking' });
    expect(await ranking.locator('li').count()).toBe(1);
    expect(await ranking.textContent()).toContain(cliBeams.trim().slice(0, 10));

    // The edges: one per candidate after step 0, from the right side of the node it extends to its left side.
    const geometry = await edgeGeometry(page);
    expect(geometry.length).toBe(statuses.filter((s) => s.step > 0).length);
    for (const edge of geometry) expect(edge.miss, `${edge.from} → ${edge.to}`).toBeLessThan(1);
    // Followed back from a finished node, the edges spell a finished sequence; one of them is the search's best.
    const parentOf = new Map(geometry.map((e) => [e.to, e.from]));
    const tokenAt = async (at: string) => {
      const [step, index] = at.split(':').map(Number);
      const text = await tree.locator(`[data-beam-step="${step}"]`).nth(index).locator('.beam-token').textContent();
      return text!.replace(/␣/g, ' ').replace(/↵/g, '\n');
    };
    const spelled: string[] = [];
    for (let step = 0; step < steps; step++) {
      for (const [index, s] of statuses.filter((s) => s.step === step).entries()) {
        if (s.status !== 'finished') continue;
        const pieces: string[] = [];
        for (let at: string | undefined = `${step}:${index}`; at; at = parentOf.get(at)) pieces.unshift(await tokenAt(at));
        expect(pieces.length).toBe(step + 1);
        spelled.push(pieces.join(''));
      }
    }
    expect(spelled).toContain(cliBeams);
    // Under the pointer, a node's own path is drawn bold: one edge per step before it.
    await tree
      .locator(`[data-beam-step="${steps - 1}"]`)
      .first()
      .hover();
    expect(await tree.locator('path.on-path').count()).toBe(steps - 1);

    // Keyboard: one tab stop, arrows move, focus shows the token and its cumulative log-probability.
    const first = tree.locator('[data-beam-step="0"]').first();
    await first.focus();
    expect(await page.getByTestId('beam-detail').textContent()).toMatch(/^Step 1: ".*", kept, .*cumulative log-probability −\d/);
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-beam-step'))).toBe('0');
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-beam-step'))).toBe('1');
    expect(await tree.locator('path.on-path').count()).toBe(1); // the focused node's path, by keyboard too
    expect(await tree.locator('[data-beam-step][tabindex="0"]').count()).toBe(1);
    expect(await axeViolations(page)).toEqual([]);

    // The returned sequence opens in the inspector, which says what it has for beams.
    await ranking.getByRole('button', { name: 'Inspect Output 1' }).click();
    await expect
      .poll(() => page.getByRole('region', { name: 'Token inspector' }).textContent())
      .toContain('no per-token distribution for beams');
    await tree.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: await artifact('beam-tree-desktop.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await tree.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: await artifact('beam-tree-phone.png') });
    // On a phone the steps scroll sideways, and the edges with them.
    await tree.getByRole('group', { name: 'Steps' }).evaluate((el) => el.scrollTo({ left: el.scrollWidth }));
    expect(Math.max(...(await edgeGeometry(page)).map((e) => e.miss))).toBeLessThan(1);
    expect(await outputPane(page, 1).count()).toBe(1);
  });
});

describe('a branch under beam search', () => {
  test('a branch with Beams 3 draws a beam tree of its own and continues like `generate --ids … --num-beams 3`', async () => {
    const { page } = browser;
    await page.setViewportSize({ width: 1366, height: 768 });
    await openApp(page, base, { prompt: PROMPT, max_new_tokens: 6, do_sample: false, num_beams: 1, num_return_sequences: 1 }, browser.logs);
    await generate(page);
    await inspectToken(page, outputPane(page, 1), 1);
    await openMoreSamplers(page);
    await setNumber(page, 'Beams', 3);
    const rows = page.getByRole('table', { name: 'Candidates' }).locator('tbody tr');
    const forced = Number(await rows.nth(1).getAttribute('data-token-id'));
    await rows.nth(1).getByRole('button', { name: 'Branch', exact: true }).click();
    const branch = page.getByRole('region', { name: /^Branch: Output 1 › token 2 › / });
    await expect.poll(() => branch.getAttribute('aria-busy'), { timeout: 60_000 }).toBe('false');
    const label = (await branch.getAttribute('aria-label'))!;

    // Its own tree, named after it; the greedy run has none.
    const tree = page.getByRole('region', { name: `Beam search of ${label}`, exact: false });
    await expect.poll(() => tree.getAttribute('aria-label')).toMatch(/: 3 beams, ended after \d+ steps?/);
    expect(await page.getByRole('region', { name: /^Beam search: / }).count()).toBe(0);
    expect(await tree.locator('[data-beam-step="0"]').count()).toBe(6);

    // The same search on the command line: the prompt's ids, the run's first token, the forced one.
    const idsOf = (pane: ReturnType<typeof outputPane>) =>
      pane.locator('[data-part=generated] [data-token-id]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-token-id'))));
    const runIds = await idsOf(outputPane(page, 1));
    const branchIds = await idsOf(branch);
    expect(branchIds[0]).toBe(forced);
    const ids = [54, 13506, 345, 389, runIds[0], forced];
    const out = JSON.parse(
      await cliOutput([
        'generate',
        '--model',
        MODEL_DIR,
        '--backend',
        'wasm',
        '--ids',
        ids.join(','),
        '--num-beams',
        '3',
        '--max-new-tokens',
        '6',
        '--json',
      ]),
    ) as { sequences: { ids: number[]; text: string }[] };
    expect(branchIds.slice(1)).toEqual(out.sequences[0].ids);
    const ranking = tree.getByRole('list', { name: 'Final ranking' });
    expect(await ranking.locator('.beam-ranked-text').first().textContent()).toBe(out.sequences[0].text);

    // Its ranking opens the branch's pane in the inspector.
    await ranking.getByRole('button', { name: `Inspect ${label}` }).click();
    await expect
      .poll(() => page.getByRole('region', { name: 'Token inspector' }).getAttribute('data-pane'))
      .toBe(label.replace(/^Branch: /, ''));
    await tree.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: await artifact('beam-tree-branch.png') });
  });
});

describe('more samplers', () => {
  test('Typical-p 0.5 in the inspector cuts tokens as typical-p; the pipeline explains its stage and moves it with its own slider', async () => {
    const { page } = browser;
    await page.setViewportSize({ width: 1366, height: 768 });
    await openApp(page, base, { prompt: PROMPT, max_new_tokens: 3, do_sample: false, num_beams: 1 }, browser.logs);
    await generate(page);
    await inspectToken(page, outputPane(page, 1), 0);
    await openMoreSamplers(page);
    await setNumber(page, 'Typical-p', 0.5);
    const rows = page.getByRole('table', { name: 'Candidates' }).locator('tbody tr[data-status="cut by typical-p"]');
    await expect.poll(() => rows.count()).toBeGreaterThan(0);
    expect(new URL(page.url()).searchParams.get('typical_p')).toBe('0.5');

    // The pipeline has a typical-p stage (and no off rows for warpers that do not run) with its rule and sentence.
    const inspectorRegion = page.getByRole('region', { name: 'Token inspector' });
    const stage = inspectorRegion.locator('li[data-stage="typical_p"]');
    await expect.poll(() => stage.count()).toBe(1);
    expect(await inspectorRegion.locator('li[data-stage="eta_cutoff"], li[data-stage="epsilon_cutoff"]').count()).toBe(0);
    expect(await stage.locator('.stage-numbers').textContent()).toMatch(
      /^Rule: the tokens whose surprise \(−log p\) is closest to the entropy, \d+\.\d\d nats, until they hold 50\.00 %/,
    );
    const kept = Number(await stage.getAttribute('data-kept'));
    expect(await stage.locator('.stage-sentence').textContent()).toMatch(
      new RegExp(
        `^Typical-p 0\\.5: of (?:all [\\d,]+ tokens|the [\\d,]+ tokens [a-z-]+ kept), the ${kept.toLocaleString('en-US')} tokens? whose surprise is closest to the distribution's entropy \\(\\d+\\.\\d\\d nats\\) are kept`,
      ),
    );
    // The stage's slider is the same setting as the More samplers box.
    await stage.getByRole('slider', { name: 'Typical-p (pipeline)' }).focus();
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => new URL(page.url()).searchParams.get('typical_p')).not.toBe('0.5');
    expect(await page.getByRole('spinbutton', { name: 'Typical-p', exact: true }).inputValue()).toBe(
      new URL(page.url()).searchParams.get('typical_p'),
    );
    await stage.scrollIntoViewIfNeeded();
    await page.screenshot({ path: await artifact('pipeline-typical-p.png') });
  });
});

describe('compare strategies', () => {
  test('one button fills six labelled panes, each with its measures, and opens a pane’s settings into the controls', async () => {
    const { page } = browser;
    await page.setViewportSize({ width: 1366, height: 768 });
    await openApp(page, base, { prompt: PROMPT, max_new_tokens: 12, seed: 42 }, browser.logs);
    await page.getByRole('button', { name: 'Compare strategies', exact: true }).click();
    const panes = page.getByRole('region', { name: /^Strategy: / });
    await expect.poll(() => panes.count()).toBe(6);
    await page.waitForFunction(
      () => [...document.querySelectorAll('[aria-label^="Strategy: "]')].every((el) => el.getAttribute('aria-busy') === 'false'),
      null,
      { timeout: 180_000, polling: 200 },
    );
    const labels = await panes.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
    expect(labels).toEqual([
      'Strategy: Greedy',
      'Strategy: Beam search (5 beams)',
      'Strategy: Beam search, no repeated 2-grams',
      'Strategy: Top-k 50',
      'Strategy: Top-p 0.92 (top-k 0)',
      'Strategy: Temperature 0.7',
    ]);
    for (const label of labels) {
      const pane = page.getByRole('region', { name: label!, exact: true });
      expect((await pane.locator('[data-part=generated]').textContent())?.length ?? 0).toBeGreaterThan(0);
    }
    const measures = page.locator('.strategy-measures');
    expect(await measures.count()).toBe(6);
    for (let i = 0; i < 6; i++) {
      expect(await measures.nth(i).locator('[data-measure="mean-logprob"]').textContent()).toMatch(/^−\d+\.\d{3}$/);
      expect(await measures.nth(i).locator('[data-measure="perplexity"]').textContent()).toMatch(/^\d+\.\d{2}$/);
      expect(await measures.nth(i).locator('[data-measure="repeated-2"]').textContent()).toMatch(/^\d+ %$/);
    }
    // Greedy and beam search agree with the CLI (another process).
    expect(await page.getByRole('region', { name: 'Strategy: Greedy' }).locator('[data-part=generated]').textContent()).toBe(cliGreedy);
    await page.getByRole('button', { name: 'Use these settings (Beam search, no repeated 2-grams)' }).click();
    await openMoreSamplers(page);
    expect(await page.getByRole('spinbutton', { name: 'Beams', exact: true }).inputValue()).toBe('5');
    expect(await page.getByRole('spinbutton', { name: 'No-repeat n-gram', exact: true }).inputValue()).toBe('2');
    expect(await axeViolations(page)).toEqual([]);
    await page.locator('.outputs').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: await artifact('compare-strategies.png') });
  });
});
