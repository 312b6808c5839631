import { memo, useId } from 'react';
import type { Candidate, PipelineStage, SamplerSettings, StepInspection } from '../../generation/inspect';
import { count, percent, pipelineRows } from '../inspection';
import { GUIDES, LISTED_WHEN_OFF, stageSentence, tokens, type StageGuide } from '../pipelineGuides';
import { LABELS, LIMITS } from '../settings';

interface SamplingPipelineProps {
  view: StepInspection;
  /** The settings the view was replayed under (its sentences speak of these). */
  replayed: SamplerSettings;
  /** The sliders now (the stage sliders show these). */
  settings: SamplerSettings;
  /** Moves a slider: the same setting the Sampling controls hold. */
  onChange: (patch: Partial<SamplerSettings>) => void;
  /** Distinct ids already in the sequence (what the repetition penalty reads). */
  seen: number;
  vocabSize: number;
}

/**
 * The sampling pipeline of the inspected step: every processor in the order generation applies it,
 * each with the distribution it received (renormalised after the earlier cuts) as small bars, the
 * rule it applies in its own terms, what it removed, and one sentence; stages the settings turn
 * off are listed as off. Each stage has its setting's slider, bound to the Sampling controls.
 */
export function SamplingPipeline({ view, replayed, settings, onChange, seen, vocabSize }: SamplingPipelineProps) {
  const id = useId();
  const list = pipelineRows(view.stages, Object.keys(GUIDES), LISTED_WHEN_OFF);
  return (
    <section className="pipeline" role="region" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>Sampling pipeline</h3>
      <p className="muted-text pipeline-intro">
        The processors run top to bottom, each on what the one before left (renormalised to 100 %). Start: all {count(vocabSize)} tokens.
      </p>
      <ol className="stages">
        {list.map((row, i) => {
          const previous = list
            .slice(0, i)
            .reverse()
            .find((r): r is { stage: PipelineStage } => 'stage' in r)?.stage;
          return 'stage' in row ? (
            <StageRow
              key={row.stage.name}
              stage={row.stage}
              previous={previous}
              candidates={view.candidates}
              replayed={replayed}
              settings={settings}
              onChange={onChange}
              seen={seen}
            />
          ) : (
            <OffRow
              key={row.off}
              name={row.off}
              passing={previous?.kept ?? vocabSize}
              greedy={view.greedy}
              replayed={replayed}
              settings={settings}
              onChange={onChange}
            />
          );
        })}
      </ol>
    </section>
  );
}

function StageRow({
  stage,
  previous,
  candidates,
  replayed,
  settings,
  onChange,
  seen,
}: {
  stage: PipelineStage;
  previous: PipelineStage | undefined;
  candidates: Candidate[];
  replayed: SamplerSettings;
  settings: SamplerSettings;
  onChange: (patch: Partial<SamplerSettings>) => void;
  seen: number;
}) {
  const guide = GUIDES[stage.name] as StageGuide | undefined;
  const removed = stage.received - stage.kept;
  const sentence = stageSentence(stage, replayed, previous, seen);
  return (
    <li className={`stage${removed > 0 ? ' cuts' : ''}`} data-stage={stage.name} data-kept={stage.kept} data-mass={stage.keptMass}>
      <div className="stage-head">
        <strong className="stage-name">{guide ? LABELS[guide.setting] : stage.name === 'greedy' ? 'Greedy' : stage.label}</strong>
        {guide ? <StageSlider setting={guide.setting} settings={settings} onChange={onChange} /> : null}
      </div>
      <StageBars stage={stage} candidates={candidates} />
      <p className="stage-numbers">
        {guide && <span>Rule: {guide.rule(stage, replayed, previous)}. </span>}
        <span>
          Kept {tokens(stage.kept)} of {count(stage.received)} ({percent(stage.keptMass)}); removed {count(removed)} (
          {percent(1 - stage.keptMass)}).
        </span>
      </p>
      <p className="stage-sentence">{sentence}</p>
    </li>
  );
}

function OffRow({
  name,
  passing,
  greedy,
  replayed,
  settings,
  onChange,
}: {
  name: string;
  /** The tokens that reach it, all of which it lets through. */
  passing: number;
  greedy: boolean;
  replayed: SamplerSettings;
  settings: SamplerSettings;
  onChange: (patch: Partial<SamplerSettings>) => void;
}) {
  const guide = GUIDES[name];
  return (
    <li className="stage off" data-stage={name} data-off="true" data-kept={passing} data-mass={1}>
      <div className="stage-head">
        <strong className="stage-name">{LABELS[guide.setting]}</strong>
        <StageSlider setting={guide.setting} settings={settings} onChange={onChange} />
      </div>
      <p className="stage-sentence muted-text">{guide.off?.(replayed, greedy)}</p>
    </li>
  );
}

/** A compact slider for one sampler setting, with the page's limits; it moves the same setting as the Sampling controls. */
function StageSlider({
  setting,
  settings,
  onChange,
}: {
  setting: keyof SamplerSettings;
  settings: SamplerSettings;
  onChange: (patch: Partial<SamplerSettings>) => void;
}) {
  const field = setting;
  const { min, max, step } = LIMITS[field];
  const value = settings[setting] ?? 0; // an absent or null (top_h) setting is off: the page's 0
  return (
    <label className="stage-slider">
      <input
        type="range"
        min={min}
        max={max}
        step={step}
        value={Math.min(Math.max(value, min), max)}
        aria-label={`${LABELS[field]} (pipeline)`}
        aria-valuetext={String(value)}
        onChange={(event) => onChange({ [setting]: Number(event.target.value) })}
      />
      <output className="stage-value">{value}</output>
    </label>
  );
}

/** How many of the likeliest candidates a stage's bars show. */
const STAGE_BARS = 40;

/**
 * The distribution the stage received, for the likeliest candidates: bar heights are received
 * probabilities (scaled to the tallest); tokens this stage removes are red, ones an earlier stage
 * removed are absent, kept ones are blue.
 */
const StageBars = memo(function StageBars({ stage, candidates }: { stage: PipelineStage; candidates: Candidate[] }) {
  const n = Math.min(STAGE_BARS, candidates.length);
  const cutHere = `cut by ${stage.label}`;
  let tallest = 0;
  for (let i = 0; i < n; i++) tallest = Math.max(tallest, stage.before[i]);
  if (tallest === 0) return null;
  return (
    <svg className="stage-bars" viewBox={`0 0 ${n * 10} 40`} preserveAspectRatio="none" aria-hidden="true">
      {candidates.slice(0, n).map((c, i) => {
        const p = stage.before[i];
        if (p === 0) return null;
        const h = Math.max((p / tallest) * 38, 0.6);
        return <rect key={c.id} x={i * 10 + 1} y={40 - h} width={8} height={h} className={c.status === cutHere ? 'cut-here' : 'stays'} />;
      })}
    </svg>
  );
});
