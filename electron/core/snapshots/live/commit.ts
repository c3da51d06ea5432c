// Removing the snapshot a running box's live disk backs onto, the cheaper way: block-stream
// its data up into the live disk (remove.ts), or QEMU's "active commit" of the live disk's
// data down into the snapshot's file, which then becomes the live disk. Recovery: commit-settle.ts.
//
// Why the commit is crash-safe. Until the pivot (block-job-complete) the guest writes to the
// old top, and the removed layer only gains clusters the top also holds, so the top's view is
// the truth (its other dependents were rebased before, so nothing else reads the removed
// layer). After the pivot QEMU writes to the removed layer's file and the old top goes stale.
// A QEMU dying between the pivot and our note of it would leave recovery unable to tell which
// file is current, so the guest is stopped around the two: block-job-complete returns with
// both views equal (the job copies the last dirty clusters before it pivots, and a stopped
// guest writes nothing), so before the note ('pivoted' in the intent) either file is right and
// recovery takes the old top; after it, only the removed layer's file is. Then `cont`.
//
// Why the node names may change before the job: QEMU keeps a node's name, so after the pivot
// the live disk would be the removed layer's node. A layer a live snapshot made in this QEMU
// (a generation pair, `q<n>`) is fit to be the top as it is (vm/nodes.ts mayBecomeTop). One the
// box started with is the snapshot's `qs<id>`, a name that says "snapshot", over a file node
// that reopens its file by name: its file is opened again as the next generation's pair and
// swapped in below the top (blockdev-reopen), so the live disk is a generation node.
//
// Why the rows move before the job: an owner killed after the pivot and before the rename
// leaves QEMU reading [new top, parent…] while the disk still says [old top, removed, parent…];
// adoption (vm/supervisor.ts nodeMapFor) accepts QEMU's chain when it matches the chain on disk
// or the rows, so the rows must already say "the live disk backs onto the parent". Before the
// pivot the chain on disk matches QEMU, after the rename both do.
import fs from 'node:fs';
import type { Box } from '../../../../shared/types.js';
import { dataBytes } from '../../disk/allocated.js';
import { renameDurable } from '../../fsutil.js';
import { removalNeeds, withMetadata } from '../../space.js';
import { newId } from '../../ids.js';
import { clearIntent, writeIntent } from '../../journal.js';
import { BoxkeepError } from '../../../../shared/errors.js';
import type { Dependent, SnapshotRemoveIntent } from '../intents.js';
import { deleteSnapshotFiles, moveDependentRow, removeRowReparenting } from '../steps.js';
import { bootDiskTop, mayBecomeTop, nextTop, withoutSnapshot, writeNodes, type BlockDevice } from '../../vm/nodes.js';
import { executeInOrder } from '../../vm/qmp.js';
import type { QemuSession } from '../../vm/supervisor.js';
import type { LiveDeps } from './create.js';
import { liveCommit, type LiveCommitIntent } from './intents.js';
import { layersOf, readByQemu, rebaseOthers, removeLive, watchJob } from './remove.js';
import type { HomeData } from '../../deps.js';

export type MergeDirection = 'stream' | 'commit';

/** How a running box's removal goes: the direction, the dependent QEMU reads, the bytes it writes. */
export interface RunningRemoval { direction: MergeDirection; child: Dependent; needed: number }

/**
 * Plans removing a snapshot a running box reads through. Streaming copies what the removed layer
 * holds, committing what the live disk holds: the smaller wins (a tie streams, the simpler job).
 * Only into the live disk; an intermediate layer (the box runs on a later snapshot) is streamed.
 * The space guard counts the chosen direction: a commit writes the live disk's data into the
 * removed layer (and the rebase of each other dependent what the removed layer holds), so a
 * removal that fits is not refused for what the stream it avoids would have written.
 */
export function planRunning(core: LiveDeps, box: Box, plan: SnapshotRemoveIntent, child: Dependent = readByQemu(core, box, plan)): RunningRemoval {
  if (child.snapshotId !== null) return { direction: 'stream', child, needed: removalNeeds(plan) };
  const removedBytes = layerBytes(plan.snapshotPath);
  const liveBytes = layerBytes(child.path);
  const direction = chooseDirection(core, box, removedBytes, liveBytes);
  // Each rebased or streamed-into dependent gains the removed layer's data; a commit writes the live disk's into it.
  const others = plan.dependents.length - 1;
  const needed = direction === 'stream' ? plan.dependents.length * withMetadata(removedBytes) : withMetadata(liveBytes) + others * withMetadata(removedBytes);
  return { direction, child, needed: Number.isFinite(needed) ? needed : removalNeeds(plan) };
}

