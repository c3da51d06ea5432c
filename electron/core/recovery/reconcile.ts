// After the journals: make the rows and the files agree. Never deletes a file a backing
// chain references; what it cannot place it moves to <home>/orphans and reports.
import fs from 'node:fs';
import path from 'node:path';
import type { Box } from '../../../shared/types.js';
import type { HomeData } from '../deps.js';
import { EXPORT_SCRATCH } from '../archive/export.js';
import { backingPathOf } from '../disk/backing.js';
import { chainError, inspectLayers } from '../disk/confine.js';
import { createDisk, createOverlay } from '../disk/qemu-img.js';
import { boxProblems, chainRoot, expectedChain, recordMissingFacts } from '../snapshots/box-chain.js';
import { kindOf, removeDurable } from '../fsutil.js';
import { isId } from '../ids.js';
import { readIntents } from '../journal.js';
import { intoOrphans } from './orphans.js';
import type { ReportBuilder } from './report.js';

export async function reconcile(core: HomeData, report: ReportBuilder): Promise<void> {
  const { store, paths } = core;
  const boxes = store.listBoxes();
  const boxIds = new Set(boxes.map((b) => b.id));
  const images = store.listImages();
  const imageIds = new Set(images.map((i) => i.id));

  for (const box of boxes) {
    // An operation recovery could not settle yet (its settle reported why) owns the box's files
    // as they are: a live snapshot kept while its QEMU runs may have the live disk renamed away
    // or be writing to .next, which the repairs below would "fix" by making a fresh live disk
    // or dropping the overlay.
    if (readIntents(paths.boxJournal(box.id)).intents.length > 0) continue;
    // One box's files, whatever state they are in, are that box's problem: the home still opens.
    try {
      await reconcileBox(core, box, report);
      const now = store.getBox(box.id);
      if (now) reportTamperedLayers(core, now, report);
    } catch (err) {
      report.kept(box.id, `Boxkeep could not check the files of the box ${JSON.stringify(box.name)} (${(err as Error).message}); it left them as they are and will try again at the next start.`);
    }
  }

  // Box folders no row knows: a box's files are referenced only by that box, so none of
  // them can be in another chain; still, they are user data: moved aside, not deleted.
  // What is no folder (a file, a link, a FIFO) is named as what it is, and never followed.
  for (const name of listDir(paths.boxesDir)) {
    if (boxIds.has(name)) continue;
    const at = path.join(paths.boxesDir, name);
    const kind = notAFolder(at);
    moveToOrphans(core, at, `box-${name}`, report, kind ? `${kind} in the boxes folder that no record knows` : 'a box folder no record knows', kind);
  }
  let referenced: Set<string> | null = null;
  for (const name of listDir(paths.imagesDir)) {
    if (imageIds.has(name)) continue;
    referenced ??= await referencedImagePaths(core, boxes);
    const dir = path.join(paths.imagesDir, name);
    const kind = notAFolder(dir);
    if ([...referenced].some((p) => p.startsWith(dir + path.sep))) {
      report.kept(null, `The image folder ${dir} has no record but a box's disk backs onto it; it was kept.`);
    } else {
      moveToOrphans(core, dir, `image-${name}`, report, kind ? `${kind} in the images folder that no record knows` : 'an image folder no record knows', kind);
    }
  }
  for (const image of images) {
    // A row naming another place whose own file is here (a home moved here, not yet re-pointed: relocate/) lost nothing.
    if (fs.existsSync(image.path) || fs.existsSync(image.kind === 'installer' ? paths.imageInstaller(image.id) : paths.imageDisk(image.id))) continue;
    const file = image.kind === 'installer' ? 'ISO file' : 'disk file';
    const users = store.boxesUsingImage(image.id);
    if (users.length === 0) {
      store.deleteImage(image.id);
      report.repaired(null, `The image "${image.name}" had lost its ${file} and no box used it; its record was removed.`);
    } else if (image.kind === 'installer') {
      // Only the boxes it is still attached to miss it (an ejected box boots from its own disk).
      const names = users.map((b) => JSON.stringify(b.name)).join(', ');
      report.kept(null, `The installer "${image.name}" has lost its ISO file (${image.path}); ${users.length === 1 ? 'the box' : 'the boxes'} ${names} with it attached cannot start until it is ejected ("boxkeep box eject ${users[0]!.name}").`);
    } else {
      report.kept(null, `The image "${image.name}" has lost its disk file (${image.path}); the boxes made from it cannot start.`);
    }
  }
}

