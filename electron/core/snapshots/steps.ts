// The steps of the offline snapshot operations, one function per step, each followed by a
// named crash point (intents.ts). Recovery (settle.ts) completes or undoes an operation
// from whatever prefix of these steps reached the disk.
import fs from 'node:fs';
import path from 'node:path';
import type { Box, Snapshot, SnapshotTaken } from '../../../shared/types.js';
import type { HomeData } from '../deps.js';
import { commit, createOverlay, rebase, type OnProgress } from '../disk/qemu-img.js';
import { fsyncDir, mkdirDurable, noRoomForRecord, removeDurable, renameDurable, sizeOnDisk } from '../fsutil.js';
import { newId } from '../ids.js';
import { clearIntent } from '../journal.js';
import { snapshotCreate, snapshotRemove, snapshotRestore, type Dependent, type RemoveFacts, type SnapshotCreateIntent, type SnapshotRemoveIntent, type SnapshotRestoreIntent } from './intents.js';
import type { NewSnapshot } from '../store/store.js';
import { backingPathOf } from '../disk/backing.js';
import { readLayerFacts } from '../disk/confine.js';
import { BoxkeepError } from '../../../shared/errors.js';
import { humanBytes } from '../../../shared/bytes.js';
import { isDiskFull, shortfall, spaceMessage } from '../space.js';
import { checkSnapshotVars, installVars, keepVars, prepareVars } from './efivars.js';

// ---- create (stopped box)

export async function createStopped(core: HomeData, box: Box, snapshot: Snapshot): Promise<Snapshot> {
  const journal = core.paths.boxJournal(box.id);
  const intent: SnapshotCreateIntent = { id: newId(), op: 'snapshot-create', startedAt: Date.now(), boxId: box.id, snapshot };
  return snapshotCreate.journaled(journal, intent, async () => {
    mkdirDurable(path.dirname(snapshot.diskPath));
    await writeNextOverlay(core, box, snapshot.diskPath, { backingMayNotExistYet: true });
    snapshotCreate.crash('after-overlay');
    keepVars(core, box, snapshot.id);
    snapshotCreate.crash('after-vars');
    freezeLiveDisk(core, box, snapshot.diskPath, { sync: false });
    snapshotCreate.crash('after-freeze');
    installNextOverlay(core, box, { sync: false });
    syncDisks(core, box, snapshot.diskPath);
    snapshotCreate.crash('after-install');
    const committed = commitCreateRow(core, snapshot);
    snapshotCreate.crash('after-row');
    return committed;
  });
}

export async function writeNextOverlay(core: HomeData, box: Box, backing: string, opts: { backingMayNotExistYet?: boolean } = {}): Promise<void> {
  const next = core.paths.nextDisk(box.id);
  fs.rmSync(next, { force: true });
  await createOverlay(next, backing, box.diskSize, { unsafe: opts.backingMayNotExistYet ?? false });
}

/**
 * The live disk becomes the snapshot's frozen disk; no data is copied. `sync: false` leaves
 * the directory fsyncs to syncDisks() once both renames are done (one fsync per folder;
 * recovery handles either rename being lost).
 */
export function freezeLiveDisk(core: HomeData, box: Pick<Box, 'id'>, frozenPath: string, opts: { sync?: boolean } = {}): void {
  if (opts.sync === false) fs.renameSync(core.paths.liveDisk(box.id), frozenPath);
  else renameDurable(core.paths.liveDisk(box.id), frozenPath);
}

/** The prepared overlay takes the live path in one atomic rename (replacing any old live disk). */
export function installNextOverlay(core: HomeData, box: Pick<Box, 'id'>, opts: { sync?: boolean } = {}): void {
  if (opts.sync === false) fs.renameSync(core.paths.nextDisk(box.id), core.paths.liveDisk(box.id));
  else renameDurable(core.paths.nextDisk(box.id), core.paths.liveDisk(box.id));
}

/** Makes both renames of a snapshot durable. */
export function syncDisks(core: HomeData, box: Pick<Box, 'id'>, frozenPath: string): void {
  fsyncDir(core.paths.disksDir(box.id));
  fsyncDir(path.dirname(frozenPath));
}

