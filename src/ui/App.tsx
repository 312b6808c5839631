import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ModelSpec } from '../worker/protocol';
import type { RunToken } from './appState';
import { BackendNotice } from './components/BackendNotice';
import { BackendPicker } from './components/BackendPicker';
import { CachedModels } from './components/CachedModels';
import { Controls } from './components/Controls';
import { LoadProgressBar } from './components/LoadProgressBar';
import { ModelPicker } from './components/ModelPicker';
import { OutputPane } from './components/OutputPane';
import { ResultsToolbar } from './components/ResultsToolbar';
import { StatsPanel } from './components/StatsPanel';
import { TokenInspector, type InspectedStep } from './components/TokenInspector';
import { departures, runExport, samplerSettings, warmUpInspector } from './inspection';
import { EMBEDDED_MODEL, LOCAL_MODEL, modelLabel, readModelSpec } from './modelSpec';
import { generateOptions, initialSettings, settingsToSearch, settingsToStorage, STORAGE_KEY, type Settings } from './settings';
import { StatusLine } from './components/StatusLine';
import { loadTokenTexts, useTokenTexts } from './tokenText';
import { useGenerationWorker } from './useGenerationWorker';

/** The inspector's selection: a pane and a token in it (null: follow the pane's newest token). */
interface Selection {
  sequence: number;
  index: number | null;
}

