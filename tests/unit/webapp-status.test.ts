import { describe, expect, test } from 'vitest';
import { initialAppState } from '../../src/ui/appState';
import { backendNote } from '../../src/ui/backendNote';
import { pageStatus } from '../../src/ui/status';
import type { GenerateOptions, ModelInfo } from '../../src/worker/protocol';
import { generateOptions, generationStats, msg, run } from '../helpers/appActions';

const BUILT_IN: ModelInfo = {
  name: 'Sherlock GPT-2 (built in)',
  nLayer: 6,
  nHead: 4,
  nEmbd: 256,
  nPositions: 256,
  vocabSize: 50257,
  parameters: 19_000_000,
};
const OPTIONS = generateOptions({ max_new_tokens: 4, num_return_sequences: 3 });
const STATS = generationStats({ newTokens: 3, finishReasons: ['length', 'length', 'length'] });
const ready = run([{ type: 'load-started', id: 1, label: 'Sherlock' }, msg({ type: 'loaded', id: 1, loadMs: 300, model: BUILT_IN })]);
const generated = (options: GenerateOptions = OPTIONS) =>
  run(
    [
      { type: 'generate-started', id: 2, prompt: 'Hi', options },
      ...[0, 1, 2].map((sequence) => msg({ type: 'token', id: 2, sequence, tokenId: 1, text: 'x', index: 0, elapsedMs: 5 })),
      msg({ type: 'done', id: 2, stats: STATS }),
    ],
    ready,
  );

describe('the status line', () => {
  test('says what happens: starting, loading, ready, generating, done', () => {
    expect(pageStatus(initialAppState)).toMatchObject({ text: 'Starting…', tone: 'info' });
    expect(pageStatus(run([{ type: 'load-started', id: 1, label: 'x' }]))).toMatchObject({ text: 'Loading the model…', kind: 'loading' });
    expect(pageStatus(ready)).toMatchObject({ text: 'Ready. Press Generate.', kind: 'ready' });
    expect(pageStatus(run([{ type: 'generate-started', id: 2, prompt: 'Hi', options: OPTIONS }], ready)).text).toBe('Generating…');
    expect(pageStatus(generated())).toMatchObject({ text: 'Done: 3 tokens.', tone: 'info', kind: 'run' });
  });

  test('after a failed load it reports the failure, not the last run: one status, the current one', () => {
    const loading = run([{ type: 'load-started', id: 3, label: 'gpt2' }], generated());
    expect(pageStatus(loading).text).toBe('Loading the model…');
    const failed = run([msg({ type: 'error', id: 3, phase: 'load', message: 'Could not reach huggingface.co.', kept: BUILT_IN })], loading);
    expect(pageStatus(failed)).toEqual({
      text: 'Could not reach huggingface.co. Still using Sherlock GPT-2 (built in).',
      tone: 'error',
      kind: 'load-error',
    });
    expect(failed.run.tokenCount).toBe(3); // the last run's panes stay (a failed load keeps the outputs)
    // The next run is the current thing again.
    const again = run(
      [
        { type: 'generate-started', id: 4, prompt: 'Hi', options: { ...OPTIONS, num_return_sequences: 1 } },
        msg({ type: 'token', id: 4, sequence: 0, tokenId: 1, text: 'x', index: 0, elapsedMs: 5 }),
        msg({ type: 'done', id: 4, stats: { ...STATS, newTokens: 1, finishReasons: ['length'] } }),
      ],
      failed,
    );
    expect(pageStatus(again)).toMatchObject({ text: 'Done: 1 token.', tone: 'info' });
  });

  test('a crashed worker is the status (the header does not repeat it); a load that stopped to ask is not an error', () => {
    const crashed = run(
      [
        { type: 'load-started', id: 3, label: 'gpt2' },
        { type: 'worker-failed', message: 'The generation worker crashed.' },
      ],
      ready,
    );
    expect(pageStatus(crashed)).toMatchObject({ text: 'The generation worker crashed.', tone: 'error', kind: 'worker-error' });
    const asked = run(
      [
        { type: 'load-started', id: 3, label: 'big' },
        msg({ type: 'error', id: 3, phase: 'load', message: 'a 1.4 GB download', kept: BUILT_IN, downloadBytes: 1.4e9 }),
      ],
      ready,
    );
    expect(pageStatus(asked)).toMatchObject({ text: 'Ready. Press Generate.', tone: 'info' });
    const failedRun = run(
      [
        { type: 'generate-started', id: 5, prompt: 'Hi', options: OPTIONS },
        msg({ type: 'error', id: 5, phase: 'generate', message: 'Out of memory.' }),
      ],
      ready,
    );
    expect(pageStatus(failedRun)).toMatchObject({ text: 'Out of memory.', tone: 'error', kind: 'run-error' });
  });

  test('top-p 0 (or top-k 1, min-p 1) with sampling says why the outputs are all the same', () => {
    expect(pageStatus(generated({ ...OPTIONS, top_p: 0 })).text).toBe(
      'Done: 3 tokens. Top-p 0 keeps only the likeliest token, so the 3 outputs are the same (as greedy decoding).',
    );
    expect(pageStatus(generated({ ...OPTIONS, top_k: 1 })).text).toMatch(
      /Top-k 1 keeps only the likeliest token, so the 3 outputs are the same/,
    );
    expect(pageStatus(generated({ ...OPTIONS, min_p: 1 })).text).toMatch(/Min-p 1 keeps only the likeliest token/);
    expect(pageStatus(generated({ ...OPTIONS, top_p: 0.5 })).text).toBe('Done: 3 tokens.');
  });
});

describe('the backend note', () => {
  const forced = { backend: 'cpu', reason: 'Not WebGPU because ?backend=cpu was requested.' };
  test('names the address only when the address asked', () => {
    expect(backendNote(forced, 'cpu', false)).toBe('Not WebGPU because ?backend=cpu was requested.');
    expect(backendNote(forced, 'cpu', true)).toBe('Not WebGPU: plain JavaScript was chosen in the Backend menu.');
    expect(backendNote({ backend: 'wasm', reason: 'Not WebGPU because ?backend=wasm was requested.' }, 'wasm', true)).not.toMatch(
      /\?backend=/,
    );
  });

  test("a fallback or an automatic choice keeps the worker's reason", () => {
    const fallback = { backend: 'wasm', reason: 'webgl was requested but failed to start; falling back to wasm.' };
    expect(backendNote(fallback, 'webgl', true)).toBe(fallback.reason);
    const auto = { backend: 'wasm', reason: 'Not WebGPU because no WebGPU adapter is available.' };
    expect(backendNote(auto, 'auto', true)).toBe(auto.reason);
  });
});
