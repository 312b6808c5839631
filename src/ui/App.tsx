import { useCallback, useEffect, useEffectEvent, useMemo, useRef, useState } from 'react';
import type { ModelSpec } from '../worker/protocol';
import type { BranchState, RunToken } from './appState';
import { BackendNotice } from './components/BackendNotice';
import { BackendPicker } from './components/BackendPicker';
import { CachedModels } from './components/CachedModels';
import { Controls } from './components/Controls';
import { LoadProgressBar } from './components/LoadProgressBar';
import { ModelPicker } from './components/ModelPicker';
import { PrecisionPicker } from './components/PrecisionPicker';
import type { PrecisionRequest } from '../model/memoryPlan';
import { OutputPane } from './components/OutputPane';
import { ResultsToolbar } from './components/ResultsToolbar';
import { StatsPanel } from './components/StatsPanel';
import { TokenInspector } from './components/TokenInspector';
import { departures, runExport, samplerSettings, warmUpInspector } from './inspection';
import { DownloadOffer } from './components/DownloadOffer';
import { HubNotice } from './components/HubNotice';
import { GPT2_VOCAB_SIZE, paddedVocabularyNote } from '../tokenizer/vocabulary';
import { EMBEDDED_MODEL, LOCAL_MODEL, modelLabel, readModelSpec } from './modelSpec';
import {
  generateBlockedReason,
  generateOptions,
  initialSettings,
  linkHub,
  settingsFromStorage,
  settingsToSearch,
  settingsToStorage,
  STORAGE_KEY,
  type Drafts,
  type NumberSetting,
  type Settings,
} from './settings';
import { droppedFiles, localModelSpec, type LocalFile } from './localModel';
import { useFileDrop } from './useFileDrop';
import { StatusLine } from './components/StatusLine';
import { branchPaneKey, panesOf } from './panes';
import { AttentionPanel } from './components/AttentionPanel';
import { LayerLens } from './components/LayerLens';
import { loadTokenTexts, useTokenTexts, visibleText } from './tokenText';
import { useGenerationWorker } from './useGenerationWorker';
import { useInspectorSelection } from './useInspectorSelection';

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

interface Startup {
  settings: Settings;
  notice: string | null;
  hubOffer: string | null;
  storedModel: string;
  linkModel: boolean;
  /** What the address asked for that could not be used as it was (a value out of range, an unknown backend). */
  addressChanges: string[];
}

function startupSettings(): Startup {
  const stored = readStorage();
  const addressChanges: string[] = [];
  const settings = initialSettings(location.search, stored, addressChanges);

  const hubOffer = linkHub(location.search, settings);
  const linkModel = new URLSearchParams(location.search).has('model');
  // What localStorage keeps until a model has loaded: a model that never loaded is never stored.
  const storedModel = settingsFromStorage(stored).model;
  // Files from disk cannot come back from a link or a reload.
  if (settings.model === LOCAL_MODEL) {
    return {
      settings: { ...settings, model: EMBEDDED_MODEL },
      notice:
        'The last model came from files on your computer, which a page cannot reopen by itself: loaded the built-in model instead. Pick the files again to use them.',
      hubOffer,
      storedModel: EMBEDDED_MODEL,
      linkModel,
      addressChanges,
    };
  }
  return { settings, notice: null, hubOffer, storedModel, linkModel, addressChanges };
}

function choiceLabel(choice: ModelChoice): string {
  return choice.spec.kind === 'files' ? (choice.spec.name ?? 'local files') : modelLabel(choice.text);
}

const BUILT_IN: ModelChoice = { text: EMBEDDED_MODEL, spec: { kind: 'embedded' }, hubUrl: '' };

