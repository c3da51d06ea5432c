// While a graceful stop waits for the guest: the seconds left until it is cut off (counted down
// to the deadline the engine published, so every window shows the same), and Force stop.
import type { Box } from '../../../shared/types.js';
import { useActions, useApp } from '../context.js';
import { useNow } from '../hooks.js';
import { Icon } from './icons.js';

export function StopControls({ box }: { box: Box }) {
  const actions = useActions();
  const now = useNow(250);
  const forcing = useApp((s) => !!s.pending[`force-stop:${box.id}`]);
  const left = box.stopDeadline === null ? null : Math.max(0, Math.ceil((box.stopDeadline - now) / 1000));
  return (
    <>
      <button type="button" className="button danger-outline" disabled={forcing} onClick={() => void actions.stopBox(box.id, true)}>
        <Icon name="stop" /> {forcing ? 'Forcing…' : 'Force stop'}
      </button>
      <span className="stop-countdown" role="timer" aria-live="off" data-testid="stop-countdown" title="The guest was asked to shut down; it is cut off when this runs out.">
        {left === null ? 'Stopping…' : left > 0 ? `Guest cut off in ${left} s` : 'Cutting off…'}
      </span>
    </>
  );
}
