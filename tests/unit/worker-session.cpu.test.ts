// The worker's session (src/worker/session.ts) on tfjs cpu with the tiny-gpt2 fixture: a load while
// an analysis runs (the model was once disposed under it), leases, aborts and kept caches.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT2 } from '../../src/model/gpt2';
import { planMemory } from '../../src/model/memoryPlan';
import type { FromWorker, GenerateOptions, LoadRequest } from '../../src/worker/protocol';
import { WorkerSession, type SessionLoad } from '../../src/worker/session';
import { fixtureConfigJson, fixtureSafetensors } from '../helpers/fixture';

const OPTIONS: GenerateOptions = {
  max_new_tokens: 6,
  do_sample: false,
  temperature: 1,
  top_k: 0,
  top_p: 1,
  min_p: 0,
  repetition_penalty: 1,
  no_repeat_ngram_size: 0,
  top_h: null,
  typical_p: 1,
  epsilon_cutoff: 0,
  eta_cutoff: 0,
  num_beams: 1,
  length_penalty: 1,
  early_stopping: false,
  num_return_sequences: 1,
  seed: 1,
};

async function fixtureModel(): Promise<SessionLoad> {
  const model = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
  return {
    model,
    label: 'tiny-gpt2',
    precision: 'f32',
    precisionReason: 'test',
    memoryPlan: planMemory(model.config, 'f32', { backend: 'cpu' }),
  };
}

/** A session on tfjs cpu whose loads build the fixture; `loadGate` (when set) holds each load until it resolves. */
function session(loadGate?: () => Promise<void>) {
  const messages: FromWorker[] = [];
  const worker = new WorkerSession({
    post: (message) => messages.push(message),
    startBackend: async () => ({ backend: 'cpu', reason: '', crossOriginIsolated: false }),
    loadModel: async () => {
      await loadGate?.();
      return fixtureModel();
    },
    memory: () => ({ tensors: tf.memory().numTensors, bytes: tf.memory().numBytes }),
  });
  return { worker, messages };
}

const load = (id: number): LoadRequest => ({ type: 'load', id, spec: { kind: 'embedded' } });
const IDS = [464, 2068, 7586, 21831, 625, 262, 16931, 3290, 13, 1318, 318];
const errorsOf = (messages: FromWorker[]) => messages.filter((m) => m.type === 'error');