async function reconcileBox(core: HomeData, box: Box, report: ReportBuilder): Promise<void> {
  const { store, paths } = core;
  const label = JSON.stringify(box.name);
  let folder: fs.Stats | undefined;
  try {
    folder = fs.lstatSync(paths.boxDir(box.id), { throwIfNoEntry: false });
  } catch (err) {
    // The boxes folder itself is no folder (a file in its place): nothing of the box is reachable.
    if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
    report.kept(box.id, `The boxes folder ${paths.boxesDir} is not a folder, so the box ${label} cannot be reached; Boxkeep left it and its record as they are.`);
    return;
  }
  if (!folder) {
    store.deleteBox(box.id);
    report.repaired(box.id, `The box ${label} had lost its whole folder; its record was removed.`);
    return;
  }
  if (!folder.isDirectory()) {
    // Not followed, not repaired into: whatever is there (a link to a folder elsewhere, a file)
    // stays as it is, and so does the record; every operation refuses the box's chain.
    report.kept(box.id, `The folder of the box ${label} (${paths.boxDir(box.id)}) is ${kindOf(folder)}, not a folder; Boxkeep never follows or replaces it, and left the box as it is.`);
    return;
  }
  const disks = fs.lstatSync(path.dirname(paths.liveDisk(box.id)), { throwIfNoEntry: false });
  if (disks && !disks.isDirectory()) {
    // Its disks folder is no folder (a file, a link in its place): nothing is followed or made there.
    report.kept(box.id, `The disks folder of the box ${label} (${path.dirname(paths.liveDisk(box.id))}) is ${kindOf(disks)}, not a folder; Boxkeep never follows or replaces it, and left the box as it is (it cannot start).`);
    return;
  }
  const next = paths.nextDisk(box.id);
  if (fs.existsSync(next)) {
    // A prepared overlay with no intent left: empty by construction, safe to drop.
    removeDurable(next);
    report.repaired(box.id, `A leftover temporary disk of the box ${label} was removed.`);
  }
  // An export's flattened scratch disk (archive/export.ts): recovery holds every box's lock, so
  // no export is running, and one that was killed never finished with it.
  for (const name of fs.readdirSync(paths.boxDir(box.id)).filter((n) => EXPORT_SCRATCH.test(n))) {
    removeDurable(path.join(paths.boxDir(box.id), name));
    report.repaired(box.id, `The scratch disk of an interrupted export of the box ${label} was removed (${name}).`);
  }
  // A restore's prepared copy with no intent left (settled above): the restore did not take it.
  removeDurable(paths.nextEfiVars(box.id));
  if (box.firmware === 'uefi' && !fs.existsSync(paths.efiVars(box.id))) {
    // Never guessed back from OVMF's template: that would drop the guest's boot entries unasked.
    report.kept(box.id, `The UEFI variables of the box ${label} (${paths.efiVars(box.id)}) are missing; the box cannot start until a snapshot is restored, which puts its copy back.`);
  }

  const snapshots = store.listSnapshots(box.id);
  const byPath = new Map(snapshots.map((s) => [s.diskPath, s]));
  const image = box.imageId === null ? null : store.getImage(box.imageId);
  const current = box.currentSnapshotId ? store.getSnapshot(box.currentSnapshotId) : null;
  // A box from installer media has no image under its tree: its first disk stood alone.
  const blankRoot = !current && chainRoot(core, box) === null;
  const expected = current ? current.diskPath : box.linkedSnapshotId !== null ? chainRoot(core, box) : blankRoot ? null : image?.path ?? null;

  const live = paths.liveDisk(box.id);
  const found = fs.lstatSync(live, { throwIfNoEntry: false });
  if (found && !found.isFile()) {
    // A link (even one to nothing), a folder, a FIFO: never followed, never made over.
    report.kept(box.id, `The live disk of the box ${label} (${live}) is ${kindOf(found)}, not a disk Boxkeep made; Boxkeep never follows or replaces it, and left it as it is (the box cannot start).`);
  } else if (!found) {
    if (blankRoot) {
      await createDisk(live, box.diskSize);
      report.repaired(box.id, `The live disk of the box ${label} was missing; a fresh blank one was made (the box has no snapshot to go back to). What was installed on it was lost.`);
    } else if (expected && fs.existsSync(expected)) {
      // The layer the fresh disk is to stand on is checked first: one swapped for a link to a host
      // file would have that file's real path written into the new header, a truncated one fails.
      const [, under, belowIt] = expectedChain(core, box, 'live');
      const problem = inspectLayers(paths.root, [{ layer: under!, backing: belowIt?.path ?? null }]).problems[0];
      if (problem) {
        report.kept(box.id, `The live disk of the box ${label} is missing, and no fresh one was made on ${problem.layer.what}, which is not the disk Boxkeep made (${problem.problem}). Nothing was deleted; the box cannot start until that file is put back (from a backup), after which the next start of Boxkeep, or "boxkeep recover", makes its live disk.`);
      } else {
        await createOverlay(live, under!.path, box.diskSize);
        report.repaired(box.id, `The live disk of the box ${label} was missing; a fresh one was made on ${current ? `snapshot "${current.name}"` : 'its image'}. Changes since then were lost.`);
      }
    } else {
      report.kept(box.id, `The live disk of the box ${label} is missing and so is what it was based on; the box cannot start.`);
    }
  } else {
    const actual = await backingPathOf(live).catch(() => null);
    if (actual !== expected) {
      const snapshot = actual ? byPath.get(actual) : undefined;
      if (snapshot) {
        store.setCurrentSnapshot(box.id, snapshot.id);
        report.repaired(box.id, `The box ${label} was recorded under the wrong snapshot; "Now" was moved under "${snapshot.name}" to match its disk.`);
      } else if (actual === null && !expected) {
        /* a blank root: nothing under it, as expected */
      } else {
        report.kept(box.id, `The live disk of the box ${label} backs onto ${actual ?? 'nothing'}, which Boxkeep does not know; it was left as it is.`);
      }
    }
  }

  // Rows whose frozen disk is gone: a leaf nothing reads from can go; others are reported. A row
  // naming another place (a home moved or copied here, not yet re-pointed: relocate/) whose own
  // file is here has lost nothing: the checks name the record.
  for (const s of snapshots) {
    if (fs.existsSync(s.diskPath) || fs.existsSync(paths.snapshotDisk(box.id, s.id))) continue;
    const hasChildren = snapshots.some((c) => c.parentId === s.id);
    const isCurrent = store.getBox(box.id)?.currentSnapshotId === s.id;
    if (!hasChildren && !isCurrent) {
      store.deleteSnapshotReparenting(s);
      report.repaired(box.id, `Snapshot "${s.name}" of the box ${label} had lost its disk file; nothing depended on it and its record was removed.`);
    } else {
      report.kept(box.id, `Snapshot "${s.name}" of the box ${label} has lost its disk file (${s.diskPath}); what depends on it cannot be read.`);
    }
  }

  // Snapshot folders no row knows: kept where a disk of this box still backs onto them.
  const known = new Set(snapshots.map((s) => s.id));
  const strays = listDir(paths.snapshotsDir(box.id)).filter((name) => !known.has(name));
  if (strays.length === 0) return;
  const refs = new Set<string>();
  for (const file of [live, ...snapshots.map((s) => s.diskPath)]) {
    const b = isPlainFile(file) ? await backingPathOf(file).catch(() => null) : null;
    if (b) refs.add(b);
  }
  for (const name of strays) {
    const dir = paths.snapshotDir(box.id, name);
    // lstat, never followed: a file, a link or a FIFO here is not an empty snapshot folder, and
    // only a folder Boxkeep could have made (and left with nothing in it) is ever removed.
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (!st) continue;
    // What a disk backs onto stays where it is, whatever it is (its check names a link).
    if (refs.has(path.join(dir, 'container.qcow2'))) {
      report.kept(box.id, `The snapshot folder ${dir} has no record but a disk of the box ${label} backs onto it; it was kept.`);
    } else if (!st.isDirectory()) {
      moveToOrphans(core, dir, `snapshot-${box.id}-${name}`, report, `${kindOf(st)} in the snapshots folder of the box ${label} that no record knows`, kindOf(st));
    } else if (isId(name) && isEmptyDir(dir)) {
      removeDurable(dir);
    } else {
      moveToOrphans(core, dir, `snapshot-${box.id}-${name}`, report, `a snapshot folder of the box ${label} no record knows`);
    }
  }
}

