import type { ModelState } from '../appState';

/** The model's download/decode progress while it loads. */
export function LoadProgressBar({ model }: { model: ModelState }) {
  if (model.status !== 'loading') return null;
  const progress = model.progress;
  const percent = progress ? Math.min(100, Math.max(0, progress.percent)) : undefined;
  return (
    <div className="load-progress" role="status">
      <div className="load-label">
        <span>Loading {model.label}</span>
        <span>{percent === undefined ? '' : `${percent.toFixed(0)}%`}</span>
      </div>
      <progress aria-label="Model loading progress" max={100} value={percent} />
      <p className="field-hint">{progress ? progress.message : 'Starting…'}</p>
    </div>
  );
}
