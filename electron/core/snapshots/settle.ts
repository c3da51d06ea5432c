// Recovery of the offline snapshot operations: each is rolled forward or back from whatever
// prefix of its steps (steps.ts) reached the disk, leaving every snapshot intact and the box
// as before or as after the operation.
import fs from 'node:fs';
import type { HomeData } from '../deps.js';
import { chainError } from '../disk/confine.js';
import { backingPathOf } from '../disk/backing.js';
import { removeDurable, renameDurable } from '../fsutil.js';
import type { ReportBuilder } from '../recovery/report.js';
import { removalNeeds, shortfall, spaceMessage } from '../space.js';
import { interruptedMergeProblem } from './box-chain.js';
import type { SnapshotCreateIntent, SnapshotRemoveIntent, SnapshotRestoreIntent } from './intents.js';
import { commitCreateRow, deleteSnapshotFiles, mergeIntoDependents, moveDependentRow, removeRowReparenting } from './steps.js';
import { installVars } from './efivars.js';

/**
 * Create: the row is the commit point. Before it, the steps are undone unless the new
 * overlay is already installed on top of the frozen disk, in which case the snapshot is
 * complete but for its row, and the row is written.
 */
export async function settleSnapshotCreate(core: HomeData, intent: SnapshotCreateIntent, report: ReportBuilder): Promise<boolean> {
  const { boxId, snapshot } = intent;
  const live = core.paths.liveDisk(boxId);
  const next = core.paths.nextDisk(boxId);
  const frozen = snapshot.diskPath;
  const name = JSON.stringify(snapshot.name);
  if (core.store.getSnapshot(snapshot.id)) {
    removeDurable(next);
    report.info(boxId, `Snapshot ${name} had been taken; its bookkeeping is complete.`);
    return true;
  }
  const hasLive = fs.existsSync(live);
  const hasFrozen = fs.existsSync(frozen);
  if (!core.store.getBox(boxId)) {
    report.kept(boxId, `An interrupted snapshot ${name} belongs to a box that no longer exists; nothing was changed.`);
    return true;
  }
  if (hasLive && hasFrozen) {
    if ((await backingPathOf(live)) === frozen) {
      commitCreateRow(core, snapshot);
      removeDurable(next);
      report.repaired(boxId, `Snapshot ${name} was interrupted after its disks were in place; it was completed.`);
    } else {
      report.kept(boxId, `Snapshot ${name} was interrupted and left two disks that do not belong together; both were kept (${frozen}).`);
    }
    return true;
  }
  if (!hasLive && hasFrozen) {
    // The live disk had been moved into the snapshot folder: move it back.
    renameDurable(frozen, live);
    removeDurable(next);
    removeDurable(core.paths.snapshotDir(boxId, snapshot.id));
    report.repaired(boxId, `Snapshot ${name} was interrupted; the box was put back as it was before. Take the snapshot again.`);
    return true;
  }
  if (hasLive && !hasFrozen) {
    removeDurable(next);
    removeDurable(core.paths.snapshotDir(boxId, snapshot.id));
    report.repaired(boxId, `Snapshot ${name} was interrupted before it changed anything; it was cleaned up. Take the snapshot again.`);
    return true;
  }
  removeDurable(next);
  removeDurable(core.paths.snapshotDir(boxId, snapshot.id));
  report.kept(boxId, `Snapshot ${name} was interrupted and neither the live disk nor the snapshot disk was found; the leftovers were cleaned up.`);
  return true;
}

/** Restore: the rename of the new overlay over the live disk is the point of no return. */
export async function settleSnapshotRestore(core: HomeData, intent: SnapshotRestoreIntent, report: ReportBuilder): Promise<boolean> {
  const { boxId } = intent;
  const next = core.paths.nextDisk(boxId);
  const target = core.store.getSnapshot(intent.snapshotId);
  const name = JSON.stringify(target?.name ?? intent.snapshotId);
  if (fs.existsSync(next)) {
    removeDurable(next);
    removeDurable(core.paths.nextEfiVars(boxId));
    report.repaired(boxId, `Restoring snapshot ${name} was interrupted before the box changed; the box is as it was.`);
    return true;
  }
  // The UEFI variables are prepared after the overlay: prepared, and the overlay gone, means
  // the disk was replaced already, and its variables go with it.
  const box = core.store.getBox(boxId);
  const varsRestored = installVars(core, boxId, box && target ? { box, target } : undefined);
  const live = core.paths.liveDisk(boxId);
  if (box && target && fs.existsSync(live) && (await backingPathOf(live)) === intent.snapshotPath && (varsRestored || box.currentSnapshotId !== target.id)) {
    core.store.setCurrentSnapshot(boxId, target.id);
    report.repaired(boxId, `Restoring snapshot ${name} was interrupted after the disk was replaced; the restore was completed.`);
    return true;
  }
  report.info(boxId, `A restore of snapshot ${name} had finished or had not begun; nothing needed changing.`);
  return true;
}

