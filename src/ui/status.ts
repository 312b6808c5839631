/**
 * The page's one status line: what is happening now, or how the latest thing the person asked
 * for ended (a run or a model load, whichever came last). Pure, so each case is unit-tested.
 */
import type { AppState } from './appState';
import { onlyLikeliest } from './settings';

export interface PageStatus {
  text: string;
  tone: 'info' | 'error';
  /** What the text is about: tests and screen readers tell a failed load from a failed run. */
  kind: 'worker-error' | 'run' | 'run-error' | 'loading' | 'load-error' | 'ready' | 'starting' | 'page';
}

const tokens = (n: number) => `${n} token${n === 1 ? '' : 's'}`;

export function pageStatus(state: AppState): PageStatus {
  const { model, run } = state;
  if (state.workerError) return { text: state.workerError, tone: 'error', kind: 'worker-error' };
  if (run.status === 'running') return { text: 'Generating…', tone: 'info', kind: 'run' };
  if (run.status === 'stopping') return { text: 'Stopping…', tone: 'info', kind: 'run' };
  if (state.latest === 'run') {
    if (run.status === 'error') return { text: run.error ?? 'Generation failed.', tone: 'error', kind: 'run-error' };
    if (run.status === 'stopped') return { text: `Stopped after ${tokens(run.tokenCount)}.`, tone: 'info', kind: 'run' };
    if (run.status === 'done') {
      const o = run.options;
      const single =
        o && o.num_return_sequences > 1 ? onlyLikeliest({ do_sample: o.do_sample, top_p: o.top_p, top_k: o.top_k, min_p: o.min_p }) : null;
      const same = single ? [`${single.reason}, so the ${o!.num_return_sequences} outputs are the same (as greedy decoding).`] : [];
      return { text: [`Done: ${tokens(run.tokenCount)}.`, ...(run.stats?.warnings ?? []), ...same].join(' '), tone: 'info', kind: 'run' };
    }
  }
  if (model.status === 'loading') return { text: 'Loading the model…', tone: 'info', kind: 'loading' };
  // A load that stopped to ask before a big download is not a failure: the page offers it instead.
  if (model.error && model.askedBytes === null) {
    const kept = model.status === 'ready' && model.info ? ` Still using ${model.info.name}.` : '';
    return { text: `${model.error}${kept}`, tone: 'error', kind: 'load-error' };
  }
  if (model.status === 'ready') return { text: 'Ready. Press Generate.', tone: 'info', kind: 'ready' };
  if (model.status === 'error') return { text: 'The model did not load.', tone: 'error', kind: 'load-error' };
  return { text: 'Starting…', tone: 'info', kind: 'starting' };
}
