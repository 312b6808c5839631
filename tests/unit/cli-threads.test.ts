/**
 * `--threads` on the CLI: `generate --dtype q8` gives the same tokens on 1 and 3 threads (the
 * products are bit-identical at every thread count), and a bad count is a usage error (exit 2)
 * that names the allowed range.
 */
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { fixtureDir } from '../helpers/fixture';

async function runCli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ') + '\n'));
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  try {
    return { code: await main(args), stdout: out.join(''), stderr: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

const generate = [
  'generate',
  '--model',
  fixtureDir,
  '--backend',
  'wasm',
  '--dtype',
  'q8',
  '--prompt',
  'Watson you are',
  '--greedy',
  '--max-new-tokens',
  '8',
  '--json',
];

describe('--threads', () => {
  it('gives the same q8 tokens on 1 and 3 threads', async () => {
    const one = await runCli([...generate, '--threads', '1']);
    const three = await runCli([...generate, '--threads', '3']);
    expect(one.code, one.stderr).toBe(0);
    expect(three.code, three.stderr).toBe(0);
    const ids = (r: { stdout: string }) => JSON.parse(r.stdout).sequences[0].ids;
    expect(ids(one)).toHaveLength(8);
    expect(ids(three)).toEqual(ids(one));
  }, 60_000);

  it('refuses a count outside 1 to 64 with a usage error naming the range', async () => {
    const result = await runCli([...generate, '--threads', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--threads must be a whole number from 1 to 64, got '0'");
  });
});