export function App() {
  const [startup] = useState(startupSettings);
  const [settings, setSettings] = useState<Settings>(startup.settings);
  const [modelNotice, setModelNotice] = useState<string | null>(startup.notice);
  const [addressChanges, setAddressChanges] = useState(startup.addressChanges);
  /** The Backend menu chose the backend (not the address, not the last visit). */
  const [backendFromMenu, setBackendFromMenu] = useState(false);
  /** Number boxes whose text is not the setting's value (being typed, or invalid: then runs wait). */
  const [drafts, setDrafts] = useState<Drafts>({});
  /** Something the page refused just now (a drop that is not a model), for the status line. */
  const [pageProblem, setPageProblem] = useState<string | null>(null);
  /** Ctrl+Enter was pressed while a box was invalid: the status says why nothing ran, until the box is fixed. */
  const [refused, setRefused] = useState(false);
  /** A link's hub, waiting for the person to confirm it (never used or kept before that). */
  const [hubOffer, setHubOffer] = useState<string | null>(startup.hubOffer);
  /** A link's model that is a big download, waiting for the person to say so. */
  const [downloadOffer, setDownloadOffer] = useState<(ModelChoice & { bytes: number }) | null>(null);
  const { state, load, generate, stop, branch, closeBranch, analyze, workerGeneration } = useGenerationWorker(
    settings.backend,
    settings.threads,
  );
  /** The model in use: what a new worker (another backend) loads. Settings follow it once it has loaded. */
  const modelToLoad = useRef<ModelChoice | null>(null);
  /** The load in flight: a load is a transaction, so nothing about it is kept until it succeeds. */
  const pending = useRef<(ModelChoice & { id: number }) | null>(null);
  /** A link's hub model, held back until its hub is confirmed. */
  const deferred = useRef<ModelChoice | null>(null);

  /** The precision loads ask for (the Precision select, ?dtype=), read when a load starts. */
  const precisionRef = useRef(settings.precision);
  const startLoad = useCallback(
    (choice: ModelChoice, ask = false) => {
      const id = load(choice.spec, choiceLabel(choice), {
        hubUrl: choice.hubUrl,
        askAboveBytes: ask ? ASK_ABOVE_BYTES : undefined,
        precision: precisionRef.current,
      });
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
  }, [settings, startup.storedModel]);

  // Each new worker loads the model in use; the first one loads the model the page was opened with
  // (asking before a big download, and holding a hub model back while its hub waits for a yes).
  // Only a new worker triggers this (model changes go through loadModel below), reading the settings as they are then.
  const loadIntoNewWorker = useEffectEvent(() => {
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
  });
  useEffect(() => {
    if (workerGeneration > 0) loadIntoNewWorker();
  }, [workerGeneration]);

  // A load that finished: only now does the page (URL, localStorage) keep the choice. One that
  // failed leaves everything as it was; with no model left (the page opened on it), the built-in
  // model loads instead and the page says why.
  useEffect(() => {
    const current = pending.current;
    const model = state.model;
    if (!current || model.requestId !== current.id || model.status === 'loading' || model.status === 'idle') return;
    pending.current = null;
    if (model.status === 'ready' && !model.error) {
      modelToLoad.current = current;
      // A hub model's hub becomes the hub in use (so a reload finds the same files); other models leave it as it is.
      setSettings((s) => ({
        ...s,
        model: current.spec.kind === 'files' ? LOCAL_MODEL : current.text,
        hubUrl: current.spec.kind === 'hub' ? current.hubUrl : s.hubUrl,
      }));
      return;
    }
    if (model.askedBytes !== null) setDownloadOffer({ ...current, bytes: model.askedBytes });
    if (model.info === null && current.spec.kind !== 'embedded') {
      if (model.askedBytes === null) {
        setModelNotice(
          `${choiceLabel(current)} could not be loaded, so the built-in model was loaded instead. ${model.error ?? ''}`.trim(),
        );
      }
      startLoad({ ...BUILT_IN, hubUrl: settings.hubUrl });
    }
  }, [state.model, startLoad, settings.hubUrl]);

  const loadModel = useCallback(
    (text: string, spec: ModelSpec, hubUrl?: string) => {
      setModelNotice(null);
      setDownloadOffer(null);
      setPageProblem(null);
      startLoad({ text, spec, hubUrl: hubUrl ?? settings.hubUrl });
    },
    [startLoad, settings.hubUrl],
  );

  /** A new precision reloads the model in use in it. */
  const changePrecision = useCallback(
    (precision: PrecisionRequest) => {
      setSettings((s) => ({ ...s, precision }));
      precisionRef.current = precision;
      if (modelToLoad.current) startLoad(modelToLoad.current);
    },
    [startLoad],
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
  const blocked = generateBlockedReason(drafts);
  // A refusal is news until the boxes are fixed; a box made invalid later is not refused until asked again.
  if (refused && !blocked) setRefused(false);
  const paddingNote = state.model.info ? paddedVocabularyNote(state.model.info.vocabSize) : null;
  const results = useRef<HTMLElement>(null);

  const setDraft = useCallback((setting: NumberSetting, text: string | null) => {
    setDrafts((current) => {
      const next = { ...current };
      if (text === null) delete next[setting];
      else next[setting] = text;
      return next;
    });
  }, []);

  const startGeneration = useCallback(() => {
    if (!canGenerate) return;
    if (blocked) {
      // Runs never use a value other than the one the box shows: say why nothing ran, and go to the box.
      setRefused(true);
      document.querySelector<HTMLInputElement>('.number-field.invalid .number-box')?.focus();
      return;
    }
    setRefused(false);
    setPageProblem(null);
    generate(settings.prompt, generateOptions(settings));
    // One column (phones): the output is below the settings, so bring it into view.
    if (window.matchMedia('(max-width: 860px)').matches) results.current?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }, [canGenerate, blocked, generate, settings]);

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

  const { run, branches } = state;
  const panes = useMemo(() => panesOf({ run, branches }), [run, branches]);
  const textOf = useTokenTexts();
  const [showTokens, setShowTokens] = useState(false);
  const [surprise, setSurprise] = useState(false);

  const {
    pane: selectedPane,
    index: selectedIndex,
    token: selectedToken,
    count: paneTokenCount,
    inspected,
    setSelection,
    selectorFor,
  } = useInspectorSelection(panes, run.requestId);
  const { temperature, topK, topP, minP, repetitionPenalty } = settings;
  const sliders = useMemo(
    () => samplerSettings({ temperature, topK, topP, minP, repetitionPenalty }),
    [temperature, topK, topP, minP, repetitionPenalty],
  );
  const runRef = useRef(run);
  runRef.current = run;
  const selectedRef = useRef({ pane: selectedPane, step: inspected });
  selectedRef.current = { pane: selectedPane, step: inspected };
  const useRunSettings = useCallback(() => {
    const o = selectedRef.current.pane?.options;
    if (!o) return;
    setSettings((s) => ({
      ...s,
      temperature: o.temperature,
      topK: o.top_k,
      topP: o.top_p,
      minP: o.min_p,
      repetitionPenalty: o.repetition_penalty,
    }));
    setDrafts(({ temperature: _t, topK: _k, topP: _p, minP: _m, repetitionPenalty: _r, ...others }) => others);
  }, []);
  const departed = departures(state.previousRun, run.prompt, run.options, run.tokens);

  /**
   * Branch: continue the selected pane from the inspected step with `tokenId` forced there, under
   * the sliders' settings and the pane's seed; the worker forks the pane's KV cache when it kept it.
   */
  const startBranch = useCallback(
    async (tokenId: number) => {
      const { pane, step } = selectedRef.current;
      if (!pane || !step) return;
      const inspection = step.token.inspection;
      const texts = await loadTokenTexts();
      const piece = texts(tokenId);
      const at = inspection ? Array.from(inspection.logits.ids).indexOf(tokenId) : -1;
      const forced: RunToken = { id: tokenId, text: piece };
      if (inspection && at >= 0) {
        forced.inspection = {
          ...inspection,
          logprob: inspection.logits.logits[at] - inspection.logits.logSumExp,
          rank: at + 1,
          draw: null,
        };
      }
      const origin = `${pane.name} › token ${step.index + 1} › "${visibleText(piece)}"`;
      const options = { ...generateOptions(settingsRef.current), num_return_sequences: 1, seed: pane.seed ?? settingsRef.current.seed };
      const id = branch(
        {
          origin,
          parent: pane.key,
          step: step.index,
          prefixIds: step.history,
          options,
          tokens: [forced],
          prefixText:
            pane.promptText +
            pane.tokens
              .slice(0, step.index)
              .map((t) => t.text)
              .join(''),
        },
        pane.source,
      );
      setSelection({ pane: branchPaneKey(id), index: null });
    },
    [branch, setSelection],
  );
  const settingsRef = useRef(settings);
  settingsRef.current = settings;

  /** Closes a branch; if the inspector showed it, it goes back to where the branch came from. */
  const closePane = useCallback(
    (closed: BranchState) => {
      closeBranch(closed.requestId);
      setSelection((current) => (current.pane === branchPaneKey(closed.requestId) ? { pane: closed.parent, index: closed.step } : current));
    },
    [closeBranch, setSelection],
  );

  // Once a model is ready, compile the inspector's math while the page is idle (see warmUpInspector).
  const vocabSize = state.model.info?.vocabSize;
  const warmed = useRef(false);
  useEffect(() => {
    if (!vocabSize || warmed.current) return;
    warmed.current = true;
    const idle = (task: () => void) => ('requestIdleCallback' in window ? window.requestIdleCallback(task) : setTimeout(task, 200));
    warmUpInspector(Math.min(vocabSize, GPT2_VOCAB_SIZE), sliders, idle);
  }, [vocabSize, sliders]);

  // config.json and model.safetensors (or their folder) dropped anywhere on the page load at once.
  const modelBusy = state.model.status === 'loading';
  const dropFiles = useCallback(
    async (data: DataTransfer) => {
      if (modelBusy) {
        setPageProblem('A model is loading: drop the files again once it has loaded.');
        return;
      }
      setPageProblem(null);
      let files: LocalFile[];
      try {
        files = await droppedFiles(data); // reads the DataTransfer before its first await, while the drop event lasts
      } catch (error) {
        setPageProblem(`The dropped files could not be read: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      try {
        loadModel(LOCAL_MODEL, await localModelSpec(files));
      } catch (error) {
        setPageProblem(`The dropped files are not a model: ${error instanceof Error ? error.message : String(error)}`);
      }
    },
    [modelBusy, loadModel],
  );
  const dragging = useFileDrop((data) => void dropFiles(data));

  const exportRun = useCallback(async () => {
    const current = runRef.current;
    if (!current.options) return;
    const textOfToken = await loadTokenTexts();
    const data = runExport({
      model: state.model.info,
      backend: state.backend,
      prompt: current.prompt,
      promptIds: current.promptIds,
      options: current.options,
      seed: current.seed,
      outputs: current.outputs,
      tokens: current.tokens,
      finishReasons: current.finishReasons,
      textOf: textOfToken,
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
      {dragging && (
        <div className="drop-overlay" data-testid="drop-overlay">
          <p>Drop config.json and model.safetensors (or their folder) to load the model.</p>
        </div>
      )}
      <header className="app-header">
        <div>
          <h1>GPT-2 in the browser</h1>
          <p className="tagline">Type a prompt, move the sliders, and see what GPT-2 could have written: computed on your own machine.</p>
        </div>
        <BackendNotice backend={state.backend} failed={state.workerError !== null} request={settings.backend} fromMenu={backendFromMenu} />
      </header>

      <main className="layout">
        <aside className="panel settings" aria-label="Settings">
          <Controls
            settings={settings}
            onChange={(patch) => setSettings((s) => ({ ...s, ...patch }))}
            drafts={drafts}
            onDraft={setDraft}
            onGenerate={startGeneration}
            onStop={stop}
            canGenerate={canGenerate}
            blocked={blocked}
            running={running}
          />
          <section className="model-section" aria-labelledby="model-heading">
            <h2 id="model-heading">Model and backend</h2>
            <ModelPicker
              current={settings.model}
              busy={state.model.status === 'loading'}
              onLoad={loadModel}
              precision={settings.precision}
              memory={state.backend?.memory}
            />
            <BackendPicker
              value={settings.backend}
              disabled={running}
              onChange={(backend) => {
                setBackendFromMenu(true);
                setSettings((s) => ({ ...s, backend }));
              }}
            />
            <PrecisionPicker
              value={settings.precision}
              backend={state.backend?.backend}
              disabled={running || state.model.status === 'loading'}
              onChange={changePrecision}
            />
            <CachedModels
              refreshKey={`${state.model.requestId}-${state.model.status}`}
              busy={state.model.status === 'loading'}
              onUse={loadModel}
            />
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
          <StatusLine state={state} override={(refused && blocked ? `Not generating. ${blocked}` : null) ?? pageProblem} />
          {addressChanges.length > 0 && (
            <div className="notice warn" role="status" data-testid="address-notice">
              <p>This page&apos;s address asked for settings it cannot use as they were, so it changed them:</p>
              <ul>
                {addressChanges.map((change) => (
                  <li key={change}>{change}</li>
                ))}
              </ul>
              <div className="notice-actions">
                <button type="button" className="ghost small" onClick={() => setAddressChanges([])}>
                  Dismiss
                </button>
              </div>
            </div>
          )}
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
          {panes.length === 0 ? (
            <div className="empty">
              <p>Generated text appears here, token by token.</p>
              <p className="field-hint">Press Generate, or Ctrl+Enter (⌘+Enter on a Mac). Then select any token to inspect it.</p>
            </div>
          ) : (
            <div className={`outputs count-${panes.length}`}>
              {panes.map((pane, index) => (
                <OutputPane
                  key={`${run.requestId}-${pane.key}`}
                  name={pane.name}
                  label={pane.label}
                  prompt={pane.promptText}
                  promptIds={pane.promptIds}
                  tokens={pane.tokens}
                  streaming={pane.streaming}
                  finishReason={pane.finishReason}
                  selectedIndex={selectedPane?.key === pane.key && selectedToken ? selectedIndex : null}
                  onSelect={selectorFor(pane.key)}
                  showTokens={showTokens}
                  surprise={surprise}
                  departure={departed && !pane.branch ? departed[index] : undefined}
                  textOf={textOf}
                  forcedFirst={pane.branch !== undefined}
                  onClose={pane.branch ? () => closePane(pane.branch!) : undefined}
                  reusedPositions={pane.branch?.reusedPositions}
                />
              ))}
            </div>
          )}
          <StatsPanel state={state} />
        </section>

        <div className="side">
          <TokenInspector
            step={inspected}
            count={paneTokenCount}
            runOptions={selectedPane?.options ?? null}
            settings={sliders}
            vocabSize={Math.min(state.model.info?.vocabSize ?? GPT2_VOCAB_SIZE, GPT2_VOCAB_SIZE)}
            textOf={textOf}
            onUseRunSettings={useRunSettings}
            onBranch={startBranch}
            running={selectedPane?.streaming ?? false}
          />
          <LayerLens step={inspected} lens={state.lens} onAnalyze={(ids) => analyze(ids, 'lens')} textOf={textOf} />
          <AttentionPanel
            pane={selectedPane}
            nLayer={state.model.info?.nLayer ?? 1}
            nHead={state.model.info?.nHead ?? 1}
            attention={state.attention}
            onAnalyze={(ids, layer) => analyze(ids, 'attention', layer)}
            textOf={textOf}
            busy={selectedPane?.streaming ?? false}
          />
        </div>
      </main>
    </div>
  );
}