export async function removeRunning(core: LiveDeps, box: Box, plan: SnapshotRemoveIntent, running: RunningRemoval, onProgress: (f: number) => void): Promise<void> {
  if (running.direction === 'stream') return removeLive(core, box, plan, onProgress);
  return removeByCommit(core, box, plan, running.child, onProgress);
}

/**
 * The data a layer holds itself, from its own tables (disk/allocated.ts, the measure the space
 * guard uses): what a merge out of it copies. The live disk's tables are read while QEMU writes
 * them: metadata QEMU has not flushed yet is missed, which can only make a commit look cheaper
 * than it is. A table that cannot be read (torn mid-write) counts as everything: not chosen.
 */
function layerBytes(file: string): number {
  try {
    return dataBytes(file);
  } catch {
    return Infinity;
  }
}

/**
 * Streaming copies what the removed layer holds, committing what the live disk holds: the
 * smaller wins (a tie streams, the simpler job). BOXKEEP_LIVE_MERGE=stream|commit forces one
 * (tests and benchmarks of each direction).
 */
function chooseDirection(core: LiveDeps, box: Box, streamBytes: number, commitBytes: number): MergeDirection {
  const forced = process.env.BOXKEEP_LIVE_MERGE;
  const direction: MergeDirection = forced === 'stream' || forced === 'commit' ? forced : commitBytes < streamBytes ? 'commit' : 'stream';
  core.logger.info('live merge direction', { op: 'snapshot-remove', boxId: box.id, direction, streamBytes, commitBytes, forced: forced ?? null });
  return direction;
}

async function removeByCommit(core: LiveDeps, box: Box, plan: SnapshotRemoveIntent, child: Dependent, onProgress: (f: number) => void): Promise<void> {
  const session = core.sessions.session(box.id);
  const removed = session.nodes.snapshots[plan.snapshotId];
  // Its own nodes when they may be the top (renameBase then has nothing to do): 11 ms saved.
  const { generation, newTop } = removed && mayBecomeTop(removed) ? { generation: session.nodes.generation, newTop: removed } : nextTop(session.nodes);
  const intent: LiveCommitIntent = {
    ...plan, id: newId(), op: 'live-commit', commitFrom: child, others: plan.dependents.filter((d) => d !== child),
    wasPaused: box.status === 'paused', oldTop: session.nodes.top, base: newTop, generation,
  };
  const journal = core.paths.boxJournal(box.id);
  writeIntent(journal, intent);
  liveCommit.crash('after-intent');
  try {
    // Before the commit writes into the removed layer: nothing else may read it then.
    await rebaseOthers(core, intent);
    moveDependentRow(core, intent, child);
    await renameBase(session, intent);
  } catch (err) {
    // Nothing was written into the removed layer: the removal did not happen (the dependents
    // already rebased stay moved, in rows and chains alike).
    core.store.setCurrentSnapshot(box.id, intent.snapshotId);
    clearIntent(journal, intent.id);
    throw err;
  }
  liveCommit.crash('after-base');
  // From here on the removed layer holds some of the live disk's clusters: forward only.
  try {
    await pivot(core, session, intent, onProgress, { jobMayRun: false });
    await finishCommit(core, session, intent);
  } catch (err) {
    // Forward only: finished as recovery would, as soon as this QEMU lets it (tried again, ever
    // less often, while this owner holds the home; else by the next owner's recovery).
    core.unsettled.retryLeft(box.id, intent.id, intent.snapshotId);
    const e = err instanceof BoxkeepError ? err : new BoxkeepError('Vm', String((err as Error).message ?? err));
    throw new BoxkeepError(e.code, `${e.message} The snapshot was partly merged and cannot be put back; every other snapshot is intact and the box reads as before. Boxkeep finishes the removal by itself (within seconds, or when it next takes the home), or now with "boxkeep recover".`, { cause: err });
  }
  clearIntent(journal, intent.id);
}

