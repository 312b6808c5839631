/**
 * The built app behind one `vite preview` server on 127.0.0.1, shared by every e2e file of a
 * vitest run: the build is made once (and reused while its inputs are unchanged), the server is
 * started once per run (a small detached process that exits when vitest does).
 *
 * The tiny fixture model is copied into the build at test-models/tiny-gpt2/, so pages can load it
 * with ?model=url:./test-models/tiny-gpt2/ (SwiftShader WebGPU is too slow for real sizes).
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, openSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fixtureDir, repoRoot } from './fixture';

const workDir = path.join(repoRoot, '.cache/e2e');
export const distDir = path.join(workDir, 'dist');
const keyFile = path.join(workDir, 'build-key');
/** The fixture model's folder inside the build, relative to the app. */
export const TINY_MODEL_PATH = 'test-models/tiny-gpt2/';
export const TINY_MODEL_SPEC = `url:./${TINY_MODEL_PATH}`;

/** Everything the build depends on, fingerprinted by path, size and modification time. */
function buildInputsKey(): string {
  const hash = createHash('sha256');
  const visit = (target: string) => {
    if (!existsSync(target)) return;
    const stat = statSync(target);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(target).sort()) visit(path.join(target, entry));
    } else {
      hash.update(`${path.relative(repoRoot, target)}:${stat.size}:${stat.mtimeMs}\n`);
    }
  };
  for (const input of ['src', 'public', 'index.html', 'vite.config.ts', 'package-lock.json']) visit(path.join(repoRoot, input));
  visit(fixtureDir);
  return hash.digest('hex');
}

/** Builds the app into .cache/e2e/dist unless an up-to-date build is there. */
export function ensureBuild(): string {
  const key = buildInputsKey();
  if (existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key && existsSync(path.join(distDir, 'index.html'))) return distDir;
  mkdirSync(workDir, { recursive: true });
  // Build beside the old one and swap, so a failed build never leaves half a dist behind.
  const fresh = path.join(workDir, `dist-${process.pid}`);
  rmSync(fresh, { recursive: true, force: true });
  execFileSync(process.execPath, [path.join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', fresh, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' },
  });
  cpSync(fixtureDir, path.join(fresh, TINY_MODEL_PATH), { recursive: true });
  rmSync(distDir, { recursive: true, force: true });
  renameSync(fresh, distDir);
  writeFileSync(keyFile, key);
  return distDir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

interface ServerRecord { port: number; key: string }

/**
 * The app's URL (ending in '/'), built and served. vitest runs each test file in a child of the
 * same main process, so the server is recorded per main process id (our parent).
 */
export async function appUrl(): Promise<string> {
  ensureBuild();
  const key = readFileSync(keyFile, 'utf8');
  const owner = process.ppid;
  const recordFile = path.join(workDir, `server-${owner}.json`);
  if (existsSync(recordFile)) {
    const record = JSON.parse(readFileSync(recordFile, 'utf8')) as ServerRecord;
    const url = `http://127.0.0.1:${record.port}/`;
    if (record.key === key && (await answers(url))) return url;
  }
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(repoRoot, 'tests/helpers/previewServer.mjs'), distDir, String(port), String(owner)], {
    cwd: repoRoot,
    detached: true,
    // Not our stderr: a pipe held open by the server would keep vitest waiting for it to close.
    stdio: ['ignore', 'pipe', openSync(path.join(workDir, 'preview.log'), 'a')],
    env: { ...process.env, VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' },
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('vite preview did not start within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`vite preview exited with code ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.stdout!.destroy();
  child.unref();
  writeFileSync(recordFile, JSON.stringify({ port, key } satisfies ServerRecord));
  return `http://127.0.0.1:${port}/`;
}
