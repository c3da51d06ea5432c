// Recovery of an interrupted import: whole once its rows exist (they are written last, in one
// transaction with the chain checked), else nothing of it is kept.
import type { HomeData } from '../deps.js';
import { removeDurable } from '../fsutil.js';
import type { ReportBuilder } from '../recovery/report.js';
import type { BoxImportIntent } from './intents.js';

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
