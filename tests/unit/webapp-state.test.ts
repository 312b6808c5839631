import { describe, expect, test } from 'vitest';
import { liveTokensPerSecond, type AppAction } from '../../src/ui/appState';
import type { GenerateOptions } from '../../src/worker/protocol';
import { generateOptions, generationStats, msg, run } from '../helpers/appActions';

const token = (id: number, sequence: number, index: number, text: string, elapsedMs: number): AppAction =>
  msg({ type: 'token', id, sequence, tokenId: 1, text, index, elapsedMs });
const options = (sequences: number, seed = 42): GenerateOptions => generateOptions({ num_return_sequences: sequences, seed });
const STATS = generationStats({ newTokens: 4, finishReasons: ['length', 'length'] });

describe('app state', () => {
  test('tokens append to their sequence pane', () => {
    const state = run([
      { type: 'generate-started', id: 1, prompt: 'Hi', options: options(2) },
      token(1, 0, 0, ' there', 100),
      token(1, 1, 0, ' you', 100),
      token(1, 0, 1, ' friend', 150),
      token(1, 1, 1, '!', 150),
    ]);
    expect(state.run.outputs).toEqual([' there friend', ' you!']);
    expect(state.run.tokenCount).toBe(4);
    expect(state.run.tokens.map((seq) => seq.map((t) => t.text))).toEqual([
      [' there', ' friend'],
      [' you', '!'],
    ]);
    expect(state.run.firstTokenMs).toBe(100);
  });

  test('tokens of an earlier request are ignored', () => {
    const state = run([
      { type: 'generate-started', id: 1, prompt: 'a', options: options(1) },
      { type: 'generate-started', id: 2, prompt: 'b', options: options(1) },
      token(1, 0, 0, 'stale', 10),
      token(2, 0, 0, 'fresh', 10),
    ]);
    expect(state.run.outputs).toEqual(['fresh']);
  });

  test('live tokens/s counts decode steps after the first token', () => {
    const state = run([
      { type: 'generate-started', id: 1, prompt: '', options: options(2) },
      token(1, 0, 0, 'a', 1000),
      token(1, 1, 0, 'b', 1000),
      token(1, 0, 1, 'c', 1500),
      token(1, 1, 1, 'd', 1500),
      token(1, 0, 2, 'e', 2000),
      token(1, 1, 2, 'f', 2000),
    ]);
    // 4 tokens after the first step, in 1 s.
    expect(liveTokensPerSecond(state.run)).toBe(4);
  });

  test('Stop then done ends as stopped; done alone ends as done', () => {
    const started: AppAction = { type: 'generate-started', id: 1, prompt: '', options: options(2) };
    const stopped = run([
      started,
      { type: 'stop-requested' },
      msg({ type: 'done', id: 1, stats: { ...STATS, finishReasons: ['abort', 'abort'] } }),
    ]);
    expect(stopped.run.status).toBe('stopped');
    const done = run([started, msg({ type: 'done', id: 1, stats: STATS })]);
    expect(done.run.status).toBe('done');
    expect(done.run.stats?.decodeTokensPerSecond).toBe(20);
  });

  test('load progress, success and failure', () => {
    const loading = run([{ type: 'load-started', id: 3, label: 'gpt2' }]);
    expect(loading.model.status).toBe('loading');
    const loaded = run(
      [
        msg({
          type: 'loaded',
          id: 3,
          loadMs: 42,
          model: { name: 'gpt2', nLayer: 12, nHead: 12, nEmbd: 768, nPositions: 1024, vocabSize: 50257, parameters: 124_439_808 },
        }),
      ],
      loading,
    );
    expect(loaded.model).toMatchObject({ status: 'ready', loadMs: 42, cacheNote: null });
    const uncached = run(
      [
        msg({
          type: 'loaded',
          id: 3,
          loadMs: 42,
          cacheNote: 'gpt2 loaded but was not kept for offline use: the browser has no room',
          model: { name: 'gpt2', nLayer: 12, nHead: 12, nEmbd: 768, nPositions: 1024, vocabSize: 50257, parameters: 124_439_808 },
        }),
      ],
      loading,
    );
    expect(uncached.model.cacheNote).toBe('gpt2 loaded but was not kept for offline use: the browser has no room');
    const failed = run([msg({ type: 'error', id: 3, phase: 'load', message: 'config.json not found' })], loading);
    expect(failed.model).toMatchObject({ status: 'error', error: 'config.json not found', info: null });
  });

  test('a load is a transaction: the loaded model answers while another loads, and stays when that one fails', () => {
    const builtIn = {
      name: 'Sherlock GPT-2 (built in)',
      nLayer: 6,
      nHead: 4,
      nEmbd: 256,
      nPositions: 256,
      vocabSize: 50257,
      parameters: 19_000_000,
    };
    const ready = run([{ type: 'load-started', id: 1, label: 'Sherlock' }, msg({ type: 'loaded', id: 1, loadMs: 300, model: builtIn })]);
    const loading = run([{ type: 'load-started', id: 2, label: 'GPT-2 small' }], ready);
    expect(loading.model).toMatchObject({ status: 'loading', label: 'GPT-2 small', info: builtIn, loadMs: 300 });
    const failed = run([msg({ type: 'error', id: 2, phase: 'load', message: 'Could not reach huggingface.co', kept: builtIn })], loading);
    expect(failed.model).toMatchObject({
      status: 'ready',
      info: builtIn,
      loadMs: 300,
      error: 'Could not reach huggingface.co',
      askedBytes: null,
    });
    // A big download a link asked for: stopped to ask, the size carried along.
    const asked = run(
      [msg({ type: 'error', id: 2, phase: 'load', message: 'a 1.42 GB download', kept: builtIn, downloadBytes: 1.42e9 })],
      loading,
    );
    expect(asked.model).toMatchObject({ status: 'ready', info: builtIn, askedBytes: 1.42e9 });
    // The next load starts clean.
    expect(run([{ type: 'load-started', id: 3, label: 'x' }], failed).model).toMatchObject({
      error: null,
      askedBytes: null,
      info: builtIn,
    });
  });

  test('generation errors and worker crashes reach the page', () => {
    const started = run([{ type: 'generate-started', id: 1, prompt: '', options: options(1) }]);
    expect(run([msg({ type: 'error', id: 1, phase: 'generate', message: 'Invalid generation option top_p' })], started).run).toMatchObject({
      status: 'error',
      error: 'Invalid generation option top_p',
    });
    const crashed = run([{ type: 'worker-failed', message: 'The generation worker crashed' }], started);
    expect(crashed.workerError).toBe('The generation worker crashed');
    expect(crashed.run.status).toBe('error');
  });

  test('the prompt ids and seed arrive before the tokens; a new run keeps the last one to compare with', () => {
    const first = run([
      { type: 'generate-started', id: 1, prompt: 'Hi', options: options(1) },
      msg({ type: 'started', id: 1, promptIds: [17250], droppedPromptTokens: 0, seed: 42 }),
      msg({ type: 'token', id: 1, sequence: 0, tokenId: 612, text: ' there', index: 0, elapsedMs: 5 }),
      msg({ type: 'token', id: 1, sequence: 0, tokenId: 0, text: '!', index: 1, elapsedMs: 6 }),
      msg({ type: 'done', id: 1, stats: { ...STATS, finishReasons: ['length'] } }),
    ]);
    expect(first.run).toMatchObject({ promptIds: [17250], seed: 42 });
    expect(first.previousRun).toBeNull();
    const second = run([{ type: 'generate-started', id: 2, prompt: 'Hi', options: { ...options(1), top_k: 3 } }], first);
    expect(second.previousRun).toEqual({ prompt: 'Hi', seed: 42, options: options(1), ids: [[612, 0]] });
    expect(second.run.tokens).toEqual([[]]);
    // A run that wrote nothing leaves the record of the one before.
    const third = run([{ type: 'generate-started', id: 3, prompt: 'Hi', options: options(1) }], second);
    expect(third.previousRun).toEqual(second.previousRun);
  });

  test("a new load keeps the outputs on screen, marked as the earlier model's once it has loaded; a running run keeps streaming", () => {
    const builtIn = {
      name: 'Sherlock GPT-2 (built in)',
      nLayer: 6,
      nHead: 4,
      nEmbd: 256,
      nPositions: 256,
      vocabSize: 50257,
      parameters: 19_000_000,
    };
    const done = run([
      { type: 'load-started', id: 1, label: 'Sherlock' },
      msg({ type: 'loaded', id: 1, loadMs: 300, model: { ...builtIn, precision: 'f32' } }),
      { type: 'generate-started', id: 2, prompt: 'Hi', options: options(1) },
      msg({ type: 'token', id: 2, sequence: 0, tokenId: 612, text: ' there', index: 0, elapsedMs: 5 }),
      msg({ type: 'done', id: 2, stats: { ...STATS, finishReasons: ['length'] } }),
    ]);
    expect(done.latest).toBe('run');
    const loading = run([{ type: 'load-started', id: 3, label: 'gpt2' }], done);
    expect(loading.latest).toBe('load');
    // The outputs stay while another model loads; a failed load leaves them the loaded model's.
    expect(loading.run).toMatchObject({ status: 'done', outputs: [' there'], tokenCount: 1 });
    expect(loading.earlierModel).toBeNull();
    expect(run([msg({ type: 'error', id: 3, phase: 'load', message: 'offline', kept: builtIn })], loading).earlierModel).toBeNull();
    // Once it has loaded, they are marked as the earlier model's, until the next run.
    const replaced = run([msg({ type: 'loaded', id: 3, loadMs: 1, model: { ...builtIn, name: 'gpt2', precision: 'q8' } })], loading);
    expect(replaced.earlierModel).toBe('Sherlock GPT-2 (built in) (f32)');
    expect(replaced.run.outputs).toEqual([' there']);
    const again = run([{ type: 'load-started', id: 6, label: 'x' }, msg({ type: 'loaded', id: 6, loadMs: 1, model: builtIn })], replaced);
    expect(again.earlierModel).toBe(replaced.earlierModel); // still the model that wrote them
    const next = run([{ type: 'generate-started', id: 7, prompt: 'Hi', options: options(1) }], replaced);
    expect(next.earlierModel).toBeNull();
    expect(next.previousRun).toEqual({ prompt: 'Hi', seed: 42, options: options(1), ids: [[612]] });
    // A run still going keeps its panes while the other model loads.
    const streaming = run([{ type: 'generate-started', id: 4, prompt: 'Hi', options: options(1) }, token(4, 0, 0, ' a', 5)], done);
    const both = run([{ type: 'load-started', id: 5, label: 'gpt2' }], streaming);
    expect(both.run).toMatchObject({ status: 'running', outputs: [' a'] });
    expect(run([msg({ type: 'done', id: 4, stats: { ...STATS, finishReasons: ['length'] } })], both).latest).toBe('run');
    expect(run([msg({ type: 'error', id: 5, phase: 'load', message: 'offline', kept: builtIn })], both).latest).toBe('load');
  });
});
