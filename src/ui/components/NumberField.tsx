import { useId, useState } from 'react';
import { clampSetting, LIMITS, type NumberSetting } from '../settings';

interface NumberFieldProps {
  setting: NumberSetting;
  label: string;
  value: number;
  onChange: (value: number) => void;
  /** Shown under the label: what the setting does. */
  hint?: string;
  /** Adds a slider next to the number box. */
  slider?: boolean;
  dimmed?: boolean;
  children?: React.ReactNode;
}

/**
 * A labelled number setting: a slider and a number box that share the label, so both have the
 * accessible name `label` and both are reachable with the keyboard.
 */
export function NumberField({ setting, label, value, onChange, hint, slider = true, dimmed = false, children }: NumberFieldProps) {
  const id = useId();
  const labelId = `${id}-label`;
  const hintId = `${id}-hint`;
  const { min, max, step } = LIMITS[setting];
  // While someone types ("0." on the way to "0.5") the box shows the draft, not the committed value.
  const [draft, setDraft] = useState<string | null>(null);

  const commit = (raw: number) => {
    if (Number.isFinite(raw) && raw >= min && raw <= max) onChange(clampSetting(setting, raw));
  };

  return (
    <div className={`field number-field${dimmed ? ' dimmed' : ''}`}>
      <div className="field-head">
        <span className="field-label" id={labelId}>
          {label}
        </span>
        <input
          type="number"
          className="number-box"
          aria-labelledby={labelId}
          aria-describedby={hint ? hintId : undefined}
          min={min}
          max={max}
          step={step}
          value={draft ?? String(value)}
          onChange={(event) => {
            setDraft(event.target.value);
            commit(event.target.valueAsNumber);
          }}
          onBlur={() => setDraft(null)}
        />
        {children}
      </div>
      {slider && (
        <input
          type="range"
          aria-labelledby={labelId}
          aria-describedby={hint ? hintId : undefined}
          min={min}
          max={max}
          step={step}
          value={value}
          onChange={(event) => commit(event.target.valueAsNumber)}
        />
      )}
      {hint && (
        <p className="field-hint" id={hintId}>
          {hint}
        </p>
      )}
    </div>
  );
}
