// Boxes: a live disk (an overlay on the image or on the current snapshot) plus settings.
import fs from 'node:fs';
import { alreadyExists, invalidArgument, invalidState, notFound } from '../../../shared/errors.js';
import type { ChannelInput } from '../../../shared/channels.js';
import { isBusy, type Box, type BoxDetail, type DiskLayer, type DisplayMode, type Image, type Snapshot, type UnsettledSnapshot } from '../../../shared/types.js';
import type { Effects, HomeData } from '../deps.js';
import { holdsData } from '../disk/allocated.js';
import { walkChain } from '../disk/chain.js';
import { createDisk, createOverlay } from '../disk/qemu-img.js';
import { mkdirDurable, noRoomForRecord, removeDurable, sizeOnDisk } from '../fsutil.js';
import { newId, newMacAddress } from '../ids.js';
import type { ImageService } from '../images/service.js';
import { HOME_KEY } from '../mutex.js';
import { OVERLAY_BYTES, requireSpace } from '../space.js';
import { parseForwards } from '../../../shared/forwards.js';
import { boxCreate, boxRemove, type BoxCreateIntent, type BoxRemoveIntent } from './intents.js';
import { updateBox } from './update.js';
import { resolveBox } from './resolve.js';
import { cloudInitRecord, withSshForward } from '../cloudinit/settings.js';
import { writeSeed } from '../cloudinit/seed.js';
import { copyVars, findOvmf } from '../vm/firmware.js';
import { refuseIfLinked } from '../clone/linked.js';
import { snapshotIdsBelow } from '../snapshots/box-chain.js';


const GiB = 1024 ** 3;
export const DEFAULT_MEMORY_MIB = 256;
export const DEFAULT_CPUS = 1;
/** How long a graceful stop waits for the guest to power off before cutting it off. */
export const DEFAULT_STOP_TIMEOUT_SEC = 20;

/** What the box service needs: the home, its queues and events, image lookup, and which live snapshot is unsettled (its detail says so). */
export type BoxDeps = HomeData & Effects & { images: Pick<ImageService, 'resolve'>; unsettled: { of(boxId: string): UnsettledSnapshot | null } };

export class BoxService {
  constructor(private readonly core: BoxDeps) {}

  list(): Box[] {
    return this.core.store.listBoxes();
  }

  resolve(ref: string): Box {
    return resolveBox(this.core.store, ref);
  }

  async detail(ref: string): Promise<BoxDetail> {
    const box = this.resolve(ref);
    const { store } = this.core;
    const image = box.imageId === null ? null : store.getImage(box.imageId)!;
    const snapshots = store.listSnapshots(box.id);
    // Its own snapshots, and a linked clone's base: the source box's snapshots it reads through.
    const below = box.linkedSnapshotId === null ? [] : snapshotIdsBelow(this.core, box).map((id) => store.getSnapshot(id)).filter((s): s is Snapshot => s !== null && s.boxId !== box.id);
    const byPath = new Map([...snapshots, ...below].map((s) => [s.diskPath, s]));
    const imagePath = box.imageId === null ? null : this.core.paths.imageDisk(box.imageId);
    const layers = await walkChain(box.liveDiskPath);
    const chain: DiskLayer[] = layers.map((layer, i) => {
      const snapshot = i === 0 ? undefined : byPath.get(layer.path);
      // Only the image's own file is the image; a file no record names is 'unknown'.
      const kind = i === 0 ? 'live' : snapshot ? 'snapshot' : layer.path === imagePath || layer.path === image?.path ? 'image' : 'unknown';
      const of = snapshot && snapshot.boxId !== box.id ? store.getBox(snapshot.boxId) : null;
      return {
        kind, path: layer.path, snapshotId: snapshot?.id ?? null, imageId: kind === 'image' ? (image?.id ?? null) : null,
        snapshotName: snapshot?.name ?? null, ofBox: of ? { id: of.id, name: of.name } : null,
        virtualSize: layer.header.virtualSize, sizeOnDisk: layer.sizeOnDisk, backingFile: layer.header.backingFile,
      };
    });
    // The same measure as remove()'s freedBytes, so "frees about X" and "freed X" agree.
    const spaceUsed = folderSize(this.core.paths.boxDir(box.id));
    const nowChanged = isBusy(box.status) || holdsData(box.liveDiskPath);
    // The live disk's header is the truth about its size (the row follows it, see update.ts).
    const diskSize = chain[0]?.virtualSize ?? box.diskSize;
    return { ...box, diskSize, image, chain, snapshotCount: snapshots.length, spaceUsed, nowChanged, unsettled: this.core.unsettled.of(box.id) };
  }

