// The snapshot engine: the public verbs on a box's snapshot tree. Each verb validates,
// takes the box's queue, and runs the steps in steps.ts (stopped box) or their live
// variants in live/ (running box).
import { alreadyExists, BoxkeepError, invalidState, notFound } from '../../../shared/errors.js';
import { refusal, type IncomingMemory } from '../vm/memory-load.js';
import { freeSnapshotName, timestampName } from '../../../shared/names.js';
import type { ChannelInput } from '../../../shared/channels.js';
import { isActive, isBusy, type Box, type RemoveSnapshotResult, type RestoreResult, type Snapshot, type SnapshotPicture, type SnapshotTree } from '../../../shared/types.js';
import type { BoxService } from '../boxes/service.js';
import type { Effects, HomeData } from '../deps.js';
import type { Tasks } from '../tasks.js';
import type { VmControl } from '../vm/control.js';
import { sizeOnDisk } from '../fsutil.js';
import { memoryPath } from '../paths.js';
import { newId } from '../ids.js';
import { OVERLAY_BYTES, removalNeeds, requireSpace } from '../space.js';
import { chainRoot, verifyBoxChain, verifyLiveDisk, verifyLiveMergeLayers, verifyNewSnapshotPlace, type ChainTop } from './box-chain.js';
import { refuseIfLinked } from '../clone/linked.js';
import { assertNoUnfinishedWork, removalMayRunBesideWaitingMerges } from './waiting-merge.js';
import type { Dependent, RemoveMode, SnapshotRemoveIntent } from './intents.js';
import { createLive, type LiveDeps } from './live/create.js';
import { readPicture } from './picture.js';
import { stateFileProblem } from './resumable.js';
import { snapshotTree, withSizeNow } from './read.js';
import { planRunning, removeRunning } from './live/commit.js';
import { readByQemu } from './live/remove.js';
import { createStopped, removeOffline, restoreStopped } from './steps.js';
import { snapshotNeeds, varsBytes } from './efivars.js';
import { elapsedMs } from '../logger.js';

/**
 * What the snapshot engine needs: the home, its queues and events, the task reporter, box
 * lookup, stopping and starting a box (restore --stop-first), and the running QEMUs' sessions
 * for the live variants (live/).
 */
export type SnapshotDeps = HomeData & Effects & LiveDeps & {
  tasks: Tasks;
  boxes: Pick<BoxService, 'resolve'>;
  vms: Pick<VmControl, 'start' | 'stop' | 'memoryMismatch'>;
};

export class SnapshotEngine {
  constructor(private readonly core: SnapshotDeps) {}

  tree(boxRef: string): SnapshotTree {
    return snapshotTree(this.core, boxRef);
  }

  picture(boxRef: string, snapshotRef: string): SnapshotPicture {
    const box = this.core.boxes.resolve(boxRef);
    return readPicture(box, this.resolve(box, snapshotRef));
  }

