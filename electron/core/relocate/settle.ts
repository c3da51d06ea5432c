// Recovery of a home-move (relocate.ts): always forward, every step run again (each is a no-op
// once done, and checks again what it acts on).
import type { HomeData } from '../deps.js';
import type { ReportBuilder } from '../recovery/report.js';
import type { HomeMoveIntent } from './intents.js';
import { applyMove, tellMove } from './relocate.js';

export async function settleHomeMove(core: HomeData, intent: HomeMoveIntent, report: ReportBuilder): Promise<boolean> {
  const done = await applyMove(core, intent);
  tellMove(report, intent, done, ' (finished after an interruption)');
  return true;
}
