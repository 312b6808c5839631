import { useId } from 'react';
import { SURPRISE_BANDS } from '../inspection';

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
  const id = useId();
  return (
    <div className="results-toolbar">
      <h2 id="output-heading">Output</h2>
      <div className="switch-field">
        <input
          id={`${id}-tokens`}
          type="checkbox"
          role="switch"
          className="switch"
          checked={showTokens}
          onChange={(e) => onShowTokens(e.target.checked)}
        />
        <label className="field-label" htmlFor={`${id}-tokens`}>
          Tokens
        </label>
      </div>
      <div className="switch-field">
        <input
          id={`${id}-surprise`}
          type="checkbox"
          role="switch"
          className="switch"
          checked={surprise}
          onChange={(e) => onSurprise(e.target.checked)}
        />
        <label className="field-label" htmlFor={`${id}-surprise`}>
          Surprise
        </label>
      </div>
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
