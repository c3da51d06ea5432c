// AutoProtect in the box view: what the schedule does, when the next automatic snapshot comes,
// and the one-click preset (or off). The CLI's `box protect` sets any other policy.
import { describePolicy, untilText } from '../../../shared/protect.js';
import type { Box } from '../../../shared/types.js';
import { useActions, useApp } from '../context.js';
import { useNow } from '../hooks.js';

export function ProtectSection({ box }: { box: Box }) {
  const status = useApp((s) => s.protect[box.id] ?? null);
  const busy = useApp((s) => !!s.pending[`protect:${box.id}`]);
  const actions = useActions();
  const now = useNow(30_000);
  if (!status) return null;
  const on = status.policy.enabled;
  const when = !on
    ? 'Off: snapshots are taken only when you take them.'
    : status.pausedReason
      ? `Paused: ${status.pausedReason}`
      : status.nextRunAt !== null
        ? `Next automatic snapshot ${untilText(status.nextRunAt, now)}.`
        : 'The next automatic snapshot comes once the box runs.';
  return (
    <section className="protect" aria-label="AutoProtect">
      <p className="protect-status" role="status">
        <strong>AutoProtect</strong> {when}
      </p>
      {on && <p className="hint protect-policy">{describePolicy(status.policy)}.</p>}
      {status.lastError && <p className="hint protect-error">The last automatic snapshot failed: {status.lastError}</p>}
      <button type="button" className="button" disabled={busy} onClick={() => void actions.setProtect(on ? { box: box.id, off: true } : { box: box.id, preset: true })}>
        {on ? 'Turn off AutoProtect' : 'Turn on AutoProtect'}
      </button>
    </section>
  );
}
