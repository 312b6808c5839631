import type { AppState } from './appState';
import { runExport } from './inspection';
import { loadTokenTexts } from './tokenText';

/** Saves the run as JSON (runExport: settings, seed, ids, text, per-token log-probabilities) through a download link. */
export async function downloadRun(state: Pick<AppState, 'run' | 'model' | 'backend'>): Promise<void> {
  const { run } = state;
  if (!run.options) return;
  const textOf = await loadTokenTexts();
  const data = runExport({
    model: state.model.info,
    backend: state.backend,
    prompt: run.prompt,
    promptIds: run.promptIds,
    options: run.options,
    seed: run.seed,
    outputs: run.outputs,
    tokens: run.tokens,
    finishReasons: run.finishReasons,
    textOf,
  });
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = `gpt2-run-${(state.model.info?.name ?? 'model').replace(/[^\w.-]+/g, '_')}-${run.seed ?? 'greedy'}.json`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
