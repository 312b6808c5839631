import { useCallback, useEffect, useRef, useState } from 'react';
import type { ModelSpec } from '../worker/protocol';
import { BackendNotice } from './components/BackendNotice';
import { BackendPicker } from './components/BackendPicker';
import { CachedModels } from './components/CachedModels';
import { Controls } from './components/Controls';
import { LoadProgressBar } from './components/LoadProgressBar';
import { ModelPicker } from './components/ModelPicker';
import { OutputPane } from './components/OutputPane';
import { StatsPanel } from './components/StatsPanel';
import { DownloadOffer } from './components/DownloadOffer';
import { HubNotice } from './components/HubNotice';
import { paddedVocabularyNote } from '../tokenizer/vocabulary';
import { EMBEDDED_MODEL, LOCAL_MODEL, modelLabel, readModelSpec } from './modelSpec';
import {
  generateOptions, initialSettings, linkHub, settingsFromStorage, settingsToSearch, settingsToStorage, STORAGE_KEY, type Settings,
} from './settings';
import { StatusLine } from './components/StatusLine';
import { useGenerationWorker } from './useGenerationWorker';

/** A page opened on a model that is a bigger download than this asks first (a link can name gpt2-xl). */
const ASK_ABOVE_BYTES = 1e9;

/** A model to load: its text form (what the URL and localStorage keep), its spec, and the hub it comes from. */
interface ModelChoice {
  text: string;
  spec: ModelSpec;
  /** '' = huggingface.co. */
  hubUrl: string;
}

function readStorage(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: settings still work, they just do not persist
  }
}

function startupSettings(): { settings: Settings; notice: string | null; hubOffer: string | null; storedModel: string; linkModel: boolean } {
  const stored = readStorage();
  const settings = initialSettings(location.search, stored);
  const hubOffer = linkHub(location.search, settings);
  const linkModel = new URLSearchParams(location.search).has('model');
  // What localStorage keeps until a model has loaded: a model that never loaded is never stored.
  const storedModel = settingsFromStorage(stored).model;
  // Files from disk cannot come back from a link or a reload.
  if (settings.model === LOCAL_MODEL) {
    return {
      settings: { ...settings, model: EMBEDDED_MODEL },
      notice: 'The last model came from files on your computer, which a page cannot reopen by itself: loaded the built-in model instead. Pick the files again to use them.',
      hubOffer,
      storedModel: EMBEDDED_MODEL,
      linkModel,
    };
  }
  return { settings, notice: null, hubOffer, storedModel, linkModel };
}

function choiceLabel(choice: ModelChoice): string {
  return choice.spec.kind === 'files' ? (choice.spec.name ?? 'local files') : modelLabel(choice.text);
}

const BUILT_IN: ModelChoice = { text: EMBEDDED_MODEL, spec: { kind: 'embedded' }, hubUrl: '' };

