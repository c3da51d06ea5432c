// Delete snapshot: what happens to the data (merged into what depends on it; every other
// snapshot unchanged), how much space it frees, and a progress bar while the merge runs. A
// snapshot a linked clone reads through cannot go while that clone exists (the engine refuses):
// the dialog says so up front, names the clones and how to go on, and offers no delete.
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
  const clones = useApp(useShallow((s) => s.boxes.filter((b) => b.linkedSnapshotId === snapshotId).map((b) => b.name)));
  if (!box || !tree || !doomed) return null;
  if (clones.length > 0) {
    return <SharedWithClones title={`Delete snapshot “${doomed.name}”?`} label="Delete snapshot" subject={`The snapshot “${doomed.name}”`} verb="deleted" clones={clones} />;
  }

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
          {doomed.pinned && (
            <p data-testid="pinned-note">
              <strong>It is pinned</strong>: AutoProtect never removes it, but deleting it here does.
            </p>
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



/**
 * A delete that cannot happen while linked clones read through what it would delete (a snapshot,
 * or a box's snapshots): says which clones depend on it and how to go on, with the button off.
 */
export function SharedWithClones(p: { title: string; label: string; subject: string; verb: 'deleted' | 'removed'; clones: string[]; through?: string }) {
  const { title, label, subject, verb, clones, through = 'it' } = p;
  const actions = useActions();
  const one = clones.length === 1;
  return (
    <Dialog
      title={title}
      description={
        <>
          <p className="inline-error" data-testid="linked-clones-note">
            {subject} cannot be {verb} while the linked clone{one ? '' : 's'} {joinWords(clones.map((n) => `“${n}”`))} {one ? 'depends' : 'depend'} on it:{' '}
            {one ? 'its disk reads' : 'their disks read'} through {through}.
          </p>
          <p>
            Remove {one ? 'that clone' : 'those clones'} first, or make {one ? 'it' : 'each one'} independent: select {one ? 'the clone' : 'each clone'}, choose
            “Clone…” and “Full” (a copy that needs nothing of this box), then remove the linked clone.
          </p>
        </>
      }
      onClose={actions.closeDialog}
      onSubmit={() => {}}
      footer={<DialogButtons disabled label={label} tone="danger" onCancel={actions.closeDialog} />}
    />
  );
}
