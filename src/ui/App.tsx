import { useCallback, useEffect, useRef, useState } from 'react';
import type { ModelSpec } from '../worker/protocol';
import { BackendNotice } from './components/BackendNotice';
import { BackendPicker } from './components/BackendPicker';
import { CachedModels } from './components/CachedModels';
import { Controls } from './components/Controls';
import { LoadProgressBar } from './components/LoadProgressBar';
import { ModelPicker } from './components/ModelPicker';
import { PrecisionPicker } from './components/PrecisionPicker';
import type { PrecisionRequest } from '../model/memoryPlan';
import { OutputPane } from './components/OutputPane';
import { StatsPanel } from './components/StatsPanel';
import { EMBEDDED_MODEL, LOCAL_MODEL, modelLabel, readModelSpec } from './modelSpec';
import { generateOptions, initialSettings, settingsToSearch, settingsToStorage, STORAGE_KEY, type Settings } from './settings';
import { StatusLine } from './components/StatusLine';
import { useGenerationWorker } from './useGenerationWorker';

function readStorage(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: settings still work, they just do not persist
  }
}

function startupSettings(): { settings: Settings; notice: string | null } {
  const settings = initialSettings(location.search, readStorage());
  // Files from disk cannot come back from a link or a reload.
  if (settings.model === LOCAL_MODEL) {
    return {
      settings: { ...settings, model: EMBEDDED_MODEL },
      notice: 'The last model came from files on your computer, which a page cannot reopen by itself: loaded the built-in model instead. Pick the files again to use them.',
    };
  }
  return { settings, notice: null };
}

export function App() {
  const [startup] = useState(startupSettings);
  const [settings, setSettings] = useState<Settings>(startup.settings);
  const [modelNotice, setModelNotice] = useState<string | null>(startup.notice);
  const { state, load, generate, stop, workerGeneration } = useGenerationWorker(settings.backend, settings.hubUrl);
  /** The model to (re)load whenever a worker starts. */
  const modelToLoad = useRef<{ text: string; spec: ModelSpec } | null>(null);

  // Keep the URL (a link reproduces the run) and localStorage (a reload keeps it) in step.
  useEffect(() => {
    history.replaceState(history.state, '', settingsToSearch(settings) + location.hash);
    try {
      localStorage.setItem(STORAGE_KEY, settingsToStorage(settings));
    } catch {
      // Private mode or storage full: the URL still carries the settings.
    }
  }, [settings]);

  // Each new worker loads the current model; the first one loads the model from the URL.
  useEffect(() => {
    if (workerGeneration === 0) return;
    if (!modelToLoad.current) {
      const read = readModelSpec(settings.model);
      if ('problem' in read) {
        setModelNotice(`${read.problem} Loaded the built-in model instead.`);
        modelToLoad.current = { text: EMBEDDED_MODEL, spec: { kind: 'embedded' } };
      } else {
        modelToLoad.current = { text: settings.model, spec: read.spec };
      }
    }
    load(modelToLoad.current.spec, modelLabel(modelToLoad.current.text), settings.precision);
    // Only a new worker triggers this; model changes go through loadModel below.
  }, [workerGeneration, load]);

  const loadModel = useCallback(
    (text: string, spec: ModelSpec) => {
      setModelNotice(null);
      modelToLoad.current = { text, spec };
      setSettings((s) => ({ ...s, model: text }));
      load(spec, spec.kind === 'files' ? (spec.name ?? 'local files') : modelLabel(text), settings.precision);
    },
    [load, settings.precision],
  );

  /** A new precision reloads the current model in it. */
  const changePrecision = useCallback(
    (precision: PrecisionRequest) => {
      setSettings((s) => ({ ...s, precision }));
      if (modelToLoad.current) load(modelToLoad.current.spec, modelLabel(modelToLoad.current.text), precision);
    },
    [load],
  );

  const running = state.run.status === 'running' || state.run.status === 'stopping';
  const canGenerate = state.model.status === 'ready' && !running;

  const startGeneration = useCallback(() => {
    if (!canGenerate) return;
    generate(settings.prompt, generateOptions(settings));
  }, [canGenerate, generate, settings]);

  // Ctrl+Enter (Cmd+Enter on a Mac) generates from anywhere on the page.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        startGeneration();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [startGeneration]);

  const { run } = state;
  const panes = run.outputs.length > 0 ? run.outputs : [];

  return (
    <div className="app" data-model-status={state.model.status} data-run-status={state.run.status}>
      <header className="app-header">
        <div>
          <h1>GPT-2 in the browser</h1>
          <p className="tagline">Type a prompt, tune the sampler, and watch GPT-2 write, computed on your own GPU.</p>
        </div>
        <BackendNotice backend={state.backend} error={state.workerError} />
      </header>

      <main className="layout">
        <aside className="panel settings" aria-label="Settings">
          <ModelPicker current={settings.model} busy={state.model.status === 'loading'} onLoad={loadModel} precision={settings.precision} memory={state.backend?.memory} />
          {modelNotice && <p className="notice warn">{modelNotice}</p>}
          <BackendPicker value={settings.backend} disabled={running} onChange={(backend) => setSettings((s) => ({ ...s, backend }))} />
          <PrecisionPicker value={settings.precision} backend={state.backend?.backend} disabled={running || state.model.status === 'loading'} onChange={changePrecision} />
          <CachedModels refreshKey={`${state.model.requestId}-${state.model.status}`} busy={state.model.status === 'loading'} onUse={loadModel} />
          <LoadProgressBar model={state.model} />
          {state.model.status === 'ready' && state.model.cacheNote && (
            <p className="notice warn" role="status">
              {state.model.cacheNote}
            </p>
          )}
          {state.model.status === 'error' && state.model.error && (
            <p className="notice error" role="alert">
              {state.model.error}
            </p>
          )}
          <Controls
            settings={settings}
            onChange={(patch) => setSettings((s) => ({ ...s, ...patch }))}
            onGenerate={startGeneration}
            onStop={stop}
            canGenerate={canGenerate}
            running={running}
          />
        </aside>

        <section className="results" aria-label="Results">
          <StatusLine state={state} />
          {panes.length === 0 ? (
            <div className="empty">
              <p>Generated text appears here, token by token.</p>
              <p className="field-hint">Press Generate, or Ctrl+Enter (⌘+Enter on a Mac).</p>
            </div>
          ) : (
            <div className={`outputs count-${panes.length}`}>
              {panes.map((text, index) => (
                <OutputPane
                  key={`${run.requestId}-${index}`}
                  index={index}
                  prompt={run.prompt}
                  text={text}
                  streaming={running}
                  finishReason={run.finishReasons[index]}
                />
              ))}
            </div>
          )}
          <StatsPanel state={state} />
        </section>
      </main>
      <footer className="app-footer">
        Settings live in this page's address: copy it to share a run (same seed, same text).
      </footer>
    </div>
  );
}
