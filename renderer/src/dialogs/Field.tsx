// A labelled form field whose problem is shown under it as the user types, tied to the input
// with aria-describedby so a screen reader reads it too.
import { useId, type ReactNode } from 'react';

interface Props {
  label: string;
  value: string;
  onChange(value: string): void;
  problem?: string | null;
  hint?: ReactNode;
  multiline?: boolean;
  type?: 'text' | 'number' | 'password';
  autoFocus?: boolean;
  selectOnFocus?: boolean;
  disabled?: boolean;
  placeholder?: string;
  min?: number;
  max?: number;
  name?: string;
}

export function Field({ label, value, onChange, problem, hint, multiline, type = 'text', autoFocus, selectOnFocus, disabled, placeholder, min, max, name }: Props) {
  const id = useId();
  const hintId = `${id}-hint`;
  const problemId = `${id}-problem`;
  const describedBy = [problem ? problemId : null, hint ? hintId : null].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    name,
    value,
    disabled,
    placeholder,
    autoFocus,
    'aria-invalid': problem ? true : undefined,
    'aria-describedby': describedBy,
    onFocus: selectOnFocus ? (e: { currentTarget: HTMLInputElement | HTMLTextAreaElement }) => e.currentTarget.select() : undefined,
  };
  return (
    <div className={`field${problem ? ' invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {multiline ? (
        <textarea {...common} rows={3} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input {...common} type={type} min={min} max={max} spellCheck={false} autoComplete="off" onChange={(e) => onChange(e.target.value)} />
      )}
      {problem && (
        <p id={problemId} className="field-problem">
          {problem}
        </p>
      )}
      {hint && (
        <p id={hintId} className="field-hint">
          {hint}
        </p>
      )}
    </div>
  );
}
