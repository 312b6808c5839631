// The page's model loader (src/ui/modelLoader.ts): every transition of the state machine, driven
// by the page's actions and the worker's messages as useModelLoader feeds them.
import { describe, expect, it } from 'vitest';
import {
  ASK_ABOVE_BYTES,
  BUILT_IN,
  askFirst,
  presetBytes,
  followModel,
  initialLoaderState,
  loaderReducer,
  type LoaderAction,
  type LoaderStartup,
  type LoaderState,
  type ModelChoice,
} from '../../src/ui/modelLoader';
import type { FromWorker, ModelInfo } from '../../src/worker/protocol';

const PAGE = 'http://127.0.0.1:4173/app/';
const START: LoaderStartup = { model: 'embedded', hubUrl: '', fromLink: false, linkHub: null, pageUrl: PAGE, precision: 'auto' };
const INFO: ModelInfo = { name: 'm', nLayer: 2, nHead: 2, nEmbd: 8, nPositions: 64, vocabSize: 50257, parameters: 1 };
const GPT2: ModelChoice = { text: 'gpt2', spec: { kind: 'hub', repo: 'openai-community/gpt2', revision: 'main' }, hubUrl: '' };
const FOLDER = 'url:http://127.0.0.1:4700/rel/tiny/resolve/main/';

function run(state: LoaderState, ...actions: LoaderAction[]): LoaderState {
  return actions.reduce(loaderReducer, state);
}
const message = (m: FromWorker): LoaderAction => ({ type: 'message', message: m });
const loaded = (id: number) => message({ type: 'loaded', id, model: INFO, loadMs: 1 });
const failed = (id: number, extra: Partial<Extract<FromWorker, { type: 'error' }>> = {}) =>
  message({ type: 'error', id, phase: 'load', message: 'The model could not be loaded: 404', ...extra });
/** The page sends the order with this id. */
const sent = (id: number): LoaderAction => ({ type: 'load-sent', id });

describe('model loader: opening', () => {
  it('the first worker loads the model the page opened with; loaded → it is in use', () => {
    let s = initialLoaderState({ ...START, model: 'gpt2' });
    expect(s.order).toBeNull();
    s = run(s, { type: 'worker-started' });
    expect(s.order).toMatchObject({ choice: { text: 'gpt2' }, ask: true, precision: 'auto' });
    s = run(s, sent(1));
    expect(s.order).toBeNull();
    expect(s.pending).toMatchObject({ id: 1, choice: { text: 'gpt2' } });
    s = run(s, loaded(1));
    expect(s.pending).toBeNull();
    expect(s.inUse?.text).toBe('gpt2');
  });

  it('an unreadable model text loads the built-in model and says why', () => {
    const s = run(initialLoaderState({ ...START, model: 'hf:bad name!' }), { type: 'worker-started' });
    expect(s.order?.choice).toBe(BUILT_IN);
    expect(s.notice).toMatch(/Loaded the built-in model instead\.$/);
  });

  it('files from disk cannot come back: the built-in model loads and the page says to pick them again', () => {
    const s = run(initialLoaderState({ ...START, model: 'local' }), { type: 'worker-started' });
    expect(s.order?.choice).toBe(BUILT_IN);
    expect(s.notice).toMatch(/Pick the files again/);
  });

  it('a message for another request (an older load) changes nothing', () => {
    const s = run(initialLoaderState(START), { type: 'worker-started' }, sent(5));
    expect(run(s, loaded(4))).toBe(s);
    expect(run(s, message({ type: 'memory', tensors: 1, bytes: 1 }))).toBe(s);
  });
});

