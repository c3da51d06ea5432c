// Shown while a live snapshot of the box is unsettled (its QEMU stopped answering as the
// snapshot switched disks): the box refuses every change meanwhile, and only this says why
// after the failed command's message is gone. The engine settles it by itself once QEMU answers
// or exits; Recover asks now, Force stop ends a QEMU that never answers (the snapshot is then
// completed from its files).
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
        <strong id="unsettled-title">A live snapshot is unsettled: QEMU (pid {unsettled.qemuPid}) does not answer.</strong>
        <p>
          Boxkeep settles it when QEMU answers or exits. Until then {box.name} accepts no changes. The snapshot “{unsettled.snapshotName}” is either
          kept or dropped then, and nothing the guest wrote is lost.
        </p>
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
