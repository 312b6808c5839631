/**
 * A checkpoint from this computer, picked (files or a folder) or dropped on the page: which files
 * make the model, and what to call it. A model is named after its folder ("gpt2-finetuned"), else
 * its config.json's `_name_or_path`, else "local files"; never after model.safetensors, which
 * every checkpoint's weights are called.
 */
import { specFromFiles } from '../sources/localFiles';
import type { ModelSpec } from '../worker/protocol';

/** A file and its path: "folder/config.json" when it came in a folder, its name otherwise. */
export interface LocalFile {
  file: File;
  path: string;
}

/** The folder a checkpoint's config.json sits in, from its path; null for loose files. */
function folderOf(path: string): string | null {
  const parts = path.split('/').filter(Boolean);
  return parts.length >= 2 ? parts[parts.length - 2] : null;
}

/** `_name_or_path` as a name: a hub id ("openai-community/gpt2") as it is, a local path by its last folder. */
function nameFromConfig(config: unknown): string | null {
  if (typeof config !== 'object' || config === null) return null;
  const raw = (config as Record<string, unknown>)._name_or_path;
  if (typeof raw !== 'string' || raw.trim() === '') return null;
  const value = raw.trim();
  const isPath = /^[./~]|\\|^[A-Za-z]:/.test(value) || value.split('/').length > 2;
  if (!isPath) return value;
  const parts = value.split(/[\\/]+/).filter(Boolean);
  return parts[parts.length - 1] ?? null;
}

/** What the page calls a local checkpoint: its folder's name, else config.json's `_name_or_path`, else "local files". */
export function localModelName(configPath: string, config: unknown): string {
  return folderOf(configPath) ?? nameFromConfig(config) ?? 'local files';
}

/**
 * The files that make the checkpoint: from a folder, the files directly in it (a hub snapshot
 * also holds onnx/ and the like); a file named exactly config.json wins over other *config.json
 * files (generation_config.json, tokenizer_config.json sit beside it in every hub folder).
 */
export function checkpointFiles(files: readonly LocalFile[]): LocalFile[] {
  const depth = (f: LocalFile) => f.path.split('/').filter(Boolean).length;
  const top = files.length > 0 ? Math.min(...files.map(depth)) : 0;
  const shallow = files.filter((f) => depth(f) === top);
  const exact = shallow.some((f) => f.file.name === 'config.json');
  return shallow.filter((f) => !exact || f.file.name === 'config.json' || !f.file.name.endsWith('config.json'));
}

/**
 * The spec to load local files with, named (see localModelName). Throws the sources' message
 * (what is missing, what to pick instead) when the files are not a checkpoint.
 */
export async function localModelSpec(files: readonly LocalFile[]): Promise<ModelSpec> {
  const chosen = checkpointFiles(files);
  const spec = specFromFiles(chosen.map((f) => f.file));
  if (spec.kind !== 'files') return spec;
  const configFile = chosen.find((f) => f.file === spec.config);
  let config: unknown = null;
  try {
    config = JSON.parse(await (spec.config as File).text());
  } catch {
    // Not JSON: the load itself says so; the name falls back.
  }
  return { ...spec, name: localModelName(configFile?.path ?? 'config.json', config) };
}

/** Files from an <input type=file> (webkitRelativePath is set when a folder was picked). */
export function pickedFiles(list: FileList | null): LocalFile[] {
  return Array.from(list ?? []).map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}

/** Every file of a dropped folder, with its path inside the drop. */
async function readFolder(entry: FileSystemDirectoryEntry): Promise<LocalFile[]> {
  const reader = entry.createReader();
  const entries: FileSystemEntry[] = [];
  // readEntries answers in batches until it answers none.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    entries.push(...batch);
  }
  const files: LocalFile[] = [];
  for (const child of entries) {
    if (child.isFile) {
      const file = await new Promise<File>((resolve, reject) => (child as FileSystemFileEntry).file(resolve, reject));
      files.push({ file, path: child.fullPath.replace(/^\//, '') });
    } else if (child.isDirectory) {
      files.push(...(await readFolder(child as FileSystemDirectoryEntry)));
    }
  }
  return files;
}

/**
 * The files of a drop, folders read through. Must be called during the drop event (a
 * DataTransfer empties after it); the reading itself goes on after.
 */
export function droppedFiles(data: DataTransfer): Promise<LocalFile[]> {
  const items = Array.from(data.items ?? [])
    .filter((item) => item.kind === 'file')
    .map((item) => ({ entry: item.webkitGetAsEntry?.() ?? null, file: item.getAsFile() }));
  if (!items.some((i) => i.entry?.isDirectory)) return Promise.resolve(Array.from(data.files).map((file) => ({ file, path: file.name })));
  return (async () => {
    const files: LocalFile[] = [];
    for (const { entry, file } of items) {
      if (entry?.isDirectory) files.push(...(await readFolder(entry as FileSystemDirectoryEntry)));
      else if (file) files.push({ file, path: file.name });
    }
    return files;
  })();
}
