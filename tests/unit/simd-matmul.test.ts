/**
 * The q8 and f16 matrix kernels in Node (the plain WebAssembly SIMD build; Node 20's relaxed SIMD
 * is refused by the store's self-check, see simd-matmul.chromium.test.ts for the relaxed build):
 * the embedded bytes are the .wat's, every output of odd shapes lies within the bound its format
 * allows (tests/helpers/matmulCheck.ts derives it), embedding rows read back exactly, and a
 * matrix past WebAssembly's 4 GB is refused with a message.
 */
import { describe, expect, it } from 'vitest';
import {
  MATMUL_RELAXED_SHARED_WASM_BASE64,
  MATMUL_RELAXED_WASM_BASE64,
  MATMUL_SHARED_WASM_BASE64,
  MATMUL_WASM_BASE64,
} from '../../src/backend/simd/matmulWasm';
import { SimdMatmulStore, availableMatmulBuilds } from '../../src/backend/simd/matmul';
import { f16Bits } from '../../src/backend/quantize';
import { runMatmulChecks, tableRowsMatch } from '../helpers/matmulCheck';
// @ts-expect-error: a plain .mjs script without types
import { assembleMatmulKernels, generatedMatmulModule, relaxedVariant, sharedVariant } from '../../scripts/build-wasm.mjs';

describe('q8 / f16 matrix kernels (plain SIMD, Node)', () => {
  it('embeds exactly the bytes matmul.wat assembles to, in all four builds (node scripts/build-wasm.mjs)', async () => {
    const builds = await assembleMatmulKernels();
    expect(MATMUL_WASM_BASE64).toBe(builds.plain.toString('base64'));
    expect(MATMUL_RELAXED_WASM_BASE64).toBe(builds.relaxed.toString('base64'));
    expect(MATMUL_SHARED_WASM_BASE64).toBe(builds.plainShared.toString('base64'));
    expect(MATMUL_RELAXED_SHARED_WASM_BASE64).toBe(builds.relaxedShared.toString('base64'));
    expect(generatedMatmulModule(builds)).toContain(MATMUL_RELAXED_WASM_BASE64);
    expect(relaxedVariant('a\n;;plain{\nb\n;;}plain\n;;relaxed: c\nd')).toBe('a\n c\nd');
    expect(sharedVariant('x (import "env" "memory" (memory 1 65536)) y')).toBe('x (import "env" "memory" (memory 1 65536 shared)) y');
    expect(() => sharedVariant('(memory 1)')).toThrow(/no \(import "env" "memory"/);
  });

  it('runs the plain build here', () => {
    expect(availableMatmulBuilds()).toContain('plain');
  });

  const findings = runMatmulChecks(['plain']);
  it.each(findings.map((f) => [`${f.format} ${f.shape}`, f] as const))('%s: every output within its derived bound of x·W + b', (_, f) => {
    expect(f.worstShareOfBound, `worst error ${f.worstError} (largest |y| ${f.largest})`).toBeLessThanOrEqual(1);
    expect(f.outputs.every(Number.isFinite)).toBe(true);
  });

  it('q8 is off by more than f16, and neither is exact (the kernels really quantize)', () => {
    const q8 = findings.filter((f) => f.format === 'q8').map((f) => f.worstError / f.largest);
    const f16 = findings.filter((f) => f.format === 'f16').map((f) => f.worstError / f.largest);
    expect(Math.min(...q8)).toBeGreaterThan(Math.max(...f16));
    expect(Math.min(...f16)).toBeGreaterThan(0);
  });

  it('reads embedding rows back exactly as stored', () => {
    expect(tableRowsMatch('plain')).toBe(true);
  });

  it('converts to f16 with round-to-nearest-even, clamps the range and flushes subnormals', () => {
    expect(f16Bits(1)).toBe(0x3c00);
    expect(f16Bits(-2)).toBe(0xc000);
    expect(f16Bits(65504)).toBe(0x7bff);
    expect(f16Bits(1e6)).toBe(0x7bff);
    expect(f16Bits(-Infinity)).toBe(0xfbff);
    expect(f16Bits(2 ** -14)).toBe(0x0400);
    expect(f16Bits(2 ** -15)).toBe(0);
    expect(f16Bits(1 + 2 ** -11)).toBe(0x3c00); // a tie: to even
    expect(f16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it('refuses to grow past what a WebAssembly memory holds, with a message', () => {
    const store = new SimdMatmulStore({ build: 'plain' });
    expect(() => store.alloc(5 * 2 ** 30)).toThrow(/more than the 4 GB a WebAssembly memory can hold.*q8/);
  });
});
