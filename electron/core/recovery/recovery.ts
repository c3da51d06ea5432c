// Startup recovery: runs whenever a process takes the home, before anything else touches a
// disk. Sets aside a JSON column of the database that does not read, settles every intent
// record, re-points a home that was moved or copied (relocate/), then reconciles rows with files, then lets the VM supervisor adopt or retire boxes
// recorded as running.
import path from 'node:path';
import type { RecoveryReport } from '../../../shared/types.js';
import { elapsedMs, type Logger } from '../logger.js';
import type { VmControl } from '../vm/control.js';
import { clearIntent, readIntents, type JournalRead } from '../journal.js';
import { repairJsonColumns } from './columns.js';
import { discardIntent } from './discard.js';
import { intentProblem, settleIntent, type SettleDeps } from '../operations.js';
import { snapshotRecordProblem } from '../snapshots/box-chain.js';
import { intoOrphans } from './orphans.js';
import { reconcile } from './reconcile.js';
import { relocateHome } from '../relocate/relocate.js';
import { ReportBuilder } from './report.js';

export interface RecoveryOptions {
  /** An intent record to delete first (see discard.ts). */
  discard?: string;
  force?: boolean;
}

/** What recovery needs: the home and the log, reattaching to QEMUs, and adopting the running boxes. */
export type RecoveryDeps = SettleDeps & { logger: Logger; vms: Pick<VmControl, 'adopt'> };

export async function runRecovery(core: RecoveryDeps, opts: RecoveryOptions = {}): Promise<RecoveryReport> {
  const started = performance.now();
  const report = new ReportBuilder();
  // Before any box's row is read: a column that does not read would stop every box (columns.ts).
  repairJsonColumns(core, report);
  if (opts.discard) discardIntent(core, opts.discard, { force: opts.force ?? false }, report);
  const journals = [core.paths.homeJournal, ...core.store.listBoxes().map((b) => core.paths.boxJournal(b.id))];
  for (const dir of journals) await settleJournal(core, dir, report);
  // A home moved or copied here is re-pointed onto its own files before anything checks them.
  await relocateHome(core, report);
  await reconcile(core, report);
  await core.vms.adopt(report);
  const elapsed = elapsedMs(started);
  if (report.items.length > 0) core.logger.info('recovery', { op: 'recovery', items: report.items.length, elapsed_ms: elapsed });
  return { at: Date.now(), elapsedMs: elapsed, items: report.items };
}

async function settleJournal(core: RecoveryDeps, dir: string, report: ReportBuilder): Promise<void> {
  const { intents, corrupt, foreign } = readIntents(dir);
  for (const odd of foreign) {
    const to = intoOrphans(core, odd.file, `journal-${path.basename(odd.file)}`);
    report.kept(null, `${odd.file} is ${odd.what}, not an intent record; it was moved to ${to}. Remove it when you are sure it is not needed.`);
  }
  // Never deleted: a file that is not a record Boxkeep wrote may be somebody's (a journal/ in a
  // folder the user pointed --home at); moved aside, it stops blocking the box and loses nothing.
  for (const bad of corrupt) {
    const to = intoOrphans(core, bad.file, `journal-${path.basename(bad.file)}`);
    report.kept(null, `An unreadable intent record ${bad.file} (${bad.reason}) was moved to ${to}; the checks that follow repair what it covered.`);
  }
  // Oldest first: a restore's "snapshot first" record precedes the restore's own.
  intents.sort((a, b) => a.intent.startedAt - b.intent.startedAt);
  for (const record of intents) await settleRecord(core, dir, record, report);
}

/**
 * One record of a journal: settled by its kind's settle function and cleared, kept when that
 * could not finish, moved aside when malformed. Also what settles an unsettled live snapshot
 * once its QEMU answers (settle-later.ts). True when the record was settled and cleared.
 */
export async function settleRecord(core: SettleDeps, dir: string, { file, intent }: JournalRead['intents'][number], report: ReportBuilder): Promise<boolean> {
  const problem = intentProblem(core.paths.root, intent);
  const disagrees = problem ? null : snapshotRecordProblem(core, intent);
  if (problem || disagrees) {
    const to = intoOrphans(core, file, `journal-${path.basename(file)}`);
    const what = problem ? `was malformed (${problem}) and was` : `does not match the home (${disagrees}) and was`;
    const boxId = !problem && typeof intent.boxId === 'string' ? intent.boxId : null;
    report.kept(boxId, `An intent record ${file} ${what} moved to ${to} without acting on it; the checks that follow repair what it covered.`);
    return false;
  }
  let settled: boolean;
  try {
    settled = await settleIntent(core, intent, report);
  } catch (err) {
    report.kept(null, `Could not finish recovering an interrupted ${intent.op}: ${(err as Error).message}. It will be tried again at the next start.`);
    settled = false;
  }
  if (settled) clearIntent(dir, intent.id);
  return settled;
}
