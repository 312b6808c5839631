/**
 * Debian's Chromium through playwright-core (fresh profile, headless, a real WebGPU adapter via
 * --enable-unsafe-webgpu), plus a sampler of the memory of its whole process tree.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export interface Chromium {
  context: BrowserContext;
  page: Page;
  version: string;
  /** Peak summed PSS of all Chromium processes since launch (or the last reset), MB. */
  peakPssMb(): number;
  resetPeak(): void;
  close(): Promise<void>;
}

function processTreePssKb(profile: string): number {
  const procs: { pid: number; ppid: number; cmd: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      procs.push({ pid: Number(d), ppid, cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8') });
    } catch {
      // the process ended while we looked
    }
  }
  const tree = new Set(procs.filter((p) => p.cmd.includes(profile)).map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) if (!tree.has(p.pid) && tree.has(p.ppid)) (tree.add(p.pid), (grew = true));
  }
  let kb = 0;
  for (const pid of tree) {
    try {
      kb += Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb;
}

export async function launchChromium(log: (line: string) => void): Promise<Chromium> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'gpt2-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--enable-unsafe-webgpu'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => log(`[page] ${m.text()}`));
  page.on('pageerror', (e) => log(`[pageerror] ${e.message}`));
  let peakKb = 0;
  const timer = setInterval(() => (peakKb = Math.max(peakKb, processTreePssKb(profile))), 250);
  return {
    context,
    page,
    version: context.browser()?.version() ?? 'unknown',
    peakPssMb: () => peakKb / 1024,
    resetPeak: () => (peakKb = 0),
    close: async () => {
      clearInterval(timer);
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
