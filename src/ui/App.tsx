import { useCallback, useEffect, useMemo, useState } from 'react';
import type { GenerateOptions } from '../worker/protocol';
import { AddressNotice } from './components/AddressNotice';
import { AttentionPanel } from './components/AttentionPanel';
import { BeamTree } from './components/BeamTree';
import { BackendNotice } from './components/BackendNotice';
import { Controls } from './components/Controls';
import { LayerLens } from './components/LayerLens';
import { LoaderNotices } from './components/LoaderNotices';
import { LoadProgressBar } from './components/LoadProgressBar';
import { ModelSection } from './components/ModelSection';
import { OutputPane } from './components/OutputPane';
import { ResultsToolbar } from './components/ResultsToolbar';
import { StatsPanel } from './components/StatsPanel';
import { StrategyMeasures } from './components/StrategyMeasures';
import { StatusLine } from './components/StatusLine';
import { TokenInspector } from './components/TokenInspector';
import { GPT2_VOCAB_SIZE, paddedVocabularyNote } from '../tokenizer/vocabulary';
import { departures, runSamplerSettings, samplerSettings, settingsPatch } from './inspection';
import { followModel } from './modelLoader';
import { panesOf, runPaneKey } from './panes';
import { downloadRun } from './runDownload';
import { generateBlockedReason, generateOptions, settingsOfOptions, type Drafts, type NumberSetting, type Settings } from './settings';
import { STRATEGIES, strategyOptions } from './strategies';
import { readStartup } from './startup';
import { useTokenTexts } from './tokenText';
import { useBranching } from './useBranching';
import { useFileDrop } from './useFileDrop';
import { useGenerationWorker } from './useGenerationWorker';
import { useInspectorSelection } from './useInspectorSelection';
import { useInspectorWarmUp } from './useInspectorWarmUp';
import { useModelLoader } from './useModelLoader';
import { usePageKeys } from './usePageKeys';
import { usePersistedSettings } from './usePersistedSettings';

