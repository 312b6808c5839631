import { describe, expect, test } from 'vitest';
import { NonFiniteLogitsError } from '../../src/generation/finiteLogits';
import { GenerationOptionError } from '../../src/generation/options';
import { CheckpointError } from '../../src/model/errors';
import { ModelSourceError } from '../../src/sources/errors';
import { describeError } from '../../src/worker/errors';

describe('worker error messages', () => {
  test('errors written for people pass through unchanged', () => {
    const errors = [
      new ModelSourceError('not-found', 'No such repository on the hub: check the name.'),
      new CheckpointError('model.safetensors: tensor h.0.ln_1.weight has shape [3], expected [32]'),
      new GenerationOptionError('top_p', 2, 'a number in [0, 1] (1 = off)'),
      new NonFiniteLogitsError(0, 3, "Generation stopped: the model's scores for new token 4 are not numbers (1 NaN among 50257)."),
    ];
    for (const error of errors) expect(describeError(error, 'load')).toBe(error.message);
  });

  test('other errors say which step failed', () => {
    expect(describeError(new Error('boom'), 'generate')).toBe('Generation failed: boom');
    expect(describeError('plain string', 'load')).toBe('The model could not be loaded: plain string');
  });

  test('running out of memory suggests what to do', () => {
    const message = describeError(new Error('Failed to allocate buffer: out of memory'), 'load');
    expect(message).toContain('ran out of memory');
    expect(message).toContain('smaller model');
  });

  test('a backend failure suggests another browser or a forced backend', () => {
    expect(describeError(new Error('no backend'), 'backend')).toMatch(/No compute backend could start: no backend\. .*\?backend=wasm/);
  });
});
