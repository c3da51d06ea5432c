// Startup recovery: runs whenever a process takes the home, before anything else touches a
// disk. Sets aside a JSON column of the database that does not read, finishes an interrupted
// re-pointing of a moved home, re-points a home that was moved or copied (relocate/; with it
// the records of operations interrupted before the move), settles every intent record, then
// reconciles rows with files, then lets the VM supervisor adopt or retire boxes recorded as running.
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
import { keptForMove, relocateHome, supersededMove, waitsForMove, type MoveState } from '../relocate/relocate.js';
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
  // A home moved or copied here is re-pointed onto its own files before anything checks them,
  // and before the other records are settled: one written before the move names the old
  // folder, and is rewritten with the move (an interrupted move is finished first).
  const accepts = (record: Record<string, unknown>) => intentProblem(core.paths.root, record) === null;
  await settleJournal(core, core.paths.homeJournal, report, { only: 'home-move', accepts });
  const move = await relocateHome(core, report, accepts);
  const journals = [core.paths.homeJournal, ...core.store.listBoxes().map((b) => core.paths.boxJournal(b.id))];
  for (const dir of journals) await settleJournal(core, dir, report, { move, accepts });
  await reconcile(core, report);
  await core.vms.adopt(report);
  const elapsed = elapsedMs(started);
  if (report.items.length > 0) core.logger.info('recovery', { op: 'recovery', items: report.items.length, elapsed_ms: elapsed });
  return { at: Date.now(), elapsedMs: elapsed, items: report.items };
}

interface JournalPass {
  /** Only the records of this kind (the others wait for a later pass). */
  only?: string;
  /** A move waiting for its boxes: the records naming its old folder wait with it. */
  move?: MoveState | null;
  accepts: (record: Record<string, unknown>) => boolean;
}

async function settleJournal(core: RecoveryDeps, dir: string, report: ReportBuilder, pass: JournalPass): Promise<void> {
  const read = readIntents(dir);
  const { corrupt, foreign } = read;
  let { intents } = read;
  if (pass.only) {
    // One written where the home was before it was moved again waits for the re-pointing made here.
    intents = intents.filter((r) => r.intent.op === pass.only && pass.accepts(r.intent));
  } else {
    // Settled in the first pass (one it could not finish is tried at the next start); one in a
    // box's journal is no record Boxkeep writes there, and is settled (or set aside) like any other.
    intents = intents.filter((r) => r.intent.op !== 'home-move' || dir !== core.paths.homeJournal || !pass.accepts(r.intent));
  }
  if (!pass.only && pass.move && pass.accepts) {
    const superseded = intents.filter((r) => supersededMove(core, pass.move!, r.intent, pass.accepts));
    for (const r of superseded) {
      clearIntent(dir, r.intent.id);
      report.info(null, `An interrupted re-pointing of this home, recorded before it was moved again (${r.file}), was done by the re-pointing made here.`);
    }
    intents = intents.filter((r) => !superseded.includes(r));
  }
  if (!pass.only && pass.move) {
    const waiting = intents.filter((r) => waitsForMove(core, pass.move!, r.intent, pass.accepts));
    for (const r of waiting) {
      const boxId = typeof r.intent.boxId === 'string' ? r.intent.boxId : null;
      report.kept(boxId, `An interrupted ${r.intent.op} (${r.file}) names this home's files in ${pass.move.from}, where it was; it is finished once the home is re-pointed here, when no box runs.`);
    }
    intents = intents.filter((r) => !waiting.includes(r));
  }
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
  if (problem && keptForMove(core, intent, (r) => intentProblem(core.paths.root, r) === null)) {
    const boxId = typeof intent.boxId === 'string' ? intent.boxId : null;
    report.kept(boxId, `An interrupted ${intent.op} (${file}) names this home's files where the home was before; it is finished once the home is re-pointed here, when no box runs.`);
    return false;
  }
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
