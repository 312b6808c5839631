import type { AppState } from '../appState';
import type { Settings } from '../settings';
import type { ModelSpec, PrecisionRequest } from '../../worker/protocol';
import { BackendPicker } from './BackendPicker';
import { CachedModels } from './CachedModels';
import { ModelPicker } from './ModelPicker';
import { PrecisionPicker } from './PrecisionPicker';

interface ModelSectionProps {
  settings: Settings;
  state: Pick<AppState, 'model' | 'backend'>;
  /** A generation is running: the backend and precision wait. */
  running: boolean;
  onLoad: (specText: string, spec: ModelSpec, hubUrl?: string) => void;
  onBackend: (backend: string) => void;
  onPrecision: (precision: PrecisionRequest) => void;
}

/** "Model and backend": the model chooser, the backend and precision menus, and the models cached in this browser. */
export function ModelSection({ settings, state, running, onLoad, onBackend, onPrecision }: ModelSectionProps) {
  const busy = state.model.status === 'loading';
  return (
    <section className="model-section" aria-labelledby="model-heading">
      <h2 id="model-heading">Model and backend</h2>
      <ModelPicker current={settings.model} busy={busy} onLoad={onLoad} precision={settings.precision} memory={state.backend?.memory} />
      <BackendPicker value={settings.backend} disabled={running} onChange={onBackend} />
      <PrecisionPicker value={settings.precision} backend={state.backend?.backend} disabled={running || busy} onChange={onPrecision} />
      <CachedModels refreshKey={`${state.model.requestId}-${state.model.status}`} busy={busy} onUse={onLoad} />
    </section>
  );
}
