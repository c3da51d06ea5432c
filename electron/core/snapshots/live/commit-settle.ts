// Recovery of a live removal by active commit (commit.ts): always forward. Which file holds
// the live disk's truth decides how: the old top until the pivot, the removed layer's file
// after it. A running QEMU says which itself (its top is the new node once it pivoted);
// a dead one leaves the intent's 'pivoted' note, written while the job held the guest's disk
// requests in PENDING, before the pivot.
import fs from 'node:fs';
import { commit } from '../../disk/qemu-img.js';
import type { ReportBuilder } from '../../recovery/report.js';
import { moveDependentRow } from '../steps.js';
import { finishCommit, pivot } from './commit.js';
import type { LiveCommitIntent } from './intents.js';
import { rebaseOthers } from './remove.js';
import { leftToUnadoptedQemu, type LiveSettleDeps } from './settle.js';

export async function settleLiveCommit(core: LiveSettleDeps, intent: LiveCommitIntent, report: ReportBuilder): Promise<boolean> {
  const box = core.store.getBox(intent.boxId);
  const name = JSON.stringify(core.store.getSnapshot(intent.snapshotId)?.name ?? intent.snapshotId);
  const session = box ? await core.sessions.adoptOne(box, report) : null;
  // Only such a QEMU says whether it pivoted, and it may hold the guest's disk requests in PENDING.
  if (leftToUnadoptedQemu(core, intent.boxId, session, report, `Deleting snapshot ${name}`)) return false;
  await rebaseOthers(core, intent);
  moveDependentRow(core, intent, intent.commitFrom);
  if (fs.existsSync(intent.snapshotPath)) {
    if (session) await pivot(core, session, intent, () => {});
    // QEMU gone before the note: the old top is the truth (it cannot have pivoted; in PENDING
    // both read the same): the offline commit, then the same rename.
    else if (!intent.pivoted) await commit(intent.commitFrom.path);
  }
  if (session && !intent.wasPaused) {
    // Stopped around the pivot by an owner of an earlier version that died there: never left so.
    const s = await session.qmp.execute<{ status: string }>('query-status');
    if (s.status === 'paused') {
      await session.qmp.execute('cont');
      core.store.setBoxStatus(intent.boxId, 'running');
    }
  }
  await finishCommit(core, session, intent);
  report.repaired(intent.boxId, `Deleting snapshot ${name} of a running box was interrupted; it was completed and everything that depended on it reads exactly as before.`);
  return true;
}
