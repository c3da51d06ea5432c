// boxes:update: a box's settings after creation. A running box keeps what it was started with
// (QEMU cannot change CPUs, memory or cards under a guest): the row takes the new values at
// once and pendingRestart says they wait for the next start. The disk only grows, and only
// while QEMU does not hold it.
import { humanBytes } from '../../../shared/bytes.js';
import type { ChannelInput } from '../../../shared/channels.js';
import { invalidArgument, invalidState, notFound } from '../../../shared/errors.js';
import { parseForwards } from '../../../shared/forwards.js';
import { isBusy, type Box } from '../../../shared/types.js';
import type { Effects, HomeData } from '../deps.js';
import { readQcow2Header } from '../disk/qcow2.js';
import { resize } from '../disk/qemu-img.js';
import { newId } from '../ids.js';
import { OVERLAY_BYTES, requireSpace } from '../space.js';
import type { BoxSettings } from '../store/store.js';
import { assertNoUnfinishedWork } from '../snapshots/waiting-merge.js';
import { boxResize, type BoxResizeIntent } from './intents.js';

const GiB = 1024 ** 3;

/** Runs under the box's lock (the caller holds it). */
export async function updateBox(core: HomeData & Effects, box: Box, input: ChannelInput<'boxes:update'>): Promise<Box> {
  const fresh = core.store.getBox(box.id);
  if (!fresh) throw notFound(`The box ${JSON.stringify(box.name)} was removed meanwhile.`);
  const wanted: BoxSettings = {
    cpus: input.cpus, memoryMib: input.memoryMib, network: input.network, stopTimeoutSec: input.stopTimeoutSec,
    forwards: input.forwards && parseForwards(input.forwards),
  };
  const changed = changedSettings(fresh, wanted);
  if (input.diskSizeGiB !== undefined) await growDisk(core, fresh, input.diskSizeGiB * GiB);
  // The stop timeout is read at each stop, so it needs no restart; the rest waits for one.
  const needsRestart = isBusy(fresh.status) && changed.some((k) => k !== 'stopTimeoutSec');
  core.store.updateBoxSettings(fresh.id, wanted, needsRestart);
  core.logger.info('box updated', { op: 'box-update', boxId: fresh.id, changed: changed.join(','), pendingRestart: needsRestart });
  core.events.emit('boxes:changed', { boxId: fresh.id });
  return core.store.getBox(fresh.id)!;
}

function changedSettings(box: Box, wanted: BoxSettings): (keyof BoxSettings)[] {
  return (Object.keys(wanted) as (keyof BoxSettings)[]).filter((k) => wanted[k] !== undefined && JSON.stringify(wanted[k]) !== JSON.stringify(box[k]));
}

/**
 * Grows the live disk to `size`. Crash safety: the intent record first, then the file (one
 * qemu-img resize: QEMU writes the larger L1 table, then the header that points at it, so the
 * file has either size), then the row. Recovery settles a leftover record from the file's header.
 */
async function growDisk(core: HomeData & Effects, box: Box, size: number): Promise<void> {
  const live = core.paths.liveDisk(box.id);
  // The file, not the row, says how large the disk is (a crash may have left the row behind).
  const current = (await readQcow2Header(live)).virtualSize;
  if (size < current) {
    throw invalidArgument(`The disk of the box ${JSON.stringify(box.name)} is ${humanBytes(current)}; shrinking it to ${size / GiB} GiB would cut off whatever the guest stored past that point, so a disk only grows. Give at least ${Math.ceil(current / GiB)} GiB.`);
  }
  if (size === current) return;
  if (isBusy(box.status)) {
    throw invalidState(`The disk of the box ${JSON.stringify(box.name)} can grow only while the box is stopped (QEMU holds it now); stop it with "boxkeep box stop ${box.name}", then set the size again.`);
  }
  assertNoUnfinishedWork(core, box);
  requireSpace(core, `Growing the disk of the box ${JSON.stringify(box.name)}`, OVERLAY_BYTES);
  const intent: BoxResizeIntent = { id: newId(), op: 'box-resize', startedAt: Date.now(), boxId: box.id, virtualSize: size };
  await boxResize.journaled(core.paths.boxJournal(box.id), intent, async () => {
    await resize(live, size);
    boxResize.crash('after-resize');
    core.store.updateBoxSettings(box.id, { diskSize: size }, false);
  });
}
