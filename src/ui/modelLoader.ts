/**
 * Model loading as a pure state machine over the page's requests and the worker's messages
 * (useModelLoader runs it). A load is a transaction: the model in use keeps answering until the
 * new one is ready, and stays when the new one fails.
 *
 *   (page opens) ──► confirming ──yes──► pending ──loaded──► ready (inUse = the choice)
 *        │              └──no──► (the built-in model stays)    ├──error, a model kept──► ready (inUse unchanged, notice)
 *        └──────────────────────────► pending                  ├──error, none kept──► pending (the built-in model, notice)
 *                                                                └──error, asked(bytes)──► asking ──yes──► pending
 *
 * A model that arrives by link (`?model=`) from a server other than this page's (a `url:` folder,
 * a hub the link names, a preset bigger than ASK_ABOVE_BYTES) waits in `confirm` (or `hubOffer`)
 * and nothing is requested from it before the yes; meanwhile the built-in model loads. A hub
 * model of unknown size loads with askAboveBytes: the worker reads its size from the hub and stops
 * before a bigger download to ask (`offer`).
 *
 * Every load goes out as an `order`: the hook sends it to the worker and answers `load-sent`
 * with its request id; the worker's `loaded` or `error` for that id ends it.
 */
import type { FromWorker, ModelSpec, PrecisionRequest } from '../worker/protocol';
import { DEFAULT_HUB_URL } from '../sources/hub';
import { PRESETS } from '../sources/presets';
import { EMBEDDED_MODEL, LOCAL_MODEL, modelLabel, readModelSpec } from './modelSpec';

/** A page opened on a model that is a bigger download than this asks first (a link can name gpt2-xl). */
export const ASK_ABOVE_BYTES = 1e9;

/** A model to load: its text form (what the URL and localStorage keep), its spec, and the hub it comes from. */
export interface ModelChoice {
  text: string;
  spec: ModelSpec;
  /** The hub for a hub model; '' = huggingface.co. */
  hubUrl: string;
}

/** A load for the hook to send: the choice, at `precision`, asking before a download over ASK_ABOVE_BYTES when `ask`. */
export interface LoadOrder {
  choice: ModelChoice;
  ask: boolean;
  precision: PrecisionRequest;
}

export interface LoaderState {
  /** The model loaded last, answering now: what a new worker loads and what the address keeps; null until one has loaded. */
  inUse: ModelChoice | null;
  /** The model the page was opened with, until the first worker has started loading it. */
  opening: ModelChoice | null;
  /** A load to send to the worker now; null when none waits. */
  order: LoadOrder | null;
  /** The load the worker runs: its request id and what it loads. */
  pending: { id: number; choice: ModelChoice } | null;
  /** A link's model from another server, waiting for a yes before anything is requested from it. */
  confirm: { choice: ModelChoice; host: string; bytes: number | null } | null;
  /** A link's hub, waiting for a yes (never used or kept before that), and the link's hub model held back until then. */
  hubOffer: { hub: string; held: ModelChoice | null } | null;
  /** The worker stopped before a download of `bytes` to ask (a link's hub model). */
  offer: { choice: ModelChoice; bytes: number } | null;
  /** What happened to a model the person asked for (it could not load, the built-in one loaded instead). */
  notice: string | null;
  /** Something the loader refused just now (a drop during a load), for the status line. */
  problem: string | null;
  /** The precision loads ask for (the Precision select, ?dtype=). */
  precision: PrecisionRequest;
}

export const BUILT_IN: ModelChoice = { text: EMBEDDED_MODEL, spec: { kind: 'embedded' }, hubUrl: '' };

/** What the page was opened with (its address and the last visit's storage). */
export interface LoaderStartup {
  /** The model's text form (settings.model). */
  model: string;
  /** The hub in use ('' = huggingface.co). */
  hubUrl: string;
  /** The address names the model (`?model=`): it came by link. */
  fromLink: boolean;
  /** A hub the link names that is not the one in use; null when none. */
  linkHub: string | null;
  /** The page's address, to tell this page's server from another. */
  pageUrl: string;
  precision: PrecisionRequest;
}

export type LoaderAction =
  | { type: 'worker-started' }
  | { type: 'load-sent'; id: number }
  | { type: 'load'; choice: ModelChoice }
  | { type: 'precision'; precision: PrecisionRequest }
  | { type: 'confirm-accepted' }
  | { type: 'confirm-dismissed' }
  | { type: 'hub-accepted' }
  | { type: 'hub-dismissed' }
  | { type: 'offer-accepted' }
  | { type: 'offer-dismissed' }
  | { type: 'problem'; problem: string | null }
  | { type: 'message'; message: FromWorker };

/** The loader as the page opens: nothing loaded, the opened model waiting for the first worker. */
export function initialLoaderState(startup: LoaderStartup): LoaderState {
  const base: LoaderState = {
    inUse: null,
    opening: null,
    order: null,
    pending: null,
    confirm: null,
    hubOffer: startup.linkHub ? { hub: startup.linkHub, held: null } : null,
    offer: null,
    notice: null,
    problem: null,
    precision: startup.precision,
  };
  // Files from disk cannot come back from a link or a reload.
  if (startup.model === LOCAL_MODEL) {
    return {
      ...base,
      opening: BUILT_IN,
      notice:
        'The last model came from files on your computer, which a page cannot reopen by itself: loaded the built-in model instead. Pick the files again to use them.',
    };
  }
  const read = readModelSpec(startup.model);
  if ('problem' in read) return { ...base, opening: BUILT_IN, notice: `${read.problem} Loaded the built-in model instead.` };
  const opened: ModelChoice = { text: startup.model, spec: read.spec, hubUrl: startup.hubUrl };
  if (!startup.fromLink) return { ...base, opening: opened };
  // A hub model the link names is meant for the link's hub: it waits for the answer about that hub.
  if (base.hubOffer && opened.spec.kind === 'hub') return { ...base, hubOffer: { ...base.hubOffer, held: opened }, opening: BUILT_IN };
  const question = askFirst(opened, startup.pageUrl);
  if (question) return { ...base, confirm: question, opening: BUILT_IN };
  return { ...base, opening: opened };
}

