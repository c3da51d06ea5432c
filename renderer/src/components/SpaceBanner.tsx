// Shown while the home's disk has less free than the reserve: from then on every operation
// that needs space is refused, and the person should know before trying one.
import { useActions, useApp } from '../context.js';
import { formatBytes } from '../format.js';

export function SpaceBanner() {
  const space = useApp((s) => s.info?.space);
  const actions = useActions();
  if (!space || space.free >= space.reserve) return null;
  return (
    <section className="banner space" role="alert" aria-labelledby="space-title">
      <div className="banner-body">
        <h2 id="space-title" className="banner-title">
          The disk holding your boxes is nearly full: {formatBytes(space.free)} free, below the {formatBytes(space.reserve)} Boxkeep keeps in reserve.
        </h2>
        <p>
          Snapshots, restores, new boxes and imports are refused until there is room. Delete snapshots or boxes you no longer need (or other files on that
          disk), or lower the reserve.
        </p>
      </div>
      <button type="button" className="button small" onClick={() => actions.openDialog({ kind: 'settings' })}>
        Disk reserve…
      </button>
    </section>
  );
}
