/** The tiny random GPT-2 in Hugging Face layout, with float64 reference results (../shared). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixtureDir = path.resolve(repoRoot, '../shared/fixtures/tiny-gpt2');

export interface FixturePosition {
  top5_ids: number[];
  top5_logits: number[];
  logsumexp: number;
}
export interface FixtureCase {
  input_ids: number[];
  positions: FixturePosition[];
  last_logits_file: string;
  greedy_ids: number[];
  greedy_gaps: number[];
  greedy_text: string;
}
export interface FixtureExpected {
  config: Record<string, unknown>;
  dtype: string;
  tokenizer: { text: string; ids: number[] }[];
  cases: FixtureCase[];
  sampling: unknown;
}

export function fixtureConfigJson(): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(fixtureDir, 'config.json'), 'utf8'));
}

/** model.safetensors as a fresh ArrayBuffer (safe to modify). */
export function fixtureSafetensors(): ArrayBuffer {
  const bytes = readFileSync(path.join(fixtureDir, 'model.safetensors'));
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export function fixtureExpected(): FixtureExpected {
  return JSON.parse(readFileSync(path.join(fixtureDir, 'expected.json'), 'utf8'));
}

/** The float32 reference logits of a case's last position (little-endian f32 file). */
export function fixtureLastLogits(c: FixtureCase): Float32Array {
  const bytes = readFileSync(path.join(fixtureDir, c.last_logits_file));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
