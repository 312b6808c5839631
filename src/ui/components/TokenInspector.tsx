import { useDeferredValue, useMemo, useState } from 'react';
import { inspectStep, type Candidate, type SamplerSettings, type StepInspection } from '../../generation/inspect';
import { isSampling } from '../../generation/options';
import type { GenerateOptions } from '../../worker/protocol';
import type { RunToken } from '../appState';
import { count as formatCount, percent, runSamplerSettings, settingChanges } from '../inspection';
import { visibleText, type TokenTexts } from '../tokenText';
import { useThrottled } from '../useThrottled';
import { DistributionChart } from './DistributionChart';

/** The step the inspector shows. */
export interface InspectedStep {
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
}

interface TokenInspectorProps {
  step: InspectedStep | null;
  /** Tokens in the step's sequence so far (for "token 8 of 40"). */
  count: number;
  /** The settings the run used; null before any run. */
  runOptions: GenerateOptions | null;
  /** The sliders now: what the view replays the step under. */
  settings: SamplerSettings;
  vocabSize: number;
  textOf: TokenTexts | null;
  /** Puts the sliders back to the run's settings. */
  onUseRunSettings: () => void;
  /** Starts a branch of the pane from this step with this token forced. */
  onBranch: (tokenId: number) => void;
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
  runOptions,
  settings,
  vocabSize,
  textOf,
  onUseRunSettings,
  onBranch,
  running,
}: TokenInspectorProps) {
  const [rows, setRows] = useState(FEW);
  // While the newest token is followed, the view moves on a few times a second, not on every token;
  // while a slider moves fast, React may skip intermediate states. The page stays responsive.
  // A new step renders in a background pass of its own, after the panes' update, not inside it.
  const deferredStep = useDeferredValue(useThrottled(step, step?.following && running ? FOLLOW_MS : 0));
  const deferredSettings = useDeferredValue(settings);
  const inspection = deferredStep?.token.inspection;
  const view = useMemo<StepInspection | null>(
    () => (inspection ? inspectStep(inspection.logits, deferredSettings, deferredStep!.history, vocabSize, inspection.draw) : null),
    [inspection, deferredSettings, deferredStep, vocabSize],
  );

  if (!step || !deferredStep || !runOptions) {
    return (
      <section className="inspector panel" role="region" aria-label="Token inspector">
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
      <section className="inspector panel" role="region" aria-label="Token inspector">
        <h2>Token inspector</h2>
        <p className="muted-text">This token came without the model&apos;s distribution.</p>
      </section>
    );
  }

  const text = (id: number) => (textOf ? visibleText(textOf(id)) : `#${id}`);
  const chosen = deferredStep.token.id;
  const changes = settingChanges(deferredSettings, runSamplerSettings(runOptions));
  const shown = view.candidates.slice(0, rows);
  const listedTop = inspection.logits.top;

  return (
    <section
      className="inspector panel"
      role="region"
      aria-label="Token inspector"
      data-pane={deferredStep.paneName}
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

      <SettingsNote changes={changes} runOptions={runOptions} onUseRunSettings={onUseRunSettings} greedyView={view.greedy} />
      {view.keptOutsideListed > 0 && (
        <p className="notice warn small-notice" data-testid="beyond-listed">
          These settings keep {formatCount(view.keptOutsideListed)} tokens beyond the {listedTop} likeliest the worker sends per step; for
          those, the kept count, shares and probabilities are estimated from a histogram of all {formatCount(vocabSize)} logits.
        </p>
      )}

      <DrawBar view={view} draw={inspection.draw} chosen={chosen} text={text} />
      <DistributionChart candidates={shown} settings={deferredSettings} greedy={view.greedy} />

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
              <CandidateRow key={c.id} candidate={c} chosen={c.id === chosen} text={text(c.id)} onBranch={onBranch} />
            ))}
          </tbody>
        </table>
      </div>
      <div className="table-foot">
        <span className="muted-text">
          The {shown.length} likeliest of {formatCount(vocabSize)} tokens, by the model&apos;s raw probability.
        </span>
        <button type="button" className="ghost small" onClick={() => setRows(rows === FEW ? MANY : FEW)}>
          {rows === FEW ? `Show ${MANY}` : `Show ${FEW}`}
        </button>
      </div>
    </section>
  );
}

function CandidateRow({
  candidate: c,
  chosen,
  text,
  onBranch,
}: {
  candidate: Candidate;
  chosen: boolean;
  text: string;
  onBranch: (id: number) => void;
}) {
  return (
    <tr className={`${c.status === 'kept' ? 'kept' : 'cut'}${chosen ? ' chosen' : ''}`} data-token-id={c.id} data-status={c.status}>
      <td className="token-text">{text}</td>
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
}

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
  return (
    <div className="settings-note" data-testid="settings-note">
      {changes.length === 0 ? (
        <p>Sampling probability and Status: the run&apos;s own settings.</p>
      ) : (
        <p>
          <strong>What if</strong> {changes.join(', ')}: the columns and the chart show these settings; the text shows what the run wrote.{' '}
          <button type="button" className="ghost small" onClick={onUseRunSettings}>
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

/**
 * Where the seeded uniform draw fell: the kept tokens laid end to end in the order the sampler walks
 * them (ascending id), each as wide as its sampling probability, and a marker at the draw.
 */
function DrawBar({
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
  const pick = view.pick;
  const pickText = pick === null ? null : pick === -1 ? 'a token beyond the listed ones' : text(pick);
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
      <svg
        className="draw-bar"
        viewBox="0 0 1000 28"
        preserveAspectRatio="none"
        role="img"
        aria-label={
          draw === null ? 'Kept tokens, laid end to end' : `Kept tokens laid end to end; the draw ${draw.toFixed(4)} falls on ${pickText}`
        }
      >
        {view.segments.map((s, i) => (
          <rect
            key={i}
            x={s.start * 1000}
            y={4}
            width={Math.max(s.width * 1000, 0.5)}
            height={20}
            className={
              s.id === pick || (draw === null && s.id === chosen) ? 'seg picked' : s.id === -1 ? 'seg beyond' : i % 2 ? 'seg odd' : 'seg'
            }
          >
            <title>{s.id === -1 ? 'tokens beyond the listed ones' : `${text(s.id)} ${percent(s.width)}`}</title>
          </rect>
        ))}
        {draw !== null && <line x1={draw * 1000} x2={draw * 1000} y1={0} y2={28} className="draw-marker" />}
      </svg>
      <div className="draw-scale" aria-hidden="true">
        <span>0</span>
        <span>cumulative sampling probability, tokens in id order</span>
        <span>1</span>
      </div>
    </div>
  );
}
