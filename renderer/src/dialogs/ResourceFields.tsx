// CPUs, memory and disk size: the row the New box and Edit box dialogs share.
import type { ReactNode } from 'react';
import { Field } from './Field.js';

/** The forms' labels, shown above each field and put into its inline messages. */
export const RESOURCE_LABELS = { cpus: 'CPUs', memoryMib: 'Memory (MiB)', diskSizeGiB: 'Disk size (GiB)' };

interface Value {
  value: string;
  onChange(value: string): void;
}

interface Props {
  cpus: Value;
  memory: Value;
  disk: Value & { min: number; hint?: ReactNode; disabled?: boolean };
  problems: Record<string, string>;
  autoFocus?: boolean;
}

export function ResourceFields({ cpus, memory, disk, problems, autoFocus }: Props) {
  return (
    <div className="field-row">
      <Field label={RESOURCE_LABELS.cpus} type="number" {...cpus} problem={problems.cpus} min={1} max={64} name="box-cpus" autoFocus={autoFocus} />
      <Field label={RESOURCE_LABELS.memoryMib} type="number" {...memory} problem={problems.memoryMib} min={16} name="box-memory" />
      <Field label={RESOURCE_LABELS.diskSizeGiB} type="number" {...disk} problem={problems.diskSizeGiB} name="box-disk" />
    </div>
  );
}
