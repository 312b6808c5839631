import { useId } from 'react';
import { precisionsFor, type PrecisionRequest } from '../../model/memoryPlan';

const CHOICES: [PrecisionRequest, string][] = [
  ['auto', 'Automatic'],
  ['f32', 'f32: exact'],
  ['f16', 'f16: half the memory'],
  ['q8', 'q8: a quarter, fastest'],
];

/** The weights' precision (like ?dtype=); changing it reloads the model in it. */
export function PrecisionPicker({
  value,
  backend,
  onChange,
  disabled,
}: {
  value: PrecisionRequest;
  backend?: string;
  onChange: (precision: PrecisionRequest) => void;
  disabled: boolean;
}) {
  const id = useId();
  const runs = backend ? precisionsFor(backend) : null;
  return (
    <div className="field">
      <label className="field-label" htmlFor={id}>
        Precision
      </label>
      <select
        id={id}
        value={value}
        disabled={disabled}
        onChange={(event) => onChange(event.target.value as PrecisionRequest)}
        aria-describedby={`${id}-hint ${id}-changes`}
      >
        {CHOICES.map(([choice, label]) => (
          <option key={choice} value={choice} disabled={runs !== null && choice !== 'auto' && !runs.includes(choice)}>
            {label}
          </option>
        ))}
      </select>
      <p className="field-hint" id={`${id}-hint`}>
        {runs && runs.length === 1
          ? `The ${backend} backend runs f32 weights only.`
          : 'Automatic: exact f32 where the model fits, q8 (int8 weights) for models over 300M parameters on WebAssembly. Changing it reloads the model.'}
      </p>
      <p className="field-hint" id={`${id}-changes`} data-testid="precision-changes-text">
        f16 and q8 round the weights, so every probability moves a little: greedy text can differ where two tokens were close, and sampled
        text under the same seed can differ from f32&apos;s.
      </p>
    </div>
  );
}
