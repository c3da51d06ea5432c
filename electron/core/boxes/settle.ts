// Recovery of box operations: an interrupted create is kept if whole, else undone; an
// interrupted removal is finished; an interrupted resize takes the size the disk file has.
import fs from 'node:fs';
import type { HomeData } from '../deps.js';
import { removeDurable } from '../fsutil.js';
import type { ReportBuilder } from '../recovery/report.js';
import type { BoxCreateIntent, BoxRemoveIntent, BoxResizeIntent } from './intents.js';
import { liveDiskSize } from './update.js';

/** Also settles a clone (clone/intents.ts): the same folders, the same sign of a whole box. */
export function settleBoxCreate(core: HomeData, intent: Pick<BoxCreateIntent, 'boxId'>, report: ReportBuilder): boolean {
  const box = core.store.getBox(intent.boxId);
  if (box && fs.existsSync(core.paths.liveDisk(box.id))) {
    report.info(box.id, `Creating the box "${box.name}" had finished; it is ready.`);
    return true;
  }
  if (box) core.store.deleteBox(box.id);
  removeDurable(core.paths.boxDir(intent.boxId));
  report.repaired(null, `Creating a box was interrupted; its partial files were removed. Create it again.`);
  return true;
}

export function settleBoxRemove(core: HomeData, intent: BoxRemoveIntent, report: ReportBuilder): boolean {
  core.store.deleteBox(intent.boxId);
  removeDurable(core.paths.boxDir(intent.boxId));
  report.repaired(null, `Removing a box was interrupted; the removal was completed.`);
  return true;
}

/** The file is the truth: the resize either happened (one header write) or did not; the row follows it. */
export async function settleBoxResize(core: HomeData, intent: BoxResizeIntent, report: ReportBuilder): Promise<boolean> {
  const box = core.store.getBox(intent.boxId);
  if (!box) return true;
  const virtualSize = await liveDiskSize(core, box);
  core.store.setDiskSize(box.id, virtualSize);
  const grown = virtualSize >= intent.virtualSize;
  // A grow asked for while the box ran is still pending when the file did not grow: the next start does it.
  const later = core.store.getBox(box.id)!.pendingDiskSize !== null ? ' It grows at the next start.' : ' Set the size again to grow it.';
  report.repaired(box.id, grown
    ? `Growing the disk of the box "${box.name}" was interrupted after the disk had grown; it is recorded as grown.`
    : `Growing the disk of the box "${box.name}" was interrupted before the disk changed; it kept its size.${later}`);
  return true;
}
