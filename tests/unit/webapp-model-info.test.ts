import { describe, expect, test } from 'vitest';
import { parseGPT2Config } from '../../src/model/config';
import { parameterCount } from '../../src/worker/modelInfo';

describe('model info', () => {
  test('parameter counts match Hugging Face for gpt2 and gpt2-medium', () => {
    const gpt2 = parseGPT2Config({ model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12 });
    expect(parameterCount(gpt2)).toBe(124_439_808);
    const medium = parseGPT2Config({ model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 1024, n_layer: 24, n_head: 16 });
    expect(parameterCount(medium)).toBe(354_823_168);
  });
});
