import { memo, useId } from 'react';
import type { Candidate, PipelineStage, SamplerSettings, StepInspection } from '../../generation/inspect';
import { count, percent, pipelineRows } from '../inspection';
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

/** What the page says about a stage it knows: its setting, and its words when off and when on. */
interface StageGuide {
  setting: keyof SamplerSettings;
  /** Why the stage did nothing under `s`. */
  off: (s: SamplerSettings, greedy: boolean) => string;
  /** The threshold in the stage's own terms. */
  rule: (stage: PipelineStage, s: SamplerSettings, previous: PipelineStage | undefined) => string;
  /** One plain sentence: what the stage did to the distribution it received. */
  sentence: (stage: PipelineStage, s: SamplerSettings, previous: PipelineStage | undefined, seen: number) => string;
}

const tokens = (n: number) => `${count(n)} ${n === 1 ? 'token' : 'tokens'}`;
/** "the 4 likeliest" (or "the likeliest one"). */
const likeliest = (n: number) => (n === 1 ? 'the likeliest one' : `the ${count(n)} likeliest`);
/** "of all 50,257 tokens" or "of the 50 tokens top-k kept". */
const source = (stage: PipelineStage, previous: PipelineStage | undefined) =>
  previous && previous.kept < previous.received
    ? `of the ${tokens(stage.received)} ${previous.label} kept`
    : `of all ${tokens(stage.received)}`;
const greedyOff = 'off: temperature 0 is greedy decoding, which takes the likeliest token';

/** The stages the page knows, in the order generation applies them; any other processor is shown with generic words. */
const GUIDES: Record<string, StageGuide> = {
  repetition_penalty: {
    setting: 'repetition_penalty',
    off: () => 'off (1): no token is penalised for being in the text already',
    rule: (_, s) => `logits of tokens already in the text ÷ ${s.repetition_penalty} (× when negative)`,
    sentence: (stage, s, _, seen) =>
      `Repetition penalty ${s.repetition_penalty}: the ${tokens(seen)} already in the text are made less likely; the likeliest token's share goes from ${percent(stage.topBefore)} to ${percent(stage.topAfter)}.`,
  },
  temperature: {
    setting: 'temperature',
    off: (_, greedy) => (greedy ? 'temperature 0: greedy decoding (the last stage)' : 'off (1): the logits are used as they are'),
    rule: (_, s) => `every logit ÷ ${s.temperature}`,
    sentence: (stage, s) =>
      `Temperature ${s.temperature} ${s.temperature < 1 ? 'sharpens' : 'flattens'} the distribution: the likeliest token goes from ${percent(stage.topBefore)} to ${percent(stage.topAfter)}; no token is removed.`,
  },
  top_k: {
    setting: 'top_k',
    off: (_, greedy) => (greedy ? greedyOff : 'off (0): no limit on the number of tokens'),
    rule: (stage, s) => `the ${count(s.top_k)} likeliest: probability ≥ ${percent(stage.lowestKept)}`,
    sentence: (stage, s, previous) =>
      `Top-k ${s.top_k}: ${source(stage, previous)}, ${likeliest(stage.kept)} are kept (${percent(stage.keptMass)} of the probability); the other ${count(stage.received - stage.kept)} are cut.`,
  },
  top_p: {
    setting: 'top_p',
    off: (_, greedy) => (greedy ? greedyOff : 'off (1): every token that reached it stays'),
    rule: (_, s, previous) =>
      `cumulative probability ${s.top_p} ${previous && previous.kept < previous.received ? `of what ${previous.label} kept, renormalised` : 'of the whole distribution'}`,
    sentence: (stage, s, previous) =>
      `Top-p ${s.top_p}: ${source(stage, previous)}, ${likeliest(stage.kept)} already hold ${percent(stage.keptMass)} (top-p asks for ${percent(s.top_p)}); the other ${count(stage.received - stage.kept)} are cut.`,
  },
  min_p: {
    setting: 'min_p',
    off: (_, greedy) => (greedy ? greedyOff : 'off (0): no token is too unlikely'),
    rule: (stage, s) => `probability < ${s.min_p} × ${percent(stage.topBefore)} (the top token) = ${percent(s.min_p * stage.topBefore)}`,
    sentence: (stage, s, previous) =>
      `Min-p ${s.min_p}: ${source(stage, previous)}, those below ${percent(s.min_p * stage.topBefore)} (${s.min_p} × the likeliest token's ${percent(stage.topBefore)}) are cut: ${count(stage.received - stage.kept)} go, ${count(stage.kept)} stay.`,
  },
};
/**
 * The sampling pipeline of the inspected step: every processor in the order generation applies it,
 * each with the distribution it received (renormalised after the earlier cuts) as small bars, the
 * rule it applies in its own terms, what it removed, and one sentence; stages the settings turn
 * off are listed as off. Each stage has its setting's slider, bound to the Sampling controls.
 */
export function SamplingPipeline({ view, replayed, settings, onChange, seen, vocabSize }: SamplingPipelineProps) {
  const id = useId();
  const list = pipelineRows(view.stages, Object.keys(GUIDES));
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
  const sentence =
    stage.name === 'greedy'
      ? `Temperature 0 is greedy decoding: only the likeliest token stays (${percent(stage.keptMass)} of what reached it).`
      : guide
        ? guide.sentence(stage, replayed, previous, seen)
        : `${stage.label}: ${source(stage, previous)}, ${tokens(stage.kept)} stay (${percent(stage.keptMass)} of the probability); ${count(removed)} are cut.`;
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
      <p className="stage-sentence muted-text">{guide.off(replayed, greedy)}</p>
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
