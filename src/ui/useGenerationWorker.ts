import { useCallback, useEffect, useReducer, useRef } from 'react';
import { startGenerationWorker, type WorkerClient } from '../worker/client';
import type { GenerateOptions, ModelSpec, PrecisionRequest } from '../worker/protocol';
import { appReducer, initialAppState } from './appState';

/**
 * Runs the generation worker for as long as the component lives (a new one when the requested
 * backend changes) and exposes its state and the three things a person can ask of it.
 */
export function useGenerationWorker(backendRequest: string, hubUrl: string) {
  const [state, dispatch] = useReducer(appReducer, initialAppState);
  const client = useRef<WorkerClient | null>(null);
  const nextId = useRef(1);
  const runningId = useRef(0);
  const [generation, bumpGeneration] = useReducer((n: number) => n + 1, 0);

  useEffect(() => {
    dispatch({ type: 'worker-restarted' });
    const worker = startGenerationWorker(
      (message) => dispatch({ type: 'message', message }),
      (message) => dispatch({ type: 'worker-failed', message }),
    );
    worker.post({
      type: 'init',
      backend: backendRequest === 'auto' ? undefined : backendRequest,
      pageUrl: document.baseURI,
      hubUrl: hubUrl || undefined,
    });
    client.current = worker;
    bumpGeneration();
    return () => {
      worker.terminate();
      client.current = null;
    };
  }, [backendRequest, hubUrl]);

  const load = useCallback((spec: ModelSpec, label: string, precision?: PrecisionRequest) => {
    const id = nextId.current++;
    dispatch({ type: 'load-started', id, label });
    client.current?.post({ type: 'load', id, spec, precision });
  }, []);

  const generate = useCallback((prompt: string, options: GenerateOptions) => {
    const id = nextId.current++;
    runningId.current = id;
    dispatch({ type: 'generate-started', id, prompt, sequences: options.num_return_sequences });
    client.current?.post({ type: 'generate', id, prompt, options });
  }, []);

  const stop = useCallback(() => {
    dispatch({ type: 'stop-requested' });
    client.current?.post({ type: 'abort', id: runningId.current });
  }, []);

  /** Changes each time a new worker starts, so callers can (re)load a model into it. */
  return { state, load, generate, stop, workerGeneration: generation };
}
