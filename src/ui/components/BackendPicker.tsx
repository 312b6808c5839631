import { useId } from 'react';

const CHOICES: [string, string][] = [
  ['auto', 'Automatic (WebGPU when it is fast)'],
  ['webgpu', 'WebGPU'],
  ['wasm', 'WebAssembly (tfjs wasm)'],
  ['webgl', 'WebGL'],
  ['cpu', 'Plain JavaScript (slow)'],
];

/**
 * Forces a tfjs backend (like ?backend=); changing it restarts the worker and reloads the model.
 * Only these choices exist: the settings never keep another name (an unknown ?backend= is reported and dropped).
 */
export function BackendPicker({ value, onChange, disabled }: { value: string; onChange: (backend: string) => void; disabled: boolean }) {
  const id = useId();
  return (
    <div className="field">
      <label className="field-label" htmlFor={id}>
        Backend
      </label>
      <select id={id} value={value} disabled={disabled} onChange={(event) => onChange(event.target.value)}>
        {CHOICES.map(([choice, label]) => (
          <option key={choice} value={choice}>
            {label}
          </option>
        ))}
      </select>
    </div>
  );
}
