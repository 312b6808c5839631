import { describe, expect, test } from 'vitest';
import { adapterName, planBackends, type AdapterDescription, type WebGPUProbe } from '../../src/backend/choice';

const HARDWARE: AdapterDescription = { vendor: 'nvidia', architecture: 'ampere', device: '', description: '', isFallbackAdapter: false };
const SWIFTSHADER: AdapterDescription = {
  vendor: 'google',
  architecture: 'swiftshader',
  device: '',
  description: '',
  isFallbackAdapter: false,
};
const ok = (adapter: AdapterDescription): WebGPUProbe => ({ status: 'ok', adapter });

describe('backend choice', () => {
  test('WebGPU on a real GPU is first, with no excuse to show', () => {
    const plan = planBackends(undefined, ok(HARDWARE));
    expect(plan.map((c) => c.backend)).toEqual(['webgpu', 'wasm', 'webgl', 'cpu']);
    expect(plan[0].reason).toBe('');
  });

  test('no navigator.gpu: wasm, and the reason says so', () => {
    const [first] = planBackends(undefined, { status: 'no-api' });
    expect(first.backend).toBe('wasm');
    expect(first.reason).toMatch(/Not WebGPU because this browser has no WebGPU \(navigator\.gpu is missing/);
  });

  test('no adapter: wasm, then webgl, then cpu', () => {
    const plan = planBackends(undefined, { status: 'no-adapter' });
    expect(plan.map((c) => c.backend)).toEqual(['wasm', 'webgl', 'cpu']);
    expect(plan[0].reason).toContain('no WebGPU adapter');
  });

  test('requestAdapter throwing is reported with its message', () => {
    expect(planBackends(undefined, { status: 'error', message: 'GPU process crashed' })[0].reason).toContain('GPU process crashed');
  });

  test('a software adapter (SwiftShader or a fallback adapter) gets wasm by default, and the reason says why', () => {
    for (const adapter of [SWIFTSHADER, { ...HARDWARE, isFallbackAdapter: true }]) {
      const plan = planBackends(undefined, ok(adapter));
      expect(plan[0].backend).toBe('wasm');
      expect(plan[0].reason).toContain('software emulation');
      expect(plan.map((c) => c.backend)).not.toContain('webgpu');
    }
  });

  test('?backend=webgpu still forces WebGPU on a software adapter, and says it is slow', () => {
    const plan = planBackends('webgpu', ok(SWIFTSHADER));
    expect(plan[0].backend).toBe('webgpu');
    expect(plan[0].reason).toContain('software adapter');
    expect(plan[1].backend).toBe('wasm');
  });

  test('the policy can keep WebGPU first on a software adapter', () => {
    const [first] = planBackends(undefined, ok(SWIFTSHADER), { preferWasmOverSoftwareWebGPU: false });
    expect(first.backend).toBe('webgpu');
    expect(first.reason).toContain('software');
  });

  test('?backend= forces a backend and names the request as the reason', () => {
    const plan = planBackends('wasm', ok(HARDWARE));
    expect(plan[0]).toEqual({ backend: 'wasm', reason: 'Not WebGPU because ?backend=wasm was requested.' });
    expect(plan.map((c) => c.backend)).toEqual(['wasm', 'webgpu', 'webgl', 'cpu']);
  });

  test('?backend=webgpu without WebGPU falls back and says both', () => {
    const [first] = planBackends('webgpu', { status: 'no-adapter' });
    expect(first.backend).toBe('wasm');
    expect(first.reason).toContain('WebGPU was requested');
  });

  test('an unknown ?backend= is named, then the choice is automatic', () => {
    const [first] = planBackends('quantum', ok(HARDWARE));
    expect(first.backend).toBe('webgpu');
    expect(first.reason).toContain('Unknown backend "quantum"');
  });

  test('adapter names are short and mark software adapters', () => {
    expect(adapterName(SWIFTSHADER)).toBe('google swiftshader (software)');
    expect(adapterName(HARDWARE)).toBe('nvidia ampere');
    expect(adapterName({ vendor: '', architecture: '', device: '', description: '', isFallbackAdapter: false })).toBe('unnamed adapter');
  });
});
