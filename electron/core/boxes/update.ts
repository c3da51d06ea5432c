// boxes:update: a box's settings after creation. A running box keeps what it was started with
// (QEMU cannot change CPUs, memory, cards or the disk's size under a guest): the row takes the
// new values at once and pendingRestart says they wait for the next start. The disk only
// grows: at once while the box is stopped, else at its next start, before QEMU opens it.
import { humanBytes } from '../../../shared/bytes.js';
import type { ChannelInput } from '../../../shared/channels.js';
import { invalidArgument, invalidState, notFound } from '../../../shared/errors.js';
import { parseForwards } from '../../../shared/forwards.js';
import { isBusy, type Box } from '../../../shared/types.js';
import type { Effects, HomeData } from '../deps.js';
import { readQcow2Header, readQcow2HeaderSync } from '../disk/qcow2.js';
import { resize } from '../disk/qemu-img.js';
import { newId } from '../ids.js';
import { clearIntent } from '../journal.js';
import { OVERLAY_BYTES, requireSpace } from '../space.js';
import type { BoxSettings } from '../store/store.js';
import { verifyLiveDisk } from '../snapshots/box-chain.js';
import { assertNoUnfinishedWork } from '../snapshots/waiting-merge.js';
import { boxResize, type BoxResizeIntent } from './intents.js';

const GiB = 1024 ** 3;

/** Runs under the box's lock (the caller holds it). */
export async function updateBox(core: HomeData & Effects, box: Box, input: ChannelInput<'boxes:update'>): Promise<Box> {
  const fresh = core.store.getBox(box.id);
  if (!fresh) throw notFound(`The box ${JSON.stringify(box.name)} was removed meanwhile.`);
  const wanted: BoxSettings = {
    cpus: input.cpus, memoryMib: input.memoryMib, network: input.network, stopTimeoutSec: input.stopTimeoutSec, display: input.display,
    forwards: input.forwards && parseForwards(input.forwards),
  };
  if (input.diskSizeGiB !== undefined) {
    const size = input.diskSizeGiB * GiB;
    const current = confinedLiveDiskSize(core, fresh);
    if (size < current) {
      throw invalidArgument(`The disk of the box ${JSON.stringify(fresh.name)} is ${humanBytes(current)}; shrinking it to ${input.diskSizeGiB} GiB would cut off whatever the guest stored past that point, so a disk only grows. Give at least ${Math.ceil(current / GiB)} GiB.`);
    }
    // The latest size asked for wins: a stopped box grows now, a running one at its next start.
    wanted.pendingDiskSize = isBusy(fresh.status) && size > current ? size : null;
    if (!isBusy(fresh.status)) await growDisk(core, fresh, size, current);
  }
  const changed = changedSettings(fresh, wanted);
  // The stop timeout is read at each stop, so it needs no restart; the rest waits for one.
  const needsRestart = isBusy(fresh.status) && changed.some((k) => k !== 'stopTimeoutSec' && !(k === 'pendingDiskSize' && wanted.pendingDiskSize === null));
  core.store.updateBoxSettings(fresh.id, wanted, needsRestart);
  core.logger.info('box updated', { op: 'box-update', boxId: fresh.id, changed: changed.join(','), pendingRestart: needsRestart });
  core.events.emit('boxes:changed', { boxId: fresh.id });
  return core.store.getBox(fresh.id)!;
}

/**
 * At a start, before QEMU opens the disk: the grow asked for while the box ran. Runs under the
 * box's lock with the box stopped. A start that fails afterwards keeps the grown disk (the
 * guest sees it at the start that succeeds).
 */
export async function applyPendingGrow(core: HomeData & Effects, box: Box): Promise<Box> {
  if (box.pendingDiskSize === null) return box;
  const current = confinedLiveDiskSize(core, box);
  await growDisk(core, box, Math.max(box.pendingDiskSize, current), current);
  return core.store.getBox(box.id)!;
}

function changedSettings(box: Box, wanted: BoxSettings): (keyof BoxSettings)[] {
  return (Object.keys(wanted) as (keyof BoxSettings)[]).filter((k) => wanted[k] !== undefined && JSON.stringify(wanted[k]) !== JSON.stringify(box[k]));
}

/**
 * Before a grow: the live disk checked as a snapshot create checks it (Boxkeep's file, in its
 * place, no link, backing onto the current snapshot), and its size read from that file. qemu-img
 * resize opens the path it is given: a live disk swapped for a link to a host image would grow
 * that image.
 */
function confinedLiveDiskSize(core: HomeData, box: Box): number {
  return verifyLiveDisk(core, box).header.virtualSize;
}

/** The file, not the row, says how large the disk is (a crash may have left the row behind). */
export async function liveDiskSize(core: HomeData, box: Box): Promise<number> {
  return (await readQcow2Header(core.paths.liveDisk(box.id))).virtualSize;
}

/**
 * Grows the live disk of a stopped box from `current` (its file's size, just read) to `size`
 * (at least that); at `current` only the row follows the file. Crash safety: the intent
 * record first, then the file (one qemu-img resize: QEMU writes the larger L1 table, then the
 * header that points at it, so the file has either size), then the row. Recovery settles a
 * leftover record from the file's header.
 */
async function growDisk(core: HomeData & Effects, box: Box, size: number, current: number): Promise<void> {
  const live = core.paths.liveDisk(box.id);
  if (size === current) {
    core.store.setDiskSize(box.id, size);
    return;
  }
  if (isBusy(box.status)) throw invalidState(`The disk of the box ${JSON.stringify(box.name)} cannot grow while QEMU holds it.`);
  assertNoUnfinishedWork(core, box);
  requireSpace(core, `Growing the disk of the box ${JSON.stringify(box.name)}`, OVERLAY_BYTES);
  const intent: BoxResizeIntent = { id: newId(), op: 'box-resize', startedAt: Date.now(), boxId: box.id, virtualSize: size };
  const journal = core.paths.boxJournal(box.id);
  await boxResize.journaled(journal, intent, async () => {
    await resize(live, size);
    boxResize.crash('after-resize');
    core.store.setDiskSize(box.id, size);
  }, {
    // A resize that failed (the file locked by another program, no room) left the file at one
    // size or the other, as after a crash: settle it now, or the box would refuse every start
    // and snapshot until a recovery.
    onFailure: () => {
      let now: number;
      try {
        now = readQcow2HeaderSync(live).header.virtualSize;
      } catch {
        return; // unreadable: the record stays for recovery, which refuses the box until it is sorted out
      }
      core.store.setDiskSize(box.id, now);
      clearIntent(journal, intent.id);
    },
  });
}
