// Remove box: lists exactly what goes (its disk, every snapshot, the space), and what stays
// (the image it was made from). A box whose snapshots linked clones read through cannot go
// while they exist (the engine refuses): the dialog says so instead, naming them.
import { useEffect } from 'react';
import { isBusy } from '../../../shared/types.js';
import { useActions, useApp, useSession } from '../context.js';
import { formatBytes, joinWords, plural } from '../format.js';
import { SharedWithClones } from './DeleteSnapshotDialog.js';
import { Dialog, DialogButtons, DialogError } from './Dialog.js';
import { useSubmit } from './useSubmit.js';

const SHOWN = 8;

export function RemoveBoxDialog({ boxId }: { boxId: string }) {
  const actions = useActions();
  const { sync } = useSession();
  const box = useApp((s) => s.boxes.find((b) => b.id === boxId));
  const detail = useApp((s) => s.details[boxId]);
  const tree = useApp((s) => s.trees[boxId]);
  const { busy, error, submit } = useSubmit(() => actions.removeBox(boxId), actions.closeDialog);
  useEffect(() => {
    if (!detail || !tree) void sync.loadBox(boxId).catch(() => {});
  }, [boxId, detail, tree, sync]);
  const boxes = useApp((s) => s.boxes);
  if (!box) return null;
  const active = isBusy(box.status);
  const snapshots = tree?.snapshots ?? [];
  // Other boxes that are linked clones of one of this box's snapshots.
  const own = new Map(snapshots.map((x) => [x.id, x.name]));
  const clones = boxes.filter((b) => b.linkedSnapshotId !== null && own.has(b.linkedSnapshotId));
  if (clones.length > 0) {
    const shared = [...new Set(clones.map((c) => own.get(c.linkedSnapshotId!)!))];
    return (
      <SharedWithClones
        title={`Remove ${box.name}?`}
        label="Remove box"
        subject={`The box ${box.name}`}
        verb="removed"
        clones={clones.map((c) => c.name)}
        through={`${shared.length === 1 ? 'its snapshot' : 'its snapshots'} ${joinWords(shared.map((n) => `“${n}”`))}`}
      />
    );
  }
  return (
    <Dialog
      title={`Remove ${box.name}?`}
      description={
        <>
          <p>This deletes, for good:</p>
          <ul className="consequences">
            <li>the box’s disk and settings</li>
            {!tree ? (
              <li>its snapshots</li>
            ) : (
              snapshots.length > 0 && (
                <li>
                  {plural(snapshots.length, 'snapshot')}:
                  <span className="muted">
                    {' '}
                    {snapshots.slice(0, SHOWN).map((s) => `“${s.name}”`).join(', ')}
                    {snapshots.length > SHOWN ? ` and ${snapshots.length - SHOWN} more` : ''}
                  </span>
                </li>
              )
            )}
          </ul>
          <p>
            It frees about <strong>{detail ? formatBytes(detail.spaceUsed) : '…'}</strong>. {detail?.image ? `The image “${detail.image.name}” is kept.` : detail?.installerImageId && detail.installedFrom ? `The installer “${detail.installedFrom}” is kept.` : ''}
          </p>
          {active && <p className="inline-error">The box is {box.status}. Stop it before removing it.</p>}
        </>
      }
      busy={busy}
      onClose={actions.closeDialog}
      onSubmit={() => void (!active && tree && submit())}
      footer={
        <DialogButtons
          busy={busy}
          // Until the snapshots are known, so are not the linked clones that would stop the removal.
          disabled={active || !tree}
          label={snapshots.length > 0 ? `Remove box and ${plural(snapshots.length, 'snapshot')}` : 'Remove box'}
          busyLabel="Removing…"
          tone="danger"
          onCancel={actions.closeDialog}
        >
          {active && (
            <button type="button" className="button" onClick={() => void actions.stopBox(boxId)}>
              Stop box
            </button>
          )}
        </DialogButtons>
      }
    >
      <DialogError message={error} />
    </Dialog>
  );
}