export function commitCreateRow(core: HomeData, snapshot: Omit<NewSnapshot, 'taken'> & { taken?: SnapshotTaken }): Snapshot {
  const taken = snapshot.taken ?? (snapshot.live ? 'crash-consistent' : 'stopped');
  // The layer is frozen from here on: what it is now is what every later use must find.
  const facts = readLayerFacts(snapshot.diskPath);
  const row = { ...snapshot, taken, sizeOnDisk: facts.sizeOnDisk };
  core.store.transaction(() => {
    core.store.insertSnapshot(row);
    core.store.setSnapshotFacts(snapshot.id, facts);
    if (snapshot.memory) core.store.setSnapshotMemory(snapshot.id, snapshot.memory);
    core.store.setCurrentSnapshot(snapshot.boxId, snapshot.id);
  });
  return core.store.getSnapshot(snapshot.id)!;
}

// ---- restore (stopped box)

export async function restoreStopped(core: HomeData, box: Box, target: Snapshot): Promise<void> {
  const journal = core.paths.boxJournal(box.id);
  const intent: SnapshotRestoreIntent = {
    id: newId(), op: 'snapshot-restore', startedAt: Date.now(), boxId: box.id,
    snapshotId: target.id, snapshotPath: target.diskPath, previousCurrentId: box.currentSnapshotId,
  };
  checkSnapshotVars(core, box, target);
  await snapshotRestore.journaled(journal, intent, async () => {
    await writeNextOverlay(core, box, target.diskPath);
    snapshotRestore.crash('after-overlay');
    prepareVars(core, box, target);
    snapshotRestore.crash('after-vars');
    // Replacing the live disk discards the work since the last snapshot: the point of no return.
    installNextOverlay(core, box);
    snapshotRestore.crash('after-install');
    installVars(core, box.id);
    snapshotRestore.crash('after-vars-install');
    core.store.setCurrentSnapshot(box.id, target.id);
    snapshotRestore.crash('after-row');
  });
}

// ---- remove

/** `needed`: what the space guard estimated the merge writes, for the advice when the disk fills anyway. */
export async function removeOffline(core: HomeData, intent: SnapshotRemoveIntent, onProgress: OnProgress, needed = 0): Promise<void> {
  const journal = core.paths.boxJournal(intent.boxId);
  if (intent.mode === 'delete' && noRoomForRecord(core.paths.root)) {
    // A full disk, and nothing backs onto this snapshot: the file goes first (freeing space),
    // then the row. A crash between leaves a row without a file and without dependents, which
    // recovery's reconcile removes; so no record is needed, and none could be written.
    deleteSnapshotFiles(core, intent, { now: true });
    removeRowReparenting(core, intent);
    return;
  }
  const sizesBefore = intent.dependents.map((d) => sizeOnDisk(d.path));
  await snapshotRemove.journaled(journal, intent, async () => {
    try {
      await mergeIntoDependents(core, intent, onProgress);
    } catch (err) {
      if (intent.mode !== 'commit') {
        // Each rebased dependent was moved in the rows as it was merged, so rows and chains
        // agree and the snapshot is still whole: the removal simply did not happen (for the
        // dependents it did not reach). Nothing is left for recovery to replay.
        clearIntent(journal, intent.id);
        throw await notRemoved(core, err, intent, sizesBefore, needed);
      }
      throw unfinished(core, err, needed);
    }
    try {
      removeRowReparenting(core, intent);
      snapshotRemove.crash('after-row');
      deleteSnapshotFiles(core, intent);
      snapshotRemove.crash('after-delete');
    } catch (err) {
      throw unfinished(core, err, needed);
    }
  });
}

/**
 * A commit that did not finish cannot be undone (some clusters are already in the removed
 * snapshot's file): its intent stays and the merge waits (waiting-merge.ts). Recovery finishes
 * it, but only once it fits, so a full disk is not filled again at every start.
 */
function unfinished(core: HomeData, err: unknown, needed: number): Error {
  const message = sentence(err);
  const cause = isDiskFull(err)
    ? `The disk holding the Boxkeep home is full. ${whatToFree(core, 'Finishing the removal', needed)} Then run "boxkeep recover".`
    : 'Boxkeep finishes the removal at its next start, or now with "boxkeep recover".';
  return new BoxkeepError('Storage', `${message} The snapshot was partly merged and cannot be put back; every other snapshot is intact. ${cause} Until it is finished this box only accepts deleting its other snapshots.`, { cause: err });
}

/** qemu-img's last line, ended as a sentence so more can follow it. */
function sentence(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).trim();
  return /[.!?]$/.test(message) ? message : `${message}.`;
}

