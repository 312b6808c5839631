import type { AppState } from '../appState';

/** One sentence about what is happening, announced to screen readers as it changes. */
export function StatusLine({ state }: { state: AppState }) {
  const { model, run } = state;
  let text: string;
  let tone = '';
  if (run.status === 'error') {
    text = run.error ?? 'Generation failed.';
    tone = 'error';
  } else if (run.status === 'running') text = 'Generating…';
  else if (run.status === 'stopping') text = 'Stopping…';
  else if (run.status === 'stopped') text = `Stopped after ${run.tokenCount} tokens.`;
  else if (run.status === 'done') {
    text = [`Done: ${run.tokenCount} tokens.`, ...(run.stats?.warnings ?? [])].join(' ');
  } else if (model.status === 'loading') text = 'Loading the model…';
  else if (model.status === 'ready') text = 'Ready. Press Generate.';
  else if (model.status === 'error') text = 'The model did not load (see above).';
  else text = 'Starting…';
  return (
    <p className={`status-line ${tone}`} role={tone === 'error' ? 'alert' : 'status'} aria-live="polite" data-run-status={run.status}>
      {text}
    </p>
  );
}