export function App() {
  const [startup] = useState(startupSettings);
  const [settings, setSettings] = useState<Settings>(startup.settings);
  const [modelNotice, setModelNotice] = useState<string | null>(startup.notice);
  /** A link's hub, waiting for the person to confirm it (never used or kept before that). */
  const [hubOffer, setHubOffer] = useState<string | null>(startup.hubOffer);
  /** A link's model that is a big download, waiting for the person to say so. */
  const [downloadOffer, setDownloadOffer] = useState<(ModelChoice & { bytes: number }) | null>(null);
  const { state, load, generate, stop, workerGeneration } = useGenerationWorker(settings.backend);
  /** The model in use: what a new worker (another backend) loads. Settings follow it once it has loaded. */
  const modelToLoad = useRef<ModelChoice | null>(null);
  /** The load in flight: a load is a transaction, so nothing about it is kept until it succeeds. */
  const pending = useRef<(ModelChoice & { id: number }) | null>(null);
  /** A link's hub model, held back until its hub is confirmed. */
  const deferred = useRef<ModelChoice | null>(null);

  const startLoad = useCallback(
    (choice: ModelChoice, ask = false) => {
      const id = load(choice.spec, choiceLabel(choice), { hubUrl: choice.hubUrl, askAboveBytes: ask ? ASK_ABOVE_BYTES : undefined });
      pending.current = { ...choice, id };
    },
    [load],
  );

  // Keep the URL (a link reproduces the run) and localStorage (a reload keeps it) in step; the
  // model is stored only once one has loaded (settings.model follows successful loads only).
  useEffect(() => {
    history.replaceState(history.state, '', settingsToSearch(settings) + location.hash);
    try {
      localStorage.setItem(STORAGE_KEY, settingsToStorage(modelToLoad.current ? settings : { ...settings, model: startup.storedModel }));
    } catch {
      // Private mode or storage full: the URL still carries the settings.
    }
  }, [settings]);

  // Each new worker loads the model in use; the first one loads the model the page was opened with
  // (asking before a big download, and holding a hub model back while its hub waits for a yes).
  useEffect(() => {
    if (workerGeneration === 0) return;
    if (modelToLoad.current) {
      startLoad(modelToLoad.current);
      return;
    }
    const read = readModelSpec(settings.model);
    if ('problem' in read) {
      setModelNotice(`${read.problem} Loaded the built-in model instead.`);
      startLoad(BUILT_IN);
      return;
    }
    const opened: ModelChoice = { text: settings.model, spec: read.spec, hubUrl: settings.hubUrl };
    // A hub model the link names is meant for the link's hub: it waits for the answer about that hub.
    if (hubOffer && startup.linkModel && read.spec.kind === 'hub') {
      deferred.current = opened;
      startLoad(BUILT_IN);
      return;
    }
    startLoad(opened, true);
    // Only a new worker triggers this; model changes go through loadModel below.
  }, [workerGeneration, startLoad]);

  // A load that finished: only now does the page (URL, localStorage) keep the choice. One that
  // failed leaves everything as it was; with no model left (the page opened on it), the built-in
  // model loads instead and the page says why.
  useEffect(() => {
    const current = pending.current;
    const { model } = state;
    if (!current || model.requestId !== current.id || model.status === 'loading' || model.status === 'idle') return;
    pending.current = null;
    if (model.status === 'ready' && !model.error) {
      modelToLoad.current = current;
      // A hub model's hub becomes the hub in use (so a reload finds the same files); other models leave it as it is.
      setSettings((s) => ({ ...s, model: current.spec.kind === 'files' ? LOCAL_MODEL : current.text, hubUrl: current.spec.kind === 'hub' ? current.hubUrl : s.hubUrl }));
      return;
    }
    if (model.askedBytes !== null) setDownloadOffer({ ...current, bytes: model.askedBytes });
    if (model.info === null && current.spec.kind !== 'embedded') {
      if (model.askedBytes === null) {
        setModelNotice(`${choiceLabel(current)} could not be loaded, so the built-in model was loaded instead. ${model.error ?? ''}`.trim());
      }
      startLoad({ ...BUILT_IN, hubUrl: settings.hubUrl });
    }
  }, [state.model, startLoad, settings.hubUrl]);

  const loadModel = useCallback(
    (text: string, spec: ModelSpec, hubUrl?: string) => {
      setModelNotice(null);
      setDownloadOffer(null);
      startLoad({ text, spec, hubUrl: hubUrl ?? settings.hubUrl });
    },
    [startLoad, settings.hubUrl],
  );

  const acceptHub = useCallback(() => {
    if (!hubOffer) return;
    setHubOffer(null);
    setSettings((s) => ({ ...s, hubUrl: hubOffer }));
    const held = deferred.current;
    deferred.current = null;
    if (held) {
      setModelNotice(null);
      startLoad({ ...held, hubUrl: hubOffer }, true);
    }
  }, [hubOffer, startLoad]);

  const dismissHub = useCallback(() => {
    setHubOffer(null);
    deferred.current = null;
  }, []);

  const running = state.run.status === 'running' || state.run.status === 'stopping';
  // The loaded model answers even while another one loads.
  const canGenerate = state.model.info !== null && state.model.status !== 'error' && !running;
  const paddingNote = state.model.info ? paddedVocabularyNote(state.model.info.vocabSize) : null;

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
          <ModelPicker current={settings.model} busy={state.model.status === 'loading'} onLoad={loadModel} />
          <HubNotice
            hubUrl={settings.hubUrl}
            offered={hubOffer}
            onAccept={acceptHub}
            onDismiss={dismissHub}
            onReset={() => setSettings((s) => ({ ...s, hubUrl: '' }))}
          />
          {downloadOffer && (
            <DownloadOffer
              label={choiceLabel(downloadOffer)}
              bytes={downloadOffer.bytes}
              onDownload={() => {
                setDownloadOffer(null);
                startLoad(downloadOffer);
              }}
              onDismiss={() => setDownloadOffer(null)}
            />
          )}
          {modelNotice && (
            <p className="notice warn" role="status" data-testid="model-notice">
              {modelNotice}
            </p>
          )}
          <BackendPicker value={settings.backend} disabled={running} onChange={(backend) => setSettings((s) => ({ ...s, backend }))} />
          <CachedModels refreshKey={`${state.model.requestId}-${state.model.status}`} busy={state.model.status === 'loading'} onUse={loadModel} />
          <LoadProgressBar model={state.model} />
          {state.model.status === 'ready' && state.model.cacheNote && (
            <p className="notice warn" role="status">
              {state.model.cacheNote}
            </p>
          )}
          {state.model.status === 'ready' && paddingNote && (
            <p className="notice warn" role="status">
              {paddingNote}
            </p>
          )}
          {state.model.status !== 'loading' && state.model.error && state.model.askedBytes === null && (
            <p className="notice error" role="alert" data-testid="load-error">
              {state.model.error}
              {state.model.status === 'ready' && state.model.info && ` Still using ${state.model.info.name}.`}
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