/**
 * The removed layer's file opened again under the next generation's names, under the top
 * (blockdev-reopen), the old nodes dropped. Idempotent (recovery runs it again): nothing is
 * done when QEMU's map already names the removed layer so (also when its own nodes were fit to
 * be the top from the start).
 */
async function renameBase(session: QemuSession, intent: LiveCommitIntent): Promise<void> {
  const { removed, base: below } = layersOf(session, { ...intent, streamInto: intent.commitFrom });
  if (removed.format === intent.base.format) return;
  const { base } = intent;
  // Read-write from the start, like every top's file node, and not auto-read-only: such a node
  // reopens its file BY NAME whenever it switches between read-only and read-write (a later
  // snapshot puts it under a new top), and after the rename below that name is gone.
  // Two batches (vm/qmp.ts executeInOrder), each command failing when the one before it did:
  // the qcow2 node needs the file node; the removed layer's nodes stay in use (and are not
  // deleted) unless the reopen moved the top off them. Not one batch: nodes of the same names
  // left by an earlier attempt would let the reopen run after a failed add.
  try {
    await executeInOrder(session.qmp, [
      ['blockdev-add', { driver: 'file', filename: intent.snapshotPath, 'node-name': base.file }],
      ['blockdev-add', { driver: 'qcow2', file: base.file, 'node-name': base.format, 'read-only': true, backing: below?.format ?? null }],
    ]);
    await executeInOrder(session.qmp, [
      ['blockdev-reopen', { options: [{ driver: 'qcow2', 'node-name': intent.oldTop.format, file: intent.oldTop.file, backing: base.format }] }],
      ['blockdev-del', { 'node-name': removed.format }],
      ['blockdev-del', { 'node-name': removed.file }],
    ]);
  } catch (err) {
    // The next generation's names are nobody's yet: whatever of them is in QEMU now (these adds,
    // or a node of the same name an earlier attempt left, on which the qcow2 add above runs even
    // when the file add failed) goes, or every retry fails on it. Either delete fails harmlessly
    // if the top already reads through the node (QEMU refuses a node in use).
    await executeInOrder(session.qmp, [['blockdev-del', { 'node-name': base.format }], ['blockdev-del', { 'node-name': base.file }]]).catch(() => undefined);
    throw err;
  }
  session.nodes = { ...session.nodes, generation: Math.max(session.nodes.generation, intent.generation), snapshots: { ...session.nodes.snapshots, [intent.snapshotId]: base } };
  writeNodes(session.runDir, session.nodes);
}

/**
 * The active commit up to QEMU writing to the removed layer's file, the guest stopped around
 * the pivot and its note (see the top of this file). Resumes a job an earlier owner started;
 * nothing to do once QEMU's top is the new node.
 */