  get(boxRef: string, snapshotRef: string): Snapshot {
    return withSizeNow(this.core.store, this.resolve(this.core.boxes.resolve(boxRef), snapshotRef));
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

  /**
   * `memory`: a running box's memory too (restored running). `auto`: the AutoProtect schedule
   * takes it (electron/core/protect); only such snapshots are ever pruned, and they keep the disk
   * only (an hourly RAM-sized file would fill the disk).
   */
  create(input: ChannelInput<'snapshots:create'>, opts: { auto?: boolean; /** Asked inside the box's queue, first: a throw skips the snapshot (AutoProtect's "still due?"). */ when?: (box: Box) => void } = {}): Promise<Snapshot> {
    return this.locked(input.box, (box) => {
      opts.when?.(box);
      return this.createLocked(box, input.name, input.description ?? '', input.memory ?? false, opts.auto ?? false);
    });
  }

  /** Through the box's queue: a pin never lands on a snapshot a prune is removing at that moment. */
  pin(boxRef: string, snapshotRef: string, pinned: boolean): Promise<Snapshot> {
    return this.lockedBox(boxRef, async (box) => {
      const snapshot = this.resolve(box, snapshotRef);
      this.core.store.setSnapshotPinned(snapshot.id, pinned);
      return withSizeNow(this.core.store, this.core.store.getSnapshot(snapshot.id)!);
    });
  }

  private async createLocked(box: Box, name: string | undefined, description: string, withMemory = false, auto = false): Promise<Snapshot> {
    const chosen = name ?? freeSnapshotName(timestampName(), (n) => this.core.store.snapshotNameTaken(box.id, n));
    if (this.core.store.snapshotNameTaken(box.id, chosen)) {
      throw alreadyExists(`The box ${JSON.stringify(box.name)} already has a snapshot called ${JSON.stringify(chosen)}; choose another name.`);
    }
    const id = newId();
    const live = isActive(box.status);
    if (box.status === 'stopping') throw invalidState(`The box ${JSON.stringify(box.name)} is stopping; try again when it has stopped.`);
    if (withMemory) assertMemoryPossible(box);
    // Freezing a tampered live disk would record it as a good snapshot.
    verifyLiveDisk(this.core, box);
    verifyNewSnapshotPlace(this.core, box, id, chosen);
    requireSpace(this.core, `Taking the snapshot ${JSON.stringify(chosen)}${withMemory ? ' with memory' : ''}`, snapshotNeeds(box, withMemory));
    const snapshot: Snapshot = {
      id, boxId: box.id, parentId: box.currentSnapshotId, name: chosen, description, createdAt: Date.now(),
      sizeOnDisk: 0, virtualSize: box.diskSize, live, taken: live ? 'crash-consistent' : 'stopped', diskPath: this.core.paths.snapshotDisk(box.id, id), hasPicture: false,
      pinned: false, auto,
    };
    const started = performance.now();
    const result = live ? await createLive(this.core, box, snapshot, { memory: withMemory }) : await createStopped(this.core, box, snapshot);
    this.core.logger.info('snapshot created', { op: 'snapshot-create', boxId: box.id, snapshotId: id, live, taken: result.taken, elapsed_ms: elapsedMs(started) });
    return withSizeNow(this.core.store, result);
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
    const chosen = this.resolve(before, input.snapshot);
    requireSpace(this.core, `Restoring ${JSON.stringify(chosen.name)}`, (OVERLAY_BYTES + varsBytes(before)) * (input.snapshotCurrentFirst ? 2 : 1));
    // Refused before the box is stopped or its disk replaced: the state must load into the box as it is now.
    const memory = chosen.memory && !input.diskOnly ? await this.incomingMemory(before, chosen) : null;
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
    if (memory) result.box = await this.resumeFromMemory(result.box, memory);
    else if (wasActive && input.startAfter) result.box = await this.core.vms.start(result.box.id);
    return result;
  }

  /** The snapshot's memory state, checked to load into this box now; else a refusal offering the disk-only restore. */
  private async incomingMemory(box: Box, snapshot: Snapshot): Promise<IncomingMemory> {
    const facts = snapshot.memory!;
    const file = memoryPath(snapshot.diskPath);
    // The size costs nothing to check here; the bytes are checked as they go into QEMU (memory-load.ts).
    const why = stateFileProblem(snapshot, true) ?? (await this.core.vms.memoryMismatch(box.id, facts));
    if (why) throw refusal(box.name, snapshot.name, why);
    return { file, facts, snapshotName: snapshot.name };
  }

  /** After the disk restore: the machine resumes where the snapshot left it. */
  private async resumeFromMemory(box: Box, memory: IncomingMemory): Promise<Box> {
    const started = performance.now();
    try {
      const running = await this.core.vms.start(box.id, { memory });
      this.core.logger.info('memory restored', { op: 'snapshot-restore', boxId: box.id, bytes: memory.facts.size, elapsed_ms: elapsedMs(started) });
      return running;
    } catch (err) {
      const e = err instanceof BoxkeepError ? err : new BoxkeepError('Vm', String((err as Error).message ?? err));
      throw new BoxkeepError(e.code, `${e.message} The disk was restored to ${JSON.stringify(memory.snapshotName)}; the box did not start (starting it now boots from that disk).`, { cause: err });
    }
  }

  /** `when`: asked inside the box's queue, first: a throw keeps the snapshot (a failed clone's own, clone/service.ts). */
  remove(boxRef: string, snapshotRef: string, opts: { when?: (box: Box, snapshot: Snapshot) => void } = {}): Promise<RemoveSnapshotResult> {
    return this.lockedForRemoval(boxRef, snapshotRef, (box, snapshot) => {
      opts.when?.(box, snapshot);
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
    // would otherwise be merged (zeros, or a host file) into what survives. The layer a running
    // QEMU merges into reads its chain through what QEMU opened: only it and the removed layer.
    const qemuReads = runningDependsOnIt ? readByQemu(this.core, box, intent) : null;
    const tops: ChainTop[] = intent.dependents.length === 0 ? [{ snapshotId: snapshot.id }] : intent.dependents.map((d) => (d.snapshotId ? { snapshotId: d.snapshotId } : 'live'));
    tops.forEach((top, i) => {
      if (intent.dependents[i] === qemuReads) verifyLiveMergeLayers(this.core, box, top, snapshot);
      else verifyBoxChain(this.core, box, top);
    });
    const running = qemuReads ? planRunning(this.core, box, intent, qemuReads) : null;
    const needed = running ? running.needed : removalNeeds(intent);
    requireSpace(this.core, `Deleting the snapshot ${JSON.stringify(snapshot.name)}`, needed);
    // Its folder goes whole: the memory state is freed with the disk.
    const filesBefore = [snapshot.diskPath, memoryPath(snapshot.diskPath), ...intent.dependents.map((d) => d.path)];
    const bytesBefore = filesBefore.reduce((sum, f) => sum + sizeOnDisk(f), 0);
    const started = performance.now();
    try {
      await this.core.tasks.run('snapshot-remove', box.id, `Deleting ${snapshot.name}`, (task) =>
        running
          ? removeRunning(this.core, box, intent, running, (f) => task.progress(f))
          : removeOffline(this.core, intent, (f) => task.progress(f), needed));
    } finally {
      // What it put in the trash is freed after it, in the background (trash.ts).
      this.core.trash?.empty();
    }
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


/** Only a running guest has memory worth keeping; a paused one would be resumed by QEMU 7.2's background snapshot. */
function assertMemoryPossible(box: Box): void {
  if (box.status === 'running') return;
  const name = JSON.stringify(box.name);
  if (box.status === 'paused') throw invalidState(`The box ${name} is paused; resume it to take a snapshot with memory ("boxkeep box resume ${box.name}"), or take one without (--no-memory).`);
  throw invalidState(`The box ${name} is ${box.status}: only a running box has memory to keep. Take the snapshot without --memory.`);
}
