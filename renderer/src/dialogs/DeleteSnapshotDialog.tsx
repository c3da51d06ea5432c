// Delete snapshot: what happens to the data (merged into what depends on it; every other
// snapshot unchanged), how much space it frees, and a progress bar while the merge runs.
import { useShallow } from 'zustand/react/shallow';
import { useActions, useApp } from '../context.js';
import { formatBytes } from '../format.js';
import { Progress } from '../components/Progress.js';
import { Dialog, DialogButtons, DialogError } from './Dialog.js';
import { useSubmit } from './useSubmit.js';

export function DeleteSnapshotDialog({ boxId, snapshotId }: { boxId: string; snapshotId: string }) {
  const actions = useActions();
  const box = useApp((s) => s.boxes.find((b) => b.id === boxId));
  const tree = useApp((s) => s.trees[boxId]);
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
              {parent ? `“${parent.name}”` : 'the base image'} instead.
            </p>
          ) : (
            <p>Nothing depends on it, so its file is simply removed.</p>
          )}
          <p>All other snapshots are unchanged. You cannot go back to “{doomed.name}” afterwards.</p>
          <p>
            Frees up to <strong>{formatBytes(doomed.sizeOnDisk)}</strong>
            {dependents.length > 0 ? ' (less if the merge copies data into the snapshots that depend on it).' : '.'}
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
      {busy && <Progress task={task} label={`Merging “${doomed.name}”`} />}
      <DialogError message={error} />
    </Dialog>
  );
}

function joinWords(items: string[]): string {
  if (items.length <= 1) return items.join('');
  if (items.length > 4) return `${items.slice(0, 3).join(', ')} and ${items.length - 3} more`;
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}
