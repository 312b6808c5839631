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
  /** Share of the machine's CPU used by processes other than Chromium and this one since the last reset, %. */
  otherCpuPercent(): number;
  resetPeak(): void;
  close(): Promise<void>;
}

/** Machine-wide busy and total jiffies (/proc/stat). */
function machineJiffies(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

/** utime + stime of a process, in jiffies. */
function processJiffies(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function processTree(profile: string): Set<number> {
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
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  return tree;
}

/** Summed PSS of the tree, and the CPU jiffies its processes have used (recorded into `own`). */
function sampleTree(profile: string, own: Map<number, number>): number {
  const tree = processTree(profile);
  for (const pid of tree) own.set(pid, processJiffies(pid));
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

/**
 * `sampleMemory: false` leaves Chromium's memory unsampled (peakPssMb() then says 0): reading
 * smaps_rollup of processes that reserve terabytes of address space (WebAssembly memories) costs
 * CPU and takes their memory-map lock every 250 ms, which stalls a multi-threaded run on 2 cores
 * (measured: q8 at 2 threads ran 1.06× one thread with it, 1.76× without).
 */
export async function launchChromium(log: (line: string) => void, { sampleMemory = true } = {}): Promise<Chromium> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'gpt2-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--enable-unsafe-webgpu',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => log(`[page] ${m.text()}`));
  page.on('pageerror', (e) => log(`[pageerror] ${e.message}`));
  let peakKb = 0;
  // CPU used by Chromium's processes (last seen value per pid, so exited ones still count) and by us.
  let own = new Map<number, number>();
  const ownTotal = () => [...own.values()].reduce((a, b) => a + b, 0) + processJiffies(process.pid);
  let start = { machine: machineJiffies(), own: ownTotal() };
  const timer = sampleMemory ? setInterval(() => (peakKb = Math.max(peakKb, sampleTree(profile, own))), 250) : undefined;
  return {
    context,
    page,
    version: context.browser()?.version() ?? 'unknown',
    peakPssMb: () => peakKb / 1024,
    otherCpuPercent: () => {
      sampleTree(profile, own);
      const m = machineJiffies();
      const total = m.total - start.machine.total;
      return total > 0 ? +((100 * Math.max(0, m.busy - start.machine.busy - (ownTotal() - start.own))) / total).toFixed(1) : NaN;
    },
    resetPeak: () => {
      peakKb = 0;
      own = new Map();
      sampleTree(profile, own);
      start = { machine: machineJiffies(), own: ownTotal() };
    },
    close: async () => {
      clearInterval(timer);
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
