// Recovery of an interrupted import: whole once its rows exist (they are written last, in one
// transaction with the chain checked), else nothing of it is kept.
import type { HomeData } from '../deps.js';
import { removeDurable } from '../fsutil.js';
import type { ReportBuilder } from '../recovery/report.js';
import fs from 'node:fs';
import type { BoxExportIntent, BoxImportIntent } from './intents.js';

export function settleBoxImport(core: HomeData, intent: BoxImportIntent, report: ReportBuilder): boolean {
  const box = core.store.getBox(intent.boxId);
  if (box) {
    report.info(box.id, `Importing the box "${box.name}" had finished except for its bookkeeping; it is complete.`);
    return true;
  }
  removeDurable(core.paths.boxDir(intent.boxId));
  if (intent.imageId !== null && !core.store.getImage(intent.imageId)) removeDurable(core.paths.imageDir(intent.imageId));
  report.repaired(null, 'Importing a box from an archive was interrupted; its partial files were removed. Import it again.');
  return true;
}

/**
 * An export killed before it finished: its partial file (never the archive) is removed; one
 * killed after the archive took its name leaves the archive, whole. Never follows a link. The
 * record names no file of the home, so it never keeps the box waiting: a partial that cannot
 * be removed (a folder gone read-only, a share away) is reported for the user to remove.
 */
export function settleBoxExport(core: HomeData, intent: BoxExportIntent, report: ReportBuilder): boolean {
  const box = core.store.getBox(intent.boxId);
  const what = `Exporting ${box ? `the box "${box.name}"` : 'a box'} to ${intent.out}`;
  try {
    const partial = fs.lstatSync(intent.partial, { throwIfNoEntry: false });
    const out = fs.lstatSync(intent.out, { throwIfNoEntry: false });
    // Landed: the archive's name holds the file the export wrote (the same inode as a partial
    // not yet unlinked), not a file of someone else's.
    const landed = !!out?.isFile() && (!partial || (partial.dev === out.dev && partial.ino === out.ino));
    if (partial?.isFile()) fs.rmSync(intent.partial, { force: true });
    if (landed) report.info(intent.boxId, `${what} was interrupted as it finished; the archive is whole${partial ? `, and the leftover partial file ${intent.partial} was removed` : ''}.`);
    else if (partial?.isFile()) report.repaired(intent.boxId, `${what} was interrupted; its unfinished file ${intent.partial} was removed. Export it again.`);
    else report.info(intent.boxId, `${what} was interrupted before it wrote anything; nothing was left behind. Export it again.`);
  } catch (err) {
    report.kept(intent.boxId, `${what} was interrupted, and its unfinished file ${intent.partial} could not be removed (${(err as Error).message}); remove it by hand.`);
  }
  return true;
}
