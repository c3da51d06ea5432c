// The snapshot engine: the public verbs on a box's snapshot tree. Each verb validates,
// takes the box's queue, and runs the steps in steps.ts (stopped box) or their live
// variants in live/ (running box).
import { alreadyExists, invalidState, notFound } from '../../../shared/errors.js';
import { freeSnapshotName, timestampName } from '../../../shared/names.js';
import type { ChannelInput } from '../../../shared/channels.js';
import { isActive, isBusy, type Box, type RemoveSnapshotResult, type RestoreResult, type Snapshot, type SnapshotPicture, type SnapshotTree } from '../../../shared/types.js';
import type { BoxService } from '../boxes/service.js';
import type { Effects, HomeData } from '../deps.js';
import type { Tasks } from '../tasks.js';
import type { VmControl } from '../vm/control.js';
import { sizeOnDisk } from '../fsutil.js';
import { picturePath } from '../paths.js';
import { newId } from '../ids.js';
import { treeOrder } from '../store/store.js';
import { OVERLAY_BYTES, removalNeeds, requireSpace } from '../space.js';
import { chainRoot, verifyBoxChain, verifyLiveDisk, type ChainTop } from './box-chain.js';
import { refuseIfLinked } from '../clone/linked.js';
import { assertNoUnfinishedWork, removalMayRunBesideWaitingMerges } from './waiting-merge.js';
import type { Dependent, RemoveMode, SnapshotRemoveIntent } from './intents.js';
import { createLive, type LiveDeps } from './live/create.js';
import { readPicture } from './picture.js';
import { removeLive } from './live/remove.js';
import { createStopped, removeOffline, restoreStopped } from './steps.js';
import { varsBytes } from './efivars.js';
import { elapsedMs } from '../logger.js';

/**
 * What the snapshot engine needs: the home, its queues and events, the task reporter, box
 * lookup, stopping and starting a box (restore --stop-first), and the running QEMUs' sessions
 * for the live variants (live/).
 */
export type SnapshotDeps = HomeData & Effects & LiveDeps & {
  tasks: Tasks;
  boxes: Pick<BoxService, 'resolve'>;
  vms: Pick<VmControl, 'start' | 'stop'>;
};

export class SnapshotEngine {
  constructor(private readonly core: SnapshotDeps) {}

  tree(boxRef: string): SnapshotTree {
    const box = this.core.boxes.resolve(boxRef);
    return { boxId: box.id, currentId: box.currentSnapshotId, snapshots: treeOrder(this.core.store.listSnapshots(box.id).map(withSizeNow)) };
  }

  picture(boxRef: string, snapshotRef: string): SnapshotPicture {
    const box = this.core.boxes.resolve(boxRef);
    return readPicture(box, this.resolve(box, snapshotRef));
  }

  get(boxRef: string, snapshotRef: string): Snapshot {
    return withSizeNow(this.resolve(this.core.boxes.resolve(boxRef), snapshotRef));
  }

  private resolve(box: Box, ref: string): Snapshot {
    const snapshot = this.core.store.findSnapshot(box.id, ref);
    if (!snapshot) throw notFound(`The box ${JSON.stringify(box.name)} has no snapshot called ${JSON.stringify(ref)}. See its snapshots with "boxkeep snapshot list ${box.name}".`);
    return snapshot;
  }

  /** Runs work on the box's queue with a fresh copy of the box row, then announces the change. */
  private locked<T>(boxRef: string, work: (box: Box) => Promise<T>): Promise<T> {
    return this.lockedBox(boxRef, (box) => {
      assertNoUnfinishedWork(this.core, box);
      return work(box);
    });
  }

  /**
   * A removal may run beside a merge that is waiting for disk space (see waiting-merge.ts):
   * deleting other snapshots is how the user makes that space. Every other unfinished
   * operation, and a removal that touches the waiting merge's layers, is refused as usual.
   */
  private lockedForRemoval<T>(boxRef: string, snapshotRef: string, work: (box: Box, snapshot: Snapshot) => Promise<T>): Promise<T> {
    return this.lockedBox(boxRef, (box) => {
      const snapshot = this.resolve(box, snapshotRef);
      this.assertMayRemove(box, snapshot);
      return work(box, snapshot);
    });
  }

