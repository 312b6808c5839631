import { memo } from 'react';
import type { Candidate, PipelineStage, SamplerSettings } from '../../generation/inspect';
import { percent } from '../inspection';

interface DistributionChartProps {
  /** The candidates the table lists (the likeliest by raw logit), in rank order. */
  candidates: Candidate[];
  /** The replayed pipeline: top-k's boundary and the distribution top-p received come from it. */
  stages: PipelineStage[];
  settings: SamplerSettings;
  /** The token the run chose at this step. */
  chosen: number;
}

const W = 600;
const H = 180;
/** Room for the left axis's "100.00%" and the right axis's "1" at the chart's font sizes. */
const PAD = { left: 62, right: 26, top: 22, bottom: 10 };

/**
 * The candidates in the table's order with the table's own quantity: bars of Model probability,
 * kept ones coloured, cut ones grey at their real height, the chosen token outlined. The green
 * line is the cumulative probability top-p works on (the distribution it received: what top-k
 * left, renormalised), against the right axis with top-p drawn across it; top-k's boundary is a
 * vertical line after the k-th bar.
 */
export const DistributionChart = memo(function DistributionChart({ candidates, stages, settings, chosen }: DistributionChartProps) {
  if (candidates.length === 0) return null;
  const n = candidates.length;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const top = Math.max(candidates[0].modelProbability, 1e-12);
  const x = (i: number) => PAD.left + (i / n) * plotW;
  const yBar = (p: number) => PAD.top + plotH * (1 - p / top);
  const yCum = (c: number) => PAD.top + plotH * (1 - c);

  const topP = stages.find((s) => s.name === 'top_p');
  let cumulative = 0;
  const points = topP
    ? candidates.map((_, i) => {
        cumulative += topP.before[i];
        return `${x(i + 1).toFixed(1)},${yCum(Math.min(cumulative, 1)).toFixed(1)}`;
      })
    : [];
  const topK = stages.find((s) => s.name === 'top_k');
  const boundary = topK && settings.top_k < n ? settings.top_k : null;
  const kept = candidates.filter((b) => b.status === 'kept').length;
  const summary =
    `Model probability of the ${n} likeliest tokens, most likely first: ${kept} kept, ${n - kept} cut (grey).` +
    (topP ? ` The line is the cumulative probability top-p works on; top-p ${settings.top_p} is drawn across it.` : '');
  const topKLabelRight = boundary !== null && x(boundary) > W / 2;

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} data-testid="distribution-chart">
        <line x1={PAD.left} x2={W - PAD.right} y1={yCum(0)} y2={yCum(0)} className="axis" />
        {candidates.map((b, i) => (
          <rect
            key={b.id}
            x={x(i) + 0.5}
            y={yBar(b.modelProbability)}
            width={Math.max(plotW / n - 1, 0.5)}
            height={Math.max(yCum(0) - yBar(b.modelProbability), 0.5)}
            className={`bar ${b.status === 'kept' ? 'kept' : 'cut'}${b.id === chosen ? ' chosen' : ''}`}
            data-token-id={b.id}
            data-status={b.status}
          >
            <title>{`#${b.rank} id ${b.id}: model probability ${percent(b.modelProbability)}; ${b.status}${b.id === chosen ? '; chosen' : ''}`}</title>
          </rect>
        ))}
        {topP && <polyline points={`${x(0)},${yCum(0)} ${points.join(' ')}`} className="cumulative" />}
        {boundary !== null && (
          <g className="marker topk">
            <line x1={x(boundary)} x2={x(boundary)} y1={PAD.top - 6} y2={yCum(0)} />
            <text x={x(boundary) + (topKLabelRight ? -4 : 4)} y={PAD.top - 8} textAnchor={topKLabelRight ? 'end' : 'start'}>
              top-k {settings.top_k}
            </text>
          </g>
        )}
        {topP && (
          <g className="marker topp">
            <line x1={PAD.left} x2={W - PAD.right} y1={yCum(settings.top_p)} y2={yCum(settings.top_p)} />
            <text x={W - PAD.right - 4} y={Math.max(yCum(settings.top_p) - 4, PAD.top + 10)} textAnchor="end">
              top-p {settings.top_p}
            </text>
          </g>
        )}
        <text x={PAD.left - 6} y={PAD.top + 5} textAnchor="end" className="tick">
          {percent(top).replace(' %', '%')}
        </text>
        <text x={PAD.left - 6} y={yCum(0)} textAnchor="end" className="tick">
          0%
        </text>
        {topP && (
          <>
            <text x={W - PAD.right + 5} y={yCum(1) + 5} className="tick cum-tick">
              1
            </text>
            <text x={W - PAD.right + 5} y={yCum(0)} className="tick cum-tick">
              0
            </text>
          </>
        )}
      </svg>
      <figcaption className="legend">
        <span>
          <i className="swatch kept" /> kept
        </span>
        <span>
          <i className="swatch cut" /> cut
        </span>
        <span>
          <i className="swatch chosen" /> chosen
        </span>
        {topP && (
          <span>
            <i className="swatch cumulative" /> cumulative probability top-p sees (right axis)
          </span>
        )}
        <span className="muted-text">
          bars: Model probability (the table&apos;s column), in the table&apos;s order
          {topK && boundary === null ? `; top-k ${settings.top_k} reaches past the ${n} bars shown` : ''}
        </span>
      </figcaption>
    </figure>
  );
});