/**
 * Layers that are not what Boxkeep made (a symlink, a chain leaving the home, a truncated
 * file): never repaired by guesswork, only reported, and refused by every operation. Missing
 * files are reported above in their own words. No header digests here: this runs at every
 * start; the operations and `boxkeep check` compare them.
 */
function reportTamperedLayers(core: HomeData, box: Box, report: ReportBuilder): void {
  const found = boxProblems(core, box, { digest: false });
  for (const p of found.problems) {
    if (!p.missing) report.kept(box.id, chainError(p).message);
  }
  recordMissingFacts(core, box, found);
}

async function referencedImagePaths(core: HomeData, boxes: Box[]): Promise<Set<string>> {
  const refs = new Set<string>();
  for (const box of boxes) {
    for (const s of core.store.listSnapshots(box.id).filter((x) => x.parentId === null)) {
      const b = fs.existsSync(s.diskPath) ? await backingPathOf(s.diskPath).catch(() => null) : null;
      if (b) refs.add(b);
    }
    const live = core.paths.liveDisk(box.id);
    const b = isPlainFile(live) ? await backingPathOf(live).catch(() => null) : null;
    if (b) refs.add(b);
  }
  return refs;
}

/**
 * `what` says what was found ("a box folder no record knows"); `kind`, when it is no folder, what
 * it is ("a file", "a symbolic link"). Moved by one rename, which moves a link itself, never
 * what it points at.
 */
