// The table of crash-safe operation kinds. Each kind's folder holds its intent schema and
// crash points (intents.ts), its steps, and its settle function (settle.ts), which recovery
// calls with an interrupted record to roll it forward or back. Adding a kind: those three in
// its folder, and one line here.
import * as v from 'valibot';
import { boxExport, boxImport } from './archive/intents.js';
import { settleBoxExport, settleBoxImport } from './archive/settle.js';
import { boxClone } from './clone/intents.js';
import { boxCreate, boxRemove, boxResize } from './boxes/intents.js';
import { settleBoxCreate, settleBoxRemove, settleBoxResize } from './boxes/settle.js';
import { imageImport, imageRemove } from './images/intents.js';
import { filePut } from './inside/intents.js';
import { settleFilePut } from './inside/put-settle.js';
import { settleImageImport, settleImageRemove } from './images/settle.js';
import { homeMove } from './relocate/intents.js';
import { settleHomeMove } from './relocate/settle.js';
import { intentParts, type IntentKind, type IntentOf } from './operation-kind.js';
import type { ReportBuilder } from './recovery/report.js';
import { snapshotCreate, snapshotRemove, snapshotRestore } from './snapshots/intents.js';
import { liveCommit, liveCreate, liveRemove } from './snapshots/live/intents.js';
import { settleLiveCommit } from './snapshots/live/commit-settle.js';
import { settleLiveCreate, settleLiveRemove, type LiveSettleDeps } from './snapshots/live/settle.js';
import { settleSnapshotCreate, settleSnapshotRemove, settleSnapshotRestore } from './snapshots/settle.js';

/** What any settle function may use: the home, and reattaching to a box's running QEMU. */
export type SettleDeps = LiveSettleDeps;

/** Returns true when the intent was settled and its record may be cleared. */
type Settle<K extends IntentKind> = (deps: SettleDeps, intent: IntentOf<K>, report: ReportBuilder) => boolean | Promise<boolean>;

const operation = <K extends IntentKind>(kind: K, settle: Settle<K>) => ({ kind, settle });

export const OPERATIONS = [
  operation(imageImport, settleImageImport),
  operation(imageRemove, settleImageRemove),
  operation(boxCreate, settleBoxCreate),
  operation(boxRemove, settleBoxRemove),
  operation(boxResize, settleBoxResize),
  operation(snapshotCreate, settleSnapshotCreate),
  operation(snapshotRestore, settleSnapshotRestore),
  operation(snapshotRemove, settleSnapshotRemove),
  operation(liveCreate, settleLiveCreate),
  operation(liveRemove, settleLiveRemove),
  operation(liveCommit, settleLiveCommit),
  operation(boxImport, settleBoxImport),
  operation(boxExport, settleBoxExport),
  operation(boxClone, settleBoxCreate),
  operation(filePut, settleFilePut),
  operation(homeMove, settleHomeMove),
] as const;

/**
 * Crash points of no journaled kind: a start killed before its `cont` changes nothing on disk;
 * the next owner quits the waiting QEMU (supervisor.ts: endInterruptedStart).
 */
const UNJOURNALED_POINTS = ['box-start:after-spawn', 'box-start:after-load', 'box-start:before-cont'] as const;

type Kinds = (typeof OPERATIONS)[number]['kind'];
type PointsOf<K> = K extends IntentKind<infer Op, v.GenericSchema, infer P> ? `${Op}:${P}` : never;
export type CrashPoint = PointsOf<Kinds> | (typeof UNJOURNALED_POINTS)[number];

/** Every crash point of every kind (and the start's), as BOXKEEP_CRASH_AT names them. */
export const CRASH_POINTS = [
  ...OPERATIONS.flatMap(({ kind }) => kind.crashPoints.map((p) => `${kind.op}:${p}`)),
  ...UNJOURNALED_POINTS,
] as CrashPoint[];

const byOp = new Map<string, (typeof OPERATIONS)[number]>(OPERATIONS.map((o) => [o.kind.op, o]));

/** Is this an operation this build knows (and recovery settles by itself)? */
export const knownOperation = (op: string) => byOp.has(op);

/** Null when the record may be acted on, else why not. */
export function intentProblem(home: string, intent: Record<string, unknown>): string | null {
  const found = byOp.get(String(intent.op));
  if (!found) return null; // an operation this build does not know: kept for a newer Boxkeep
  const parsed = v.safeParse(found.kind.schema(intentParts(home)), intent);
  if (parsed.success) return null;
  const issue = parsed.issues[0]!;
  return `${v.getDotPath(issue) ?? 'record'}: ${issue.message}`;
}

/** Settles a record that intentProblem accepted; returns true when it may be cleared. */
export async function settleIntent(deps: SettleDeps, intent: Record<string, unknown> & { id: string; op: string }, report: ReportBuilder): Promise<boolean> {
  const found = byOp.get(intent.op);
  if (found) return (found.settle as Settle<IntentKind>)(deps, intent, report);
  const locks = typeof intent.boxId === 'string' ? ' Until it is settled, its box accepts no changes.' : '';
  report.kept(null, `An intent record ${intent.id} for an operation this build does not know (${intent.op}) was kept for a newer Boxkeep.${locks} If no newer Boxkeep will open this home, "boxkeep recover --discard ${intent.id}" deletes the record (the operation's files stay as they are; see "boxkeep help recover").`);
  return false;
}
