// A waiting merge: a "commit" removal that failed part-way (most often because the disk
// filled up). `qemu-img commit` had already written some of the dependent's clusters into the
// removed snapshot's file, so the removal cannot be undone, only finished; its intent stays in
// the box's journal and recovery finishes it once the space is there (see settle.ts).
//
// Meanwhile the box must not be locked whole: deleting OTHER snapshots is the obvious way to
// make the space. What stays refused, and why:
// - restoring, creating, starting (h/tamper's rule): a restore of the removed snapshot would
//   read the half-merged file as a snapshot; the others change the live disk the merge may
//   be about to replace;
// - removing the snapshot being removed, or its dependent: both files are the merge's
//   operands (the dependent's path is where the merged file goes);
// - removing the removed snapshot's parent: that merge would rewrite (rebase) or replace
//   (commit) the half-merged file itself and change what it backs onto, which the intent
//   recorded as `parentPath`.
// Any other removal only writes into files the waiting merge never opens: a child of the
// dependent is rebased onto the dependent's path, which after the swap holds the merged file
// with exactly the dependent's content; ancestors further up and other branches are layers
// the half-merged file reads through (their content is preserved by any removal) or does not
// read at all.
import { invalidState } from '../../../shared/errors.js';
import { BY_ITSELF, type Box, type Snapshot } from '../../../shared/types.js';
import type { HomeData } from '../deps.js';
import { readIntents, type JournalRead } from '../journal.js';
import * as v from 'valibot';
import { intentParts } from '../operation-kind.js';
import { snapshotRemove, type SnapshotRemoveIntent } from './intents.js';

type Pending = JournalRead['intents'];

function asWaitingMerge(core: HomeData, record: Pending[number]['intent']): SnapshotRemoveIntent | null {
  if (record.op !== 'snapshot-remove' || record.mode !== 'commit') return null;
  return v.is(snapshotRemove.schema(intentParts(core.paths.root)), record) ? record : null;
}

/** Snapshots whose removal would change the layers a waiting merge works on. */
function operands(merge: SnapshotRemoveIntent): Set<string> {
  const ids = [merge.snapshotId, merge.parentId, ...merge.dependents.map((d) => d.snapshotId)];
  return new Set(ids.filter((id): id is string => id !== null));
}

/** True when every unfinished operation of the box is a waiting merge this removal leaves alone. */
export function removalMayRunBesideWaitingMerges(core: HomeData, box: Box, snapshot: Snapshot): boolean {
  const pending = readIntents(core.paths.boxJournal(box.id)).intents;
  if (pending.length === 0) return false;
  return pending.every(({ intent }) => {
    const merge = asWaitingMerge(core, intent);
    return merge !== null && !operands(merge).has(snapshot.id);
  });
}

/** What to tell a user whose change was refused because of a waiting merge; null when there is none. */
export function waitingMergeProblem(core: HomeData, box: Box, pending: Pending): string | null {
  const merges = pending.map(({ intent }) => asWaitingMerge(core, intent)).filter((m): m is SnapshotRemoveIntent => m !== null);
  if (merges.length === 0) return null;
  const name = (id: string | null) => (id ? JSON.stringify(core.store.getSnapshot(id)?.name ?? id) : null);
  const merge = merges[0]!;
  const blocked = [...operands(merge)].map(name).join(', ');
  return `Deleting the snapshot ${name(merge.snapshotId)} of the box ${JSON.stringify(box.name)} stopped part-way through merging its data ` +
    `(usually because the disk filled up) and must be finished first; every other snapshot is intact. Until then the box only accepts ` +
    `deleting its other snapshots (not ${blocked}) and removing the whole box. Free disk space, then run "boxkeep recover" to finish it.`;
}

/**
 * What to tell a user whose change was refused because a live snapshot or a live removal left
 * its record for the owner to settle by itself (recovery/settle-later.ts); null when none did.
 * Seen from inside the box's queue, such a record is always one left over: the operation that
 * writes it holds the queue while it runs.
 */
export function liveRecordProblem(core: HomeData, box: Box, pending: Pending): string | null {
  for (const { intent } of pending) {
    if (intent.op === 'live-create') {
      const snapshot = intent['snapshot'] as { name?: unknown } | undefined;
      const name = typeof snapshot?.name === 'string' ? `${JSON.stringify(snapshot.name)} ` : '';
      return `The live snapshot ${name}of the box ${JSON.stringify(box.name)} is not settled yet (operation ${intent.id}): its QEMU did not say whether it switched disks, and nothing was undone. ` +
        `Boxkeep settles it when that QEMU answers or exits (${BY_ITSELF}), or now with "boxkeep recover"; nothing the guest wrote is lost.`;
    }
    if (intent.op === 'live-commit') {
      const id = intent['snapshotId'];
      const row = typeof id === 'string' ? core.store.getSnapshot(id) : null;
      return `Deleting the snapshot ${row ? `${JSON.stringify(row.name)} ` : ''}of the box ${JSON.stringify(box.name)} stopped after its data began to merge (operation ${intent.id}), and cannot be undone, only finished; ` +
        `every other snapshot is intact and the box reads as before. Boxkeep finishes it by itself (within seconds ${BY_ITSELF}), or now with "boxkeep recover".`;
    }
  }
  return null;
}

/**
 * An intent left behind by a failed (not crashed) operation means the box's files are
 * mid-change: nothing else may touch them until recovery has finished that operation.
 */
export function assertNoUnfinishedWork(core: HomeData, box: Box): void {
  const pending = readIntents(core.paths.boxJournal(box.id)).intents;
  const waiting = waitingMergeProblem(core, box, pending);
  if (waiting) throw invalidState(waiting);
  const live = liveRecordProblem(core, box, pending);
  if (live) throw invalidState(`${live} Until then Boxkeep does nothing else with the box.`);
  if (pending.length > 0) {
    const ops = pending.map((p) => `${p.intent.op} ${p.intent.id}`).join(', ');
    throw invalidState(`An earlier operation on the box ${JSON.stringify(box.name)} (${ops}) did not finish; run "boxkeep recover" (or restart Boxkeep) to complete it first.`);
  }
}