describe('model loader: a link never downloads without a yes', () => {
  it('a url: folder on another server waits for a yes naming its host; the built-in model loads meanwhile', () => {
    let s = initialLoaderState({ ...START, model: FOLDER, fromLink: true });
    expect(s.confirm).toMatchObject({ host: '127.0.0.1:4700', bytes: null, choice: { text: FOLDER } });
    s = run(s, { type: 'worker-started' });
    expect(s.order?.choice).toBe(BUILT_IN);
    s = run(s, sent(1), loaded(1));
    expect(s.inUse).toEqual(BUILT_IN);
    expect(s.confirm).not.toBeNull(); // still asking
    s = run(s, { type: 'confirm-accepted' });
    expect(s.confirm).toBeNull();
    expect(s.order).toMatchObject({ choice: { text: FOLDER }, ask: true });
  });

  it('"Not now" keeps the built-in model and requests nothing', () => {
    const s = run(initialLoaderState({ ...START, model: FOLDER, fromLink: true }), { type: 'worker-started' }, sent(1), loaded(1), {
      type: 'confirm-dismissed',
    });
    expect(s.confirm).toBeNull();
    expect(s.order).toBeNull();
    expect(s.inUse).toEqual(BUILT_IN);
  });

  it('the same folder from the last visit (not a link) or on this page’s own server loads without asking', () => {
    expect(initialLoaderState({ ...START, model: FOLDER }).confirm).toBeNull();
    expect(initialLoaderState({ ...START, model: 'url:/app/models/tiny/', fromLink: true }).confirm).toBeNull();
  });

  it('a preset bigger than ASK_ABOVE_BYTES asks first with its size; a small one loads (asking above the limit)', () => {
    const xl = initialLoaderState({ ...START, model: 'gpt2-xl', fromLink: true }).confirm;
    expect(xl).toMatchObject({ host: 'huggingface.co' });
    expect(xl!.bytes).toBeGreaterThan(ASK_ABOVE_BYTES);
    const small = initialLoaderState({ ...START, model: 'gpt2', fromLink: true });
    expect(small.confirm).toBeNull();
    expect(run(small, { type: 'worker-started' }).order).toMatchObject({ choice: { text: 'gpt2' }, ask: true });
  });

  it("a link's hub: its hub model is held back until the hub is accepted, then loads from it", () => {
    let s = initialLoaderState({ ...START, model: 'gpt2', fromLink: true, linkHub: 'http://127.0.0.1:4700' });
    expect(s.hubOffer).toMatchObject({ hub: 'http://127.0.0.1:4700', held: { text: 'gpt2' } });
    s = run(s, { type: 'worker-started' });
    expect(s.order?.choice).toBe(BUILT_IN);
    s = run(s, sent(1), loaded(1), { type: 'hub-accepted' });
    expect(s.hubOffer).toBeNull();
    expect(s.order).toMatchObject({ choice: { text: 'gpt2', hubUrl: 'http://127.0.0.1:4700' }, ask: true });
  });

  it("dismissing the link's hub drops the held model", () => {
    const s = run(initialLoaderState({ ...START, model: 'gpt2', fromLink: true, linkHub: 'http://h' }), { type: 'hub-dismissed' });
    expect(s.hubOffer).toBeNull();
    expect(s.order).toBeNull();
  });

  it('askFirst names nothing for the built-in model; presetBytes knows only presets', () => {
    expect(askFirst(BUILT_IN, PAGE)).toBeNull();
    expect(presetBytes(GPT2)).toBe(4 * 124_439_808);
    expect(presetBytes({ ...GPT2, spec: { kind: 'hub', repo: 'someone/else', revision: 'main' } })).toBeNull();
    expect(presetBytes(BUILT_IN)).toBeNull();
  });
});

describe('model loader: loads that fail or ask', () => {
  const ready = () => run(initialLoaderState(START), { type: 'worker-started' }, sent(1), loaded(1));

  it('a failed load KEEPS the working model: nothing else loads and no notice replaces the status', () => {
    let s = run(ready(), { type: 'load', choice: GPT2 }, sent(2));
    s = run(s, failed(2, { kept: INFO }));
    expect(s.pending).toBeNull();
    expect(s.inUse).toEqual(BUILT_IN);
    expect(s.order).toBeNull();
    expect(s.notice).toBeNull();
  });

  it('a failed load with no model left falls back to the built-in model and says why', () => {
    let s = run(initialLoaderState({ ...START, model: 'gpt2' }), { type: 'worker-started' }, sent(1));
    s = run(s, failed(1));
    expect(s.order?.choice).toMatchObject({ text: 'embedded' });
    expect(s.notice).toMatch(/could not be loaded, so the built-in model was loaded instead\. The model could not be loaded: 404/);
  });

  it('the built-in model failing does not loop', () => {
    const s = run(initialLoaderState(START), { type: 'worker-started' }, sent(1), failed(1));
    expect(s.order).toBeNull();
  });

  it('the worker stopped before a big download: asking(bytes) → yes loads it without asking again; not now keeps the built-in one', () => {
    let s = run(initialLoaderState({ ...START, model: 'hf:someone/big' }), { type: 'worker-started' }, sent(1));
    s = run(s, failed(1, { downloadBytes: 3e9 }));
    expect(s.offer).toMatchObject({ bytes: 3e9, choice: { text: 'hf:someone/big' } });
    expect(s.notice).toBeNull();
    expect(s.order?.choice).toMatchObject({ text: 'embedded' });
    s = run(s, sent(2), loaded(2));
    const yes = run(s, { type: 'offer-accepted' });
    expect(yes.offer).toBeNull();
    expect(yes.order).toMatchObject({ choice: { text: 'hf:someone/big' }, ask: false });
    const no = run(s, { type: 'offer-dismissed' });
    expect(no.offer).toBeNull();
    expect(no.order).toBeNull();
  });
});

