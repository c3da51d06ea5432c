import { useState } from 'react';
import { useActions, useApp } from '../context.js';
import { fieldProblems } from '../validation.js';
import { Dialog, DialogButtons, DialogError } from './Dialog.js';
import { Field } from './Field.js';
import { useSubmit } from './useSubmit.js';

export function RenameBoxDialog({ boxId }: { boxId: string }) {
  const actions = useActions();
  const box = useApp((s) => s.boxes.find((b) => b.id === boxId));
  const boxes = useApp((s) => s.boxes);
  const [name, setName] = useState(box?.name ?? '');
  const problem =
    fieldProblems('boxes:rename', { box: boxId, name }).name ??
    (boxes.some((b) => b.name === name && b.id !== boxId) ? `There is already a box named ${JSON.stringify(name)}; pick another name.` : null);
  const { busy, error, submit } = useSubmit(() => actions.renameBox(boxId, name), actions.closeDialog);
  if (!box) return null;
  const unchanged = name === box.name;
  return (
    <Dialog
      title={`Rename ${box.name}`}
      description={<p>Only the name changes. The box’s files are named by its id, so nothing on disk moves.</p>}
      busy={busy}
      onClose={actions.closeDialog}
      onSubmit={() => void (!problem && !unchanged && submit())}
      footer={
        <DialogButtons busy={busy} disabled={!!problem || unchanged} label="Rename" busyLabel="Renaming…" tone="primary" onCancel={actions.closeDialog} />
      }
    >
      <Field label="Name" value={name} onChange={setName} problem={problem} autoFocus selectOnFocus name="box-name" />
      <DialogError message={error} />
    </Dialog>
  );
}
