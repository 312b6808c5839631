/** The header's plain line when the model does not run on WebGPU on a real GPU; the technical reason stays under Details. */
import { describe, expect, test } from 'vitest';
import { planBackends } from '../../src/backend/choice';
import { plainBackendLine } from '../../src/ui/backendNote';

describe('the plain backend line', () => {
  test('every fallback the worker can report gets one plain sentence, free of API names and addresses', () => {
    const probes = [
      { status: 'no-api' as const },
      { status: 'no-adapter' as const },
      { status: 'error' as const, message: 'GPUAdapter.requestDevice() rejected' },
    ];
    for (const probe of probes) {
      for (const candidate of planBackends(undefined, probe)) {
        expect(candidate.reason).not.toBe('');
        const line = plainBackendLine(candidate)!;
        expect(line, candidate.reason).toMatch(/^[A-Z][^\n]*\.$/);
        expect(line.split('. ').length, line).toBe(1); // one sentence
        expect(line).not.toMatch(/navigator|requestAdapter|\(\)|\?backend|tfjs/);
      }
    }
    expect(plainBackendLine({ backend: 'wasm', reason: 'x' })).toBe(
      'The model runs on your processor (WebAssembly), not on a graphics card (WebGPU).',
    );
  });

  test('none for WebGPU on a real GPU; a software WebGPU adapter is called slow', () => {
    expect(plainBackendLine({ backend: 'webgpu', reason: '' })).toBeNull();
    expect(plainBackendLine({ backend: 'webgpu', reason: 'WebGPU was requested; it runs on a software adapter' })).toMatch(
      /software.*slow/,
    );
  });
});
