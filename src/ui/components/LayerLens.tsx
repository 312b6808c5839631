import { useRef } from 'react';
import type { AnalysisState } from '../appState';
import { percent } from '../inspection';
import { visibleText, type TokenTexts } from '../tokenText';
import type { InspectedStep } from './TokenInspector';

interface LayerLensProps {
  step: InspectedStep | null;
  lens: AnalysisState;
  /** Asks the worker for the logit lens over `ids`; returns the request id. */
  onAnalyze: (ids: number[]) => number;
  textOf: TokenTexts | null;
}

/**
 * Layer by layer (the logit lens): for the selected token, the 5 next tokens the model would have
 * predicted had it stopped after each layer (ln_f and the head applied to that layer's residual
 * stream at the position that chose the token), so a person sees where in the network the choice forms.
 */
export function LayerLens({ step, lens, onAnalyze, textOf }: LayerLensProps) {
  const asked = useRef<{ request: number; key: string } | null>(null);
  const key = step ? step.history.join(',') : '';
  const read = () => {
    if (!step) return;
    asked.current = { request: onAnalyze(step.history), key };
  };
  const mine = asked.current && lens.requestId === asked.current.request;
  const layers = mine && lens.status === 'done' && asked.current?.key === key ? lens.lens : null;
  const text = (id: number) => (textOf ? visibleText(textOf(id)) : `#${id}`);
  const chosen = step?.token.id;

  return (
    <section className="lens panel" role="region" aria-label="Layer by layer">
      <h2>Layer by layer</h2>
      <p className="muted-text">
        {step
          ? `What the model would predict for ${step.paneName}, token ${step.index + 1}, if it stopped after each layer (the logit lens).`
          : 'Select a generated token to read its prediction after every layer.'}
      </p>
      <button type="button" className="secondary small" onClick={read} disabled={!step || lens.status === 'running'}>
        {layers ? 'Read again' : 'Read every layer'}
      </button>
      {mine && lens.status === 'running' && (
        <p className="muted-text" role="status">
          Reading each layer…
        </p>
      )}
      {mine && lens.status === 'error' && (
        <p className="notice error" role="alert">
          {lens.error}
        </p>
      )}
      {mine && lens.status === 'done' && !layers && <p className="muted-text">Another token is selected now: read again for it.</p>}
      {layers && (
        <table className="lens-table" aria-label="Predictions after each layer">
          <thead>
            <tr>
              <th scope="col">Layer</th>
              {[1, 2, 3, 4, 5].map((r) => (
                <th scope="col" key={r}>
                  #{r}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {layers.map((positions, l) => {
              const top = positions[positions.length - 1] ?? [];
              return (
                <tr key={l} data-layer={l + 1}>
                  <th scope="row">{l + 1}</th>
                  {top.map((entry) => (
                    <td key={entry.id} className={entry.id === chosen ? 'chosen' : undefined} data-token-id={entry.id}>
                      <span className="token-text">{text(entry.id)}</span>
                      <span className="lens-p">{percent(Math.exp(entry.logprob)).replace(' %', '%')}</span>
                      {entry.id === chosen && <span className="sr-only"> (the chosen token)</span>}
                    </td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
