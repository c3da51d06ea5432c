// Recovery of image operations: an interrupted import is undone, an interrupted removal finished.
import type { HomeData } from '../deps.js';
import { removeDurable } from '../fsutil.js';
import type { ReportBuilder } from '../recovery/report.js';
import type { ImageImportIntent, ImageRemoveIntent } from './intents.js';

export function settleImageImport(core: HomeData, intent: ImageImportIntent, report: ReportBuilder): boolean {
  if (core.store.getImage(intent.imageId)) {
    report.info(null, `An image import had finished except for its bookkeeping; it is complete.`);
    return true;
  }
  removeDurable(core.paths.imageDir(intent.imageId));
  report.repaired(null, `An image import was interrupted; its partial copy was removed. Import the image again.`);
  return true;
}

export function settleImageRemove(core: HomeData, intent: ImageRemoveIntent, report: ReportBuilder): boolean {
  if (core.store.boxesUsingImage(intent.imageId).length > 0) {
    report.kept(null, `An interrupted image removal was abandoned because a box uses the image.`);
    return true;
  }
  core.store.deleteImage(intent.imageId);
  removeDurable(core.paths.imageDir(intent.imageId));
  report.repaired(null, `An interrupted image removal was completed.`);
  return true;
}
