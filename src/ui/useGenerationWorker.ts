import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { startGenerationWorker, type WorkerClient } from '../worker/client';
import type { FromWorker, GenerateOptions, ModelSpec, PrecisionRequest } from '../worker/protocol';
import { DEFAULT_INSPECT_TOP } from '../model/stepLogits';
import { appReducer, initialAppState, type BranchStart } from './appState';

/** Longest a token waits before the page shows it (about one frame). */
const TOKEN_BATCH_MS = 16;

/**
 * Runs the generation worker for as long as the component lives (a new one when the requested
 * backend or thread count changes) and exposes its state, what a person can ask of it (load, generate, stop,
 * branch, closeBranch, analyze), and its messages to other hooks (subscribe).
 */
export function useGenerationWorker(backendRequest: string, threads: 'auto' | number = 'auto') {
  const [state, dispatch] = useReducer(appReducer, initialAppState);
  /** Who else hears the worker's messages (useModelLoader): each one, after the page state has applied it. Tokens are not passed on. */
  const [listeners] = useState(() => new Set<(message: Exclude<FromWorker, { type: 'token' }>) => void>());
  const client = useRef<WorkerClient | null>(null);
  const nextId = useRef(1);
  const runningId = useRef(0);
  const [generation, bumpGeneration] = useReducer((n: number) => n + 1, 0);

  useEffect(() => {
    dispatch({ type: 'worker-restarted' });
    // Tokens can arrive hundreds of times a second: they are applied in batches, at most one page
    // update per frame (a timer, not requestAnimationFrame, so a hidden tab still catches up).
    // Any other message first applies the tokens before it, so the order is kept.
    let pending: FromWorker[] = [];
    let timer: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      if (pending.length === 0) return;
      const messages = pending;
      pending = [];
      dispatch({ type: 'messages', messages });
    };
    const worker = startGenerationWorker(
      (message) => {
        if (message.type === 'token') {
          pending.push(message);
          timer ??= setTimeout(flush, TOKEN_BATCH_MS);
          return;
        }
        flush();
        dispatch({ type: 'message', message });
        for (const listener of listeners) listener(message);
      },
      (message) => {
        flush();
        dispatch({ type: 'worker-failed', message });
      },
    );
    worker.post({
      type: 'init',
      backend: backendRequest === 'auto' ? undefined : backendRequest,
      pageUrl: document.baseURI,
      threads: threads === 'auto' ? undefined : threads,
    });
    client.current = worker;
    bumpGeneration();
    return () => {
      if (timer !== null) clearTimeout(timer);
      worker.terminate();
      client.current = null;
    };
  }, [backendRequest, threads, listeners]);

  /** Starts a load (from `hubUrl`, '' = huggingface.co; asking before a download over askAboveBytes; at `precision`); returns its id. */
  const load = useCallback(
    (spec: ModelSpec, label: string, options: { hubUrl?: string; askAboveBytes?: number; precision?: PrecisionRequest } = {}) => {
      const id = nextId.current++;
      dispatch({ type: 'load-started', id, label });
      client.current?.post({
        type: 'load',
        id,
        spec,
        ...(options.hubUrl ? { hubUrl: options.hubUrl } : {}),
        ...(options.askAboveBytes ? { askAboveBytes: options.askAboveBytes } : {}),
        ...(options.precision ? { precision: options.precision } : {}),
      });
      return id;
    },
    [],
  );

  const generate = useCallback((prompt: string, options: GenerateOptions) => {
    const id = nextId.current++;
    runningId.current = id;
    dispatch({ type: 'generate-started', id, prompt, options });
    client.current?.post({ type: 'generate', id, prompt, options, inspectTop: DEFAULT_INSPECT_TOP, lane: 'queue' });
  }, []);

  /** Compare strategies: one run per strategy, all beside each other (they stream together), each its own pane. */
  const compare = useCallback((prompt: string, strategies: readonly { label: string; options: GenerateOptions }[]) => {
    const panes = strategies.map((s) => ({ ...s, prompt, requestId: nextId.current++ }));
    dispatch({ type: 'compare-started', panes });
    for (const pane of panes)
      client.current?.post({
        type: 'generate',
        id: pane.requestId,
        prompt,
        options: pane.options,
        inspectTop: DEFAULT_INSPECT_TOP,
        lane: 'beside',
      });
  }, []);

  /** Stops the run, Compare strategies' runs, and any analysis still computing (the worker ignores ids that already ended). */
  const { attention, lens, compare: comparePanes } = state;
  const stop = useCallback(() => {
    dispatch({ type: 'stop-requested' });
    client.current?.post({ type: 'abort', id: runningId.current });
    for (const pane of comparePanes) if (pane.status === 'running') client.current?.post({ type: 'abort', id: pane.requestId });
    for (const analysis of [attention, lens])
      if (analysis.status === 'running') client.current?.post({ type: 'abort', id: analysis.requestId });
  }, [attention, lens, comparePanes]);

  /**
   * Starts a branch beside any run: `info` says where it came from; the model reads its prefix
   * ids and the forced token; `source` is the run row whose kept KV cache may hold the prefix.
   */
  const branch = useCallback((info: Omit<BranchStart, 'requestId'>, source: { request: number; sequence: number }) => {
    const id = nextId.current++;
    dispatch({ type: 'branch-started', branch: { ...info, requestId: id } });
    const forced = info.tokens[0].id;
    client.current?.post({
      type: 'generate',
      id,
      prompt: info.prefixText,
      promptIds: [...info.prefixIds, forced],
      options: info.options,
      inspectTop: DEFAULT_INSPECT_TOP,
      lane: 'beside',
      forkFrom: { ...source, position: info.prefixIds.length },
    });
    return id;
  }, []);

  /** Stops a branch if it still runs, and removes its pane. */
  const closeBranch = useCallback((id: number) => {
    client.current?.post({ type: 'abort', id });
    dispatch({ type: 'branch-closed', id });
  }, []);

  /** Asks for an analysis pass over `ids`; the answer lands in state.attention or state.lens. */
  const analyze = useCallback((ids: number[], analysis: 'attention' | 'lens', layer?: number) => {
    const id = nextId.current++;
    dispatch({ type: 'analysis-started', id, kind: analysis });
    client.current?.post({ type: 'analyze', id, ids, analysis, ...(layer === undefined ? {} : { layer }) });
    return id;
  }, []);

  /** Calls `listener` with each message but tokens from now on; returns the way to stop. */
  const subscribe = useCallback(
    (listener: (message: Exclude<FromWorker, { type: 'token' }>) => void) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    [listeners],
  );

  /** workerGeneration changes each time a new worker starts, so callers can (re)load a model into it. */
  return { state, load, generate, compare, stop, branch, closeBranch, analyze, subscribe, workerGeneration: generation };
}
