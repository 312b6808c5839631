/**
 * Debian's Chromium driven by playwright-core, one fresh profile per launch.
 * `webgpu: true` adds --enable-unsafe-webgpu (a SwiftShader adapter on this machine, also in
 * workers); without it, requestAdapter() returns null, which is how tests exercise the fallback.
 * `offline: true` makes every host name but 127.0.0.1 unresolvable (huggingface.co included), so
 * "no network" is the same on every machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export interface LaunchedBrowser {
  context: BrowserContext;
  page: Page;
  /** Console lines and page errors so far, for failure messages. */
  logs: string[];
  close(): Promise<void>;
}

export async function launchBrowser({ webgpu, offline = false }: { webgpu: boolean; offline?: boolean }): Promise<LaunchedBrowser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'gpt2-e2e-'));
  const args = [
    '--no-sandbox',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
  ];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  if (offline) args.push('--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args,
    viewport: { width: 1360, height: 900 },
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const logs: string[] = [];
  page.on('console', (message) => logs.push(`[console.${message.type()}] ${message.text()}`));
  page.on('worker', (worker) => worker.on('console', (message) => logs.push(`[worker console.${message.type()}] ${message.text()}`)));
  page.on('pageerror', (error) => logs.push(`[pageerror] ${error.message}`));
  return {
    context,
    page,
    logs,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
