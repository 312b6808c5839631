/**
 * The CLI against the tiny-gpt2 fixture, on a copy written in the save_pretrained layout
 * (`transformer.` prefix, BOOL mask buffers). A few checks spawn the real process (the honest
 * test of exit codes and stderr); the rest call main() in-process to keep the file fast.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { fixtureExpected, fixtureLastLogits, repoRoot } from '../helpers/fixture';
import { writeFixtureCopy } from '../helpers/fixtureCopy';

const expected = fixtureExpected();
let tmp: string;
let modelDir: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'gpt2-cli-'));
  modelDir = writeFixtureCopy(path.join(tmp, 'saved'), { prefix: 'transformer.', boolMasks: true });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `npm run cli -- ...` as a real process. */
function spawnCli(args: string[]) {
  const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');
  const result = spawnSync(tsx, ['src/cli/main.ts', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs main() in this process, capturing what it prints. */
async function runCli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  try {
    const code = await main(args);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

function checkLastLogits(logits: number[], caseIndex: number) {
  const c = expected.cases[caseIndex];
  const reference = fixtureLastLogits(c);
  const tolerance = 1e-4 * Math.max(...Array.from(reference, Math.abs));
  expect(logits).toHaveLength(reference.length);
  let worst = 0;
  for (let j = 0; j < reference.length; j++) worst = Math.max(worst, Math.abs(logits[j] - reference[j]));
  expect(worst).toBeLessThanOrEqual(tolerance);
  const last = c.positions[c.positions.length - 1];
  const top5 = [...logits.keys()].sort((a, b) => logits[b] - logits[a]).slice(0, 5);
  expect(top5).toEqual(last.top5_ids);
  const max = Math.max(...logits);
  const lse = max + Math.log(logits.reduce((s, v) => s + Math.exp(v - max), 0));
  expect(Math.abs(lse - last.logsumexp)).toBeLessThanOrEqual(tolerance);
}

describe('CLI as a process', () => {
  it('tokenize --json prints the reference ids', () => {
    const { text, ids } = expected.tokenizer[2];
    const run = spawnCli(['tokenize', '--text', text, '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ ids });
  });

  it("logits --json prints the last position's logits within tolerance", () => {
    const run = spawnCli(['logits', '--model', modelDir, '--ids', expected.cases[0].input_ids.join(','), '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    checkLastLogits(JSON.parse(run.stdout).logits, 0);
  });

  it('generate --greedy --json prints the reference greedy ids and text', () => {
    const c = expected.cases[1];
    const prompt = expected.tokenizer[1].text;
    expect(expected.tokenizer[1].ids).toEqual(c.input_ids);
    const run = spawnCli(['generate', '--model', modelDir, '--prompt', prompt, '--max-new-tokens', '20', '--greedy', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).sequences).toEqual([{ ids: c.greedy_ids, text: c.greedy_text }]);
  });

  it('a bad --model folder is one line on stderr and exit code 1', () => {
    const run = spawnCli(['logits', '--model', path.join(tmp, 'no-such-model'), '--ids', '1,2']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^error: --model .*no-such-model/);
    expect(run.stderr).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
  });
});

describe('CLI in-process', () => {
  afterEach(() => vi.restoreAllMocks());

  it('tokenize matches every fixture text', async () => {
    for (const { text, ids } of expected.tokenizer) {
      const run = await runCli(['tokenize', '--text', text, '--json']);
      expect(JSON.parse(run.stdout)).toEqual({ ids });
    }
  });

  it('logits match the reference for every case', async () => {
    for (let i = 0; i < expected.cases.length; i++) {
      const run = await runCli(['logits', '--model', modelDir, '--ids', expected.cases[i].input_ids.join(','), '--json']);
      expect(run.code).toBe(0);
      checkLastLogits(JSON.parse(run.stdout).logits, i);
    }
  });

  it('generate --greedy matches the reference for every case', async () => {
    for (let i = 0; i < expected.cases.length; i++) {
      const run = await runCli([
        'generate',
        '--model',
        modelDir,
        '--prompt',
        expected.tokenizer[i].text,
        '--max-new-tokens',
        '20',
        '--greedy',
        '--json',
      ]);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout).sequences[0].ids).toEqual(expected.cases[i].greedy_ids);
    }
  });

  it('broken model files and bad arguments are one-line errors', async () => {
    const truncated = writeFixtureCopy(path.join(tmp, 'truncated'), { edit: (ts) => ts.filter((t) => t.name !== 'ln_f.bias') });
    const missing = await runCli(['logits', '--model', truncated, '--ids', '1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: .*missing tensor 'ln_f\.bias'/);
    expect(missing.stderr.split('\n')).toHaveLength(1);

    const usage = await runCli(['generate', '--model', modelDir, '--prompt', 'x', '--max-new-tokens', 'ten']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^error: --max-new-tokens must be an integer >= 1, got 'ten'\nusage: generate /);

    expect((await runCli(['logits', '--model', modelDir, '--ids', '1', '--backend', 'tpu'])).stderr).toMatch(
      /^error: --backend must be one of cpu, wasm, webgpu, got 'tpu'/,
    );
    expect((await runCli(['frobnicate'])).stderr).toMatch(/^error: unknown command 'frobnicate' \(commands: tokenize, logits, generate/);
    expect((await runCli(['logits', '--model', modelDir, '--ids', '50257'])).stderr).toBe(
      'error: token id 50257 is outside the vocabulary [0, 50257)',
    );
  });
});