/**
 * The question a link's model needs before any request: a folder on another server (named by its
 * host), or a preset bigger than ASK_ABOVE_BYTES (named by its size); null when it may load.
 */
export function askFirst(choice: ModelChoice, pageUrl: string): LoaderState['confirm'] {
  const { spec } = choice;
  if (spec.kind === 'url') {
    const url = new URL(spec.baseUrl, pageUrl);
    return url.origin === new URL(pageUrl).origin ? null : { choice, host: url.host, bytes: null };
  }
  const bytes = presetBytes(choice);
  if (bytes !== null && bytes > ASK_ABOVE_BYTES) return { choice, host: new URL(choice.hubUrl || DEFAULT_HUB_URL).host, bytes };
  return null;
}

/** The download size of a hub preset (gpt2, gpt2-medium, …), known before any request; null for any other model. */
export function presetBytes(choice: ModelChoice): number | null {
  const { spec } = choice;
  if (spec.kind !== 'hub') return null;
  return PRESETS.find((p) => p.repo === spec.repo)?.downloadBytes ?? null;
}

/** What the page calls a choice: the files' name, or the spec in words. */
export function choiceLabel(choice: ModelChoice): string {
  return choice.spec.kind === 'files' ? (choice.spec.name ?? 'local files') : modelLabel(choice.text);
}

export function loaderReducer(state: LoaderState, action: LoaderAction): LoaderState {
  switch (action.type) {
    case 'worker-started':
      return workerStarted(state);
    case 'load-sent':
      return state.order ? { ...state, pending: { id: action.id, choice: state.order.choice }, order: null } : state;
    case 'load':
      if (state.pending && action.choice.spec.kind === 'files')
        return { ...state, problem: 'A model is loading: drop the files again once it has loaded.' };
      return { ...state, notice: null, offer: null, problem: null, order: orderOf(state, action.choice, false) };
    case 'precision':
      // The model in use reloads in the new precision; the outputs on screen stay.
      return {
        ...state,
        precision: action.precision,
        order: state.inUse ? { choice: state.inUse, ask: false, precision: action.precision } : null,
      };
    case 'confirm-accepted':
      return state.confirm ? { ...state, confirm: null, notice: null, order: orderOf(state, state.confirm.choice, true) } : state;
    case 'confirm-dismissed':
      return { ...state, confirm: null };
    case 'hub-accepted': {
      if (!state.hubOffer) return state;
      const { hub, held } = state.hubOffer;
      return {
        ...state,
        hubOffer: null,
        notice: held ? null : state.notice,
        order: held ? orderOf(state, { ...held, hubUrl: hub }, true) : state.order,
      };
    }
    case 'hub-dismissed':
      return { ...state, hubOffer: null };
    case 'offer-accepted':
      return state.offer ? { ...state, offer: null, order: orderOf(state, state.offer.choice, false) } : state;
    case 'offer-dismissed':
      return { ...state, offer: null };
    case 'problem':
      return { ...state, problem: action.problem };
    case 'message':
      return onMessage(state, action.message);
  }
}

function orderOf(state: LoaderState, choice: ModelChoice, ask: boolean): LoadOrder {
  return { choice, ask, precision: state.precision };
}

/**
 * A new worker has no model: it loads the model in use; before any has loaded, the model the page
 * opened with (the first worker), or the one a worker that went away was still loading.
 */
function workerStarted(state: LoaderState): LoaderState {
  if (state.inUse) return { ...state, pending: null, order: orderOf(state, state.inUse, false) };
  const first = state.opening ?? state.pending?.choice ?? state.order?.choice ?? BUILT_IN;
  return { ...state, opening: null, pending: null, order: orderOf(state, first, first.spec.kind !== 'embedded') };
}

function onMessage(state: LoaderState, message: FromWorker): LoaderState {
  const pending = state.pending;
  if (!pending || !('id' in message) || message.id !== pending.id) return state;
  if (message.type === 'loaded') return { ...state, pending: null, inUse: pending.choice };
  if (message.type !== 'error' || message.phase !== 'load') return state;
  const next: LoaderState = { ...state, pending: null };
  if (message.downloadBytes !== undefined) next.offer = { choice: pending.choice, bytes: message.downloadBytes };
  // A failed load changes nothing when a model stayed loaded (the status line says why it failed).
  if (message.kept || pending.choice.spec.kind === 'embedded') return next;
  // No model is left (the page opened on this one): the built-in model loads instead, and the page says why.
  if (message.downloadBytes === undefined)
    next.notice = `${choiceLabel(pending.choice)} could not be loaded, so the built-in model was loaded instead. ${message.message}`.trim();
  next.order = orderOf(state, { ...BUILT_IN, hubUrl: pending.choice.hubUrl }, false);
  return next;
}

/** The settings once `inUse` has loaded: the address keeps it; a hub model's hub becomes the hub in use (so a reload finds the same files). */
export function followModel<S extends { model: string; hubUrl: string }>(settings: S, inUse: ModelChoice): S {
  const model = inUse.spec.kind === 'files' ? LOCAL_MODEL : inUse.text;
  const hubUrl = inUse.spec.kind === 'hub' ? inUse.hubUrl : settings.hubUrl;
  return model === settings.model && hubUrl === settings.hubUrl ? settings : { ...settings, model, hubUrl };
}
