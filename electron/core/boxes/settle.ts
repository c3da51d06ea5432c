// Recovery of box operations: an interrupted create is kept if whole, else undone; an
// interrupted removal is finished.
import fs from 'node:fs';
import type { HomeData } from '../deps.js';
import { removeDurable } from '../fsutil.js';
import type { ReportBuilder } from '../recovery/report.js';
import type { BoxCreateIntent, BoxRemoveIntent } from './intents.js';

export function settleBoxCreate(core: HomeData, intent: BoxCreateIntent, report: ReportBuilder): boolean {
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
