import type { ComparePane } from '../appState';
import { cumulativeLogprob } from '../panes';
import { strategyScore } from '../strategies';

interface StrategyMeasuresProps {
  pane: ComparePane;
  /** Puts this pane's settings into the controls. */
  onUse: () => void;
}

const fixed = (value: number | null, digits: number) => (value === null ? '–' : value.toFixed(digits).replace('-', '−'));
const share = (value: number | null) => (value === null ? '–' : `${(value * 100).toFixed(0)} %`);

/**
 * Under a Compare strategies pane: its tokens' mean log-probability under the raw model,
 * perplexity, and the share of repeated 2-grams and 3-grams (so the trade-off shows at a glance),
 * and a button that opens its settings into the controls.
 */
export function StrategyMeasures({ pane, onUse }: StrategyMeasuresProps) {
  const ids = pane.tokens.map((t) => t.id);
  const score = strategyScore(ids, pane.options.num_beams > 1 ? pane.beamLogprob : cumulativeLogprob(pane.tokens));
  return (
    <div className="strategy-measures" data-strategy={pane.label}>
      <dl>
        <div>
          <dt>Mean log-prob</dt>
          <dd data-measure="mean-logprob">{fixed(score.meanLogprob, 3)}</dd>
        </div>
        <div>
          <dt>Perplexity</dt>
          <dd data-measure="perplexity">{fixed(score.perplexity, 2)}</dd>
        </div>
        <div>
          <dt>Repeated 2-grams</dt>
          <dd data-measure="repeated-2">{share(score.repeated2)}</dd>
        </div>
        <div>
          <dt>Repeated 3-grams</dt>
          <dd data-measure="repeated-3">{share(score.repeated3)}</dd>
        </div>
      </dl>
      <button type="button" className="ghost small" onClick={onUse} aria-label={`Use these settings (${pane.label})`}>
        Use these settings
      </button>
    </div>
  );
}
