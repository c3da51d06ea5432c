// Restore: says plainly what is lost (changes since the current snapshot), offers to keep them
// as a snapshot first (on by default; nothing to keep when Now holds no changes), and for a
// running box says it will be stopped. What it shows is fixed when it opens: the box stops
// during the restore, and the dialog must not re-lay itself out under the person's eyes.
// A snapshot with memory promises a running machine only once the engine said its memory can
// be resumed (the box's devices and QEMU as they were); when it cannot, the dialog says why and
// restores the disk alone, as the engine would otherwise refuse the restore.
import { useEffect, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { isActive } from '../../../shared/types.js';
import { ProgressSlot } from '../components/Progress.js';
import { useActions, useApp, useSession } from '../context.js';
import { Dialog, DialogButtons, DialogError } from './Dialog.js';
import { useSubmit } from './useSubmit.js';
import { refusedResume, useMemoryResume } from '../hooks.js';

export function RestoreDialog({ boxId, snapshotId }: { boxId: string; snapshotId: string }) {
  const actions = useActions();
  const { sync } = useSession();
  const box = useApp((s) => s.boxes.find((b) => b.id === boxId));
  const tree = useApp((s) => s.trees[boxId]);
  const detail = useApp((s) => s.details[boxId]);
  const task = useApp(useShallow((s) => Object.values(s.tasks).find((t) => t.kind === 'snapshot-restore' && t.boxId === boxId) ?? null));
  const [openedStatus] = useState(box?.status);
  const running = openedStatus ? isActive(openedStatus) : false;
  // Whether Now holds changes is asked again on opening: the disk may have been written since
  // the detail was loaded (a stopped box's disk, by a tool outside Boxkeep).
  const [checked, setChecked] = useState(false);
  useEffect(() => {
    let live = true;
    void sync.loadBox(boxId).catch(() => {}).finally(() => live && setChecked(true));
    return () => void (live = false);
  }, [boxId, sync]);
  const nothingToSave = checked && !running && detail?.nowChanged === false;
  const [saveChosen, setSaveFirst] = useState(true);
  const saveFirst = saveChosen && !nothingToSave;
  const [startAfter, setStartAfter] = useState(true);
  const [diskOnlyChosen, setDiskOnly] = useState(false);
  const hasMemory = !!tree?.snapshots.find((s) => s.id === snapshotId)?.memory;
  // Asked once, on opening: the box's settings are what a resume needs to match, and they do not
  // change under an open dialog. Unknown (null) until the answer lands; an error is its message.
  const resume = useMemoryResume(boxId, snapshotId, hasMemory ? 'on opening' : null);
  const cannotResume = refusedResume(resume);
  const resumeKnown = resume !== null && 'resumable' in resume && resume.resumable;
  const diskOnly = diskOnlyChosen || cannotResume !== null;
  const withMemory = hasMemory && resumeKnown && !diskOnly;
  // While the answer is out, neither the promise nor the choices that depend on it show.
  const resumeOpen = hasMemory && resume === null;
  const { busy, error, submit } = useSubmit(
    () => actions.restoreSnapshot(boxId, snapshotId, { snapshotCurrentFirst: saveFirst, stopFirst: running, startAfter: running && startAfter, diskOnly }),
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
            The box’s disk goes back to how it was in “{target.name}”.{' '}
            {nothingToSave ? (
              `Nothing changed ${since}, so there is nothing to save and nothing is lost.`
            ) : saveFirst ? (
              'Changes made ' + since + ' are first saved as a new snapshot, so nothing is lost.'
            ) : (
              <strong>Changes made {since} will be lost for good.</strong>
            )}
          </p>
          {running && <p>The box is {openedStatus} and has to be stopped first; unsaved work inside the guest is lost.</p>}
          {withMemory && (
            <p>
              <strong>The box will be running afterwards</strong>, resumed from the moment “{target.name}” was taken, with the programs that ran then.
            </p>
          )}
          {cannotResume !== null && (
            <p data-testid="restore-memory-note">
              <strong>This snapshot’s memory can’t be resumed:</strong> {cannotResume}. Only its disk is restored;{' '}
              {running && startAfter ? 'the box then boots from it instead of resuming.' : 'the box is stopped afterwards, and boots from that disk when it next starts.'}
            </p>
          )}
          {resumeOpen && <p className="muted" role="status">Checking whether its memory can be resumed…</p>}
          {resume !== null && 'failed' in resume && <p className="muted">Boxkeep could not tell whether its memory can be resumed: {resume.failed}</p>}
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
          tone={saveFirst || nothingToSave ? 'primary' : 'danger'}
          onCancel={actions.closeDialog}
        />
      }
    >
      <label className="check">
        {/* Disabled until Now's changes are known: a focused box turning disabled would leave the keyboard nowhere. */}
        <input type="checkbox" checked={saveFirst} onChange={(e) => setSaveFirst(e.target.checked)} disabled={busy || !checked || nothingToSave} />
        Take a snapshot of the current state first
      </label>
      {target.memory && !resumeOpen && cannotResume === null && (
        <label className="check">
          <input type="checkbox" name="restore-disk-only" checked={diskOnlyChosen} onChange={(e) => setDiskOnly(e.target.checked)} disabled={busy} />
          Restore only the disk (the box boots from it instead of resuming)
        </label>
      )}
      {running && !withMemory && !resumeOpen && (
        <label className="check">
          <input type="checkbox" checked={startAfter} onChange={(e) => setStartAfter(e.target.checked)} disabled={busy} />
          Start the box again after restoring
        </label>
      )}
      <ProgressSlot busy={busy} task={task} label={running ? `Stopping ${box.name}, then restoring “${target.name}”` : `Restoring “${target.name}”`} />
      <DialogError message={error} />
    </Dialog>
  );
}
