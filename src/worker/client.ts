/**
 * The page's handle on the generation worker: typed posting and listening. Importing this module
 * does not load tfjs; only the worker (worker.ts) does.
 */
import type { FromWorker, ToWorker } from './protocol';

export interface WorkerClient {
  post(message: ToWorker): void;
  terminate(): void;
}

export function startGenerationWorker(onMessage: (message: FromWorker) => void, onFailure: (message: string) => void): WorkerClient {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'gpt2-generation' });
  worker.addEventListener('message', (event: MessageEvent<FromWorker>) => onMessage(event.data));
  worker.addEventListener('error', (event: ErrorEvent) => {
    event.preventDefault();
    const detail = event.message || (event.error instanceof Error ? event.error.message : '') || 'its script failed to load';
    onFailure(`The generation worker crashed: ${detail}. Reload the page to try again.`);
  });
  worker.addEventListener('messageerror', () => onFailure('A message from the generation worker could not be read.'));
  return {
    post: (message) => worker.postMessage(message),
    terminate: () => worker.terminate(),
  };
}
