// Recovery of a home-move (relocate.ts): always forward, every step run again (each is a no-op
// once done).
import type { HomeData } from '../deps.js';
import type { ReportBuilder } from '../recovery/report.js';
import type { HomeMoveIntent } from './intents.js';
import { applyMove, movedMessage } from './relocate.js';

export async function settleHomeMove(core: HomeData, intent: HomeMoveIntent, report: ReportBuilder): Promise<boolean> {
  const rows = await applyMove(core, intent);
  report.repaired(null, `${movedMessage(intent, rows)} (finished after an interruption)`);
  return true;
}