  create(input: ChannelInput<'boxes:create'>): Promise<Box> {
    return this.core.locks.run(HOME_KEY, async () => {
      const { store, paths } = this.core;
      if (store.boxNameTaken(input.name)) {
        throw alreadyExists(`A box called ${JSON.stringify(input.name)} already exists; choose another name.`);
      }
      const image = this.core.images.resolve(input.image);
      const installer = image.kind === 'installer';
      const diskSize = boxDiskSize(image, input.diskSizeGiB);
      const firmware = input.firmware ?? 'bios';
      // Before anything is written: a missing ovmf package leaves nothing behind.
      const ovmf = firmware === 'uefi' ? findOvmf() : null;
      requireSpace(this.core, `Creating the box ${JSON.stringify(input.name)}`, OVERLAY_BYTES + (ovmf?.varsSize ?? 0));
      // Before the intent: a refusal here leaves nothing behind, and the clear password is
      // gone (hashed) before anything is written.
      const cloudInit = await cloudInitRecord(input);
      const network = input.network ?? 'nat';
      const given = parseForwards(input.forwards ?? []);
      const forwards = cloudInit && network === 'nat' ? await withSshForward(given, store.listBoxes()) : given;
      const boxId = newId();
      const intent: BoxCreateIntent = { id: newId(), op: 'box-create', startedAt: Date.now(), boxId };
      const box = await boxCreate.journaled(paths.homeJournal, intent, async () => {
        for (const dir of [paths.disksDir(boxId), paths.snapshotsDir(boxId), paths.boxJournal(boxId)]) mkdirDurable(dir);
        // Before the live disk, which recovery takes as the sign of a whole box (boxes/settle.ts).
        if (ovmf) copyVars(ovmf.varsTemplate, paths.efiVars(boxId), ovmf.varsSize);
        boxCreate.crash('after-vars');
        // From installer media: a blank disk that stands alone, the root of the box's tree.
        if (installer) await createDisk(paths.liveDisk(boxId), diskSize);
        else await createOverlay(paths.liveDisk(boxId), image.path, diskSize);
        boxCreate.crash('after-overlay');
        // Before the row: a box row with cloud-init always has its whole seed.
        if (cloudInit) await writeSeed(paths.seedIso(boxId), boxId, cloudInit);
        boxCreate.crash('after-seed');
        const row = {
          id: boxId, name: input.name, imageId: installer ? null : image.id, status: 'configured' as const, failureReason: null,
          cpus: input.cpus ?? DEFAULT_CPUS, memoryMib: input.memoryMib ?? DEFAULT_MEMORY_MIB, diskSize,
          currentSnapshotId: null, createdAt: Date.now(), installerImageId: installer ? image.id : null,
          network, forwards, macAddress: newMacAddress(),
          stopTimeoutSec: input.stopTimeoutSec ?? DEFAULT_STOP_TIMEOUT_SEC, cloudInit,
          display: input.display ?? defaultDisplay(image),
          firmware, installedFrom: installer ? image.name : null,
        };
        store.insertBox(row);
        boxCreate.crash('after-row');
        return store.getBox(boxId)!;
      });
      this.core.logger.info('box created', { op: 'box-create', boxId, imageId: image.id });
      this.core.events.emit('boxes:changed', { boxId });
      return box;
    });
  }

