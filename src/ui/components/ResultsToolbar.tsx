import { SURPRISE_BANDS } from '../inspection';
import { Switch } from './Switch';

interface ResultsToolbarProps {
  showTokens: boolean;
  onShowTokens: (on: boolean) => void;
  surprise: boolean;
  onSurprise: (on: boolean) => void;
  canExport: boolean;
  onExport: () => void;
}

/** Above the panes: how to show the text (plain, as tokens with ids, coloured by surprise) and Export. */
export function ResultsToolbar({ showTokens, onShowTokens, surprise, onSurprise, canExport, onExport }: ResultsToolbarProps) {
  return (
    <div className="results-toolbar">
      <h2 id="output-heading">Output</h2>
      <Switch label="Tokens" checked={showTokens} onChange={onShowTokens} />
      <Switch label="Surprise" checked={surprise} onChange={onSurprise} />
      <button type="button" className="ghost small export" onClick={onExport} disabled={!canExport}>
        Export
      </button>
      {surprise && (
        <div className="surprise-legend" aria-label="Surprise colours: the model's probability of each generated token">
          <span className="muted-text">model probability:</span>
          {SURPRISE_BANDS.map((band, i) => (
            <span key={band.label} className={`token band-${i}`}>
              {band.label}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}
