/**
 * The matrix kernels in Chromium, where relaxed SIMD is on: the store picks the relaxed build,
 * both builds pass the same derived bounds as in Node (tests/helpers/matmulCheck.ts, bundled into
 * the page), and q8 gives the same numbers bit for bit in both builds (the same integer sums).
 */
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelFinding } from '../helpers/matmulCheck';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser';

describe('q8 / f16 matrix kernels in Chromium (relaxed and plain SIMD)', () => {
  let browser: LaunchedBrowser;
  let result: { builds: string[]; findings: KernelFinding[]; rows: boolean };

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [new URL('../helpers/matmulCheck.ts', import.meta.url).pathname],
      bundle: true,
      write: false,
      format: 'iife',
      globalName: 'matmulChecks',
      platform: 'browser',
      target: 'es2022',
    });
    browser = await launchBrowser({ webgpu: false });
    await browser.page.goto('about:blank');
    await browser.page.addScriptTag({ content: bundle.outputFiles[0].text });
    result = await browser.page.evaluate(() => {
      const m = (window as unknown as { matmulChecks: typeof import('../helpers/matmulCheck') }).matmulChecks;
      return { builds: m.availableBuilds(), findings: m.runMatmulChecks(['relaxed', 'plain']), rows: m.tableRowsMatch('relaxed') };
    });
  });
  afterAll(async () => browser?.close());

  it('has relaxed SIMD, and the store prefers it', () => {
    expect(result.builds).toEqual(['relaxed', 'plain']);
  });

  it('keeps every output of both builds within its derived bound', () => {
    for (const f of result.findings) {
      expect(f.worstShareOfBound, `${f.build} ${f.format} ${f.shape}: worst error ${f.worstError}`).toBeLessThanOrEqual(1);
    }
    expect(result.findings.filter((f) => f.build === 'relaxed')).toHaveLength(result.findings.length / 2);
  });

  it('gives the same q8 numbers in both builds, bit for bit; f16 differs only by fused rounding', () => {
    const relaxed = result.findings.filter((f) => f.build === 'relaxed');
    const plain = result.findings.filter((f) => f.build === 'plain');
    relaxed.forEach((r, i) => {
      expect(r.shape).toBe(plain[i].shape);
      if (r.format === 'q8') expect(r.outputs).toEqual(plain[i].outputs);
      else r.outputs.forEach((y, j) => expect(Math.abs(y - plain[i].outputs[j])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(y))));
    });
  });

  it('reads embedding rows back exactly from the relaxed build', () => {
    expect(result.rows).toBe(true);
  });
});
