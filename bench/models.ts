/**
 * The benchmark's checkpoints: the tiny fixture model from ../shared, and a GPT-2-124M-shaped
 * checkpoint with seeded random weights, made once by the peer benchmark's own generator so both
 * sides measure the very same file (cached under .cache/bench/, never committed).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const sharedDir = path.resolve(repoRoot, '../shared');

export const MODEL_NAMES = ['tiny', '124m', 'builtin', 'medium', 'large', 'xl'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface BenchModel {
  name: ModelName;
  /** Folder holding config.json and model.safetensors. */
  dir: string;
  description: string;
}

/** Seed and generator shared with the peer benchmark (transformers.js side). */
export const RANDOM_SEED = 1234;
const GENERATOR = path.join(sharedDir, 'peer/make_gpt2_random.py');
const PYTHON = process.env.BENCH_PYTHON ?? 'python3';

/** GPT-2 medium/large/xl shapes (layers, width, heads), random weights, made in a scratch folder (never committed). */
const LARGE_SHAPES = { medium: [24, 1024, 16], large: [36, 1280, 20], xl: [48, 1600, 25] } as const;
/** Where the large random checkpoints go: $BENCH_LARGE_DIR, default /tmp/gpt2-shapes (3.1 and 6.2 GB files). */
export const LARGE_DIR = process.env.BENCH_LARGE_DIR ?? '/tmp/gpt2-shapes';

export function benchModel(name: ModelName): BenchModel {
  if (name === 'medium' || name === 'large' || name === 'xl') {
    const [layers, embd, heads] = LARGE_SHAPES[name];
    const dir = path.join(LARGE_DIR, `gpt2-${name}-random`);
    if (!existsSync(path.join(dir, 'model.safetensors'))) {
      process.stderr.write(`making the gpt2-${name}-shaped random checkpoint in ${dir} ...\n`);
      execFileSync(
        PYTHON,
        [
          GENERATOR,
          '--seed',
          String(RANDOM_SEED),
          '--layers',
          String(layers),
          '--embd',
          String(embd),
          '--heads',
          String(heads),
          '--out',
          dir,
        ],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
    }
    return { name, dir, description: `gpt2-${name}-shaped (${layers} layers × ${embd}, ${heads} heads), seeded random weights` };
  }
  if (name === 'tiny') {
    return { name, dir: path.join(sharedDir, 'fixtures/tiny-gpt2'), description: 'tiny-gpt2 fixture (random weights, 2 layers)' };
  }
  if (name === 'builtin') {
    return { name, dir: path.join(repoRoot, 'public/models/sherlock-gpt2'), description: "the app's built-in sherlock-gpt2 (context 256)" };
  }
  const dir = path.join(repoRoot, '.cache/bench/gpt2-124m-random');
  if (!existsSync(path.join(dir, 'model.safetensors'))) {
    process.stderr.write(`making the 124M-shaped random checkpoint in ${dir} (seed ${RANDOM_SEED}) ...\n`);
    try {
      execFileSync(PYTHON, [GENERATOR, '--seed', String(RANDOM_SEED), '--out', dir], { stdio: ['ignore', 'inherit', 'inherit'] });
    } catch (error) {
      throw new Error(
        `could not make the random 124M checkpoint with ${PYTHON} ${GENERATOR} (it needs numpy; set BENCH_PYTHON to another python): ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  return { name, dir, description: `GPT-2-124M-shaped, seeded random weights (seed ${RANDOM_SEED}, make_gpt2_random.py)` };
}
