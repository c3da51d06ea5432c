// Clones: a new box from any snapshot of another, or from its current state. Linked: the
// clone's live disk is an empty overlay on the source's frozen snapshot disk (O(1); the
// snapshot is then shared, see linked.ts). Full: the chain copied (a safe `qemu-img rebase`) into
// one layer on the image (or standing alone for a box made from installer media), so nothing
// of the source box is needed afterwards. Cloning "now" takes a snapshot first (a live one
// when the box runs: the engine decides) when the clone needs a frozen layer, removed again if
// the clone fails; a full clone of a stopped box copies its live disk directly. The clone gets its own id, MAC address and
// cloud-init instance id (the seed is made for its id), and a name "<source> clone".
import { alreadyExists, invalidState, notFound } from '../../../shared/errors.js';
import type { ChannelInput } from '../../../shared/channels.js';
import { freeName } from '../../../shared/names.js';
import { isBusy, type Box, type Snapshot } from '../../../shared/types.js';
import type { BoxService } from '../boxes/service.js';
import { writeSeed } from '../cloudinit/seed.js';
import { withSshForward } from '../cloudinit/settings.js';
import type { Effects, HomeData } from '../deps.js';
import { readQcow2HeaderSync } from '../disk/qcow2.js';
import { createOverlay, rebase } from '../disk/qemu-img.js';
import { mkdirDurable, removeDurable, sizeOnDisk } from '../fsutil.js';
import { newId, newMacAddress } from '../ids.js';
import { clearIntent } from '../journal.js';
import { HOME_KEY } from '../mutex.js';
import { expectedChain, verifyBoxChain } from '../snapshots/box-chain.js';
import type { SnapshotEngine } from '../snapshots/engine.js';
import { OVERLAY_BYTES, requireSpace } from '../space.js';
import type { Tasks } from '../tasks.js';
import { copyVars, findOvmf } from '../vm/firmware.js';
import { boxClone, type BoxCloneIntent } from './intents.js';
import { assertNoUnfinishedWork } from '../snapshots/waiting-merge.js';

export type CloneDeps = HomeData & Effects & { tasks: Tasks; boxes: Pick<BoxService, 'resolve'>; snapshots: Pick<SnapshotEngine, 'create' | 'remove'> };

export class CloneService {
  constructor(private readonly core: CloneDeps) {}

  async clone(input: ChannelInput<'boxes:clone'>): Promise<Box> {
    const { store } = this.core;
    const source = this.core.boxes.resolve(input.box);
    const full = input.full ?? false;
    refuseTaken(this.core, input.name);
    let fromId: string | null = null;
    let taken: Snapshot | null = null;
    if (input.from !== undefined) {
      const s = store.findSnapshot(source.id, input.from);
      if (!s) throw notFound(`The box ${JSON.stringify(source.name)} has no snapshot called ${JSON.stringify(input.from)}. See them with "boxkeep snapshot list ${source.name}".`);
      fromId = s.id;
    } else if (!full || isBusy(source.status)) {
      // A linked clone needs a frozen layer to stand on, and a running box's Now is frozen only
      // by a snapshot: taken through the engine (live when the box runs), kept in the source.
      taken = await this.core.snapshots.create({ box: source.id, name: freeName(`for ${input.name ?? `${source.name} clone`}`.slice(0, 200).trimEnd(), (n) => store.snapshotNameTaken(source.id, n)) });
      fromId = taken.id;
    }
    try {
      return await this.core.locks.run(HOME_KEY, () => this.core.locks.run(source.id, () =>
        this.core.tasks.run('box-clone', source.id, `Cloning ${source.name}`, (task) => this.cloneLocked(source.id, fromId, full, input.name, (f) => task.progress(f)))));
    } catch (err) {
      if (taken) await this.dropTaken(source.id, taken);
      throw err;
    }
  }

  /**
   * The snapshot a failed clone took for itself serves nothing: it is removed (merged into what
   * reads it, as any removal), unless something came to stand on it meanwhile (a snapshot taken
   * after it, a clone linked to it) or the user pinned it. A removal that fails keeps it, said
   * in the log: the clone's own error is what the user must see.
   */
  private async dropTaken(sourceId: string, taken: Snapshot): Promise<void> {
    const { store, logger } = this.core;
    if (!store.getSnapshot(taken.id)) return;
    // Decided once the removal has the box's queue: a pin, a snapshot or a clone queued behind
    // the failed clone runs before the removal, and must be seen.
    const standsOn = (): string | null => {
      if (store.getSnapshot(taken.id)?.pinned) return 'it was pinned';
      if (store.listSnapshots(sourceId).some((s) => s.parentId === taken.id)) return 'a snapshot was taken on top of it';
      if (store.listBoxes().some((b) => b.linkedSnapshotId === taken.id)) return 'a linked clone stands on it';
      return null;
    };
    try {
      await this.core.snapshots.remove(sourceId, taken.id, { when: () => {
        const why = standsOn();
        if (why) throw invalidState(`kept: ${why}`);
      } });
      logger.info('snapshot of a failed clone removed', { op: 'box-clone', boxId: sourceId, snapshotId: taken.id });
    } catch (err) {
      logger.warn('snapshot of a failed clone kept', { op: 'box-clone', boxId: sourceId, snapshotId: taken.id, error: String((err as Error).message ?? err) });
    }
  }

