/**
 * One rule for seeds everywhere: a 32-bit unsigned integer, written in decimal, or the value is
 * refused naming the range. generate()'s options, the CLI's --seed (also `--seed -1`, which node's
 * parseArgs would call ambiguous) and the page's Seed box and ?seed= (tests/unit/webapp-settings.test.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { validateOptions } from '../../src/generation/options';
import { MAX_SEED, SEED_RANGE, isSeed, parseSeed } from '../../src/generation/random';
import { fixtureDir } from '../helpers/fixture';

afterEach(() => vi.restoreAllMocks());

describe('the seed rule', () => {
  it('parseSeed takes decimal digits up to 2^32 - 1 and nothing else', () => {
    expect([parseSeed('0'), parseSeed(' 42 '), parseSeed(String(MAX_SEED))]).toEqual([0, 42, MAX_SEED]);
    for (const text of ['-1', '0x10', '1e3', '+5', '1.5', '4294967296', '99999999999', '', ' ']) expect(parseSeed(text), text).toBeNull();
  });

  it("generate()'s seed option follows it", () => {
    expect(isSeed(MAX_SEED)).toBe(true);
    expect(validateOptions({ do_sample: true, seed: MAX_SEED }).seed).toBe(MAX_SEED);
    for (const seed of [-1, 1.5, MAX_SEED + 1, Number.MAX_SAFE_INTEGER]) {
      expect(() => validateOptions({ do_sample: true, seed })).toThrow(`expected ${SEED_RANGE}`);
    }
  });
});

describe('the CLI --seed', () => {
  async function runCli(args: string[]) {
    const err: string[] = [];
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const code = await main(args);
    vi.restoreAllMocks();
    return { code, stderr: err.join('\n') };
  }
  const base = ['generate', '--model', fixtureDir, '--backend', 'cpu', '--prompt', 'Watson you are'];

  for (const flags of [['--seed', '-1'], ['--seed=-1'], ['--seed', '0x10'], ['--seed', '4294967296'], ['--seed', '1e3']]) {
    it(`refuses ${flags.join(' ')} with the range, exit code 2`, async () => {
      const value = flags.length === 2 ? flags[1] : flags[0].slice('--seed='.length);
      const run = await runCli([...base, ...flags]);
      expect(run.code).toBe(2);
      expect(run.stderr.split('\n')[0]).toBe(
        `error: --seed ${value}: expected an integer from 0 to 4294967295 (a 32-bit unsigned integer)`,
      );
    });
  }

  it('a negative value after any option reaches that option’s own check', async () => {
    const run = await runCli([...base, '--temperature', '-1']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: --temperature -1: expected a number >= 0/);
  });
});
