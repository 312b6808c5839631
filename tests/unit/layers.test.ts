import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT2 } from '../../src/model';
import { causalMask, geluExact, geluNew, layerNorm } from '../../src/model/layers';
import { fixtureConfigJson, fixtureSafetensors } from '../helpers/fixture';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const xs = [-3, -1, -0.5, 0, 0.5, 1, 2, 3];

describe('activations', () => {
  it('gelu_new is the tanh approximation (values from Python math)', async () => {
    const expected = [
      -0.0036373920817729943, -0.15880800939172324, -0.15428599017485606, 0, 0.34571400982514394, 0.8411919906082768, 1.954597694087775,
      2.996362607918227,
    ];
    const y = await geluNew(tf.tensor1d(xs)).data();
    expected.forEach((v, i) => expect(y[i]).toBeCloseTo(v, 6));
  });

  it('gelu is the exact erf form (values from Python math.erf)', async () => {
    const expected = [
      -0.00404969409489031, -0.15865525393145707, -0.15426876936299344, 0, 0.34573123063700656, 0.8413447460685429, 1.9544997361036416,
      2.99595030590511,
    ];
    const y = await geluExact(tf.tensor1d(xs)).data();
    expected.forEach((v, i) => expect(y[i]).toBeCloseTo(v, 6));
  });

  it('activation_function in config.json selects the activation', async () => {
    const tanh = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
    const erf = await GPT2.fromFiles({ ...fixtureConfigJson(), activation_function: 'gelu' }, fixtureSafetensors());
    expect(erf.config.activation).toBe('gelu');
    const [a, b] = [tanh.forwardAll([54, 13506]), erf.forwardAll([54, 13506])];
    const diff = await a.sub(b).abs().max().data();
    expect(diff[0]).toBeGreaterThan(1e-6);
    expect(diff[0]).toBeLessThan(0.1);
    tf.dispose([a, b]);
    tanh.dispose();
    erf.dispose();
  });
});

describe('layerNorm', () => {
  it('normalises each row to mean 0, variance 1, then scales and shifts', async () => {
    const x = tf.tensor2d([
      [1, 2, 3, 4],
      [10, 10, 10, 14],
    ]);
    const y = await layerNorm(x, { weight: tf.tensor1d([1, 1, 2, 2]), bias: tf.tensor1d([0, 0, 0, 1]) }, 1e-5).data();
    const row = (m: number, v: number, xs: number[]) => xs.map((x) => (x - m) / Math.sqrt(v + 1e-5));
    const r1 = row(2.5, 1.25, [1, 2, 3, 4]);
    const r2 = row(11, 3, [10, 10, 10, 14]);
    const expected = [r1[0], r1[1], 2 * r1[2], 2 * r1[3] + 1, r2[0], r2[1], 2 * r2[2], 2 * r2[3] + 1];
    expected.forEach((v, i) => expect(y[i]).toBeCloseTo(v, 5));
  });
});

describe('causalMask', () => {
  it('lets position i see the cached past and new positions up to itself', async () => {
    expect(causalMask(1, 5)).toBeUndefined(); // one new token sees everything
    const mask = causalMask(2, 5)!; // 3 cached + 2 new
    const visible = Array.from(await mask.data(), (v) => (v === 0 ? 1 : 0));
    expect(visible).toEqual([1, 1, 1, 1, 0, 1, 1, 1, 1, 1]);
    mask.dispose();
  });
});
