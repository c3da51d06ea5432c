// Restore: says plainly what is lost (changes since the current snapshot), offers to keep them
// as a snapshot first (on by default), and for a running box says it will be stopped.
import { useState } from 'react';
import { isActive } from '../../../shared/types.js';
import { useActions, useApp } from '../context.js';
import { Dialog, DialogButtons, DialogError } from './Dialog.js';
import { useSubmit } from './useSubmit.js';

export function RestoreDialog({ boxId, snapshotId }: { boxId: string; snapshotId: string }) {
  const actions = useActions();
  const box = useApp((s) => s.boxes.find((b) => b.id === boxId));
  const tree = useApp((s) => s.trees[boxId]);
  const [saveFirst, setSaveFirst] = useState(true);
  const [startAfter, setStartAfter] = useState(true);
  const running = box ? isActive(box.status) : false;
  const { busy, error, submit } = useSubmit(
    () => actions.restoreSnapshot(boxId, snapshotId, { snapshotCurrentFirst: saveFirst, stopFirst: running, startAfter: running && startAfter }),
    actions.closeDialog,
  );
  const target = tree?.snapshots.find((s) => s.id === snapshotId);
  if (!box || !tree || !target) return null;
  const current = tree.snapshots.find((s) => s.id === tree.currentId);
  const since = current ? `since the snapshot “${current.name}”` : 'since the box was created';

  return (
    <Dialog
      title={`Restore ${box.name} to “${target.name}”?`}
      description={
        <>
          <p>
            The box’s disk goes back to how it was in “{target.name}”. {saveFirst ? 'Changes made ' + since + ' are first saved as a new snapshot, so nothing is lost.' : <strong>Changes made {since} will be lost for good.</strong>}
          </p>
          {running && <p>The box is {box.status} and has to be stopped first; unsaved work inside the guest is lost.</p>}
          <p className="muted">Other snapshots are not changed. New snapshots taken after this restore start a new branch.</p>
        </>
      }
      busy={busy}
      onClose={actions.closeDialog}
      onSubmit={() => void submit()}
      footer={
        <DialogButtons
          busy={busy}
          label={running ? 'Stop and restore' : 'Restore'}
          busyLabel="Restoring…"
          tone={saveFirst ? 'primary' : 'danger'}
          onCancel={actions.closeDialog}
        />
      }
    >
      <label className="check">
        <input type="checkbox" checked={saveFirst} onChange={(e) => setSaveFirst(e.target.checked)} disabled={busy} />
        Take a snapshot of the current state first
      </label>
      {running && (
        <label className="check">
          <input type="checkbox" checked={startAfter} onChange={(e) => setStartAfter(e.target.checked)} disabled={busy} />
          Start the box again after restoring
        </label>
      )}
      <DialogError message={error} />
    </Dialog>
  );
}
