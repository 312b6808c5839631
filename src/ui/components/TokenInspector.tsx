import { memo, useCallback, useDeferredValue, useEffect, useId, useMemo, useRef, useState } from 'react';
import {
  inspectStep,
  ReplayCache,
  type DrawSegment,
  type ExtraCandidate,
  type SamplerSettings,
  type StepInspection,
} from '../../generation/inspect';
import { isSampling } from '../../generation/options';
import type { GenerateOptions } from '../../worker/protocol';
import type { RunToken } from '../appState';
import { count as formatCount, INSPECTOR_ID, percent, runSamplerSettings, settingChanges } from '../inspection';
import { visibleText, type TokenTexts } from '../tokenText';
import { useThrottled } from '../useThrottled';
import { DistributionChart } from './DistributionChart';
import { SamplingPipeline } from './SamplingPipeline';

/** The step the inspector shows. */
export interface InspectedStep {
  /** The pane's key (PaneView.key): which pane a branch from this step continues. */
  paneKey: string;
  /** The pane's name: "Output 2", or a branch's origin. */
  paneName: string;
  /** 0-based index among the sequence's new tokens. */
  index: number;
  /** The inspector follows the newest token of the pane while it streams. */
  following: boolean;
  token: RunToken;
  /** The ids before this step (prompt and earlier tokens): what the repetition penalty reads. */
  history: number[];
  promptLength: number;
  /** The settings the step's pane ran with (what the view compares the sliders to). */
  options: GenerateOptions;
}

interface TokenInspectorProps {
  step: InspectedStep | null;
  /** Tokens in the step's sequence so far (for "token 8 of 40"). */
  count: number;
  /** The sliders now: what the view replays the step under. */
  settings: SamplerSettings;
  vocabSize: number;
  textOf: TokenTexts | null;
  /** Puts the sliders back to these settings (those of the run the shown step belongs to). */
  onUseRunSettings: (options: GenerateOptions) => void;
  /** Moves sampler settings from the pipeline's sliders (the same settings the Sampling controls hold). */
  onSettingsChange: (patch: Partial<SamplerSettings>) => void;
  /** Whether a new branch takes the inspector to its newest token (otherwise it stays on this step). */
  followBranches: boolean;
  onFollowBranches: (follow: boolean) => void;
  /** Starts a branch of the step's pane from that step with this token forced. */
  onBranch: (step: InspectedStep, tokenId: number) => void;
  running: boolean;
}

/** How often the view moves on while it follows a streaming pane. */
const FOLLOW_MS = 250;
const FEW = 20;
const MANY = 100;

/**
 * The token inspector: for the selected step, the chosen token's rank and probability, what the
 * sampler kept and where its seeded draw fell, a chart and a table of the likeliest candidates.
 * Every number follows the sliders at once: the step is replayed through the generation module's
 * own processors (inspectStep), never through the model again.
 */