  private assertMayRemove(box: Box, snapshot: Snapshot): void {
    if (!removalMayRunBesideWaitingMerges(this.core, box, snapshot)) assertNoUnfinishedWork(this.core, box);
  }

  private lockedBox<T>(boxRef: string, work: (box: Box) => Promise<T>): Promise<T> {
    const { id } = this.core.boxes.resolve(boxRef);
    return this.core.locks.run(id, async () => {
      const box = this.core.store.getBox(id);
      if (!box) throw notFound(`The box was removed meanwhile.`);
      try {
        return await work(box);
      } finally {
        this.core.events.emit('snapshots:changed', { boxId: id });
        this.core.events.emit('boxes:changed', { boxId: id });
      }
    });
  }

  /** `auto`: the AutoProtect schedule takes it (electron/core/protect); only such snapshots are ever pruned. */
  create(input: ChannelInput<'snapshots:create'>, opts: { auto?: boolean } = {}): Promise<Snapshot> {
    return this.locked(input.box, (box) => this.createLocked(box, input.name, input.description ?? '', opts.auto ?? false));
  }

  /** Through the box's queue: a pin never lands on a snapshot a prune is removing at that moment. */
  pin(boxRef: string, snapshotRef: string, pinned: boolean): Promise<Snapshot> {
    return this.lockedBox(boxRef, async (box) => {
      const snapshot = this.resolve(box, snapshotRef);
      this.core.store.setSnapshotPinned(snapshot.id, pinned);
      return withSizeNow(this.core.store.getSnapshot(snapshot.id)!);
    });
  }

  private async createLocked(box: Box, name: string | undefined, description: string, auto = false): Promise<Snapshot> {
    const chosen = name ?? freeSnapshotName(timestampName(), (n) => this.core.store.snapshotNameTaken(box.id, n));
    if (this.core.store.snapshotNameTaken(box.id, chosen)) {
      throw alreadyExists(`The box ${JSON.stringify(box.name)} already has a snapshot called ${JSON.stringify(chosen)}; choose another name.`);
    }
    const id = newId();
    const live = isActive(box.status);
    if (box.status === 'stopping') throw invalidState(`The box ${JSON.stringify(box.name)} is stopping; try again when it has stopped.`);
    // Freezing a tampered live disk would record it as a good snapshot.
    verifyLiveDisk(this.core, box);
    requireSpace(this.core, `Taking the snapshot ${JSON.stringify(chosen)}`, OVERLAY_BYTES + varsBytes(box));
    const snapshot: Snapshot = {
      id, boxId: box.id, parentId: box.currentSnapshotId, name: chosen, description, createdAt: Date.now(),
      sizeOnDisk: 0, virtualSize: box.diskSize, live, taken: live ? 'crash-consistent' : 'stopped', diskPath: this.core.paths.snapshotDisk(box.id, id), hasPicture: false,
      pinned: false, auto,
    };
    const started = performance.now();
    const result = live ? await createLive(this.core, box, snapshot) : await createStopped(this.core, box, snapshot);
    this.core.logger.info('snapshot created', { op: 'snapshot-create', boxId: box.id, snapshotId: id, live, elapsed_ms: elapsedMs(started) });
    return withSizeNow(result);
  }

  update(input: ChannelInput<'snapshots:update'>): Promise<Snapshot> {
    return this.locked(input.box, async (box) => {
      const snapshot = this.resolve(box, input.snapshot);
      if (input.name !== undefined && this.core.store.snapshotNameTaken(box.id, input.name, snapshot.id)) {
        throw alreadyExists(`The box ${JSON.stringify(box.name)} already has a snapshot called ${JSON.stringify(input.name)}; choose another name.`);
      }
      this.core.store.updateSnapshot(snapshot.id, { name: input.name, description: input.description });
      return this.core.store.getSnapshot(snapshot.id)!;
    });
  }

