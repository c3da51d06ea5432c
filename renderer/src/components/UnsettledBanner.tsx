// Shown while a live snapshot of the box is unsettled (its QEMU stopped answering as the
// snapshot switched disks), or while a live removal that failed after its merge began waits to be
// finished: the box refuses every change meanwhile, and only this says why after the failed
// command's message is gone. The engine settles either by itself (the snapshot once QEMU answers
// or exits; the removal by trying again until it can); Recover asks now, Force stop ends a QEMU
// that never answers (the snapshot is then completed from its files, the removal finished).
import type { Box, UnsettledSnapshot } from '../../../shared/types.js';
import { useActions, useApp } from '../context.js';
import { Icon } from './icons.js';

export function UnsettledBanner({ box, unsettled }: { box: Box; unsettled: UnsettledSnapshot }) {
  const actions = useActions();
  const recovering = useApp((s) => !!s.pending.recover);
  const forcing = useApp((s) => !!s.pending[`force-stop:${box.id}`]);
  return (
    <div className="failure unsettled" role="alert" aria-labelledby="unsettled-title">
      <Icon name="alert" />
      <div className="banner-body">
        {unsettled.kind === 'removal' ? (
          <>
            <strong id="unsettled-title">Deleting {unsettled.snapshotName === null ? 'a snapshot' : `the snapshot “${unsettled.snapshotName}”`} did not finish.</strong>
            <p>
              It stopped after its data began to merge, so it can only be finished, not undone; every other snapshot is intact and {box.name} reads as
              before. Boxkeep finishes it by itself, trying again until it can. Until then {box.name} accepts no changes.
            </p>
          </>
        ) : (
          <>
            <strong id="unsettled-title">A live snapshot is unsettled: QEMU (pid {unsettled.qemuPid}) does not answer.</strong>
            <p>
              Boxkeep settles it when QEMU answers or exits. Until then {box.name} accepts no changes. The snapshot “{unsettled.snapshotName}” is either
              kept or dropped then, and nothing the guest wrote is lost.
            </p>
          </>
        )}
        <div className="toolbar">
          <button type="button" className="button small" disabled={recovering} onClick={() => void actions.recover(box.id)}>
            {recovering ? 'Recovering…' : 'Recover'}
          </button>
          <button type="button" className="button small danger-outline" disabled={forcing} onClick={() => void actions.stopBox(box.id, true)}>
            <Icon name="stop" /> {forcing ? 'Forcing…' : 'Force stop'}
          </button>
        </div>
      </div>
    </div>
  );
}
