import { useCallback, useEffect, useMemo, useState } from 'react';
import { AddressNotice } from './components/AddressNotice';
import { AttentionPanel } from './components/AttentionPanel';
import { BeamTree } from './components/BeamTree';
import { AppHeader, DropOverlay } from './components/AppHeader';
import { Controls } from './components/Controls';
import { LayerLens } from './components/LayerLens';
import { LoaderNotices } from './components/LoaderNotices';
import { LoadProgressBar } from './components/LoadProgressBar';
import { ModelNotes } from './components/ModelNotes';
import { ModelSection } from './components/ModelSection';
import { OutputPane } from './components/OutputPane';
import { ResultsToolbar } from './components/ResultsToolbar';
import { StatsPanel } from './components/StatsPanel';
import { StrategyMeasures } from './components/StrategyMeasures';
import { StatusLine } from './components/StatusLine';
import { TokenInspector } from './components/TokenInspector';
import { GPT2_VOCAB_SIZE } from '../tokenizer/vocabulary';
import type { GenerateOptions } from '../worker/protocol';
import { departures, runSamplerSettings, settingsPatch } from './inspection';
import { followModel } from './modelLoader';
import { panesOf, runPaneKey } from './panes';
import { downloadRun } from './runDownload';
import { generateBlockedReason, generateOptions, settingsOfOptions } from './settings';
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
import { usePageSettings } from './usePageSettings';
import { usePersistedSettings } from './usePersistedSettings';

/** The page: its settings, the worker and the model loader, composed into the settings panel, the outputs and the inspector. */
export function App() {
  const [startup] = useState(() => readStartup(location.search, document.baseURI));
  const { settings, setSettings, drafts, setDraft, applySettings, sliders } = usePageSettings(startup.settings);
  /** The Backend menu chose the backend (not the address, not the last visit). */
  const [backendFromMenu, setBackendFromMenu] = useState(false);
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
  }, [inUse, setSettings]);

  const comparing = state.compare.some((c) => c.status === 'running' || c.status === 'stopping');
  const running = state.run.status === 'running' || state.run.status === 'stopping' || comparing;
  // The loaded model answers even while another one loads.
  const canGenerate = state.model.info !== null && state.model.status !== 'error' && !running;
  const blocked = generateBlockedReason(drafts);
  // A refusal is news until the boxes are fixed; a box made invalid later is not refused until asked again.
  if (refused && !blocked) setRefused(false);

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
  const analysing = state.lens.status === 'running' || state.attention.status === 'running';
  usePageKeys(startGeneration, running || analysing ? stop : null);

  const { run, branches, compare: comparePanes } = state;
  const panes = useMemo(() => panesOf({ run, branches, compare: comparePanes }), [run, branches, comparePanes]);
  const textOf = useTokenTexts();
  const [showTokens, setShowTokens] = useState(false);
  const [surprise, setSurprise] = useState(false);
  const selection = useInspectorSelection(panes, run.requestId);
  const { pane: selectedPane, index: selectedIndex, token: selectedToken, count: paneTokenCount, inspected, selectorFor } = selection;
  const useRunSettings = useCallback(
    (options: GenerateOptions) => applySettings(settingsPatch(runSamplerSettings(options))),
    [applySettings],
  );
  const departed = departures(state.previousRun, run.prompt, run.options, run.tokens);
  const { startBranch, closePane } = useBranching(worker, panes, settings, selection);
  useInspectorWarmUp(state.model.info?.vocabSize, sliders);
  const dragging = useFileDrop((data) => void dropFiles(data));

  return (
    <div className="app" data-model-status={state.model.status} data-run-status={state.run.status}>
      {dragging && <DropOverlay />}
      <AppHeader backend={state.backend} failed={state.workerError !== null} request={settings.backend} fromMenu={backendFromMenu} />

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
          <ModelNotes model={state.model} />
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
                  {pane.compare && (
                    <StrategyMeasures pane={pane.compare} onUse={() => applySettings(settingsOfOptions(pane.compare!.options))} />
                  )}
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
              paneLabels={panes.filter((pane) => !pane.branch && !pane.compare).map((pane) => pane.label)}
              onInspect={(rank) => selectorFor(runPaneKey(rank))(0)}
            />
          )}
          {panes.map(
            ({ key, label, branch }) =>
              branch?.beamTree && (
                <BeamTree
                  key={key}
                  tree={branch.beamTree}
                  numBeams={branch.options.num_beams}
                  lengthPenalty={branch.options.length_penalty}
                  textOf={textOf}
                  paneLabels={[label]}
                  onInspect={() => selectorFor(key)(0)}
                  branch={label}
                />
              ),
          )}
          <StatsPanel state={state} />
        </section>

        <div className="side">
          <TokenInspector
            step={inspected}
            count={paneTokenCount}
            settings={sliders}
            vocabSize={Math.min(state.model.info?.vocabSize ?? GPT2_VOCAB_SIZE, GPT2_VOCAB_SIZE)}
            textOf={textOf}
            onUseRunSettings={useRunSettings}
            onSettingsChange={(patch) => applySettings(settingsPatch(patch))}
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
