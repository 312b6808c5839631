/**
 * Builds the benchmark page, serves it cross-origin isolated, and runs jobs in Chromium: one
 * worker per job, Chromium's memory sampled per job.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../models';
import { launchChromium } from './chromium';
import type { BrowserJob, BrowserJobResult } from './protocol';
import { startBenchServer } from './server';

export interface BrowserRun {
  chromium: string;
  results: (BrowserJobResult & { peakPssMb: number; otherCpuPercent: number })[];
}

export function buildBenchPage(): void {
  execFileSync(
    process.execPath,
    [path.join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'bench/browser/vite.config.ts'],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' },
    },
  );
}

/** `sampleMemory: false`: no peak PSS (see launchChromium), for timings that need every core. */
export async function runBrowserJobs(
  jobs: BrowserJob[],
  log: (line: string) => void,
  { timeoutMs = 1_200_000, sampleMemory = true } = {},
): Promise<BrowserRun> {
  buildBenchPage();
  const server = await startBenchServer();
  const browser = await launchChromium(log, { sampleMemory });
  try {
    await browser.page.goto(server.url);
    const results: BrowserRun['results'] = [];
    for (const job of jobs) {
      browser.resetPeak();
      const run = browser.page.evaluate((j) => window.runBench([j]).then((all) => all.slice(-1)), job);
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`browser job ${job.id} took over ${timeoutMs / 1000} s`)), timeoutMs).unref(),
      );
      const [result] = await Promise.race([run, timeout]);
      results.push({ ...result, peakPssMb: browser.peakPssMb(), otherCpuPercent: browser.otherCpuPercent() });
      if (result.error) log(`browser job ${job.id} failed: ${result.error}`);
    }
    return { chromium: browser.version, results };
  } finally {
    await browser.close();
    server.close();
  }
}
