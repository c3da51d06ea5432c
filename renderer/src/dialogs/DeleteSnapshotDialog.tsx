// Delete snapshot: what happens to the data (merged into what depends on it; every other
// snapshot unchanged), how much space it frees, and a progress bar while the merge runs.
import { useShallow } from 'zustand/react/shallow';
import { useActions, useApp } from '../context.js';
import { formatBytes, joinWords, treeBase } from '../format.js';
import { ProgressSlot } from '../components/Progress.js';
import { Dialog, DialogButtons, DialogError } from './Dialog.js';
import { useSubmit } from './useSubmit.js';

export function DeleteSnapshotDialog({ boxId, snapshotId }: { boxId: string; snapshotId: string }) {
  const actions = useActions();
  const box = useApp((s) => s.boxes.find((b) => b.id === boxId));
  const tree = useApp((s) => s.trees[boxId]);
  const base = treeBase(useApp((s) => s.details[boxId] ?? null));
  const task = useApp(useShallow((s) => Object.values(s.tasks).find((t) => t.kind === 'snapshot-remove' && t.boxId === boxId) ?? null));
  const { busy, error, submit } = useSubmit(() => actions.deleteSnapshot(boxId, snapshotId), actions.closeDialog);
  const doomed = tree?.snapshots.find((s) => s.id === snapshotId);
  if (!box || !tree || !doomed) return null;

  const children = tree.snapshots.filter((s) => s.parentId === snapshotId);
  const nowDepends = tree.currentId === snapshotId;
  const dependents = [...children.map((c) => `“${c.name}”`), ...(nowDepends ? ['the current state (Now)'] : [])];
  const parent = tree.snapshots.find((s) => s.id === doomed.parentId);

  return (
    <Dialog
      title={`Delete snapshot “${doomed.name}”?`}
      description={
        <>
          {dependents.length > 0 ? (
            <p>
              Its data is merged into what depends on it: {joinWords(dependents)}. They keep exactly the contents they have now and will follow{' '}
              {parent ? `“${parent.name}”` : base.the} instead.
            </p>
          ) : (
            <p>Nothing depends on it, so its file is simply removed.</p>
          )}
          <p>All other snapshots are unchanged. You cannot go back to “{doomed.name}” afterwards.</p>
          <p>
            {dependents.length > 0 ? (
              <>
                Frees up to <strong>{formatBytes(doomed.sizeOnDisk)}</strong>, an estimate: less when the merge copies data into what depends on it.
              </>
            ) : (
              <>
                Frees about <strong>{formatBytes(doomed.sizeOnDisk)}</strong>.
              </>
            )}
          </p>
        </>
      }
      busy={busy}
      onClose={actions.closeDialog}
      onSubmit={() => void submit()}
      footer={
        <DialogButtons busy={busy} label="Delete snapshot" busyLabel={dependents.length ? 'Merging…' : 'Deleting…'} tone="danger" onCancel={actions.closeDialog} />
      }
    >
      <ProgressSlot busy={busy} task={task} label={dependents.length ? `Merging “${doomed.name}”` : `Deleting “${doomed.name}”`} />
      <DialogError message={error} />
    </Dialog>
  );
}