  async restore(input: ChannelInput<'snapshots:restore'>): Promise<RestoreResult> {
    const before = this.core.boxes.resolve(input.box);
    // Before stopping the box: a restore refused (for unfinished work, for space) must not
    // have stopped it first. The queue checks the unfinished work again.
    assertNoUnfinishedWork(this.core, before);
    requireSpace(this.core, `Restoring ${JSON.stringify(this.resolve(before, input.snapshot).name)}`, (OVERLAY_BYTES + varsBytes(before)) * (input.snapshotCurrentFirst ? 2 : 1));
    const wasActive = isActive(before.status);
    if (wasActive) {
      if (!input.stopFirst) {
        throw invalidState(`The box ${JSON.stringify(before.name)} is ${before.status}; stop it first ("boxkeep box stop ${before.name}"), or pass --stop-first to stop it as part of the restore.`);
      }
      await this.core.vms.stop(before.id, { force: false });
    }
    const result = await this.locked(input.box, async (box) => {
      if (isBusy(box.status)) {
        throw invalidState(`The box ${JSON.stringify(box.name)} is ${box.status}; stop it first ("boxkeep box stop ${box.name}").`);
      }
      const target = this.resolve(box, input.snapshot);
      verifyBoxChain(this.core, box, { snapshotId: target.id });
      let savedSnapshot: Snapshot | null = null;
      if (input.snapshotCurrentFirst) {
        // Said without naming the target: that snapshot may be renamed or deleted later, and the
        // saved one's place in the tree already shows where it came from.
        savedSnapshot = await this.createLocked(box, undefined, 'Saved automatically before a restore.');
        box = this.core.store.getBox(box.id)!;
      }
      const started = performance.now();
      await this.core.tasks.run('snapshot-restore', box.id, `Restoring ${target.name}`, () => restoreStopped(this.core, box, target));
      this.core.logger.info('snapshot restored', { op: 'snapshot-restore', boxId: box.id, snapshotId: target.id, elapsed_ms: elapsedMs(started) });
      return { box: this.core.store.getBox(box.id)!, snapshot: target, savedSnapshot };
    });
    if (wasActive && input.startAfter) result.box = await this.core.vms.start(result.box.id);
    return result;
  }

  remove(boxRef: string, snapshotRef: string): Promise<RemoveSnapshotResult> {
    return this.lockedForRemoval(boxRef, snapshotRef, (box, snapshot) => {
      refuseIfLinked(this.core, `The snapshot ${JSON.stringify(snapshot.name)} of the box ${JSON.stringify(box.name)}`, [snapshot.id]);
      return this.removeLocked(box, snapshot);
    });
  }

  /**
   * Retention's removal: the normal one, but only of an automatic snapshot that is still not
   * pinned, not the current one and no linked clone's base when the box's queue reaches it (a
   * pin, a restore or a clone may have come between the plan and now); null when it is kept
   * after all, or already gone (another prune of the same plan, or the user's remove, got there
   * first). By id only, never by name.
   */
  prune(boxId: string, snapshotId: string): Promise<RemoveSnapshotResult | null> {
    return this.lockedBox(boxId, async (box) => {
      const snapshot = this.core.store.getSnapshot(snapshotId);
      if (!snapshot || snapshot.boxId !== box.id || !snapshot.auto || snapshot.pinned || snapshot.id === box.currentSnapshotId) return null;
      if (this.core.store.linkedClones([snapshot.id]).length > 0) return null;
      this.assertMayRemove(box, snapshot);
      return this.removeLocked(box, snapshot);
    });
  }

