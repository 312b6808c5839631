import type { AppState } from './appState';
import type { PaneView } from './panes';
import { downloadJson, runExport } from './runExport';
import { loadTokenBytes } from './tokenText';

/** Saves the run as JSON (runExport: model, settings, seed and every pane with its per-token log-probabilities) through a download link. */
export async function downloadRun(state: Pick<AppState, 'run' | 'model' | 'backend'>, panes: readonly PaneView[]): Promise<void> {
  const { run } = state;
  const data = runExport({
    model: state.model.info,
    backend: state.backend,
    prompt: run.prompt,
    promptIds: run.promptIds,
    options: run.options,
    seed: run.seed,
    panes,
    bytesOf: await loadTokenBytes(),
  });
  downloadJson(data, `gpt2-run-${(state.model.info?.name ?? 'model').replace(/[^\w.-]+/g, '_')}-${run.seed ?? 'greedy'}.json`);
}
