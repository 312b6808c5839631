// The worker's model host and run registry (src/worker/modelHost.ts, runRegistry.ts) with stand-in models and caches.
import { describe, expect, it } from 'vitest';
import { ModelHost } from '../../src/worker/modelHost';
import { KEPT_CACHE_LIMITS, RunRegistry } from '../../src/worker/runRegistry';

class FakeModel {
  disposed = 0;
  constructor(readonly name: string) {}
  dispose(): void {
    this.disposed++;
  }
}

class FakeCache {
  disposed = 0;
  dispose(): void {
    this.disposed++;
  }
}

describe('ModelHost', () => {
  it('gives no lease before a model is loaded', () => {
    const host = new ModelHost<FakeModel>();
    expect(host.lease('finish')).toBeNull();
    expect(host.model).toBeNull();
  });

  it('frees a replaced model at once when nothing holds it', () => {
    const host = new ModelHost<FakeModel>();
    const a = new FakeModel('a');
    const b = new FakeModel('b');
    host.replace(a);
    host.replace(b);
    expect(a.disposed).toBe(1);
    expect(b.disposed).toBe(0);
    expect(host.model).toBe(b);
  });

  it('lets a generation lease finish on the model it started with, then frees that model once', () => {
    const host = new ModelHost<FakeModel>();
    const a = new FakeModel('a');
    const b = new FakeModel('b');
    host.replace(a);
    const lease = host.lease('finish')!;
    host.replace(b);
    expect(lease.model).toBe(a);
    expect(lease.signal.aborted).toBe(false);
    expect(a.disposed).toBe(0);
    expect(host.retiredCount).toBe(1);
    expect(host.lease('finish')!.model).toBe(b); // new users get the new model at once
    lease.release();
    lease.release(); // harmless
    expect(a.disposed).toBe(1);
    expect(host.retiredCount).toBe(0);
  });

  it('cancels an analysis lease when the model is replaced, and frees the old model only when the analysis lets go', () => {
    const host = new ModelHost<FakeModel>();
    const a = new FakeModel('a');
    host.replace(a);
    const analysis = host.lease('cancel')!;
    host.replace(new FakeModel('b'), 'another model was loaded');
    expect(analysis.signal.aborted).toBe(true);
    expect((analysis.signal.reason as Error).name).toBe('AbortError');
    expect((analysis.signal.reason as Error).message).toBe('another model was loaded');
    expect(a.disposed).toBe(0); // still computing until its next check
    analysis.release();
    expect(a.disposed).toBe(1);
  });

  it('cancel() aborts analyses only, leaving generations and the model as they are', () => {
    const host = new ModelHost<FakeModel>();
    const a = new FakeModel('a');
    host.replace(a);
    const analysis = host.lease('cancel')!;
    const generation = host.lease('finish')!;
    host.cancel('another model is loading');
    expect(analysis.signal.aborted).toBe(true);
    expect(generation.signal.aborted).toBe(false);
    analysis.release();
    generation.release();
    expect(a.disposed).toBe(0);
    expect(host.leaseCount).toBe(0);
  });

  it('lose() aborts every lease and forgets the model; it is freed when the last lease lets go', () => {
    const host = new ModelHost<FakeModel>();
    const a = new FakeModel('a');
    host.replace(a);
    const generation = host.lease('finish')!;
    host.lose('the GPU was lost');
    expect(generation.signal.aborted).toBe(true);
    expect(host.model).toBeNull();
    expect(a.disposed).toBe(0);
    generation.release();
    expect(a.disposed).toBe(1);
    const b = new FakeModel('b');
    host.replace(b);
    host.lose('the GPU was lost');
    expect(b.disposed).toBe(1);
  });

  it('a model with a dispose that throws (after a device loss) is still let go', () => {
    const host = new ModelHost<{ dispose(): void }>();
    host.replace({
      dispose: () => {
        throw new Error('device lost');
      },
    });
    expect(() => host.replace(new FakeModel('b'))).not.toThrow();
  });
});

describe('RunRegistry', () => {
  it('an abort before a request starts makes it start aborted; an abort for an unknown or finished id is ignored', () => {
    const runs = new RunRegistry<FakeCache>();
    runs.arrive(1);
    runs.abort(1);
    runs.abort(99); // never arrived
    const signal = runs.start(1);
    expect(signal.aborted).toBe(true);
    runs.finish(1);
    runs.abort(1); // finished
    runs.arrive(2);
    expect(runs.start(2).aborted).toBe(false);
    runs.finish(2);
    expect(runs.active).toBe(0);
  });

  it('aborts a running request with a reason that says why', () => {
    const runs = new RunRegistry<FakeCache>();
    runs.arrive(3);
    const signal = runs.start(3);
    runs.abort(3);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe('Stop was pressed');
  });

  it("follows a linked signal (the model lease's)", () => {
    const runs = new RunRegistry<FakeCache>();
    const lease = new AbortController();
    runs.arrive(4);
    const signal = runs.start(4, lease.signal);
    lease.abort(new DOMException('another model is loading', 'AbortError'));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe('another model is loading');
  });

  it('keeps at most `count` caches, dropping the oldest', () => {
    const runs = new RunRegistry<FakeCache>({ count: 2, bytes: 1000 });
    const caches = [new FakeCache(), new FakeCache(), new FakeCache()];
    caches.forEach((cache, id) => runs.keep(id, { cache, rows: [[id]], bytes: 10 }));
    expect(runs.keptIds).toEqual([1, 2]);
    expect(caches.map((c) => c.disposed)).toEqual([1, 0, 0]);
    expect(runs.kept(2)?.rows).toEqual([[2]]);
  });

  it('keeps at most `bytes` together, but always the newest cache', () => {
    const runs = new RunRegistry<FakeCache>({ count: 10, bytes: 100 });
    const a = new FakeCache();
    const b = new FakeCache();
    const big = new FakeCache();
    runs.keep(1, { cache: a, rows: [], bytes: 60 });
    runs.keep(2, { cache: b, rows: [], bytes: 30 });
    expect(runs.keptIds).toEqual([1, 2]);
    runs.keep(3, { cache: big, rows: [], bytes: 500 });
    expect(runs.keptIds).toEqual([3]);
    expect([a.disposed, b.disposed, big.disposed]).toEqual([1, 1, 0]);
  });

  it('dropKept() frees every kept cache', () => {
    const runs = new RunRegistry<FakeCache>();
    const a = new FakeCache();
    runs.keep(1, { cache: a, rows: [], bytes: 1 });
    runs.dropKept();
    expect(a.disposed).toBe(1);
    expect(runs.keptIds).toEqual([]);
    expect(KEPT_CACHE_LIMITS).toEqual({ count: 4, bytes: 256 * 2 ** 20 });
  });
});
