/**
 * `attention` and `lens` on the command line: their text output, their JSON shape, and one-line
 * errors for bad arguments. In-process on the tiny fixture (tfjs cpu); the numbers themselves are
 * checked against a float64 reference on every backend by tests/helpers/analysisSuite.ts.
 */
import { describe, expect, it } from 'vitest';
import { fixtureDir } from '../helpers/fixture';
import { runCliCapturing as runCli } from '../helpers/analysisSuite';

const model = ['--model', fixtureDir, '--backend', 'cpu'];
const IDS = '54,13506,50256,345';

describe('attention command', () => {
  it('--json prints [layer][head][query][key] for every layer and head', async () => {
    const run = await runCli(['attention', ...model, '--ids', IDS, '--json']);
    expect(run.code).toBe(0);
    const { attention } = JSON.parse(run.stdout) as { attention: number[][][][] };
    expect([attention.length, attention[0].length, attention[0][0].length, attention[0][0][0].length]).toEqual([2, 4, 4, 4]);
    expect(attention[1][3][0]).toEqual([1, 0, 0, 0]);
  });

  it('prints, per layer and head, each query with the keys it attends to most', async () => {
    const run = await runCli(['attention', ...model, '--ids', IDS]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2 * 4 * (1 + 4)); // a heading and 4 queries per head
    expect(lines[0]).toBe('layer 1/2, head 1/4: query → the 3 keys it attends to most');
    expect(lines[1]).toMatch(/^ {4}0 "W" +→ {3}0 "W" 1\.000$/);
    expect(lines[3]).toMatch(/^ {4}2 "<\|endoftext\|>" →( +\d "[^"]*" 0\.\d{3}){3}$/);
    expect(lines[5]).toBe('layer 1/2, head 2/4: query → the 3 keys it attends to most');
  });

  it('refuses missing or bad --ids', async () => {
    const missing = await runCli(['attention', ...model]);
    expect([missing.code, missing.stderr.split('\n')[0]]).toEqual([2, 'error: missing --ids']);
    expect(missing.stderr.split('\n')[1]).toMatch(/^usage: attention --ids ID,ID,\.\.\./);
    const outside = await runCli(['attention', ...model, '--ids', '1,50257']);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/^error: token id 50257 is outside the vocabulary \[0, 50257\)$/);
    const long = await runCli(['attention', ...model, '--ids', new Array(65).fill(1).join(',')]);
    expect(long.stderr).toMatch(/^error: sequence would be 65 tokens long, more than this model reads \(64/);
    expect(long.stdout).toBe('');
  });
});

describe('lens command', () => {
  it('--json prints [layer][position] → the top 5 {id, logprob}, best first; --top changes how many', async () => {
    const run = await runCli(['lens', ...model, '--ids', IDS, '--json']);
    expect(run.code).toBe(0);
    const { layers } = JSON.parse(run.stdout) as { layers: { id: number; logprob: number }[][][] };
    expect([layers.length, layers[0].length, layers[0][0].length]).toEqual([2, 4, 5]);
    for (const entries of layers.flat()) {
      for (let j = 1; j < entries.length; j++) expect(entries[j].logprob).toBeLessThanOrEqual(entries[j - 1].logprob);
      expect(entries.every((e) => Number.isInteger(e.id) && e.logprob < 0)).toBe(true);
    }
    const two = JSON.parse((await runCli(['lens', ...model, '--ids', IDS, '--json', '--top', '2'])).stdout);
    expect(two.layers[1][3]).toEqual(layers[1][3].slice(0, 2));
  });

  it('prints a table: per position, a row per layer of tokens and log-probabilities', async () => {
    const run = await runCli(['lens', ...model, '--ids', IDS]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4 * (1 + 2));
    expect(lines[0]).toBe('position 0 "W": next token after each layer (log-probability)');
    expect(lines[1]).toMatch(/^ {2}layer {2}1 {2}("[^"]*" +-\d+\.\d{3} {2}){4}"[^"]*" +-\d+\.\d{3}$/);
    expect(lines[6]).toBe('position 2 "<|endoftext|>": next token after each layer (log-probability)');
  });

  it('refuses a bad --top', async () => {
    for (const top of ['0', '101', 'x']) {
      const run = await runCli(['lens', ...model, '--ids', IDS, '--top', top]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`^error: --top must be an integer from 1 to 100, got '${top}'`));
    }
  });
});

describe('--help lists the new commands', () => {
  it('attention and lens are registered', async () => {
    const run = await runCli(['--help']);
    expect(run.stdout).toMatch(/^ {2}attention +print every layer's and head's attention probabilities/m);
    expect(run.stdout).toMatch(/^ {2}lens +logit lens for --ids/m);
  });
});
