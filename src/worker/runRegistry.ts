/**
 * The worker's requests that run (generations, branches, analyses) by id: which have arrived,
 * which run now and how to stop them, and the KV caches finished generations left for branches.
 *
 * An abort can arrive before its request starts (a generation waiting for its turn): it is kept
 * and the request starts aborted. An abort for an id that is not waiting or running (it finished,
 * or never came) changes nothing.
 */

/** What the registry needs of a kept cache: a way to free it. */
export interface KeptCacheLike {
  dispose(): void;
}

export interface KeptCache<C extends KeptCacheLike> {
  cache: C;
  /** Each batch row's token ids, in the order they entered the cache. */
  rows: number[][];
  bytes: number;
}

export interface KeptCacheLimits {
  /** At most this many caches are kept; the oldest goes first. */
  count: number;
  /** And at most this many bytes together; the newest cache is kept even when it alone is more. */
  bytes: number;
}

/** Four caches, 256 MiB together: a few branches' worth of prefixes on the model in use. */
export const KEPT_CACHE_LIMITS: KeptCacheLimits = { count: 4, bytes: 256 * 2 ** 20 };

export class RunRegistry<C extends KeptCacheLike> {
  /** Requests that arrived and have not started; true when an abort came for one first. */
  readonly #waiting = new Map<number, boolean>();
  readonly #running = new Map<number, AbortController>();
  /** Newest last. */
  readonly #kept = new Map<number, KeptCache<C>>();
  readonly #limits: KeptCacheLimits;

  constructor(limits: KeptCacheLimits = KEPT_CACHE_LIMITS) {
    this.#limits = limits;
  }

  /** A request arrived (it may wait before it starts). */
  arrive(id: number): void {
    if (!this.#running.has(id)) this.#waiting.set(id, false);
  }

  /**
   * The request starts now: returns the signal that stops it, already aborted if an abort came
   * while it waited. `linked` (a model lease's signal) aborts it too.
   */
  start(id: number, linked?: AbortSignal): AbortSignal {
    const controller = new AbortController();
    if (this.#waiting.get(id)) controller.abort(new DOMException('Stop was pressed before it started', 'AbortError'));
    this.#waiting.delete(id);
    this.#running.set(id, controller);
    if (linked) {
      if (linked.aborted) controller.abort(linked.reason);
      else linked.addEventListener('abort', () => controller.abort(linked.reason), { once: true });
    }
    return controller.signal;
  }

  /** The request ended (however it ended). */
  finish(id: number): void {
    this.#running.delete(id);
    this.#waiting.delete(id);
  }

  /** Stops a running request now, or a waiting one when it starts; ignores any other id. */
  abort(id: number, why = 'Stop was pressed'): void {
    const running = this.#running.get(id);
    if (running) running.abort(new DOMException(why, 'AbortError'));
    else if (this.#waiting.has(id)) this.#waiting.set(id, true);
  }

  /** Requests arrived and not yet finished (waiting or running). */
  get active(): number {
    return this.#waiting.size + this.#running.size;
  }

  /**
   * Keeps a finished run's cache for branches to fork; then drops the oldest caches until at most
   * `count` remain and they hold at most `bytes` together (the newest always stays).
   */
  keep(id: number, kept: KeptCache<C>): void {
    this.#kept.get(id)?.cache.dispose();
    this.#kept.delete(id);
    this.#kept.set(id, kept);
    let total = 0;
    for (const k of this.#kept.values()) total += k.bytes;
    for (const [oldest, k] of this.#kept) {
      if (this.#kept.size <= 1 || (this.#kept.size <= this.#limits.count && total <= this.#limits.bytes)) break;
      disposeQuietly(k.cache);
      this.#kept.delete(oldest);
      total -= k.bytes;
    }
  }

  /** The cache request `id` kept, if it is still kept. */
  kept(id: number): KeptCache<C> | undefined {
    return this.#kept.get(id);
  }

  /** Ids of the kept caches, oldest first. */
  get keptIds(): number[] {
    return [...this.#kept.keys()];
  }

  /** Frees every kept cache (the model they came from is being replaced, or its memory is gone). */
  dropKept(): void {
    for (const k of this.#kept.values()) disposeQuietly(k.cache);
    this.#kept.clear();
  }
}

function disposeQuietly(cache: KeptCacheLike): void {
  try {
    cache.dispose();
  } catch {
    // After a device loss the buffers are gone anyway.
  }
}
