/**
 * The longest main-thread task while the real app generates: the production build behind
 * `vite preview` (the e2e helpers' build), Chromium, a PerformanceObserver for 'longtask'
 * entries installed before the page loads, then the UI's own Generate button.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { preview } from 'vite';
import path from 'node:path';
import { freePort, TINY_MODEL_PATH, TINY_MODEL_SPEC } from '../../tests/helpers/appServer';
import { openApp, generate } from '../../tests/helpers/appPage';
import { benchModel, repoRoot } from '../models';

/** A production build of the app of its own (the e2e tests' build may be in use), with the tiny model inside. */
export function buildApp(): string {
  const outDir = path.join(repoRoot, '.cache/bench/app-dist');
  rmSync(outDir, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [path.join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' },
    },
  );
  cpSync(benchModel('tiny').dir, path.join(outDir, TINY_MODEL_PATH), { recursive: true });
  return outDir;
}
import { launchChromium } from './chromium';

/** `vite preview` of a build on a free port of 127.0.0.1. */
export async function previewApp(distDir: string) {
  const port = await freePort();
  const server = await preview({
    configFile: path.join(repoRoot, 'vite.config.ts'),
    logLevel: 'error',
    build: { outDir: distDir },
    preview: { host: '127.0.0.1', port, strictPort: true, open: false },
  });
  return { port, server };
}

export interface AppLongTaskRun {
  label: string;
  backend: string;
  threads?: string;
  newTokens: number;
  sequences: number;
  generations: number;
  /** Long tasks (> 50 ms by definition) that started after Generate was clicked. */
  longTasksDuringGeneration: number[];
  longestTaskMs: number;
  /** Long tasks while the page loaded and the model loaded, for context. */
  longestTaskBeforeMs: number;
  crossOriginIsolated: boolean;
}

export async function measureAppLongTasks(
  runs: { label: string; backend: string; newTokens: number; sequences: number; generations: number }[],
  log: (line: string) => void,
): Promise<AppLongTaskRun[]> {
  const { port, server } = await previewApp(buildApp());
  const results: AppLongTaskRun[] = [];
  try {
    for (const run of runs) {
      const browser = await launchChromium(log);
      try {
        const { page } = browser;
        await page.addInitScript(() => {
          const w = window as unknown as { __longTasks: { start: number; duration: number }[] };
          w.__longTasks = [];
          new PerformanceObserver((list) => {
            for (const e of list.getEntries()) w.__longTasks.push({ start: e.startTime, duration: e.duration });
          }).observe({ type: 'longtask', buffered: true });
        });
        const params = {
          backend: run.backend,
          model: TINY_MODEL_SPEC,
          prompt: 'Watson, you are',
          max_new_tokens: run.newTokens,
          num_return_sequences: run.sequences,
          do_sample: true,
          top_k: 50,
          top_p: 0.95,
          temperature: 1,
          seed: 7,
        };
        await openApp(page, `http://127.0.0.1:${port}/`, params);
        const backend = (await page.locator('[data-stat=backend] dd').textContent()) ?? '?';
        const threads =
          (await page
            .locator('[data-stat=threads] dd')
            .textContent()
            .catch(() => null)) ?? undefined;
        const clickedAt = await page.evaluate(() => performance.now());
        for (let i = 0; i < run.generations; i++) await generate(page);
        const tasks = await page.evaluate(() => (window as unknown as { __longTasks: { start: number; duration: number }[] }).__longTasks);
        const during = tasks.filter((t) => t.start >= clickedAt).map((t) => t.duration);
        const before = tasks.filter((t) => t.start < clickedAt).map((t) => t.duration);
        results.push({
          ...run,
          backend,
          threads,
          longTasksDuringGeneration: during,
          longestTaskMs: Math.max(0, ...during),
          longestTaskBeforeMs: Math.max(0, ...before),
          crossOriginIsolated: await page.evaluate(() => crossOriginIsolated),
        });
        log(
          `app ${run.label}: ${backend}, longest main-thread task during generation ${Math.max(0, ...during).toFixed(0)} ms (${during.length} long tasks)`,
        );
      } finally {
        await browser.close();
      }
    }
  } finally {
    await server.close();
  }
  return results;
}