/** History (prompt and earlier tokens) per token, computed once: a token object belongs to one run and one position. */
const histories = new WeakMap<RunToken, number[]>();
function historyBefore(token: RunToken, promptIds: readonly number[], sequence: readonly RunToken[], index: number): number[] {
  let history = histories.get(token);
  if (!history) {
    history = [...promptIds, ...sequence.slice(0, index).map((t) => t.id)];
    histories.set(token, history);
  }
  return history;
}

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
    load(modelToLoad.current.spec, modelLabel(modelToLoad.current.text));
    // Only a new worker triggers this; model changes go through loadModel below.
  }, [workerGeneration, load]);

  const loadModel = useCallback(
    (text: string, spec: ModelSpec) => {
      setModelNotice(null);
      modelToLoad.current = { text, spec };
      setSettings((s) => ({ ...s, model: text }));
      load(spec, spec.kind === 'files' ? (spec.name ?? 'local files') : modelLabel(text));
    },
    [load],
  );

  const running = state.run.status === 'running' || state.run.status === 'stopping';
  const canGenerate = state.model.status === 'ready' && !running;
  const results = useRef<HTMLElement>(null);

  const startGeneration = useCallback(() => {
    if (!canGenerate) return;
    generate(settings.prompt, generateOptions(settings));
    // One column (phones): the output is below the settings, so bring it into view.
    if (window.matchMedia('(max-width: 860px)').matches) results.current?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }, [canGenerate, generate, settings]);

  // Ctrl+Enter (Cmd+Enter on a Mac) generates from anywhere on the page; Escape stops a run.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        startGeneration();
      } else if (event.key === 'Escape' && running) {
        stop();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [startGeneration, running, stop]);

  const { run } = state;
  const panes = run.outputs.length > 0 ? run.outputs : [];
  const textOf = useTokenTexts();
  const [showTokens, setShowTokens] = useState(false);
  const [surprise, setSurprise] = useState(false);

  // The inspector follows the newest token of pane 1 when a run starts.
  const [selection, setSelection] = useState<Selection>({ sequence: 0, index: null });
  const [selectionRun, setSelectionRun] = useState(run.requestId);
  if (selectionRun !== run.requestId) {
    setSelectionRun(run.requestId);
    setSelection({ sequence: 0, index: null });
  }
  const runRef = useRef(run);
  runRef.current = run;
  /** One stable callback per pane, so a token's element re-renders only when it changes. */
  const selectors = useMemo(
    () => Array.from({ length: 64 }, (_, sequence) => (index: number) => {
      const current = runRef.current;
      const last = (current.tokens[sequence]?.length ?? 0) - 1;
      const streaming = current.status === 'running' || current.status === 'stopping';
      setSelection({ sequence, index: streaming && index === last ? null : index });
    }),
    [],
  );

  const sequenceTokens = run.tokens[selection.sequence] ?? [];
  const selectedIndex = selection.index ?? sequenceTokens.length - 1;
  const selectedToken: RunToken | undefined = sequenceTokens[selectedIndex];
  const promptIds = run.promptIds;
  const following = selection.index === null;
  const inspected = useMemo<InspectedStep | null>(() => {
    if (!selectedToken || !promptIds) return null;
    return {
      sequence: selection.sequence, index: selectedIndex, following, token: selectedToken, promptLength: promptIds.length,
      history: historyBefore(selectedToken, promptIds, run.tokens[selection.sequence], selectedIndex),
    };
    // run.tokens changes with every token; the history before a given token object never does.
  }, [selectedToken, promptIds, selection.sequence, selectedIndex, following]); // eslint-disable-line react-hooks/exhaustive-deps
  const sliders = useMemo(
    () => samplerSettings(settings),
    [settings.temperature, settings.topK, settings.topP, settings.minP, settings.repetitionPenalty], // eslint-disable-line react-hooks/exhaustive-deps
  );
  const useRunSettings = useCallback(() => {
    const o = runRef.current.options;
    if (!o) return;
    setSettings((s) => ({ ...s, temperature: o.temperature, topK: o.top_k, topP: o.top_p, minP: o.min_p, repetitionPenalty: o.repetition_penalty }));
  }, []);
  const departed = departures(state.previousRun, run.prompt, run.options, run.tokens);

  // Once a model is ready, compile the inspector's math while the page is idle (see warmUpInspector).
  const vocabSize = state.model.info?.vocabSize;
  const warmed = useRef(false);
  useEffect(() => {
    if (!vocabSize || warmed.current) return;
    warmed.current = true;
    const idle = window.requestIdleCallback ?? ((run: () => void) => setTimeout(run, 200));
    idle(() => warmUpInspector(vocabSize, sliders));
  }, [vocabSize, sliders]);

  const exportRun = useCallback(async () => {
    const current = runRef.current;
    if (!current.options) return;
    const textOfToken = await loadTokenTexts();
    const data = runExport({
      model: state.model.info, backend: state.backend, prompt: current.prompt, promptIds: current.promptIds, options: current.options,
      seed: current.seed, outputs: current.outputs, tokens: current.tokens, finishReasons: current.finishReasons, textOf: textOfToken,
    });
    const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `gpt2-run-${(state.model.info?.name ?? 'model').replace(/[^\w.-]+/g, '_')}-${current.seed ?? 'greedy'}.json`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }, [state.model.info, state.backend]);

  return (
    <div className="app" data-model-status={state.model.status} data-run-status={state.run.status}>
      <header className="app-header">
        <div>
          <h1>GPT-2 in the browser</h1>
          <p className="tagline">Type a prompt, move the sliders, and see what GPT-2 could have written: computed on your own machine.</p>
        </div>
        <BackendNotice backend={state.backend} error={state.workerError} />
      </header>

      <main className="layout">
        <aside className="panel settings" aria-label="Settings">
          <Controls
            settings={settings}
            onChange={(patch) => setSettings((s) => ({ ...s, ...patch }))}
            onGenerate={startGeneration}
            onStop={stop}
            canGenerate={canGenerate}
            running={running}
          />
          <section className="model-section" aria-labelledby="model-heading">
            <h2 id="model-heading">Model and backend</h2>
            <ModelPicker current={settings.model} busy={state.model.status === 'loading'} onLoad={loadModel} />
            {modelNotice && <p className="notice warn">{modelNotice}</p>}
            <BackendPicker value={settings.backend} disabled={running} onChange={(backend) => setSettings((s) => ({ ...s, backend }))} />
            <CachedModels refreshKey={`${state.model.requestId}-${state.model.status}`} busy={state.model.status === 'loading'} onUse={loadModel} />
          </section>
          <p className="settings-footnote">Settings live in this page&apos;s address: copy it to share a run (same seed, same text).</p>
        </aside>

        <section className="results" aria-labelledby="output-heading" ref={results}>
          <ResultsToolbar
            showTokens={showTokens}
            onShowTokens={setShowTokens}
            surprise={surprise}
            onSurprise={setSurprise}
            canExport={run.tokenCount > 0 && !running}
            onExport={exportRun}
          />
          <StatusLine state={state} />
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
          {panes.length === 0 ? (
            <div className="empty">
              <p>Generated text appears here, token by token.</p>
              <p className="field-hint">Press Generate, or Ctrl+Enter (⌘+Enter on a Mac). Then select any token to inspect it.</p>
            </div>
          ) : (
            <div className={`outputs count-${panes.length}`}>
              {panes.map((_, index) => (
                <OutputPane
                  key={`${run.requestId}-${index}`}
                  index={index}
                  prompt={run.prompt}
                  promptIds={run.promptIds}
                  tokens={run.tokens[index] ?? []}
                  streaming={running}
                  finishReason={run.finishReasons[index]}
                  selectedIndex={selection.sequence === index && selectedToken ? selectedIndex : null}
                  onSelect={selectors[index]}
                  showTokens={showTokens}
                  surprise={surprise}
                  departure={departed ? departed[index] : undefined}
                  textOf={textOf}
                />
              ))}
            </div>
          )}
          <StatsPanel state={state} />
        </section>

        <TokenInspector
          step={inspected}
          count={sequenceTokens.length}
          runOptions={run.options}
          settings={sliders}
          vocabSize={state.model.info?.vocabSize ?? 50257}
          textOf={textOf}
          onUseRunSettings={useRunSettings}
          running={running}
        />
      </main>
    </div>
  );
}
