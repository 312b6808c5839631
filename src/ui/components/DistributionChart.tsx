import type { Candidate, SamplerSettings } from '../../generation/inspect';
import { percent } from '../inspection';

interface DistributionChartProps {
  /** The candidates the table lists (the likeliest by raw logit). */
  candidates: Candidate[];
  settings: SamplerSettings;
  greedy: boolean;
}

const W = 600;
const H = 170;
const PAD = { left: 46, right: 22, top: 16, bottom: 8 };

/**
 * The candidates as the filters see them: bars of probability after the repetition penalty and the
 * temperature, most likely first, kept ones coloured and cut ones grey; the top-k boundary as a
 * vertical line; the cumulative probability as a line against the right axis with top-p drawn across
 * it; min-p's threshold across the bars.
 */
export function DistributionChart({ candidates, settings, greedy }: DistributionChartProps) {
  if (candidates.length === 0) return null;
  const bars = [...candidates].sort((a, b) => b.warpedProbability - a.warpedProbability || a.rank - b.rank);
  const n = bars.length;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const top = Math.max(bars[0].warpedProbability, 1e-12);
  const x = (i: number) => PAD.left + (i / n) * plotW;
  const yBar = (p: number) => PAD.top + plotH * (1 - p / top);
  const yCum = (c: number) => PAD.top + plotH * (1 - c);
  let cumulative = 0;
  const points = bars.map((b, i) => {
    cumulative += b.warpedProbability;
    return `${x(i + 1).toFixed(1)},${yCum(cumulative).toFixed(1)}`;
  });
  const kept = bars.filter((b) => b.status === 'kept').length;
  const showTopK = !greedy && settings.top_k > 0 && settings.top_k < n;
  const showTopP = !greedy && settings.top_p < 1;
  const minPLine = !greedy && settings.min_p > 0 ? settings.min_p * top : null;
  const summary = `Probabilities of the ${n} likeliest tokens after the temperature, most likely first: ${kept} kept, ${n - kept} cut.`;

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} data-testid="distribution-chart">
        <title>{summary}</title>
        <line x1={PAD.left} x2={W - PAD.right} y1={yCum(0)} y2={yCum(0)} className="axis" />
        {bars.map((b, i) => (
          <rect
            key={b.id}
            x={x(i) + 0.5}
            y={yBar(b.warpedProbability)}
            width={Math.max(plotW / n - 1, 0.5)}
            height={Math.max(yCum(0) - yBar(b.warpedProbability), 0)}
            className={b.status === 'kept' ? 'bar kept' : 'bar cut'}
          >
            <title>{`#${b.rank} id ${b.id}: ${percent(b.warpedProbability)} after temperature; ${b.status}`}</title>
          </rect>
        ))}
        <polyline points={`${x(0)},${yCum(0)} ${points.join(' ')}`} className="cumulative" />
        {showTopK && (
          <g className="marker topk">
            <line x1={x(settings.top_k)} x2={x(settings.top_k)} y1={PAD.top - 6} y2={yCum(0)} />
            <text x={x(settings.top_k) + 3} y={PAD.top + 2}>
              top-k {settings.top_k}
            </text>
          </g>
        )}
        {showTopP && (
          <g className="marker topp">
            <line x1={PAD.left} x2={W - PAD.right} y1={yCum(settings.top_p)} y2={yCum(settings.top_p)} />
            <text x={W - PAD.right - 3} y={yCum(settings.top_p) - 3} textAnchor="end">
              top-p {settings.top_p}
            </text>
          </g>
        )}
        {minPLine !== null && (
          <g className="marker minp">
            <line x1={PAD.left} x2={W - PAD.right} y1={yBar(minPLine)} y2={yBar(minPLine)} />
            <text x={PAD.left + 3} y={yBar(minPLine) - 3}>
              min-p {settings.min_p}
            </text>
          </g>
        )}
        <text x={PAD.left - 4} y={PAD.top + 4} textAnchor="end" className="tick">
          {percent(top).replace(' %', '%')}
        </text>
        <text x={PAD.left - 4} y={yCum(0)} textAnchor="end" className="tick">
          0
        </text>
        <text x={W - PAD.right + 4} y={yCum(1) + 4} className="tick cum-tick">
          1
        </text>
        <text x={W - PAD.right + 4} y={yCum(0)} className="tick cum-tick">
          0
        </text>
      </svg>
      <figcaption className="legend">
        <span>
          <i className="swatch kept" /> kept
        </span>
        <span>
          <i className="swatch cut" /> cut
        </span>
        <span>
          <i className="swatch cumulative" /> cumulative (right axis)
        </span>
        <span className="muted-text">
          bars: probability after temperature{settings.repetition_penalty !== 1 ? ' and repetition penalty' : ''}
        </span>
      </figcaption>
    </figure>
  );
}