function moveToOrphans(core: HomeData, from: string, label: string, report: ReportBuilder, what: string, kind?: string | null): void {
  const base = path.basename(from);
  if (!isId(base) && !base.startsWith('.')) {
    // Not a folder Boxkeep made: leave foreign files alone.
    report.kept(null, kind ? `${from} is ${kind} Boxkeep did not make; it was left where it is.` : `${from} is not a Boxkeep folder; it was left where it is.`);
    return;
  }
  const to = intoOrphans(core, from, label);
  report.kept(null, `Found ${what}; it was moved to ${to} rather than deleted. Remove it when you are sure it is not needed.`);
}

/** The entries of a folder, hidden ones aside; [] when it is no folder (a link to one is not followed). */
function listDir(dir: string): string[] {
  if (!fs.lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) return [];
  try {
    return fs.readdirSync(dir).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}

/** A folder with nothing in it at all, hidden files included. */
function isEmptyDir(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}

/** null for a real folder (or nothing there); otherwise what is there instead, in words. */
function notAFolder(at: string): string | null {
  const st = fs.lstatSync(at, { throwIfNoEntry: false });
  return !st || st.isDirectory() ? null : kindOf(st);
}

/** A regular file reached through no link at its own name (a layer's header is read only then). */
function isPlainFile(file: string): boolean {
  try {
    return fs.lstatSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}