  private async removeLocked(box: Box, snapshot: Snapshot): Promise<RemoveSnapshotResult> {
    const intent = this.planRemove(box, snapshot);
    const runningDependsOnIt = isActive(box.status) && this.inLiveChain(box, snapshot);
    if (box.status === 'stopping') throw invalidState(`The box ${JSON.stringify(box.name)} is stopping; try again when it has stopped.`);
    // Every chain the merge reads or writes, down to the image: a truncated or swapped layer
    // would otherwise be merged (zeros, or a host file) into what survives.
    const tops: ChainTop[] = intent.dependents.length === 0 ? [{ snapshotId: snapshot.id }] : intent.dependents.map((d) => (d.snapshotId ? { snapshotId: d.snapshotId } : 'live'));
    for (const top of tops) verifyBoxChain(this.core, box, top);
    const needed = await removalNeeds(intent);
    requireSpace(this.core, `Deleting the snapshot ${JSON.stringify(snapshot.name)}`, needed);
    const filesBefore = [snapshot.diskPath, ...intent.dependents.map((d) => d.path)];
    const bytesBefore = filesBefore.reduce((sum, f) => sum + sizeOnDisk(f), 0);
    const started = performance.now();
    await this.core.tasks.run('snapshot-remove', box.id, `Deleting ${snapshot.name}`, (task) =>
      runningDependsOnIt
        ? removeLive(this.core, box, intent, (f) => task.progress(f))
        : removeOffline(this.core, intent, (f) => task.progress(f), needed));
    const bytesAfter = intent.dependents.reduce((sum, d) => sum + sizeOnDisk(d.path), 0);
    this.core.logger.info('snapshot removed', { op: 'snapshot-remove', boxId: box.id, snapshotId: snapshot.id, mode: intent.mode, elapsed_ms: elapsedMs(started) });
    return {
      removedId: snapshot.id,
      freedBytes: Math.max(0, bytesBefore - bytesAfter),
      reparentedIds: intent.dependents.flatMap((d) => (d.snapshotId ? [d.snapshotId] : [])),
      nowReparented: intent.dependents.some((d) => d.snapshotId === null),
    };
  }

  /** Is this snapshot the current one or one of its ancestors (i.e. read by the live disk)? */
  private inLiveChain(box: Box, snapshot: Snapshot): boolean {
    for (let id = box.currentSnapshotId; id; id = this.core.store.getSnapshot(id)?.parentId ?? null) {
      if (id === snapshot.id) return true;
    }
    return false;
  }

  /**
   * Chooses how to merge: with one dependent, commit it into the removed snapshot and move
   * that file into its place when the dependent holds less data than the snapshot (commit
   * costs what the dependent holds, rebase what the snapshot holds); otherwise rebase.
   */
  private planRemove(box: Box, snapshot: Snapshot): SnapshotRemoveIntent {
    const { store } = this.core;
    const dependents: Dependent[] = store.children(snapshot.id).map((c) => ({ path: c.diskPath, snapshotId: c.id }));
    if (box.currentSnapshotId === snapshot.id) dependents.push({ path: box.liveDiskPath, snapshotId: null });
    const parent = snapshot.parentId ? store.getSnapshot(snapshot.parentId) : null;
    const parentPath = parent ? parent.diskPath : chainRoot(this.core, box);
    let mode: RemoveMode = 'rebase';
    if (dependents.length === 0) mode = 'delete';
    else if (dependents.length === 1 && !isActive(box.status) && sizeOnDisk(dependents[0]!.path) <= sizeOnDisk(snapshot.diskPath)) mode = 'commit';
    return {
      id: newId(), op: 'snapshot-remove', startedAt: Date.now(), boxId: box.id, snapshotId: snapshot.id,
      snapshotPath: snapshot.diskPath, parentPath, parentId: snapshot.parentId, mode, dependents,
    };
  }
}


/**
 * A frozen disk's blocks settle after it is frozen (a live snapshot's file was being written
 * with delayed allocation a moment before): the size shown is read from the file each time.
 * Its picture is part of what the snapshot takes (and what deleting it frees).
 */
function withSizeNow(snapshot: Snapshot): Snapshot {
  const now = sizeOnDisk(snapshot.diskPath);
  const picture = snapshot.hasPicture ? sizeOnDisk(picturePath(snapshot.diskPath)) : 0;
  return now > 0 ? { ...snapshot, sizeOnDisk: now + picture } : snapshot;
}
