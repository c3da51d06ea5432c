// Rename a snapshot or change its description; only metadata changes, never the disk.
import { useState } from 'react';
import { useActions, useApp } from '../context.js';
import { fieldProblems, snapshotNameProblem } from '../validation.js';
import { Dialog, DialogButtons, DialogError } from './Dialog.js';
import { Field } from './Field.js';
import { useSubmit } from './useSubmit.js';

export function EditSnapshotDialog({ boxId, snapshotId }: { boxId: string; snapshotId: string }) {
  const actions = useActions();
  const tree = useApp((s) => s.trees[boxId]);
  const original = tree?.snapshots.find((s) => s.id === snapshotId);
  const [name, setName] = useState(original?.name ?? '');
  const [description, setDescription] = useState(original?.description ?? '');
  // Only a new name is held to the rules: one an older Boxkeep (or an archive) gave stays editable around.
  const nameProblem = tree && name !== original?.name ? snapshotNameProblem(name, tree.snapshots, snapshotId) : null;
  const descProblem = fieldProblems('snapshots:update', { box: boxId, snapshot: snapshotId, description }).description ?? null;
  const changed = !!original && (name !== original.name || description !== original.description);
  const { busy, error, submit } = useSubmit(
    () =>
      actions.updateSnapshot(boxId, snapshotId, {
        ...(name !== original?.name ? { name } : {}),
        ...(description !== original?.description ? { description } : {}),
      }),
    actions.closeDialog,
  );
  if (!original) return null;
  const invalid = !!nameProblem || !!descProblem;
  return (
    <Dialog
      title={`Edit snapshot “${original.name}”`}
      description={<p>Only the name and description change; the snapshot’s contents stay exactly as they are.</p>}
      busy={busy}
      onClose={actions.closeDialog}
      onSubmit={() => void (!invalid && changed && submit())}
      footer={
        <DialogButtons busy={busy} disabled={invalid || !changed} label="Save" busyLabel="Saving…" tone="primary" onCancel={actions.closeDialog} />
      }
    >
      <Field label="Name" value={name} onChange={setName} problem={nameProblem} autoFocus selectOnFocus name="snapshot-name" />
      <Field label="Description" value={description} onChange={setDescription} problem={descProblem} multiline name="snapshot-description" />
      <DialogError message={error} />
    </Dialog>
  );
}