describe('WorkerSession (cpu)', () => {
  let emptyTensors = 0;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    emptyTensors = tf.memory().numTensors;
  });

  it('a load at once after a logit lens: no error but "stopped", the new model loads, the old one is freed', async () => {
    const { worker, messages } = session();
    await worker.receive({ type: 'init', pageUrl: 'http://localhost/' });
    await worker.receive(load(1));
    const oneModel = tf.memory().numTensors;
    expect(oneModel).toBeGreaterThan(emptyTensors);

    const lens = worker.receive({ type: 'analyze', id: 2, ids: IDS, analysis: 'lens' });
    const attention = worker.receive({ type: 'analyze', id: 3, ids: IDS, analysis: 'attention', layer: 1 });
    const loading = worker.receive(load(4));
    await Promise.all([lens, attention, loading]);

    const loaded = messages.filter((m) => m.type === 'loaded').map((m) => m.id);
    expect(loaded).toEqual([1, 4]);
    for (const id of [2, 3]) {
      const answer = messages.find((m) => m.type !== 'memory' && m.type !== 'load-progress' && 'id' in m && m.id === id);
      // Finished or cancelled with a message that says so, never a failure on a freed model.
      if (answer?.type === 'error') expect(answer.message).toMatch(/analysis was stopped before it finished \(another model is loading\)/);
      else expect(answer?.type).toBe(id === 2 ? 'lens' : 'attention');
    }
    expect(errorsOf(messages).filter((m) => !/analysis was stopped/.test(m.message))).toEqual([]);
    expect(worker.holds).toEqual({ leases: 0, retired: 0, requests: 0 });
    expect(tf.memory().numTensors).toBe(oneModel);
    const memory = messages.filter((m) => m.type === 'memory');
    expect(memory.at(-1)).toMatchObject({ tensors: oneModel });
  });

  it('beam search streams one beam message per step and a final ranking, then the ranked sequences as tokens', async () => {
    const { worker, messages } = session();
    await worker.receive({ type: 'init', pageUrl: 'http://localhost/' });
    await worker.receive(load(1));
    const options: GenerateOptions = { ...OPTIONS, num_beams: 3, num_return_sequences: 2, max_new_tokens: 4 };
    await worker.receive({ type: 'generate', id: 2, prompt: '', promptIds: IDS.slice(0, 4), options, lane: 'queue' });
    const ofRun = messages.filter((m) => 'id' in m && m.id === 2);
    const beams = ofRun.flatMap((m) => (m.type === 'beam' ? [m.event] : []));
    const steps = beams.filter((e) => e.type === 'step');
    expect(steps.map((e) => e.step)).toEqual(steps.map((_, i) => i));
    for (const step of steps) expect(step.candidates).toHaveLength(6);
    const done = beams.at(-1);
    expect(done?.type).toBe('done');
    if (done?.type !== 'done') return;
    expect(done.ranking).toHaveLength(2);
    // Every beam message comes before the tokens, and the tokens spell the ranking.
    const firstToken = ofRun.findIndex((m) => m.type === 'token');
    expect(ofRun.slice(firstToken).some((m) => m.type === 'beam')).toBe(false);
    const tokens = ofRun.flatMap((m) => (m.type === 'token' ? [m] : []));
    for (const [s, hypothesis] of done.ranking.entries())
      expect(tokens.filter((t) => t.sequence === s).map((t) => t.tokenId)).toEqual(hypothesis.ids);
    expect(worker.holds).toEqual({ leases: 0, retired: 0, requests: 0 });
  });

  it('a model replaced under a lens that is already running: the lens is cancelled and the old model freed after it lets go', async () => {
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    let gated = false;
    const { worker, messages } = session(() => (gated ? gate : Promise.resolve()));
    await worker.receive({ type: 'init', pageUrl: 'http://localhost/' });
    await worker.receive(load(1));
    const oneModel = tf.memory().numTensors;
    gated = true;
    const loading = worker.receive(load(2)); // waits at the gate: the lens below starts on model 1
    const lens = worker.receive({ type: 'analyze', id: 3, ids: IDS, analysis: 'lens' });
    open();
    await Promise.all([loading, lens]);
    const answer = messages.find((m) => m.type !== 'memory' && 'id' in m && m.id === 3);
    if (answer?.type === 'error') expect(answer.message).toMatch(/analysis was stopped/);
    else expect(answer?.type).toBe('lens');
    expect(messages.filter((m) => m.type === 'loaded').map((m) => m.id)).toEqual([1, 2]);
    expect(worker.holds).toEqual({ leases: 0, retired: 0, requests: 0 });
    expect(tf.memory().numTensors).toBe(oneModel);
  });

  it('Stop (abort) ends a lens with a message that says so', async () => {
    const { worker, messages } = session();
    await worker.receive({ type: 'init', pageUrl: 'http://localhost/' });
    await worker.receive(load(1));
    const lens = worker.receive({ type: 'analyze', id: 2, ids: IDS, analysis: 'lens' });
    await worker.receive({ type: 'abort', id: 2 });
    await lens;
    const answer = messages.find((m) => m.type === 'error' && m.id === 2);
    expect(answer).toMatchObject({ phase: 'analyze', message: expect.stringMatching(/stopped before it finished \(Stop was pressed\)/) });
  });

  it('a generation keeps its cache; a branch that forks from it reuses the prefix; a load drops the kept caches', async () => {
    const { worker, messages } = session();
    await worker.receive({ type: 'init', pageUrl: 'http://localhost/' });
    await worker.receive(load(1));
    const before = tf.memory().numTensors;
    await worker.receive({ type: 'generate', id: 2, prompt: '', promptIds: IDS.slice(0, 5), options: OPTIONS, lane: 'queue' });
    const started = messages.find((m) => m.type === 'started' && m.id === 2);
    expect(started).toBeDefined();
    const tokens = messages.filter((m) => m.type === 'token' && m.id === 2).map((m) => (m.type === 'token' ? m.tokenId : -1));
    const prompt = [...IDS.slice(0, 5), ...tokens.slice(0, 2)];
    await worker.receive({
      type: 'generate',
      id: 3,
      prompt: '',
      promptIds: [...prompt, 7],
      options: OPTIONS,
      lane: 'beside',
      forkFrom: { request: 2, sequence: 0, position: prompt.length },
    });
    const done = messages.find((m) => m.type === 'done' && m.id === 3);
    expect(done?.type === 'done' && done.stats.reusedPositions).toBe(prompt.length);
    // A fork that does not match the kept row prefills instead.
    await worker.receive({
      type: 'generate',
      id: 4,
      prompt: '',
      promptIds: [1, 2, 3, 4],
      options: OPTIONS,
      lane: 'beside',
      forkFrom: { request: 2, sequence: 0, position: 3 },
    });
    const mismatch = messages.find((m) => m.type === 'done' && m.id === 4);
    expect(mismatch?.type === 'done' && mismatch.stats.reusedPositions).toBe(0);
    await worker.receive(load(5));
    // The new model cannot use the old one's keys and values: the same fork now prefills.
    await worker.receive({
      type: 'generate',
      id: 6,
      prompt: '',
      promptIds: [...prompt, 7],
      options: OPTIONS,
      lane: 'beside',
      forkFrom: { request: 2, sequence: 0, position: prompt.length },
    });
    const after = messages.find((m) => m.type === 'done' && m.id === 6);
    expect(after?.type === 'done' && after.stats.reusedPositions).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    expect(errorsOf(messages)).toEqual([]);
  });

  it('an abort that arrives while a generation waits its turn stops it when it starts', async () => {
    const { worker, messages } = session();
    await worker.receive({ type: 'init', pageUrl: 'http://localhost/' });
    await worker.receive(load(1));
    const first = worker.receive({ type: 'generate', id: 2, prompt: 'a', options: OPTIONS, lane: 'queue' });
    const second = worker.receive({ type: 'generate', id: 3, prompt: 'b', options: OPTIONS, lane: 'queue' });
    await worker.receive({ type: 'abort', id: 3 });
    await Promise.all([first, second]);
    const done = messages.find((m) => m.type === 'done' && m.id === 3);
    expect(done?.type === 'done' && done.stats.finishReasons).toEqual(['abort']);
    expect(worker.holds).toEqual({ leases: 0, retired: 0, requests: 0 });
  });

  it('a load (a Precision change) ends with the memory figures of the new model, the old one already freed', async () => {
    const { worker, messages } = session();
    await worker.receive({ type: 'init', pageUrl: 'http://localhost/' });
    await worker.receive(load(1));
    const oneModel = tf.memory().numTensors;
    await worker.receive({ ...load(2), precision: 'f32' });
    expect(messages.at(-2)).toMatchObject({ type: 'loaded', id: 2 });
    expect(messages.at(-1)).toEqual({ type: 'memory', tensors: oneModel, bytes: tf.memory().numBytes });
  });

  it('a lost GPU: the page is told, the backend restarts on wasm with that reason, and the same load is replayed', async () => {
    const messages: FromWorker[] = [];
    const requests: (string | undefined)[] = [];
    let lose: (why: string) => void = () => {};
    const worker = new WorkerSession({
      post: (message) => messages.push(message),
      startBackend: async (request, _init, onDeviceLost) => {
        requests.push(request);
        lose = onDeviceLost;
        return { backend: 'cpu', reason: '', crossOriginIsolated: false };
      },
      loadModel: fixtureModel,
      memory: () => ({ tensors: tf.memory().numTensors, bytes: tf.memory().numBytes }),
    });
    await worker.receive({ type: 'init', backend: 'webgpu', pageUrl: 'http://localhost/' });
    await worker.receive(load(1));
    const oneModel = tf.memory().numTensors;
    lose('test');
    await expect.poll(() => messages.filter((m) => m.type === 'loaded').length).toBe(2);
    expect(requests).toEqual(['webgpu', 'wasm']);
    expect(messages).toContainEqual({
      type: 'error',
      phase: 'backend',
      message: expect.stringMatching(/^Not WebGPU because the WebGPU device was lost \(test\)\..* Reloading the model…$/),
    });
    expect(messages.filter((m) => m.type === 'backend').at(-1)).toMatchObject({
      info: { reason: expect.stringMatching(/device was lost/) },
    });
    expect(messages.filter((m) => m.type === 'loaded').map((m) => m.id)).toEqual([1, 1]);
    expect(tf.memory().numTensors).toBe(oneModel);
  });

  it('says what to do when asked to generate before any model loaded', async () => {
    const { worker, messages } = session();
    await worker.receive({ type: 'init', pageUrl: 'http://localhost/' });
    await worker.receive({ type: 'generate', id: 1, prompt: 'a', options: OPTIONS, lane: 'queue' });
    expect(messages.at(-1)).toMatchObject({ type: 'error', id: 1, message: expect.stringMatching(/No model is loaded yet/) });
    expect(worker.holds.requests).toBe(0);
  });
});
