import { useId } from 'react';
import { isGreedy, randomSeed, temperatureHint, type Settings } from '../settings';
import { NumberField } from './NumberField';

interface ControlsProps {
  settings: Settings;
  onChange: (patch: Partial<Settings>) => void;
  onGenerate: () => void;
  onStop: () => void;
  canGenerate: boolean;
  running: boolean;
}

/** The prompt and every generation setting, each a labelled control. */
export function Controls({ settings, onChange, onGenerate, onStop, canGenerate, running }: ControlsProps) {
  const id = useId();
  const greedy = !settings.sample;
  const samplingHint = greedy ? 'Sample is off, so runs ignore this; the token inspector still shows what it would cut.' : undefined;

  return (
    <form
      className="controls"
      onSubmit={(event) => {
        event.preventDefault();
        onGenerate();
      }}
    >
      <div className="field">
        <label className="field-label" htmlFor={`${id}-prompt`}>
          Prompt
        </label>
        <textarea
          id={`${id}-prompt`}
          rows={3}
          value={settings.prompt}
          spellCheck={false}
          onChange={(event) => onChange({ prompt: event.target.value })}
        />
      </div>

      <div className="actions">
        <button type="submit" className="primary" disabled={!canGenerate}>
          Generate
        </button>
        <button type="button" className="secondary" onClick={onStop} disabled={!running}>
          Stop
        </button>
        <span className="field-hint kbd-hint">
          <kbd>Ctrl</kbd>+<kbd>Enter</kbd>
        </span>
      </div>

      <h2 className="section-heading">Sampling</h2>
      <div className="field switch-field">
        <input
          id={`${id}-sample`}
          type="checkbox"
          role="switch"
          className="switch"
          checked={settings.sample}
          onChange={(event) => onChange({ sample: event.target.checked })}
        />
        <label className="field-label" htmlFor={`${id}-sample`}>
          Sample
        </label>
        <span className="field-hint">{settings.sample ? 'on: draw each token at random' : 'off: greedy, always the likeliest token'}</span>
      </div>

      <NumberField setting="topK" label="Top-k" value={settings.topK} onChange={(topK) => onChange({ topK })} dimmed={greedy}
        hint={samplingHint ?? 'Keep the k likeliest tokens (0 = off).'} />
      <NumberField setting="topP" label="Top-p" value={settings.topP} onChange={(topP) => onChange({ topP })} dimmed={greedy}
        hint={samplingHint ?? 'Keep the likeliest tokens up to this total probability.'} />
      <NumberField setting="temperature" label="Temperature" value={settings.temperature} dimmed={greedy}
        onChange={(temperature) => onChange({ temperature })} hint={samplingHint ?? temperatureHint(settings)} />
      <NumberField setting="minP" label="Min-p" value={settings.minP} onChange={(minP) => onChange({ minP })} dimmed={greedy}
        hint={samplingHint ?? 'Drop tokens less likely than this fraction of the top token (0 = off).'} />
      <NumberField setting="repetitionPenalty" label="Repetition penalty" value={settings.repetitionPenalty}
        onChange={(repetitionPenalty) => onChange({ repetitionPenalty })} hint="1 = none; higher discourages repeats." />
      <NumberField setting="maxNewTokens" label="Max new tokens" value={settings.maxNewTokens}
        onChange={(maxNewTokens) => onChange({ maxNewTokens })} />
      <NumberField setting="sequences" label="Sequences" value={settings.sequences} dimmed={isGreedy(settings)}
        onChange={(sequences) => onChange({ sequences })}
        hint={isGreedy(settings) ? 'Greedy decoding writes one sequence (they would all be the same).' : 'How many continuations to write at once.'} />
      <NumberField setting="seed" label="Seed" value={settings.seed} slider={false} onChange={(seed) => onChange({ seed })}
        hint="The same seed and settings give the same text.">
        <button type="button" className="ghost small" onClick={() => onChange({ seed: randomSeed() })}>
          Randomise
        </button>
      </NumberField>

    </form>
  );
}