/** The page: its settings, the worker and the model loader, composed into the settings panel, the outputs and the inspector. */
export function App() {
  const [startup] = useState(() => readStartup(location.search, document.baseURI));
  const [settings, setSettings] = useState<Settings>(startup.settings);
  /** The Backend menu chose the backend (not the address, not the last visit). */
  const [backendFromMenu, setBackendFromMenu] = useState(false);
  /** Number boxes whose text is not the setting's value (being typed, or invalid: then runs wait). */
  const [drafts, setDrafts] = useState<Drafts>({});
  /** Ctrl+Enter was pressed while a box was invalid: the status says why nothing ran, until the box is fixed. */
  const [refused, setRefused] = useState(false);
  const worker = useGenerationWorker(settings.backend, settings.threads);
  const { state, generate, compare, stop, analyze } = worker;
  const {
    loader,
    dispatch: loaderDispatch,
    loadModel,
    dropFiles,
    changePrecision,
  } = useModelLoader(worker, startup.loader, settings.hubUrl);
  usePersistedSettings(settings, loader.inUse !== null, startup.storedModel);
  // The settings follow the model in use once it has loaded (the address and storage keep it).
  const { inUse } = loader;
  useEffect(() => {
    if (inUse) setSettings((s) => followModel(s, inUse));
  }, [inUse]);

  const comparing = state.compare.some((c) => c.status === 'running' || c.status === 'stopping');
  const running = state.run.status === 'running' || state.run.status === 'stopping' || comparing;
  // The loaded model answers even while another one loads.
  const canGenerate = state.model.info !== null && state.model.status !== 'error' && !running;
  const blocked = generateBlockedReason(drafts);
  // A refusal is news until the boxes are fixed; a box made invalid later is not refused until asked again.
  if (refused && !blocked) setRefused(false);
  const paddingNote = state.model.info ? paddedVocabularyNote(state.model.info.vocabSize) : null;

  const setDraft = useCallback((setting: NumberSetting, text: string | null) => {
    setDrafts(({ [setting]: _old, ...others }) => (text === null ? others : { ...others, [setting]: text }));
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
    loaderDispatch({ type: 'problem', problem: null });
    generate(settings.prompt, generateOptions(settings));
    // One column (phones): the output is below the settings, so bring it into view.
    if (window.matchMedia('(max-width: 860px)').matches)
      document.querySelector('.results')?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }, [canGenerate, blocked, generate, settings, loaderDispatch]);
  const startComparison = useCallback(() => {
    if (!canGenerate || blocked) return;
    loaderDispatch({ type: 'problem', problem: null });
    const page = generateOptions(settings);
    compare(
      settings.prompt,
      STRATEGIES.map((strategy) => ({ label: strategy.label, options: strategyOptions(strategy, page) })),
    );
  }, [canGenerate, blocked, compare, settings, loaderDispatch]);
  /** A Compare strategies pane's settings, opened into the controls. */
  const applyStrategySettings = useCallback(
    (options: GenerateOptions) => {
      const patch = settingsOfOptions(options);
      setSettings((s) => ({ ...s, ...patch }));
      for (const setting of Object.keys(patch) as NumberSetting[]) setDraft(setting, null);
    },
    [setDraft],
  );
  const analysing = state.lens.status === 'running' || state.attention.status === 'running';
  usePageKeys(startGeneration, running || analysing ? stop : null);

  const { run, branches } = state;
  const { compare: comparePanes } = state;
  const panes = useMemo(() => panesOf({ run, branches, compare: comparePanes }), [run, branches, comparePanes]);
  const textOf = useTokenTexts();
  const [showTokens, setShowTokens] = useState(false);
  const [surprise, setSurprise] = useState(false);
  const selection = useInspectorSelection(panes, run.requestId);
  const { pane: selectedPane, index: selectedIndex, token: selectedToken, count: paneTokenCount, inspected, selectorFor } = selection;
  const { temperature, top_k, top_p, min_p, repetition_penalty, no_repeat_ngram_size, top_h, typical_p, epsilon_cutoff, eta_cutoff } =
    settings;
  const sliders = useMemo(
    () =>
      samplerSettings({
        temperature,
        top_k,
        top_p,
        min_p,
        repetition_penalty,
        no_repeat_ngram_size,
        top_h,
        typical_p,
        epsilon_cutoff,
        eta_cutoff,
      }),
    [temperature, top_k, top_p, min_p, repetition_penalty, no_repeat_ngram_size, top_h, typical_p, epsilon_cutoff, eta_cutoff],
  );
  const runOptions = selectedPane?.options;
  const useRunSettings = useCallback(() => {
    if (!runOptions) return;
    const patch = settingsPatch(runSamplerSettings(runOptions));
    setSettings((s) => ({ ...s, ...patch }));
    for (const setting of Object.keys(patch) as NumberSetting[]) setDraft(setting, null);
  }, [runOptions, setDraft]);
  /** The inspector's own sliders (the phone's loop) set the same settings as the panel's. */
  const changeSliders = useCallback(
    (patch: Parameters<typeof settingsPatch>[0]) => {
      const changed = settingsPatch(patch);
      setSettings((s) => ({ ...s, ...changed }));
      for (const setting of Object.keys(changed) as NumberSetting[]) setDraft(setting, null);
    },
    [setDraft],
  );
  const departed = departures(state.previousRun, run.prompt, run.options, run.tokens);
  const { startBranch, closePane } = useBranching(worker, selectedPane, inspected, settings, selection);
  useInspectorWarmUp(state.model.info?.vocabSize, sliders);
  const dragging = useFileDrop((data) => void dropFiles(data));

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
            onCompare={startComparison}
            onStop={stop}
            canGenerate={canGenerate}
            blocked={blocked}
            running={running}
            contextSize={state.model.info?.nPositions ?? null}
          />
          <ModelSection
            settings={settings}
            state={state}
            running={running}
            onLoad={loadModel}
            onBackend={(backend) => {
              setBackendFromMenu(true);
              setSettings((s) => ({ ...s, backend }));
            }}
            onPrecision={(precision) => {
              setSettings((s) => ({ ...s, precision }));
              changePrecision(precision);
            }}
          />
          <p className="settings-footnote">
            Settings live in this page&apos;s address: copy it to share a run (the same seed and settings give the same text at the same
            precision).
          </p>
        </aside>

        <section className="results" aria-labelledby="output-heading">
          <ResultsToolbar
            showTokens={showTokens}
            onShowTokens={setShowTokens}
            surprise={surprise}
            onSurprise={setSurprise}
            canExport={panes.some((pane) => pane.tokens.length > 0) && !running}
            onExport={() => downloadRun(state, panes)}
          />
          <StatusLine state={state} override={(refused && blocked ? `Not generating. ${blocked}` : null) ?? loader.problem} />
          <AddressNotice changes={startup.addressChanges} />
          <LoaderNotices
            loader={loader}
            dispatch={loaderDispatch}
            hubUrl={settings.hubUrl}
            onHubAccepted={(hubUrl) => setSettings((s) => ({ ...s, hubUrl }))}
            onHubReset={() => setSettings((s) => ({ ...s, hubUrl: '' }))}
            earlierModel={state.earlierModel}
          />
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
                <div className="pane-slot" key={`${run.requestId}-${pane.key}`}>
                  <OutputPane
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
                    departure={departed && !pane.branch && !pane.compare ? departed[index] : undefined}
                    textOf={textOf}
                    forcedFirst={pane.branch !== undefined}
                    onClose={pane.branch ? () => closePane(pane.branch!) : undefined}
                    reusedPositions={pane.branch?.reusedPositions}
                  />
                  {pane.compare && <StrategyMeasures pane={pane.compare} onUse={() => applyStrategySettings(pane.compare!.options)} />}
                </div>
              ))}
            </div>
          )}
          {run.beamTree && run.options && (
            <BeamTree
              tree={run.beamTree}
              numBeams={run.options.num_beams}
              lengthPenalty={run.options.length_penalty}
              textOf={textOf}
              onInspect={(rank) => selectorFor(runPaneKey(rank))(0)}
            />
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
            onSettingsChange={changeSliders}
            followBranches={selection.followBranches}
            onFollowBranches={selection.setFollowBranches}
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
