/**
 * Writes a modified copy of the tiny-gpt2 fixture to a folder: the `save_pretrained` layout
 * (`transformer.` prefix), BOOL causal-mask buffers, an explicit lm_head, or other dtypes.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fixtureDir } from './fixture';
import { readSafetensors, writeSafetensors, type RawTensor } from './safetensorsWriter';

export interface FixtureCopyOptions {
  /** Prefix every tensor name (save_pretrained writes `transformer.`). */
  prefix?: string;
  /** Store `h.N.attn.bias` as a BOOL lower-triangular mask, as some exports do. */
  boolMasks?: boolean;
  /** Append an explicit `lm_head.weight` computed from wte. */
  lmHead?: (wte: Float32Array) => Float32Array;
  /** Any further edit of the tensor list. */
  edit?: (tensors: RawTensor[]) => RawTensor[];
}

export function fixtureTensors(): RawTensor[] {
  return readSafetensors(new Uint8Array(readFileSync(path.join(fixtureDir, 'model.safetensors'))));
}

export function modifiedFixtureTensors(options: FixtureCopyOptions): RawTensor[] {
  let tensors = fixtureTensors();
  if (options.boolMasks) {
    tensors = tensors.map((t) => (/\.attn\.bias$/.test(t.name) ? boolMask(t) : t));
  }
  if (options.lmHead) {
    const wte = tensors.find((t) => t.name === 'wte.weight')!;
    const values = new Float32Array(wte.data.slice().buffer);
    tensors.push({ name: 'lm_head.weight', dtype: 'F32', shape: wte.shape, data: new Uint8Array(options.lmHead(values).buffer) });
  }
  if (options.edit) tensors = options.edit(tensors);
  const prefix = options.prefix ?? '';
  // save_pretrained keeps lm_head outside the transformer
  return tensors.map((t) => (t.name === 'lm_head.weight' ? t : { ...t, name: prefix + t.name }));
}

/** Writes config.json and model.safetensors into `dir`; returns dir. */
export function writeFixtureCopy(dir: string, options: FixtureCopyOptions = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), readFileSync(path.join(fixtureDir, 'config.json')));
  writeFileSync(path.join(dir, 'model.safetensors'), writeSafetensors(modifiedFixtureTensors(options)));
  return dir;
}

function boolMask(t: RawTensor): RawTensor {
  const n = t.shape[t.shape.length - 1];
  const data = new Uint8Array(n * n);
  for (let i = 0; i < n; i++) data.fill(1, i * n, i * n + i + 1);
  return { name: t.name, dtype: 'BOOL', shape: t.shape, data };
}
