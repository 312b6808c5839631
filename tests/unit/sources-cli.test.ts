/** The CLI with hub models: `--model hf:REPO --hub-url URL` downloads once into the disk cache. */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { fixtureDir, fixtureExpected, fixtureLastLogits } from '../helpers/fixture';
import { startHubServer, type HubServer } from '../helpers/hubServer';

let hub: HubServer;
let cacheDir: string;
const saved = { hub: process.env.GPT2_HUB_URL, cache: process.env.GPT2_CACHE_DIR };

beforeAll(async () => {
  hub = await startHubServer({
    repos: {
      'org/tiny-gpt2': {
        'config.json': new Uint8Array(readFileSync(path.join(fixtureDir, 'config.json'))),
        'model.safetensors': new Uint8Array(readFileSync(path.join(fixtureDir, 'model.safetensors'))),
      },
    },
  });
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'gpt2-cli-cache-'));
  process.env.GPT2_CACHE_DIR = cacheDir;
  delete process.env.GPT2_HUB_URL;
});

afterAll(async () => {
  await hub?.stop();
  await rm(cacheDir, { recursive: true, force: true });
  process.env.GPT2_CACHE_DIR = saved.cache;
  if (saved.hub === undefined) delete process.env.GPT2_HUB_URL;
  else process.env.GPT2_HUB_URL = saved.hub;
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

it('logits --model hf:org/tiny-gpt2 --hub-url URL matches the reference, and the second run needs no server', async () => {
  const testCase = fixtureExpected().cases[0];
  const args = ['logits', '--model', 'hf:org/tiny-gpt2', '--hub-url', hub.url, '--ids', testCase.input_ids.join(','), '--json'];
  const first = await run(args);
  expect(first.err).toBe('');
  expect(first.code).toBe(0);
  const logits = JSON.parse(first.out).logits as number[];
  const expected = fixtureLastLogits(testCase);
  const maxRef = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  expect(Math.max(...expected.map((v, i) => Math.abs(logits[i] - v)))).toBeLessThanOrEqual(1e-4 * maxRef);
  expect(hub.requests.length).toBeGreaterThan(0);

  await hub.stop();
  const second = await run(args);
  expect(second.code).toBe(0);
  expect(JSON.parse(second.out).logits).toEqual(logits);
});

it('an unreachable hub gives one clear line', async () => {
  const result = await run(['logits', '--model', 'hf:org/other', '--hub-url', hub.url, '--ids', '1,2']);
  expect(result.code).toBe(1);
  expect(result.err).toMatch(/^error: Could not reach 127\.0\.0\.1:\d+ to download config\.json of org\/other@main .*retry/);
});
