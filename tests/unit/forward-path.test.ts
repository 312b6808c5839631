/**
 * Which forward path a model takes (GPT2's ForwardPath), decided once from the backend and the
 * config: the fused WGSL programs on WebGPU, the simd decode step on wasm/cpu for gelu_new models
 * with the SIMD cache, tfjs ops otherwise.
 */
import { describe, expect, it } from 'vitest';
import { chooseForwardPath } from '../../src/model';
import { parseGPT2Config } from '../../src/model/config';
import { MAX_ATTENTION_POSITIONS } from '../../src/backend/webgpu/attention';
import { simdKernelsAvailable } from '../../src/backend/simd/kernels';

const gpt2 = parseGPT2Config({ model_type: 'gpt2', n_layer: 2, n_head: 4, n_embd: 64, n_positions: 128, vocab_size: 100 });

describe('chooseForwardPath', () => {
  it('WebGPU: the fused programs, unless asked for tfjs ops or the context is longer than their attention reads', () => {
    expect(chooseForwardPath(gpt2, 'webgpu')).toEqual({ name: 'fused' });
    expect(chooseForwardPath(gpt2, 'webgpu', { fusedWebGPU: false })).toEqual({ name: 'tfjs', kind: 'concat' });
    const long = { ...gpt2, nPositions: MAX_ATTENTION_POSITIONS + 1 };
    expect(chooseForwardPath(long, 'webgpu').name).toBe('tfjs');
  });

  it('wasm and cpu: the simd decode step with the SIMD cache; tfjs ops with the concat cache or an exact-GELU model', () => {
    expect(simdKernelsAvailable()).toBe(true);
    for (const backend of ['wasm', 'cpu']) {
      expect(chooseForwardPath(gpt2, backend)).toEqual({ name: 'simd', kind: 'simd' });
      expect(chooseForwardPath(gpt2, backend, { kind: 'concat' })).toEqual({ name: 'tfjs', kind: 'concat' });
      expect(chooseForwardPath({ ...gpt2, activation: 'gelu' }, backend)).toEqual({ name: 'tfjs', kind: 'simd' });
    }
  });

  it('other backends (webgl): tfjs ops with the concat cache', () => {
    expect(chooseForwardPath(gpt2, 'webgl')).toEqual({ name: 'tfjs', kind: 'concat' });
  });
});
