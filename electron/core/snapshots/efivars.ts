// A UEFI box's variables (vm/firmware.ts) in its snapshots: a snapshot keeps a copy taken at
// the instant its disk is frozen, and a restore puts that copy back as the live variables.
// Nothing here for a BIOS box. Each step is a crash point of the operation that calls it;
// recovery (settle.ts, live/settle.ts) finds its traces by these paths.
import fs from 'node:fs';
import { storageError } from '../../../shared/errors.js';
import type { Box, Snapshot } from '../../../shared/types.js';
import type { HomeData } from '../deps.js';
import { renameDurable } from '../fsutil.js';
import { checkVars, copyVars, findOvmf } from '../vm/firmware.js';

/**
 * Copies the live variables into the snapshot's folder (before the disk is frozen: a crash
 * in between is undone with the folder). The box is stopped, or paused by the live snapshot,
 * so nothing writes them meanwhile: QEMU has flushed the flash to the file when it paused.
 */
export function keepVars(core: HomeData, box: Box, snapshotId: string): void {
  if (box.firmware !== 'uefi') return;
  const live = core.paths.efiVars(box.id);
  confined(core, live, `the UEFI variables of the box ${JSON.stringify(box.name)}`);
  copyVars(live, core.paths.snapshotEfiVars(box.id, snapshotId));
}

/** Before a restore changes anything: the snapshot's copy must be there and be Boxkeep's. */
export function checkSnapshotVars(core: HomeData, box: Box, target: Snapshot): void {
  if (box.firmware !== 'uefi') return;
  confined(core, core.paths.snapshotEfiVars(box.id, target.id), `the UEFI variables kept by snapshot ${JSON.stringify(target.name)}`);
}

/** The snapshot's copy, prepared next to the live variables (and on disk) before the point of no return. */
export function prepareVars(core: HomeData, box: Box, target: Snapshot): void {
  if (box.firmware !== 'uefi') return;
  copyVars(core.paths.snapshotEfiVars(box.id, target.id), core.paths.nextEfiVars(box.id));
}

/**
 * The prepared copy takes the live path in one rename. Called after the new overlay is the
 * live disk; recovery finishes it from there (a prepared copy with no prepared overlay left
 * means the disk was already replaced), so disk and variables are restored together.
 */
export function installVars(core: HomeData, boxId: string): boolean {
  const next = core.paths.nextEfiVars(boxId);
  if (!fs.existsSync(next)) return false;
  renameDurable(next, core.paths.efiVars(boxId));
  return true;
}

function confined(core: HomeData, file: string, what: string): void {
  const problem = checkVars(core.paths.root, file, findOvmf().varsSize);
  if (typeof problem === 'string') throw storageError(`${capitalise(what)} (${file}) are not the file Boxkeep made: ${problem}. Nothing was changed. Run "boxkeep check".`);
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