/**
 * A rebase that failed leaves its dependent backing onto the snapshot, reading exactly as
 * before, but holding the clusters qemu-img had copied (the same bytes the snapshot has).
 * Giving them back would need a copy of the whole dependent (`qemu-img convert -B`), the very
 * space that is missing, so they stay, counted here: they are not lost either, since a later
 * rebase of the same dependent finds them allocated and does not copy them again.
 */
async function notRemoved(core: HomeData, err: unknown, intent: SnapshotRemoveIntent, sizesBefore: number[], needed: number): Promise<Error> {
  if (!isDiskFull(err)) return err as Error;
  let grown = 0;
  for (const [i, d] of intent.dependents.entries()) {
    // Only those still on the snapshot: the ones rebased before the failure are simply done.
    if ((await backingPathOf(d.path).catch(() => null)) === intent.snapshotPath) grown += Math.max(0, sizeOnDisk(d.path) - sizesBefore[i]!);
  }
  const message = sentence(err);
  return new BoxkeepError('Storage', `${message} The disk holding the Boxkeep home is full, so the snapshot was not deleted; every snapshot reads exactly as before. ` +
    `${humanBytes(grown)} already copied into the snapshots after it stays there (the same bytes, so nothing reads differently; deleting it again will not copy them twice). ` +
    `${whatToFree(core, 'Deleting it', needed)} Then delete it again.`, { cause: err });
}

/** The guard's own words for how much to free, measured now that the disk filled. */
function whatToFree(core: HomeData, what: string, needed: number): string {
  const short = shortfall(core, needed);
  return short ? spaceMessage(what, needed, short.space, short.missing) : 'Free space: delete other snapshots or boxes you no longer need.';
}

/**
 * Moves the removed snapshot's data into what depends on it, so every dependent reads back
 * exactly what it read before. Safe to run again after a crash at any point inside it.
 */
export async function mergeIntoDependents(core: HomeData, intent: SnapshotRemoveIntent, onProgress: OnProgress): Promise<void> {
  if (intent.mode === 'commit') {
    const dependent = intent.dependents[0]!;
    if (fs.existsSync(intent.snapshotPath)) {
      // Writes the dependent's clusters into the removed snapshot's file and leaves the
      // dependent untouched; until the swap below, nothing anyone reads has changed.
      await commit(dependent.path, { onProgress });
      snapshotRemove.crash('after-merge');
      renameDurable(intent.snapshotPath, dependent.path);
    }
    snapshotRemove.crash('after-swap');
    return;
  }
  if (intent.mode === 'rebase') {
    const n = intent.dependents.length;
    for (const [i, dependent] of intent.dependents.entries()) {
      await rebase(dependent.path, intent.parentPath, { onProgress: (f) => onProgress((i + f) / n) });
      moveDependentRow(core, intent, dependent);
      snapshotRemove.crash('after-merge');
    }
  }
  onProgress(1);
}

/** Rows follow the chain one dependent at a time: a child now hangs under the removed snapshot's parent, or Now does. */
export function moveDependentRow(core: HomeData, intent: RemoveFacts, dependent: Dependent): void {
  if (dependent.snapshotId) {
    // The merge rewrote this frozen layer; its record follows in the same transaction as the move.
    const facts = readLayerFacts(dependent.path);
    const id = dependent.snapshotId;
    core.store.transaction(() => {
      core.store.setSnapshotParent(id, intent.parentId);
      core.store.setSnapshotFacts(id, facts);
    });
  } else {
    core.store.setCurrentSnapshot(intent.boxId, intent.parentId);
  }
}

export function removeRowReparenting(core: HomeData, intent: RemoveFacts): void {
  const snapshot = core.store.getSnapshot(intent.snapshotId);
  // A commit-mode removal moved the merged file onto the dependent's path: record what it is now.
  const rewritten = intent.dependents.flatMap((d) => (d.snapshotId && fs.existsSync(d.path) ? [{ id: d.snapshotId, facts: readLayerFacts(d.path) }] : []));
  core.store.transaction(() => {
    if (snapshot) core.store.deleteSnapshotReparenting(snapshot);
    for (const r of rewritten) core.store.setSnapshotFacts(r.id, r.facts);
  });
}

/**
 * The removed snapshot's folder out of its place: into the trash, freed after the operation
 * (trash.ts), or at once with `now` (a full disk waits for the space) or without a trash.
 */
export function deleteSnapshotFiles(core: HomeData, intent: RemoveFacts, opts: { now?: boolean } = {}): void {
  const dir = core.paths.snapshotDir(intent.boxId, intent.snapshotId);
  if (core.trash && !opts.now) core.trash.take(dir);
  else removeDurable(dir);
}
