/**
 * The one owner of the worker's model. Every user of the model (a generation, a branch, an
 * attention or logit-lens pass, a kept KV cache being forked) holds a lease while it runs, and the
 * model is disposed only when no lease holds it any more, so nothing ever runs on a disposed model:
 *
 * - replace(next): `next` answers new leases at once; leases on the old model that may be
 *   cancelled (analyses) are aborted, the others (generations) finish; the old model is disposed
 *   when its last lease is released.
 * - cancel(reason): aborts the cancellable leases now (a load is starting: analyses give way).
 * - lose(reason): the model's memory is gone (GPU device lost): every lease is aborted and the
 *   model is forgotten at once; disposing it is best effort.
 */

/** What the host needs of a model: a way to free it. */
export interface HostedModel {
  dispose(): void;
}

/** 'finish': runs to its end on the model it started with; 'cancel': aborted when the model is replaced or a load starts. */
export type LeasePolicy = 'finish' | 'cancel';

export interface Lease<M> {
  readonly model: M;
  /** Aborted when the host takes the model back from this lease; its reason is an AbortError that says why. */
  readonly signal: AbortSignal;
  /** The user is done with the model. Releasing twice is harmless. */
  release(): void;
}

interface Holder {
  policy: LeasePolicy;
  controller: AbortController;
}

/** An abort reason a person can read: a DOMException named AbortError with `why` as its message. */
export function abortReason(why: string): DOMException {
  return new DOMException(why, 'AbortError');
}

export class ModelHost<M extends HostedModel> {
  #model: M | null = null;
  /** The leases of each model still held: the current one and any replaced one not yet freed. */
  readonly #holders = new Map<M, Set<Holder>>();

  /** The model new leases get; null before the first load (and after a loss). */
  get model(): M | null {
    return this.#model;
  }

  /** Leases held now, on every model (the current one and replaced ones not yet freed). */
  get leaseCount(): number {
    let count = 0;
    for (const holders of this.#holders.values()) count += holders.size;
    return count;
  }

  /** Models replaced or lost whose leases have not all been released yet (not yet disposed). */
  get retiredCount(): number {
    return [...this.#holders.keys()].filter((model) => model !== this.#model).length;
  }

  /** A lease on the current model, or null when there is none. */
  lease(policy: LeasePolicy): Lease<M> | null {
    const model = this.#model;
    if (!model) return null;
    const holder: Holder = { policy, controller: new AbortController() };
    const holders = this.#holders.get(model) ?? new Set<Holder>();
    holders.add(holder);
    this.#holders.set(model, holders);
    let released = false;
    return {
      model,
      signal: holder.controller.signal,
      release: () => {
        if (released) return;
        released = true;
        holders.delete(holder);
        if (holders.size === 0) {
          this.#holders.delete(model);
          if (model !== this.#model) disposeQuietly(model);
        }
      },
    };
  }

  /** Aborts every cancellable lease (on every model) with `why`. */
  cancel(why: string): void {
    for (const holders of this.#holders.values()) {
      for (const holder of holders) if (holder.policy === 'cancel') holder.controller.abort(abortReason(why));
    }
  }

  /** Makes `next` the model; the old one is freed now, or when its last lease is released. */
  replace(next: M, why = 'another model replaced the one it ran on'): void {
    const old = this.#model;
    if (old === next) return;
    this.#model = next;
    if (!old) return;
    const holders = this.#holders.get(old);
    if (!holders || holders.size === 0) {
      disposeQuietly(old);
      return;
    }
    for (const holder of holders) if (holder.policy === 'cancel') holder.controller.abort(abortReason(why));
  }

  /** The model's memory is gone: every lease is aborted with `why` and the model is forgotten now. */
  lose(why: string): void {
    for (const holders of this.#holders.values()) {
      for (const holder of holders) holder.controller.abort(abortReason(why));
    }
    const old = this.#model;
    this.#model = null;
    if (old && !this.#holders.has(old)) disposeQuietly(old);
  }
}

function disposeQuietly(model: HostedModel): void {
  try {
    model.dispose();
  } catch {
    // Disposing after a device loss can throw; the memory is gone either way.
  }
}
