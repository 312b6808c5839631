/**
 * Model loading for the page: runs the loader state machine (modelLoader.ts) on the worker's
 * messages, sends each load it orders, and offers what a person can do (load a model, drop
 * files, change precision, answer the link's questions). The page keeps the model in use in its
 * address and storage once it has loaded.
 */
import { useCallback, useEffect, useLayoutEffect, useReducer, useRef } from 'react';
import type { ModelSpec, PrecisionRequest } from '../worker/protocol';
import { errorMessage } from '../util/errorMessage';
import { droppedFiles, localModelSpec, type LocalFile } from './localModel';
import { LOCAL_MODEL } from './modelSpec';
import { ASK_ABOVE_BYTES, choiceLabel, initialLoaderState, loaderReducer, type LoaderStartup, type LoadOrder } from './modelLoader';
import type { useGenerationWorker } from './useGenerationWorker';

type Worker = Pick<ReturnType<typeof useGenerationWorker>, 'load' | 'subscribe' | 'workerGeneration'>;

/** `hubUrl`: the hub in use now ('' = huggingface.co), where a chosen hub model comes from unless told otherwise. */
export function useModelLoader(worker: Worker, startup: LoaderStartup, hubUrl: string) {
  const [loader, dispatch] = useReducer(loaderReducer, startup, initialLoaderState);
  const { load, subscribe, workerGeneration } = worker;

  useEffect(() => subscribe((message) => dispatch({ type: 'message', message })), [subscribe]);
  useEffect(() => {
    if (workerGeneration > 0) dispatch({ type: 'worker-started' });
  }, [workerGeneration]);

  // Each order goes to the worker once (an effect may run twice for one order in development).
  // Sent before the page paints: a failed load that the built-in model replaces (the worker's error
  // and the loader's order come in one render) is never shown as "did not load", not even for a frame.
  const sent = useRef<LoadOrder | null>(null);
  const { order } = loader;
  useLayoutEffect(() => {
    if (!order || sent.current === order) return;
    sent.current = order;
    const id = load(order.choice.spec, choiceLabel(order.choice), {
      hubUrl: order.choice.hubUrl,
      askAboveBytes: order.ask ? ASK_ABOVE_BYTES : undefined,
      precision: order.precision,
    });
    dispatch({ type: 'load-sent', id });
  }, [order, load]);

  /** Loads a model the person chose (the menu, a hub id, a cached model); `hubUrl` defaults to the hub in use. */
  const loadModel = useCallback(
    (text: string, spec: ModelSpec, from?: string) => dispatch({ type: 'load', choice: { text, spec, hubUrl: from ?? hubUrl } }),
    [hubUrl],
  );

  /** config.json and model.safetensors (or their folder) dropped on the page. */
  const dropFiles = useCallback(async (data: DataTransfer) => {
    let files: LocalFile[];
    try {
      files = await droppedFiles(data); // reads the DataTransfer before its first await, while the drop event lasts
    } catch (error) {
      dispatch({ type: 'problem', problem: `The dropped files could not be read: ${errorMessage(error)}` });
      return;
    }
    try {
      dispatch({ type: 'load', choice: { text: LOCAL_MODEL, spec: await localModelSpec(files), hubUrl: '' } });
    } catch (error) {
      dispatch({ type: 'problem', problem: `The dropped files are not a model: ${errorMessage(error)}` });
    }
  }, []);

  const changePrecision = useCallback((precision: PrecisionRequest) => dispatch({ type: 'precision', precision }), []);
  return { loader, dispatch, loadModel, dropFiles, changePrecision };
}
