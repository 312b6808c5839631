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
import { cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fixtureDir, repoRoot } from './fixture';

const workDir = path.join(repoRoot, '.cache/e2e');
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

/** A build per input fingerprint, so concurrent runs never swap files under each other's server. */
function buildDir(key: string): string {
  return path.join(workDir, `build-${key.slice(0, 16)}`);
}

/** Builds the app into .cache/e2e/build-<fingerprint> unless that build exists; returns its folder. */
export function ensureBuild(): string {
  const key = buildInputsKey();
  const dir = buildDir(key);
  if (existsSync(path.join(dir, 'index.html'))) return dir;
  mkdirSync(workDir, { recursive: true });
  // Build beside and rename, so a failed build never leaves half a folder behind.
  const fresh = `${dir}.tmp-${process.pid}`;
  rmSync(fresh, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    // Each build writes its own folder, so concurrent runs (another vitest, `npm start`) never overlap.
    [path.join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', fresh, '--emptyOutDir', '--logLevel', 'warn'],
    // NODE_ENV: vitest sets it to 'test', which would give React's development build.
    {
      cwd: repoRoot,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, NODE_ENV: 'production', VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' },
    },
  );
  cpSync(fixtureDir, path.join(fresh, TINY_MODEL_PATH), { recursive: true });
  rmSync(dir, { recursive: true, force: true });
  renameSync(fresh, dir);
  removeOldBuilds(dir);
  return dir;
}

/** Keeps the newest few builds (others may still be served by a concurrent run). */
function removeOldBuilds(keep: string): void {
  const builds = readdirSync(workDir)
    .filter((name) => /^build-[0-9a-f]{16}$/.test(name))
    .map((name) => path.join(workDir, name))
    .filter((dir) => dir !== keep)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const dir of builds.slice(2)) rmSync(dir, { recursive: true, force: true });
}

/** A port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
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

interface ServerRecord {
  port: number;
  dir: string;
}

export interface ServedApp {
  /** The app's URL, ending in '/'. */
  url: string;
  /** The build folder it serves. */
  dir: string;
}

/**
 * The built app, served. One build and one server per vitest run: vitest runs each test file in
 * a child of the same main process (our parent), so the server is recorded under that process
 * id, and later files reuse it even if sources changed meanwhile.
 */
export async function servedApp(): Promise<ServedApp> {
  const owner = process.ppid;
  const recordFile = path.join(workDir, `server-${owner}.json`);
  if (existsSync(recordFile)) {
    const record = JSON.parse(readFileSync(recordFile, 'utf8')) as ServerRecord;
    const url = `http://127.0.0.1:${record.port}/`;
    if (existsSync(record.dir) && (await answers(url))) return { url, dir: record.dir };
  }
  forgetFinishedRuns();
  const dir = ensureBuild();
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(repoRoot, 'tests/helpers/previewServer.mjs'), dir, String(port), String(owner)], {
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
  writeFileSync(recordFile, JSON.stringify({ port, dir } satisfies ServerRecord));
  return { url: `http://127.0.0.1:${port}/`, dir };
}

/** Drops the server records of vitest runs that have ended (their servers exited with them). */
function forgetFinishedRuns(): void {
  if (!existsSync(workDir)) return;
  for (const name of readdirSync(workDir)) {
    const owner = /^server-(\d+)\.json$/.exec(name)?.[1];
    if (!owner) continue;
    try {
      process.kill(Number(owner), 0);
    } catch {
      rmSync(path.join(workDir, name), { force: true });
    }
  }
}

/** The served app's URL, ending in '/'. */
export async function appUrl(): Promise<string> {
  return (await servedApp()).url;
}
