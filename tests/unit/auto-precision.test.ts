/**
 * `auto` precision by measurement on wasm and cpu (choosePrecision with `measure`, fastestPrecision;
 * src/backend/simd/calibrate.ts): above 300M parameters, or where f32 does not fit, the fastest
 * precision here that fits, never one slower than f32 while f32 fits (the AMD machine,
 * where f16 is slower than f32, gets q8 or f32, never f16), the measured numbers in the reason;
 * small models and the built-in one stay f32 without measuring; the measurement runs on this engine.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { measurePrecisions } from '../../src/backend/simd/calibrate';
import { parseGPT2Config, type GPT2Config } from '../../src/model/config';
import { choosePrecision, fastestPrecision, type PrecisionSpeeds } from '../../src/model/memoryPlan';
import type { WeightPrecision } from '../../src/model/precision';

const shape = (nLayer: number, nEmbd: number, nHead: number): GPT2Config =>
  parseGPT2Config({ model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: nEmbd, n_layer: nLayer, n_head: nHead });
const gpt2 = shape(12, 768, 12);
const medium = shape(24, 1024, 16);
const xl = shape(48, 1600, 25);
const wasm = { backend: 'wasm' };

/** The AMD machine: q8 1.9× f32, f16 slower than f32. */
const AMD: PrecisionSpeeds = { f32: 1, q8: 0.52, f16: 1.15 };
/** The Intel machine: q8 2.6× f32, f16 1.27× f32. */
const INTEL: PrecisionSpeeds = { f32: 1, q8: 0.38, f16: 0.79 };

describe('auto precision by measurement', () => {
  it('picks the fastest that fits, f32 on ties, never an unmeasured precision', () => {
    const all: WeightPrecision[] = ['f32', 'f16', 'q8'];
    expect(fastestPrecision(all, AMD)).toBe('q8');
    expect(fastestPrecision(['f32', 'f16'], AMD)).toBe('f32'); // f16 is slower here
    expect(fastestPrecision(['f32', 'f16'], INTEL)).toBe('f16');
    expect(fastestPrecision(all, { f32: 1, q8: 1, f16: 1 })).toBe('f32');
    expect(fastestPrecision(all, { f32: 1 })).toBe('f32');
    expect(fastestPrecision(['f16', 'q8'], { f32: 1 })).toBeUndefined();
  });

  it('never picks a precision slower than f32 while f32 fits, over random measurements', () => {
    let s = 7;
    const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 + 0.1;
    for (let i = 0; i < 200; i++) {
      const speeds: PrecisionSpeeds = { f32: random(), q8: random(), f16: random() };
      const { plan } = choosePrecision('auto', medium, wasm, { measure: () => speeds });
      expect(speeds[plan.precision]).toBeLessThanOrEqual(speeds.f32);
    }
  });

  it('a big model on wasm: q8 on both machines, the numbers in the reason; f32 when f32 measures fastest', () => {
    const amd = choosePrecision('auto', medium, wasm, { measure: () => AMD });
    expect(amd.plan.precision).toBe('q8');
    expect(amd.reason).toBe(
      'auto: q8, the fastest here that fits (f32 1.00 ms, q8 0.52 ms, f16 1.15 ms; a model over 300M parameters on wasm)',
    );
    expect(choosePrecision('auto', medium, { backend: 'cpu' }, { measure: () => INTEL }).plan.precision).toBe('q8');
    const slowKernels = choosePrecision('auto', medium, wasm, { measure: () => ({ f32: 1, q8: 1.5, f16: 2 }) });
    expect(slowKernels.plan.precision).toBe('f32');
    expect(slowKernels.reason).toMatch(/^auto: f32, the fastest here that fits/);
  });

  it('where f32 does not fit, the fastest that does, saying so', () => {
    const choice = choosePrecision('auto', xl, wasm, { measure: () => ({ f32: 1, q8: 0.6, f16: 0.5 }) });
    expect(choice.plan.precision).toBe('f16');
    expect(choice.reason).toMatch(/; f32 does not fit\)$/);
  });

  it('does not measure for small models, the built-in model, or WebGPU', () => {
    const measure = () => {
      throw new Error('measured');
    };
    expect(choosePrecision('auto', gpt2, wasm, { measure }).plan.precision).toBe('f32');
    expect(choosePrecision('auto', medium, wasm, { builtIn: true, measure }).plan.precision).toBe('f32');
    expect(choosePrecision('auto', medium, { backend: 'webgpu' }, { measure }).plan.precision).toBe('f32');
  });

  describe('the measurement', () => {
    beforeAll(async () => {
      await tf.setBackend('cpu');
    });

    it('times one product of the model widest matrix in every precision this engine runs', () => {
      const speeds = measurePrecisions(256, 1024);
      for (const p of ['f32', 'q8', 'f16'] as const) {
        expect(speeds[p]).toBeGreaterThan(0);
        expect(Number.isFinite(speeds[p])).toBe(true);
      }
    });
  });
});