/** Remove always rolls forward: a half-merged snapshot cannot be put back, but can be finished. */
export async function settleSnapshotRemove(core: HomeData, intent: SnapshotRemoveIntent, report: ReportBuilder): Promise<boolean> {
  const name = JSON.stringify(core.store.getSnapshot(intent.snapshotId)?.name ?? intent.snapshotId);
  const missing = intent.dependents.filter((d) => !fs.existsSync(d.path));
  if (missing.length > 0) {
    report.kept(intent.boxId, `Deleting snapshot ${name} was interrupted and ${missing.map((d) => d.path).join(', ')} is missing; nothing more was changed.`);
    return false;
  }
  const tampered = interruptedMergeProblem(core, intent);
  if (tampered) {
    // Never merge through a layer that is not Boxkeep's: it could pour a host file into the guest's disk.
    report.kept(intent.boxId, `Deleting snapshot ${name} was interrupted and cannot be finished: ${chainError(tampered).message}`);
    return false;
  }
  // What is left to merge: for a rebase, only what still backs onto the removed snapshot;
  // for a commit, nothing once the merged file has taken the dependent's place.
  let rest = intent;
  if (intent.mode === 'rebase') {
    const pending = [];
    for (const d of intent.dependents) {
      if ((await backingPathOf(d.path)) !== intent.parentPath) pending.push(d);
      else moveDependentRow(core, intent, d);
    }
    rest = { ...intent, dependents: pending };
  }
  // A merge that failed on a full disk would fill it again at every start: retry only once
  // it fits. Until then the intent stays and the box takes only removals (waiting-merge.ts).
  const needed = intent.mode === 'commit' && !fs.existsSync(intent.snapshotPath) ? 0 : removalNeeds(rest);
  const short = shortfall(core, needed);
  if (short) {
    report.kept(intent.boxId, `Deleting snapshot ${name} is waiting for disk space and was not retried. ${spaceMessage('Finishing it', needed, short.space, short.missing)} ` +
      `Then run "boxkeep recover". Until then the box only accepts deleting its other snapshots; every other snapshot is intact.`);
    return false;
  }
  await mergeIntoDependents(core, rest, () => {});
  const strays = await strayDependents(core, intent);
  if (strays.length > 0) {
    // Never delete a file a chain still references: keep the snapshot, report what reads it.
    report.kept(intent.boxId, `Deleting snapshot ${name} was interrupted; its data was merged into the snapshots that depended on it, but ${strays.join(', ')} still backs onto it, so it was kept.`);
    return true;
  }
  removeRowReparenting(core, intent);
  deleteSnapshotFiles(core, intent);
  report.repaired(intent.boxId, `Deleting snapshot ${name} was interrupted; it was completed and the snapshots that depended on it read exactly as before.`);
  return true;
}

/**
 * Before a removed snapshot's file goes: nothing may still back onto it but the dependents
 * the removal merged. Returns the unexpected ones (then the file must stay).
 */
export async function strayDependents(core: HomeData, intent: { boxId: string; snapshotId: string; snapshotPath: string }): Promise<string[]> {
  const box = core.store.getBox(intent.boxId);
  if (!box) return [];
  const files = [box.liveDiskPath, ...core.store.listSnapshots(box.id).filter((s) => s.id !== intent.snapshotId).map((s) => s.diskPath)];
  const strays: string[] = [];
  for (const file of files) {
    if (fs.existsSync(file) && (await backingPathOf(file).catch(() => null)) === intent.snapshotPath) strays.push(file);
  }
  return strays;
}
