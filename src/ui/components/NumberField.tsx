import { useId, useRef } from 'react';
import { checkNumber, clampSetting, LIMITS, type NumberSetting } from '../settings';

interface NumberFieldProps {
  setting: NumberSetting;
  label: string;
  value: number;
  onChange: (value: number) => void;
  /** The box's text while it differs from `value` (typing "0." on the way to "0.5", or an invalid "7"); undefined otherwise. */
  draft: string | undefined;
  /** A new draft, or null to show `value` again. */
  onDraft: (text: string | null) => void;
  /** Shown under the label: what the setting does. */
  hint?: string;
  /** Adds a slider next to the number box. */
  slider?: boolean;
  dimmed?: boolean;
  children?: React.ReactNode;
}

/**
 * A labelled number setting: a slider and a number box that share the label, so both have the
 * accessible name `label` and both are reachable with the keyboard. Text that is not an allowed
 * value stays in the box, marked invalid with the allowed range, until it is fixed or put back
 * (the button, or Escape); runs do not start meanwhile (the page reads the drafts).
 */
export function NumberField({
  setting,
  label,
  value,
  onChange,
  draft,
  onDraft,
  hint,
  slider = true,
  dimmed = false,
  children,
}: NumberFieldProps) {
  const id = useId();
  const labelId = `${id}-label`;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const { min, max, step } = LIMITS[setting];
  const numberBox = useRef<HTMLInputElement>(null);
  const check = draft === undefined ? null : checkNumber(setting, draft);
  const problem = check && 'problem' in check ? check.problem : null;
  const describedBy = [hint ? hintId : '', problem ? errorId : ''].filter(Boolean).join(' ') || undefined;

  return (
    <div className={`field number-field${dimmed ? ' dimmed' : ''}${problem ? ' invalid' : ''}`}>
      <div className="field-head">
        <span className="field-label" id={labelId}>
          {label}
        </span>
        <input
          type="number"
          ref={numberBox}
          className="number-box"
          aria-labelledby={labelId}
          aria-describedby={describedBy}
          aria-invalid={problem ? true : undefined}
          aria-errormessage={problem ? errorId : undefined}
          min={min}
          max={max}
          step={step}
          value={draft ?? String(value)}
          onChange={(event) => {
            // Letters in a number box read as '' (validity.badInput): not a number either.
            const text = event.target.value;
            const read = checkNumber(setting, text);
            if ('value' in read) onChange(read.value);
            onDraft(text);
          }}
          onBlur={() => {
            // A valid value is shown as the page keeps it (0.950 → 0.95); an invalid one stays to be fixed.
            if (!problem) onDraft(null);
          }}
          onKeyDown={(event) => {
            if (event.key === 'Escape' && draft !== undefined) {
              event.stopPropagation(); // Escape here puts the value back; it does not also stop a run
              onDraft(null);
            }
          }}
        />
        {children}
      </div>
      {slider && (
        <input
          type="range"
          aria-labelledby={labelId}
          aria-describedby={describedBy}
          min={min}
          max={max}
          step={step}
          value={value}
          onChange={(event) => {
            onChange(clampSetting(setting, event.target.valueAsNumber, value));
            onDraft(null);
          }}
        />
      )}
      {problem && (
        <p className="field-error" id={errorId} data-testid={`invalid-${setting}`}>
          {problem}{' '}
          <button
            type="button"
            className="ghost small"
            onClick={() => {
              onDraft(null);
              numberBox.current?.focus(); // the button goes away with the problem: focus stays at the box
            }}
          >
            Put back {value}
          </button>
        </p>
      )}
      {hint && (
        <p className="field-hint" id={hintId}>
          {hint}
        </p>
      )}
    </div>
  );
}