  private async cloneLocked(sourceId: string, fromId: string | null, full: boolean, wantName: string | undefined, onProgress: (f: number) => void): Promise<Box> {
    const { store, paths } = this.core;
    const source = store.getBox(sourceId);
    if (!source) throw notFound('The box to clone was removed meanwhile.');
    const from: Snapshot | null = fromId === null ? null : store.getSnapshot(fromId);
    if (fromId !== null && !from) throw notFound(`The snapshot to clone from was removed meanwhile.`);
    if (!from && isBusy(source.status)) throw invalidState(`The box ${JSON.stringify(source.name)} started meanwhile; clone it again.`);
    // An unfinished operation (an unsettled live snapshot, a merge waiting for space) may leave
    // the files a step behind what the box reads: copying them could miss the guest's writes.
    assertNoUnfinishedWork(this.core, source);
    // Checked again under the home lock: another clone or import may have taken it since.
    refuseTaken(this.core, wantName);
    const name = wantName ?? freeName(`${source.name} clone`, (n) => store.boxNameTaken(n));
    // Every layer the clone will read (linked) or the copy reads (full) is Boxkeep's own.
    verifyBoxChain(this.core, source, from ? { snapshotId: from.id } : 'live');
    const top = from ? from.diskPath : source.liveDiskPath;
    const virtualSize = readQcow2HeaderSync(top).header.virtualSize;
    const image = source.imageId === null ? null : paths.imageDisk(source.imageId);
    const ovmf = source.firmware === 'uefi' ? findOvmf() : null;
    const copied = full ? expectedChain(this.core, source, from ? { snapshotId: from.id } : 'live').filter((l) => l.path !== image).reduce((n, l) => n + sizeOnDisk(l.path), 0) : 0;
    requireSpace(this.core, `Cloning the box ${JSON.stringify(source.name)}`, copied + OVERLAY_BYTES + (ovmf?.varsSize ?? 0));
    const cloudInit = store.cloudInitRecord(source.id);
    // The source's forwards would take the same host ports: the clone starts with none (an ssh
    // forward on a free port when it has cloud-init, as a new box gets).
    const forwards = cloudInit && source.network === 'nat' ? await withSshForward([], store.listBoxes()) : [];

    const boxId = newId();
    const intent: BoxCloneIntent = { id: newId(), op: 'box-clone', startedAt: Date.now(), boxId, sourceBoxId: source.id };
    const onFailure = () => {
      if (store.getBox(boxId)) return;
      removeDurable(paths.boxDir(boxId));
      clearIntent(paths.homeJournal, intent.id);
    };
    const box = await boxClone.journaled(paths.homeJournal, intent, async () => {
      for (const dir of [paths.disksDir(boxId), paths.snapshotsDir(boxId), paths.boxJournal(boxId)]) mkdirDurable(dir);
      if (ovmf) copyVars(from ? paths.snapshotEfiVars(source.id, from.id) : paths.efiVars(source.id), paths.efiVars(boxId), ovmf.varsSize);
      boxClone.crash('after-vars');
      await createOverlay(paths.liveDisk(boxId), top, virtualSize);
      // A full clone: the overlay takes in everything its chain holds above the image (safe
      // rebase copies what differs), then backs onto the image alone. Not `convert -B`: that
      // copies only what the top layer itself holds.
      if (full) await rebase(paths.liveDisk(boxId), image, { onProgress });
      boxClone.crash('after-disk');
      if (cloudInit) await writeSeed(paths.seedIso(boxId), boxId, cloudInit);
      boxClone.crash('after-seed');
      store.transaction(() => {
        store.insertBox({
          id: boxId, name, imageId: source.imageId, status: 'configured', failureReason: null, cpus: source.cpus, memoryMib: source.memoryMib,
          diskSize: virtualSize, currentSnapshotId: null, createdAt: Date.now(), installerImageId: source.installerImageId, network: source.network,
          forwards, macAddress: newMacAddress(), stopTimeoutSec: source.stopTimeoutSec, cloudInit, display: source.display,
          firmware: source.firmware, installedFrom: source.installedFrom, linkedSnapshotId: full ? null : from!.id,
        });
        // The clone's chain as its records now say, checked before the row may stand.
        verifyBoxChain(this.core, store.getBox(boxId)!, 'live');
      });
      boxClone.crash('after-row');
      return store.getBox(boxId)!;
    }, { onFailure });
    this.core.logger.info('box cloned', { op: 'box-clone', boxId, sourceBoxId: source.id, snapshotId: from?.id, full });
    this.core.events.emit('boxes:changed', { boxId });
    return box;
  }
}

/** A name asked for that a box already has: refused (never suffixed, unlike the default name). */
function refuseTaken(core: HomeData, wantName: string | undefined): void {
  if (wantName !== undefined && core.store.boxNameTaken(wantName)) {
    throw alreadyExists(`A box called ${JSON.stringify(wantName)} already exists; give the clone another name.`);
  }
}
