// The one setting there is: the disk reserve, typed like the CLI takes it ("2G", "500M", "0");
// empty goes back to the default.
import { useState } from 'react';
import { parseSize } from '../../../shared/bytes.js';
import { useActions, useApp } from '../context.js';
import { formatBytes } from '../format.js';
import { Dialog, DialogButtons, DialogError } from './Dialog.js';
import { Field } from './Field.js';
import { useSubmit } from './useSubmit.js';

export function SettingsDialog() {
  const actions = useActions();
  const space = useApp((s) => s.info?.space);
  const [text, setText] = useState('');
  const bytes = text.trim() === '' ? 'default' : parseSize(text);
  const problem = bytes === null ? 'Type a size like 2G, 500M or 0, or leave it empty for the default.' : null;
  const { busy, error, submit } = useSubmit(() => actions.setDiskReserve(bytes ?? 'default'), actions.closeDialog);
  return (
    <Dialog
      title="Settings"
      description={
        <p>
          Operations that would leave less free space than the disk reserve are refused, so a full disk never stops one half-way.
          {space ? ` Now: ${formatBytes(space.reserve)} reserve, ${formatBytes(space.free)} free of ${formatBytes(space.total)}.` : ''}
        </p>
      }
      busy={busy}
      onClose={actions.closeDialog}
      onSubmit={() => void (!problem && submit())}
      footer={<DialogButtons busy={busy} disabled={!!problem} label="Save" busyLabel="Saving…" tone="primary" onCancel={actions.closeDialog} />}
    >
      <Field
        label="Disk reserve"
        value={text}
        onChange={setText}
        problem={problem}
        hint="Empty: the default, the larger of 2 GiB and 5 % of the disk. 0: no reserve."
        placeholder="default"
        autoFocus
        name="disk-reserve"
      />
      <DialogError message={error} />
    </Dialog>
  );
}
