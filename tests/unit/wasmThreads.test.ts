/**
 * The thread-count fix for tfjs-wasm (see src/backend/wasmThreads.ts): while the module starts,
 * hardwareConcurrency reads doubled (so the native "cores / 2" cap becomes the real core count),
 * and afterwards it reads true again; outside a cross-origin isolated worker nothing changes.
 * Its effect on real threads is measured in Chromium by `npm run bench` (threads in use).
 */
import { describe, expect, test } from 'vitest';
import { canUseWasmThreads, defaultWasmThreads, prepareWasmThreads, wasmThreadCount } from '../../src/backend/wasmThreads';
import { parseThreads } from '../../src/backend/threadCount';
import { threadsOption } from '../../src/cli/args';
import { UsageError } from '../../src/cli/command';

class FakeWorkerNavigator {
  get hardwareConcurrency(): number {
    return 2;
  }
}

function workerScope(crossOriginIsolated: boolean) {
  return { navigator: new FakeWorkerNavigator(), crossOriginIsolated, WorkerGlobalScope: class {} };
}

describe('wasm threads', () => {
  test('in an isolated worker, cores read doubled only while the backend starts', () => {
    const scope = workerScope(true);
    expect(canUseWasmThreads(scope)).toBe(true);
    const restore = prepareWasmThreads(undefined, scope);
    expect(scope.navigator.hardwareConcurrency).toBe(4); // native code computes 4 / 2 = 2 threads
    restore();
    expect(scope.navigator.hardwareConcurrency).toBe(2);
    expect(Object.getOwnPropertyNames(scope.navigator)).not.toContain('hardwareConcurrency');
  });

  test('asks for every core but one, at least one', () => {
    expect([1, 2, 4, 8, 16].map(defaultWasmThreads)).toEqual([1, 1, 3, 7, 15]);
  });

  test('does nothing without cross-origin isolation (no SharedArrayBuffer, no threaded build)', () => {
    const scope = workerScope(false);
    expect(canUseWasmThreads(scope)).toBe(false);
    prepareWasmThreads(undefined, scope);
    expect(scope.navigator.hardwareConcurrency).toBe(2);
  });

  test('does nothing on a page (main thread) or in Node', () => {
    const page = { navigator: new FakeWorkerNavigator(), crossOriginIsolated: true };
    expect(canUseWasmThreads(page)).toBe(false);
    prepareWasmThreads(undefined, page);
    expect(page.navigator.hardwareConcurrency).toBe(2);
    expect(canUseWasmThreads()).toBe(false);
  });

  test('the count for tfjs and the q8 / f16 kernels: as asked, or every core but one; 1 without isolation', () => {
    expect(wasmThreadCount(undefined, workerScope(true))).toBe(1); // 2 cores: every core but the page's
    expect(wasmThreadCount(2, workerScope(true))).toBe(2);
    expect(wasmThreadCount(2, workerScope(false))).toBe(1);
    expect(wasmThreadCount(2, { navigator: new FakeWorkerNavigator(), crossOriginIsolated: true })).toBe(1);
  });

  test('?threads= and --threads accept a whole number from 1 to 64, and say so otherwise', () => {
    expect(parseThreads('3')).toEqual({ threads: 3 });
    expect(parseThreads('64')).toEqual({ threads: 64 });
    for (const bad of ['0', '65', '2.5', '', 'x'])
      expect(parseThreads(bad)).toEqual({ problem: `threads must be a whole number from 1 to 64, got '${bad}'` });
    expect(threadsOption(undefined, 'usage')).toBeUndefined();
    expect(threadsOption('2', 'usage')).toBe(2);
    expect(() => threadsOption('0', 'usage')).toThrow(UsageError);
    expect(() => threadsOption('0', 'usage')).toThrow("--threads must be a whole number from 1 to 64, got '0'");
  });
});