export function TokenInspector({
  step,
  count,
  settings,
  vocabSize,
  textOf,
  onUseRunSettings,
  onSettingsChange,
  followBranches,
  onFollowBranches,
  onBranch,
  running,
}: TokenInspectorProps) {
  const id = useId();
  const [rows, setRows] = useState(FEW);
  // While the newest token is followed, the view moves on a few times a second, not on every token;
  // while a slider moves fast, React may skip intermediate states. The page stays responsive.
  // A new step renders in a background pass of its own, after the panes' update, not inside it.
  const deferredStep = useDeferredValue(useThrottled(step, step?.following && running ? FOLLOW_MS : 0));
  const deferredSettings = useDeferredValue(settings);
  const inspection = deferredStep?.token.inspection;
  // Replays of the same step reuse the stages a slider move leaves unchanged.
  const [replays] = useState(() => new ReplayCache());
  const view = useMemo<StepInspection | null>(
    () =>
      inspection ? inspectStep(inspection.logits, deferredSettings, deferredStep!.history, vocabSize, inspection.draw, replays) : null,
    [inspection, deferredSettings, deferredStep, vocabSize, replays],
  );
  // Stable between slider moves, so the memoised parts (chart, rows, strip) skip the urgent render that only moves a slider.
  const text = useCallback((id: number) => (textOf ? visibleText(textOf(id)) : `#${id}`), [textOf]);
  const shown = useMemo(() => view?.candidates.slice(0, rows) ?? [], [view, rows]);
  const history = deferredStep?.history;
  const seen = useMemo(() => new Set(history).size, [history]);
  // A row's Branch continues the step the table shows, which can be a render behind the selection.
  const branchHere = useCallback(
    (tokenId: number) => {
      if (deferredStep) onBranch(deferredStep, tokenId);
    },
    [deferredStep, onBranch],
  );

  if (!step || !deferredStep) {
    return (
      <section id={INSPECTOR_ID} className="inspector panel" role="region" aria-label="Token inspector">
        <h2>Token inspector</h2>
        <p className="muted-text">
          {running
            ? 'Waiting for the first token…'
            : 'Generate, then select any generated token to see the distribution it was drawn from and what each slider cuts.'}
        </p>
      </section>
    );
  }
  if (!inspection || !view) {
    return (
      <section id={INSPECTOR_ID} className="inspector panel" role="region" aria-label="Token inspector">
        <h2>Token inspector</h2>
        <p className="muted-text">
          {deferredStep.options.num_beams > 1
            ? 'Beam search chose this token among every beam’s candidates, and the worker keeps no per-token distribution for beams: the Beam search tree shows each step’s candidates with their cumulative log-probabilities.'
            : 'This token came without the model’s distribution.'}
        </p>
      </section>
    );
  }

  const chosen = deferredStep.token.id;
  const runOptions = deferredStep.options;
  const changes = settingChanges(deferredSettings, runSamplerSettings(runOptions));
  const listedTop = inspection.logits.top;
  const inShown = shown.some((c) => c.id === chosen);
  const pinned = inShown ? undefined : findChosen(view, chosen);

  return (
    <section
      id={INSPECTOR_ID}
      className="inspector panel"
      role="region"
      aria-label="Token inspector"
      data-pane={deferredStep.paneName}
      data-pane-key={deferredStep.paneKey}
      data-token-index={deferredStep.index}
    >
      <h2>Token inspector</h2>
      <p className="inspector-where">
        {deferredStep.paneName} · token {deferredStep.index + 1} of {Math.max(count, deferredStep.index + 1)} · position{' '}
        {deferredStep.promptLength + deferredStep.index + 1} in the text
        {deferredStep.following && running ? ' · following the newest' : ''}
      </p>
      <dl className="facts">
        <div>
          <dt>Chosen</dt>
          <dd>
            <span className="token-text" data-testid="chosen-token">
              {text(chosen)}
            </span>{' '}
            <span className="muted-text">id {chosen}</span>
          </dd>
        </div>
        <div>
          <dt>Rank</dt>
          <dd data-testid="chosen-rank">
            {formatCount(inspection.rank)} of {formatCount(vocabSize)}
          </dd>
        </div>
        <div>
          <dt>Model probability</dt>
          <dd data-testid="chosen-probability">{percent(Math.exp(inspection.logprob))}</dd>
        </div>
        <div>
          <dt>Kept</dt>
          <dd data-testid="kept">
            {formatCount(view.keptCount)} {view.keptCount === 1 ? 'token' : 'tokens'}, {percent(view.keptModelShare)} of the model&apos;s
            probability
          </dd>
        </div>
        <div>
          <dt>Entropy</dt>
          <dd data-testid="entropy">
            {view.modelEntropy.toFixed(2)} nats (model) · {view.samplingEntropy.toFixed(2)} after the filters
          </dd>
        </div>
      </dl>

      <SettingsNote
        changes={changes}
        runOptions={runOptions}
        onUseRunSettings={() => onUseRunSettings(runOptions)}
        greedyView={view.greedy}
      />
      {view.keptOutsideListed > 0 && (
        <p className="notice warn small-notice" data-testid="beyond-listed">
          These settings keep {formatCount(view.keptOutsideListed)} tokens beyond the {listedTop} likeliest the worker sends per step; for
          those, the kept count, shares and probabilities are estimated from a histogram of all {formatCount(vocabSize)} logits.
        </p>
      )}

      <SamplingPipeline
        view={view}
        replayed={deferredSettings}
        settings={settings}
        onChange={onSettingsChange}
        seen={seen}
        vocabSize={vocabSize}
      />
      <DrawBar view={view} draw={inspection.draw} chosen={chosen} text={text} />
      <DistributionChart candidates={shown} stages={view.stages} settings={deferredSettings} chosen={chosen} />

      <div className="table-scroll">
        <table className="candidates" aria-label="Candidates">
          <thead>
            <tr>
              <th scope="col">Token</th>
              <th scope="col">Id</th>
              <th scope="col">Model probability</th>
              <th scope="col">Sampling probability</th>
              <th scope="col">Status</th>
              <td />
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => (
              <CandidateRow key={c.id} candidate={c} rank={c.rank} chosen={c.id === chosen} text={text(c.id)} onBranch={branchHere} />
            ))}
            {pinned && (
              <CandidateRow
                key={`pinned-${chosen}`}
                candidate={pinned}
                rank={inspection.rank}
                chosen
                pinned
                text={text(chosen)}
                onBranch={branchHere}
              />
            )}
            {!inShown && !pinned && (
              <UnlistedChosenRow id={chosen} rank={inspection.rank} logprob={inspection.logprob} text={text(chosen)} listed={listedTop} />
            )}
          </tbody>
        </table>
      </div>
      <div className="table-foot">
        <span className="muted-text">
          The {shown.length} likeliest of {formatCount(vocabSize)} tokens, by the model&apos;s raw probability
          {inShown ? '' : `; the chosen token (rank ${formatCount(inspection.rank)}) is pinned below them`}.
        </span>
        <button type="button" className="ghost small" onClick={() => setRows(rows === FEW ? MANY : FEW)}>
          {rows === FEW ? `Show ${MANY}` : `Show ${FEW}`}
        </button>
      </div>
      <label className="follow-branches">
        <input type="checkbox" id={`${id}-follow`} checked={followBranches} onChange={(event) => onFollowBranches(event.target.checked)} />{' '}
        Follow newest: a new branch takes the inspector to its newest token
      </label>
    </section>
  );
}