describe('model loader: the person', () => {
  const ready = () => run(initialLoaderState(START), { type: 'worker-started' }, sent(1), loaded(1));

  it('a chosen model loads at once, clearing the last notice and offer', () => {
    const s = run({ ...ready(), notice: 'old', offer: { choice: GPT2, bytes: 2e9 } }, { type: 'load', choice: GPT2 });
    expect(s.order).toMatchObject({ choice: GPT2, ask: false });
    expect(s.notice).toBeNull();
    expect(s.offer).toBeNull();
  });

  it('a Precision change reloads the model in use in that precision; before any model it only records it', () => {
    const s = run(ready(), { type: 'precision', precision: 'q8' });
    expect(s.order).toMatchObject({ choice: BUILT_IN, precision: 'q8' });
    expect(s.precision).toBe('q8');
    const early = run(initialLoaderState(START), { type: 'precision', precision: 'f16' });
    expect(early.order).toBeNull();
    expect(run(early, { type: 'worker-started' }).order?.precision).toBe('f16');
  });

  it('a drop of files during a load is refused with a message; after the load it loads', () => {
    const files: ModelChoice = { text: 'local', spec: { kind: 'files', config: new Blob(['{}']), weights: new Blob([]) }, hubUrl: '' };
    const busy = run(ready(), { type: 'load', choice: GPT2 }, sent(2));
    const refused = run(busy, { type: 'load', choice: files });
    expect(refused.problem).toBe('A model is loading: drop the files again once it has loaded.');
    expect(refused.order).toBeNull();
    expect(refused.pending?.id).toBe(2);
    const after = run(refused, loaded(2), { type: 'load', choice: files });
    expect(after.problem).toBeNull();
    expect(after.order?.choice).toBe(files);
  });

  it('a worker that starts again before any model loaded loads what the last one was loading, not the built-in model', () => {
    const first = run(initialLoaderState({ ...START, model: 'gpt2' }), { type: 'worker-started' });
    expect(run(first, { type: 'worker-started' }).order).toMatchObject({ choice: { text: 'gpt2' }, ask: true });
    expect(run(first, sent(1), { type: 'worker-started' }).order).toMatchObject({ choice: { text: 'gpt2' }, ask: true });
  });

  it('a new worker (another backend) loads the model in use', () => {
    const s = run(ready(), { type: 'load', choice: GPT2 }, sent(2), loaded(2), { type: 'worker-started' });
    expect(s.order).toMatchObject({ choice: GPT2, ask: false });
  });

  it('problem: set and cleared', () => {
    expect(run(ready(), { type: 'problem', problem: 'x' }).problem).toBe('x');
    expect(run(ready(), { type: 'problem', problem: 'x' }, { type: 'problem', problem: null }).problem).toBeNull();
  });
});

describe('followModel', () => {
  const settings = { model: 'embedded', hubUrl: 'http://mirror', other: 1 };
  it('keeps the model in use; a hub model brings its hub; files are "local"; unchanged settings stay the same object', () => {
    expect(followModel(settings, { ...GPT2, hubUrl: '' })).toEqual({ model: 'gpt2', hubUrl: '', other: 1 });
    expect(followModel(settings, { text: FOLDER, spec: { kind: 'url', baseUrl: 'http://x/' }, hubUrl: '' })).toEqual({
      ...settings,
      model: FOLDER,
    });
    const files: ModelChoice = { text: 'x', spec: { kind: 'files', config: new Blob([]), weights: new Blob([]) }, hubUrl: '' };
    expect(followModel(settings, files).model).toBe('local');
    expect(followModel(settings, BUILT_IN)).toBe(settings);
  });
});
