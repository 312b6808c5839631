/**
 * Node only (the CLI): the ModelCache kept on disk, like the hub's own ~/.cache/huggingface.
 * Layout: {root}/{encoded repo}/{encoded revision}/{file} for huggingface.co, and
 * {root}/@hub/{encoded hub URL}/{encoded repo}/{encoded revision}/{file} for other hubs. Files are written under a temporary
 * name ({file}.partial-{pid}-{ms}) and renamed into place only when complete, so a killed download never looks cached; the
 * next download into the same folder removes the temporary files of processes that no longer run.
 */
import { createReadStream, openAsBlob } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  groupCachedModels,
  quotaError,
  sizedWriter,
  type CacheKey,
  type CachedFile,
  type CachedModel,
  type CacheWriter,
  type ModelCache,
} from './cache';
import { isQuotaError } from './errors';

/** $GPT2_CACHE_DIR, else $XDG_CACHE_HOME/gpt2-browser, else ~/.cache/gpt2-browser. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GPT2_CACHE_DIR) return env.GPT2_CACHE_DIR;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'gpt2-browser');
}

export class FileSystemModelCache implements ModelCache {
  constructor(readonly root: string = defaultCacheDir()) {}

  async open(key: CacheKey): Promise<CachedFile | null> {
    const file = this.pathOf(key);
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return null;
    return {
      size: info.size,
      stream: async () => Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>,
    };
  }

  async create(key: CacheKey, size: number): Promise<CacheWriter> {
    const target = this.pathOf(key);
    await mkdir(path.dirname(target), { recursive: true });
    await removeStalePartials(path.dirname(target));
    const temporary = `${target}.partial-${process.pid}-${Date.now()}`;
    const handle = await open(temporary, 'w');
    return sizedWriter(key, size, {
      write: async (chunk) => {
        await handle.write(chunk).catch((error: unknown) => {
          throw isQuotaError(error) ? quotaError(key, size, error) : error;
        });
      },
      commit: async () => {
        await handle.close();
        await rename(temporary, target);
      },
      discard: async () => {
        await handle.close().catch(() => undefined);
        await unlink(temporary).catch(() => undefined);
      },
    });
  }

  async list(): Promise<CachedModel[]> {
    const entries: { key: CacheKey; bytes: number; storedAt: number }[] = [];
    const walk = async (root: string, hub: string | undefined) => {
      for (const repoDir of await readdir(root).catch(() => [] as string[])) {
        if (repoDir === HUBS_DIR) continue;
        for (const revisionDir of await readdir(path.join(root, repoDir)).catch(() => [] as string[])) {
          const dir = path.join(root, repoDir, revisionDir);
          for (const file of await readdir(dir).catch(() => [] as string[])) {
            if (file.includes('.partial-')) continue;
            const info = await stat(path.join(dir, file));
            entries.push({
              key: { ...(hub ? { hub } : {}), repo: decodeURIComponent(repoDir), revision: decodeURIComponent(revisionDir), file },
              bytes: info.size,
              storedAt: info.mtimeMs,
            });
          }
        }
      }
    };
    await walk(this.root, undefined);
    for (const hubDir of await readdir(path.join(this.root, HUBS_DIR)).catch(() => [] as string[])) {
      await walk(path.join(this.root, HUBS_DIR, hubDir), decodeURIComponent(hubDir));
    }
    return groupCachedModels(entries);
  }

  async delete(repo: string, revision: string, hub?: string): Promise<boolean> {
    const dir = path.join(this.hubRoot(hub), encodeURIComponent(repo), encodeURIComponent(revision));
    const existed = (await stat(dir).catch(() => null)) !== null;
    await rm(dir, { recursive: true, force: true });
    return existed;
  }

  private hubRoot(hub: string | undefined): string {
    return hub ? path.join(this.root, HUBS_DIR, encodeURIComponent(hub)) : this.root;
  }

  private pathOf(key: CacheKey): string {
    return path.join(this.hubRoot(key.hub), encodeURIComponent(key.repo), encodeURIComponent(key.revision), path.basename(key.file));
  }
}

/** A temporary file's name: the file, the writing process's id and when it started. */
const PARTIAL = /\.partial-(\d+)-\d+$/;

/** Removes the temporary files in `dir` left by processes that are gone (killed mid-download); a running download's stay. */
async function removeStalePartials(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(PARTIAL.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && !isRunning(pid)) await unlink(path.join(dir, name)).catch(() => undefined);
  }
}

/** Whether a process with this id runs on this machine (EPERM: it runs as another user). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Where other hubs' files live (a repo id never starts with '@'). */
const HUBS_DIR = '@hub';

/** A model folder on disk as a `files` spec: both files are read lazily, tensor by tensor. */
export async function filesFromFolder(dir: string): Promise<{ config: Blob; weights: Blob }> {
  const [config, weights] = await Promise.all([fileAsBlob(path.join(dir, 'config.json')), fileAsBlob(path.join(dir, 'model.safetensors'))]);
  return { config, weights };
}

/**
 * A file as a Blob read lazily. Node 20's fs.openAsBlob gives the size of a file over 4 GiB modulo
 * 2^32 (gpt2-xl's 6.2 GB model.safetensors reads as 1.9 GB), so such a file is read as streams of
 * byte ranges instead.
 */
export async function fileAsBlob(file: string): Promise<Blob> {
  const { size } = await stat(file);
  return size < 2 ** 32 ? openAsBlob(file) : rangeBlob(file, 0, size);
}

/** Bytes start..end-1 of a file, with the part of Blob's interface the loaders use (size, slice, stream, arrayBuffer, text). */
function rangeBlob(file: string, start: number, end: number): Blob {
  const size = end - start;
  const stream = (): ReadableStream<Uint8Array> =>
    size === 0
      ? new Blob([]).stream()
      : (Readable.toWeb(createReadStream(file, { start, end: end - 1 })) as unknown as ReadableStream<Uint8Array>);
  const at = (offset: number | undefined, fallback: number) => {
    const o = offset ?? fallback;
    return Math.min(size, Math.max(0, o < 0 ? size + o : o));
  };
  const blob = {
    size,
    type: '',
    slice: (from?: number, to?: number) => rangeBlob(file, start + at(from, 0), start + Math.max(at(from, 0), at(to, size))),
    stream,
    arrayBuffer: async () => new Uint8Array(await new Response(stream()).arrayBuffer()).buffer,
    text: async () => new Response(stream()).text(),
  };
  return blob as unknown as Blob;
}
