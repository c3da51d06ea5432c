// The display part of the New box and Edit box dialogs: a screen (shown in the Display tab) or
// none. The choices are the contract's own (DISPLAY_MODES), so the form offers exactly what the
// engine accepts.
import { useId } from 'react';
import { DISPLAY_MODES, type DisplayMode } from '../../../shared/types.js';

const WORDS: Record<DisplayMode, string> = {
  vnc: 'Screen: the guest’s screen, shown in the Display tab',
  none: 'None: no screen (the console is the serial port)',
};

export function DisplayField({ value, onChange, disabled, hint }: { value: DisplayMode; onChange(mode: DisplayMode): void; disabled?: boolean; hint?: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>Display</label>
      <select id={id} name="box-display" value={value} onChange={(e) => onChange(e.target.value as DisplayMode)} disabled={disabled}>
        {DISPLAY_MODES.map((m) => (
          <option key={m} value={m}>{WORDS[m]}</option>
        ))}
      </select>
      {hint && <p className="field-hint">{hint}</p>}
    </div>
  );
}