export async function pivot(core: HomeData, session: QemuSession, intent: LiveCommitIntent, onProgress: (f: number) => void, opts: { jobMayRun?: boolean } = {}): Promise<void> {
  const { qmp } = session;
  const journal = core.paths.boxJournal(intent.boxId);
  // Recovery asks QEMU which node its disk reads: this owner's own map is stale after a pivot
  // whose reply never came (below), and a commit started again from the detached old top would
  // write its stale clusters into the live disk.
  const top = opts.jobMayRun === false ? session.nodes.top.format : bootDiskTop(await qmp.execute<BlockDevice[]>('query-block'));
  if (top === intent.base.format) {
    // Pivoted by an owner that died before its note: the note goes down before anything
    // resumes the guest, or a QEMU dying after that would have recovery take the stale top.
    if (!intent.pivoted) writeIntent(journal, { ...intent, pivoted: true });
    if (session.nodes.top.format !== top) pivotedMap(session, intent);
  } else {
    await renameBase(session, intent);
    const jobId = `rm-${intent.snapshotId}`;
    const ready = watchJob(session, jobId, (f) => onProgress(f * 0.99), 'BLOCK_JOB_READY');
    // jobMayRun: false from the owner that just wrote the intent (no job of it can exist yet):
    // a round trip saved. Recovery asks, an earlier owner's job may run on.
    const job = opts.jobMayRun === false ? undefined : (await qmp.execute<{ device: string; ready: boolean }[]>('query-block-jobs')).find((j) => j.device === jobId);
    try {
      // Active commit: the top is the live disk; QEMU forbids a backing-file for it (the top goes).
      if (!job) await qmp.execute('block-commit', { 'job-id': jobId, device: intent.oldTop.format, 'base-node': intent.base.format });
    } catch (err) {
      ready.cancel();
      throw err;
    }
    if (job?.ready) ready.cancel();
    else await ready.done;
    liveCommit.crash('after-ready');
    session.quiescing = true;
    let resume = !intent.wasPaused;
    let completeSent = false;
    try {
      // One at a time: a `stop` whose reply is late (it drains and flushes) must not let the
      // pivot run before the guest is stopped.
      if (!intent.wasPaused) await qmp.execute('stop');
      const completed = watchJob(session, jobId, () => {});
      completeSent = true;
      await qmp.execute('block-job-complete', { device: jobId }).catch((err) => {
        completed.cancel();
        throw err;
      });
      await completed.done;
      liveCommit.crash('after-pivot');
      writeIntent(journal, { ...intent, pivoted: true });
      liveCommit.crash('after-mark');
    } catch (err) {
      // QEMU may have pivoted though no reply said so (a timeout): resumed then (by us, or later
      // by the user when it was paused), the guest would write to the removed layer's file with
      // no note of it. Only QEMU can say.
      if (completeSent && !(await pivotNotedOrNone(session, journal, intent, jobId))) resume = false;
      throw err;
    } finally {
      try {
        if (resume) await qmp.execute('cont');
      } finally {
        session.quiescing = false;
      }
    }
    liveCommit.crash('after-resume');
    pivotedMap(session, intent);
  }
  onProgress(1);
}

/** The owner's map after the pivot: the removed layer's nodes are the top, the old top is gone from the chain. */
function pivotedMap(session: QemuSession, intent: LiveCommitIntent): void {
  session.nodes = withoutSnapshot({ ...session.nodes, top: intent.base }, intent.snapshotId);
  writeNodes(session.runDir, session.nodes);
}

/**
 * After a failed step from block-job-complete on: may the guest run again? Yes when QEMU says
 * its job is over and its disk reads the old top (no pivot) or the removed layer's nodes (the
 * pivot, noted here first). No when QEMU does not say, or its job still runs (it may pivot yet):
 * the guest stays stopped and the intent as it is, for recovery (which resumes the guest).
 */
async function pivotNotedOrNone(session: QemuSession, journal: string, intent: LiveCommitIntent, jobId: string): Promise<boolean> {
  const ask = { timeoutMs: 60_000 };
  try {
    const jobs = await session.qmp.execute<{ device: string }[]>('query-block-jobs', undefined, ask);
    if (jobs.some((j) => j.device === jobId)) return false;
    const top = bootDiskTop(await session.qmp.execute<BlockDevice[]>('query-block', undefined, ask));
    if (top === intent.base.format) {
      writeIntent(journal, { ...intent, pivoted: true });
      pivotedMap(session, intent);
      return true;
    }
    return top === intent.oldTop.format;
  } catch {
    return false;
  }
}

/**
 * After the pivot: the removed layer's file takes the live path (QEMU keeps its descriptor)
 * while the old top's nodes go (closing its file), then the rows and the folder. Idempotent.
 */
export async function finishCommit(core: HomeData, session: QemuSession | null, intent: LiveCommitIntent): Promise<void> {
  // Sent before the rename and awaited after it, so QEMU closes the old top while the rename is
  // made durable: either order is right. Both sent whatever the first answers, as one at a time
  // did: either may be gone already (recovery).
  const dropped = session ? executeInOrder(session.qmp, [['blockdev-del', { 'node-name': intent.oldTop.format }], ['blockdev-del', { 'node-name': intent.oldTop.file }]]).catch(() => undefined) : null;
  if (fs.existsSync(intent.snapshotPath)) {
    // The old top, replaced here, is freed by the trash after the removal, not by QEMU's close.
    core.trash?.keep(intent.commitFrom.path);
    renameDurable(intent.snapshotPath, intent.commitFrom.path);
  }
  liveCommit.crash('after-rename');
  await dropped;
  removeRowReparenting(core, intent);
  liveCommit.crash('after-row');
  deleteSnapshotFiles(core, intent);
  liveCommit.crash('after-delete');
}
