// Issue 24 item 4: Stop during an analysis on cpu. On a 124M-shaped model (GPT-2 small's shape,
// random weights), the logit lens and the attention view pause between layers and stop at the
// next pause once their signal is aborted: at most one more layer's work, then an AbortError.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2 } from '../../src/model/gpt2';
import { randomCheckpoint } from '../helpers/randomCheckpoint';

const SMALL = { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, seed: 7 };
const IDS = Array.from({ length: 12 }, (_, i) => (i * 1543) % SMALL.vocabSize);

describe('analyses stop between layers (cpu, 124M-shaped)', () => {
  let model: GPT2;
  let tensors = 0;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    const { config, safetensors } = randomCheckpoint(SMALL);
    model = await GPT2.fromFiles(config, safetensors);
    tensors = tf.memory().numTensors;
  }, 120_000);
  afterAll(() => model?.dispose());

  it('the logit lens rejects with the abort after at most one more layer, leaving no tensors', async () => {
    const controller = new AbortController();
    const done: number[] = [];
    const lens = model.logitLens(IDS, 5, {
      signal: controller.signal,
      onLayer: (layer) => {
        done.push(layer);
        if (layer === 1) controller.abort(new DOMException('Stop was pressed', 'AbortError'));
      },
    });
    await expect(lens).rejects.toMatchObject({ name: 'AbortError', message: 'Stop was pressed' });
    expect(done).toEqual([0, 1]);
    expect(tf.memory().numTensors).toBe(tensors);
  }, 120_000);

  it('the attention of the last layer rejects with the abort after at most one more block, leaving no tensors', async () => {
    const controller = new AbortController();
    const done: number[] = [];
    const attention = model.attentionAt(IDS, SMALL.nLayer - 1, {
      signal: controller.signal,
      onLayer: (layer) => {
        done.push(layer);
        if (layer === 2) controller.abort();
      },
    });
    await expect(attention).rejects.toMatchObject({ name: 'AbortError' });
    expect(done).toEqual([0, 1, 2]);
    expect(tf.memory().numTensors).toBe(tensors);
  }, 120_000);

  it('an abort from outside (a Stop message) is seen at the next pause', async () => {
    const controller = new AbortController();
    const done: number[] = [];
    const lens = model.logitLens(IDS, 5, { signal: controller.signal, onLayer: (layer) => done.push(layer) });
    // A macrotask, as a message from the page is: it runs at the lens's first pause.
    setImmediate(() => controller.abort());
    await expect(lens).rejects.toMatchObject({ name: 'AbortError' });
    expect(done.length).toBeLessThanOrEqual(2);
    expect(tf.memory().numTensors).toBe(tensors);
  }, 120_000);

  it('an already aborted signal stops it before any work', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(model.logitLens(IDS, 5, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    await expect(model.attentionAt(IDS, 3, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('attentionAt equals attentionProbabilities when not stopped', async () => {
    const ids = IDS.slice(0, 6);
    const a = await model.attentionAt(ids, 2);
    const b = model.attentionProbabilities(ids, 2);
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    tf.dispose([a, b]);
  }, 120_000);
});
