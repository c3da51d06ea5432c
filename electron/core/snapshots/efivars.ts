// A UEFI box's variables (vm/firmware.ts) in its snapshots: a snapshot keeps a copy taken at
// the instant its disk is frozen, and a restore puts that copy back as the live variables.
// Nothing here for a BIOS box. Each step is a crash point of the operation that calls it;
// recovery (settle.ts, live/settle.ts) finds its traces by these paths.
import fs from 'node:fs';
import { storageError } from '../../../shared/errors.js';
import type { Box, Snapshot } from '../../../shared/types.js';
import type { HomeData } from '../deps.js';
import { renameDurable, writeFileDurable } from '../fsutil.js';
import { memoryStateBytes, OVERLAY_BYTES } from '../space.js';
import { checkVars, copyVars, findOvmf, readVars } from '../vm/firmware.js';

/**
 * Copies the live variables into the snapshot's folder, on disk before this returns (before
 * the disk is frozen: a crash in between is undone with the folder). Returns the bytes kept.
 * The box is stopped, or its live snapshot calls this before the switch and keepVarsAgain right after it.
 */
export function keepVars(core: HomeData, box: Box, snapshotId: string): Buffer | null {
  if (box.firmware !== 'uefi') return null;
  const live = core.paths.efiVars(box.id);
  const checked = confined(core, live, `the UEFI variables of the box ${JSON.stringify(box.name)}`);
  return copyVars(live, core.paths.snapshotEfiVars(box.id, snapshotId), findOvmf().varsSize, checked);
}

/**
 * Right after a live snapshot's switch, the nearest instant to the disk's (the guest is not
 * paused: a variable it changes in the few ms between goes to the next snapshot): QEMU writes
 * the flash through to the file, so the live file is the variables now. Re-read and compared
 * with the copy kept before the switch (a read from the page cache): only when the guest
 * changed a variable meanwhile is the copy written again, and made durable here, before the
 * renames and the row.
 */
export function keepVarsAgain(core: HomeData, box: Box, snapshotId: string, kept: Buffer | null): void {
  if (box.firmware !== 'uefi' || kept === null) return;
  const live = core.paths.efiVars(box.id);
  const checked = confined(core, live, `the UEFI variables of the box ${JSON.stringify(box.name)}`);
  const now = readVars(live, kept.length, checked);
  if (!now.equals(kept)) writeFileDurable(core.paths.snapshotEfiVars(box.id, snapshotId), now);
}

/** What a snapshot's copy (or a restore's prepared copy) of the box's variables takes on disk: the space guard counts it. */
export function varsBytes(box: Box): number {
  return box.firmware === 'uefi' ? findOvmf().varsSize : 0;
}

/**
 * What taking a snapshot writes, as the space guard counts it: the new overlay, the variables'
 * copy, the memory state when kept. The engine refuses with it, and AutoProtect pauses on it
 * before asking (the same figure, so a schedule is not told "resumed" every interval and then
 * refused).
 */
export function snapshotNeeds(box: Box, withMemory = false): number {
  return OVERLAY_BYTES + varsBytes(box) + (withMemory ? memoryStateBytes(box.memoryMib) : 0);
}

/** Before a restore changes anything: the snapshot's copy must be there and be Boxkeep's. */
export function checkSnapshotVars(core: HomeData, box: Box, target: Snapshot): void {
  if (box.firmware !== 'uefi') return;
  confined(core, core.paths.snapshotEfiVars(box.id, target.id), `the UEFI variables kept by snapshot ${JSON.stringify(target.name)}`);
}

/** The snapshot's copy, prepared next to the live variables (and on disk) before the point of no return. */
export function prepareVars(core: HomeData, box: Box, target: Snapshot): void {
  if (box.firmware !== 'uefi') return;
  const kept = core.paths.snapshotEfiVars(box.id, target.id);
  const checked = confined(core, kept, `the UEFI variables kept by snapshot ${JSON.stringify(target.name)}`);
  copyVars(kept, core.paths.nextEfiVars(box.id), findOvmf().varsSize, checked);
}

/**
 * The prepared copy takes the live path in one rename. Called after the new overlay is the
 * live disk; recovery finishes it from there (a prepared copy with no prepared overlay left
 * means the disk was already replaced), so disk and variables are restored together.
 * Recovery passes the restore's box and target: a prepared copy that is not the file Boxkeep
 * wrote (a link, another size: it was tampered with while the restore was down) is never
 * installed, but dropped and prepared again from the snapshot's copy.
 */
export function installVars(core: HomeData, boxId: string, recovering?: { box: Box; target: Snapshot }): boolean {
  const next = core.paths.nextEfiVars(boxId);
  // lstat: a dangling link is there too.
  if (!fs.lstatSync(next, { throwIfNoEntry: false })) return false;
  if (recovering && typeof checkVars(core.paths.root, next, findOvmf().varsSize) === 'string') {
    fs.rmSync(next, { force: true });
    prepareVars(core, recovering.box, recovering.target);
  }
  renameDurable(next, core.paths.efiVars(boxId));
  return true;
}

function confined(core: HomeData, file: string, what: string): { dev: number; ino: number } {
  const problem = checkVars(core.paths.root, file, findOvmf().varsSize);
  if (typeof problem === 'string') throw storageError(`${capitalise(what)} (${file}) are not the file Boxkeep made: ${problem}. Nothing was changed. Run "boxkeep check".`);
  return problem;
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