/** The chosen token's candidate when the summary carries it (listed beyond the shown rows, or an id already in the text). */
function findChosen(view: StepInspection, chosen: number): ExtraCandidate | undefined {
  return view.candidates.find((c) => c.id === chosen) ?? view.extras.find((c) => c.id === chosen);
}

/**
 * The chosen token when the worker's summary does not carry it (ranked below the listed ones): its
 * rank and model probability are exact (from the run); its sampling share under these settings is not known here.
 */
function UnlistedChosenRow({
  id,
  rank,
  logprob,
  text,
  listed,
}: {
  id: number;
  rank: number;
  logprob: number;
  text: string;
  listed: number;
}) {
  return (
    <tr className="cut chosen pinned" data-token-id={id} data-status="not listed" data-rank={rank}>
      <td className="token-text">
        <span className="pinned-rank">#{formatCount(rank)} </span>
        {text}
      </td>
      <td className="num">{id}</td>
      <td className="num">{percent(Math.exp(logprob))}</td>
      <td colSpan={3}>below the {listed} tokens replayed here</td>
    </tr>
  );
}

const CandidateRow = memo(function CandidateRow({
  candidate: c,
  rank,
  chosen,
  pinned = false,
  text,
  onBranch,
}: {
  candidate: ExtraCandidate;
  /** Its rank by the raw logit. */
  rank: number;
  chosen: boolean;
  /** Shown below the listed rows because it is the chosen token and ranks lower. */
  pinned?: boolean;
  text: string;
  onBranch: (id: number) => void;
}) {
  return (
    <tr
      className={`${c.status === 'kept' ? 'kept' : 'cut'}${chosen ? ' chosen' : ''}${pinned ? ' pinned' : ''}`}
      data-token-id={c.id}
      data-status={c.status}
      data-rank={rank}
    >
      <td className="token-text">
        {pinned && <span className="pinned-rank">#{formatCount(rank)} </span>}
        {text}
      </td>
      <td className="num">{c.id}</td>
      <td className="num">{percent(c.modelProbability)}</td>
      <td className="num">{percent(c.samplingProbability)}</td>
      <td>{c.status}</td>
      <td>
        <button
          type="button"
          className="ghost tiny"
          onClick={() => onBranch(c.id)}
          title={`Continue this pane from here with ${text} (id ${c.id}) instead`}
        >
          Branch
        </button>
      </td>
    </tr>
  );
});

function SettingsNote({
  changes,
  runOptions,
  onUseRunSettings,
  greedyView,
}: {
  changes: string[];
  runOptions: GenerateOptions;
  onUseRunSettings: () => void;
  greedyView: boolean;
}) {
  const greedyRun = !isSampling(runOptions);
  const note = useRef<HTMLDivElement>(null);
  // "Use the run's settings" goes away once they are used: focus moves to the note that says so.
  const [refocus, setRefocus] = useState(false);
  useEffect(() => {
    if (refocus && changes.length === 0) {
      setRefocus(false);
      note.current?.focus();
    }
  }, [refocus, changes.length]);
  return (
    <div className="settings-note" data-testid="settings-note" ref={note} tabIndex={-1}>
      {changes.length === 0 ? (
        <p>Sampling probability and Status: the run&apos;s own settings.</p>
      ) : (
        <p>
          <strong>What if</strong> {changes.join(', ')}: the columns and the chart show these settings; the text shows what the run wrote.{' '}
          <button
            type="button"
            className="ghost small"
            onClick={() => {
              setRefocus(true);
              onUseRunSettings();
            }}
          >
            Use the run&apos;s settings
          </button>
        </p>
      )}
      {greedyRun && !greedyView && (
        <p className="muted-text">
          The run decoded greedily (Sample off): it took the likeliest token. The columns show what sampling would keep.
        </p>
      )}
      {greedyView && <p className="muted-text">Temperature 0 is greedy decoding: only the likeliest token is kept.</p>}
    </div>
  );
}

/** A segment is labelled in the strip when it is at least this share of it. */
const LABEL_WIDTH = 0.08;
/** Segments at least this wide take keyboard focus (narrower ones are named on hover and in the list's total). */
const FOCUS_WIDTH = 0.01;

/**
 * Where the seeded uniform draw fell: the kept tokens laid end to end in the order the sampler walks
 * them (ascending id), each as wide as its sampling probability, and a marker at the draw. Wide
 * segments carry their token; any segment names itself on hover or focus in the line below; the
 * run's chosen token is marked.
 */
const DrawBar = memo(function DrawBar({
  view,
  draw,
  chosen,
  text,
}: {
  view: StepInspection;
  draw: number | null;
  chosen: number;
  text: (id: number) => string;
}) {
  const [pointed, setPointed] = useState<DrawSegment | null>(null);
  const pick = view.pick;
  const pickText = pick === null ? null : pick === -1 ? 'a token beyond the listed ones' : text(pick);
  const name = (s: DrawSegment) => (s.id === -1 ? 'tokens beyond the listed ones' : text(s.id));
  const describe = (s: DrawSegment) =>
    `${name(s)}${s.id === -1 ? '' : ` (id ${s.id})`}${s.id === chosen ? ', chosen by the run' : ''}: ${percent(s.width)}, from ${s.start.toFixed(4)} to ${(s.start + s.width).toFixed(4)}`;
  return (
    <div className="draw" data-testid="draw">
      <div className="draw-label">
        {draw === null ? (
          <span>Greedy step: no random draw; the likeliest token was taken.</span>
        ) : (
          <span>
            Seeded draw u = <strong data-testid="draw-value">{draw.toFixed(4)}</strong> fell on{' '}
            <span className="token-text">{pickText}</span>
            {pick !== null && pick !== chosen ? ' with these settings (the run drew ' + text(chosen) + ')' : ''}
          </span>
        )}
      </div>
      <div
        className="draw-strip"
        role="group"
        aria-label={`Kept tokens laid end to end in ascending id order, each as wide as its sampling probability${
          draw === null ? '' : `; the draw ${draw.toFixed(4)} falls on ${pickText}`
        }`}
        onMouseLeave={() => setPointed(null)}
      >
        {view.segments.map((s) => (
          <span
            key={s.id}
            className={`seg${s.id === chosen ? ' chosen' : ''}${s.id === pick ? ' picked' : ''}${s.id === -1 ? ' beyond' : ''}`}
            style={{ left: `${s.start * 100}%`, width: `${s.width * 100}%` }}
            data-token-id={s.id}
            tabIndex={s.width >= FOCUS_WIDTH ? 0 : undefined}
            role="img"
            aria-label={describe(s)}
            title={describe(s)}
            onMouseEnter={() => setPointed(s)}
            onFocus={() => setPointed(s)}
            onBlur={() => setPointed(null)}
          >
            {s.width >= LABEL_WIDTH ? name(s) : ''}
          </span>
        ))}
        {draw !== null && <span className="draw-marker" style={{ left: `${draw * 100}%` }} aria-hidden="true" />}
      </div>
      <div className="draw-scale" aria-hidden="true">
        <span>0</span>
        <span>tokens in ascending id order (the sampler&apos;s walk); width = sampling probability</span>
        <span>1</span>
      </div>
      <p className="draw-pointed muted-text" aria-live="polite">
        {pointed ? describe(pointed) : 'Point at or focus a segment to name it; the outlined one is the chosen token.'}
      </p>
    </div>
  );
});
