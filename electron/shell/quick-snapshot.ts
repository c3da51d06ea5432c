// "Quick snapshot" from the tray: a snapshot named by the engine after the current time, with
// a fixed description, and a native notification when it finishes or fails.
import type { Api } from '../../shared/client.js';
import { BoxkeepError } from '../../shared/errors.js';
import type { Snapshot } from '../../shared/types.js';

export const QUICK_DESCRIPTION = 'Quick snapshot from the tray';

export interface Notice {
  title: string;
  body: string;
  kind: 'success' | 'failure';
}

export interface QuickSnapshotDeps {
  api: Pick<Api, 'snapshots'>;
  notify(notice: Notice): void;
}

/**
 * Takes the snapshot and tells the user how it went. The name is left to the engine: it uses
 * the timestamp and adds " (2)" when two land in the same second, which a name picked here
 * could not do without racing.
 */
export async function quickSnapshot(deps: QuickSnapshotDeps, box: { id: string; name: string; memory?: boolean }): Promise<Snapshot | null> {
  try {
    const snapshot = await deps.api.snapshots.create({ box: box.id, description: QUICK_DESCRIPTION, ...(box.memory ? { memory: true } : {}) });
    const kept = snapshot.memory ? ', with its memory: restoring it resumes the running machine' : box.memory ? ', with its disk only (its memory could not be saved)' : '';
    deps.notify({ kind: 'success', title: `Snapshot of ${box.name} taken`, body: `"${snapshot.name}" is in ${box.name}'s history${kept}; restore it from Boxkeep.` });
    return snapshot;
  } catch (err) {
    const e = BoxkeepError.from(err);
    deps.notify({ kind: 'failure', title: `Snapshot of ${box.name} failed`, body: e.message });
    return null;
  }
}
