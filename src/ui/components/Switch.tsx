import { useId, type ReactNode } from 'react';

interface SwitchProps {
  label: string;
  checked: boolean;
  onChange: (on: boolean) => void;
  /** Classes beside `switch-field` (e.g. `field` in the controls column). */
  className?: string;
  /** Shown under the switch (a hint). */
  children?: ReactNode;
}

/** An on/off switch: a checkbox with role="switch" and its visible label. */
export function Switch({ label, checked, onChange, className, children }: SwitchProps) {
  const id = useId();
  return (
    <div className={className ? `${className} switch-field` : 'switch-field'}>
      <input id={id} type="checkbox" role="switch" className="switch" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      <label className="field-label" htmlFor={id}>
        {label}
      </label>
      {children}
    </div>
  );
}