  async rename(ref: string, name: string): Promise<Box> {
    const box = this.resolve(ref);
    return this.core.locks.run(box.id, async () => {
      if (this.core.store.boxNameTaken(name, box.id)) {
        throw alreadyExists(`A box called ${JSON.stringify(name)} already exists; choose another name.`);
      }
      this.core.store.renameBox(box.id, name);
      this.core.events.emit('boxes:changed', { boxId: box.id });
      return this.core.store.getBox(box.id)!;
    });
  }

  /** New settings; a running box gets them at its next start (see update.ts). */
  async update(input: ChannelInput<'boxes:update'>): Promise<Box> {
    const box = this.resolve(input.box);
    return this.core.locks.run(box.id, () => updateBox(this.core, box, input));
  }

  async remove(ref: string): Promise<{ removedId: string; removedName: string; freedBytes: number }> {
    const box = this.resolve(ref);
    return this.core.locks.run(HOME_KEY, () => this.core.locks.run(box.id, async () => {
      const { store, paths } = this.core;
      const fresh = store.getBox(box.id);
      if (!fresh) throw notFound(`The box ${JSON.stringify(box.name)} was removed meanwhile.`);
      if (isBusy(fresh.status)) {
        throw invalidState(`The box ${JSON.stringify(fresh.name)} is ${fresh.status}; stop it first ("boxkeep box stop ${fresh.name}").`);
      }
      refuseIfLinked(this.core, `The box ${JSON.stringify(fresh.name)}`, store.listSnapshots(box.id).map((s) => s.id));
      const freedBytes = folderSize(paths.boxDir(box.id));
      const intent: BoxRemoveIntent = { id: newId(), op: 'box-remove', startedAt: Date.now(), boxId: box.id };
      if (noRoomForRecord(paths.root)) {
        // A full disk: the files go first (freeing space), then the row. A crash between leaves
        // a row whose folder is gone, which recovery's reconcile removes; no record is needed.
        removeDurable(paths.boxDir(box.id));
        store.deleteBox(box.id);
      } else await boxRemove.journaled(paths.homeJournal, intent, async () => {
        store.deleteBox(box.id);
        boxRemove.crash('after-row');
        removeDurable(paths.boxDir(box.id));
        boxRemove.crash('after-delete');
      });
      this.core.logger.info('box removed', { op: 'box-remove', boxId: box.id });
      this.core.events.emit('boxes:changed', { boxId: box.id });
      return { removedId: box.id, removedName: fresh.name, freedBytes };
    }));
  }
}

/** The box's disk size in bytes: at least its image's; a box from installer media must be told. */
function boxDiskSize(image: Image, giB: number | undefined): number {
  if (image.kind === 'installer') {
    if (giB === undefined) {
      throw invalidArgument(`The image ${JSON.stringify(image.name)} is installer media (an ISO), not a disk: a box made from it gets a blank disk, so give its size, e.g. --disk-size 20 (GiB).`);
    }
    return giB * GiB;
  }
  const diskSize = giB === undefined ? image.virtualSize : giB * GiB;
  if (diskSize < image.virtualSize) {
    throw invalidArgument(`The disk size ${giB} GiB is smaller than the image ${JSON.stringify(image.name)} (${(image.virtualSize / GiB).toFixed(2)} GiB); use at least ${Math.ceil(image.virtualSize / GiB)} GiB.`);
  }
  return diskSize;
}

function folderSize(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = `${d}/${entry.name}`;
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) total += sizeOnDisk(full);
    }
  };
  try {
    walk(dir);
  } catch {
    /* a folder that vanished frees nothing */
  }
  return total;
}

/** A direct-kernel image talks on its serial console; one that boots through the firmware (a disk, an installer) shows a screen. */
export function defaultDisplay(image: Image): DisplayMode {
  return image.kernelPath ? 'none' : 'vnc';
}
