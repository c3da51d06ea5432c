// Removing the snapshot a running box's live disk backs onto, the cheaper way: block-stream
// its data up into the live disk (remove.ts), or QEMU's "active commit" of the live disk's
// data down into the snapshot's file, which then becomes the live disk. Recovery: commit-settle.ts.
//
// Why the commit is crash-safe, with the guest never stopped. Until the pivot the guest writes to
// the old top, and the removed layer only gains clusters the top also holds, so the top's view
// is the truth (its other dependents were rebased before, so nothing else reads the removed
// layer). After the pivot QEMU writes to the removed layer's file and the old top goes stale.
// The job runs with auto-finalize off: after block-job-complete it copies the last dirty
// clusters, flushes the removed layer's file and waits in PENDING, holding the guest's disk
// requests (QEMU keeps the disk drained until the job is finalized; the guest's CPUs run on).
// There both files read the same, so the note ('pivoted' in the intent: "in step, the pivot due
// or done") goes down then, and only after it job-finalize pivots. A QEMU dying before the note
// leaves the old top right (it cannot have pivoted), after it the removed layer's file (in step,
// or pivoted). A finalize that fails lets the guest write to the old top again: the note is then
// taken back at once, and a running QEMU found later with no job held and the old top is taken
// at its word over a note (a QEMU dying in the few milliseconds between such a failure and the
// note's removal is the one window left; a finalize fails only when QEMU cannot change its graph).
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
import { roundMs, type Logger } from '../../logger.js';
import { clearIntent, writeIntent } from '../../journal.js';
import { BoxkeepError, vmError } from '../../../../shared/errors.js';
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
    await pivot(core, session, intent, onProgress, { jobMayRun: false, logger: core.logger });
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
 * The active commit up to QEMU writing to the removed layer's file, the guest never stopped (see
 * the top of this file): the job is started with auto-finalize off, so after block-job-complete
 * it waits in PENDING with the two views equal and the guest's disk requests held, until the
 * note is down and job-finalize pivots. Resumes a job an earlier owner started, in whatever state
 * it was left; nothing to do once QEMU's top is the new node.
 */
export async function pivot(core: HomeData, session: QemuSession, intent: LiveCommitIntent, onProgress: (f: number) => void, opts: { jobMayRun?: boolean; logger?: Logger } = {}): Promise<void> {
  const { qmp } = session;
  const journal = core.paths.boxJournal(intent.boxId);
  const jobId = `rm-${intent.snapshotId}`;
  // Watched from before QEMU is asked (its events may come with the answer).
  const ready = watchJob(session, jobId, (f) => onProgress(f * 0.99), 'BLOCK_JOB_READY');
  const pending = watchJob(session, jobId, () => {}, 'pending');
  const unwatch = (): void => {
    ready.cancel();
    pending.cancel();
  };
  // jobMayRun: false from the owner that just wrote the intent (no job of it can exist yet):
  // round trips saved. Recovery asks, an earlier owner's job may run on, and asks QEMU which node
  // its disk reads: this owner's own map is stale after a finalize whose reply never came, and a
  // commit started again from the detached old top would write its stale clusters into the live disk.
  let job: BlockJob | undefined;
  let top: string | undefined = session.nodes.top.format;
  try {
    if (opts.jobMayRun !== false) {
      job = await settledJob(session, jobId);
      top = bootDiskTop(await qmp.execute<BlockDevice[]>('query-block'));
    }
  } catch (err) {
    unwatch();
    throw err;
  }
  if (top === intent.base.format) {
    unwatch();
    // Pivoted by an owner that died before its note (a version that noted after the pivot).
    if (!intent.pivoted) writeIntent(journal, { ...intent, pivoted: true });
    if (session.nodes.top.format !== top) pivotedMap(session, intent);
    onProgress(1);
    return;
  }
  // QEMU's top is not the removed layer's nodes here: a note with no job held in PENDING is stale.
  const noted = intent.pivoted === true && !takeBackStaleNote(journal, intent, job);
  // From block-job-complete on, QEMU holds the guest's disk requests (its last copy, then PENDING) until the pivot.
  let held = 0;
  try {
    await renameBase(session, intent);
    if (!job) {
      // Active commit: the top is the live disk; QEMU forbids a backing-file for it (the top goes).
      await qmp.execute('block-commit', { 'job-id': jobId, device: intent.oldTop.format, 'base-node': intent.base.format, 'auto-finalize': false });
    }
    const status = job?.status ?? 'created';
    if (status === 'created' || status === 'running') await ready.done;
    else ready.cancel();
    liveCommit.crash('after-ready');
    held = performance.now();
    if (status !== 'waiting' && status !== 'pending') await qmp.execute('block-job-complete', { device: jobId });
    if (status !== 'pending') await pending.done;
    else pending.cancel();
  } catch (err) {
    unwatch();
    throw err;
  }
  // The last dirty clusters are copied and flushed, the guest's requests held: both files read the same.
  liveCommit.crash('after-pending');
  const noting = performance.now();
  if (!noted) {
    try {
      writeIntent(journal, { ...intent, pivoted: true });
    } catch (err) {
      // No note (or none known to be down): the job must not hold the guest's disk until a retry
      // can write one. Cancelled in PENDING it ends with no pivot, and the old top stays the truth.
      await qmp.execute('job-cancel', { id: jobId }).catch(() => undefined);
      try {
        writeIntent(journal, { ...intent, pivoted: false });
      } catch {
        // The journal refuses every write: the record as it was, never noted (the rename is atomic).
      }
      throw err;
    }
  }
  const notedAt = performance.now();
  liveCommit.crash('after-mark');
  const completed = watchJob(session, jobId, () => {});
  try {
    await qmp.execute('job-finalize', { id: jobId }).catch((err) => {
      completed.cancel();
      throw err;
    });
    await completed.done;
  } catch (err) {
    // The note is down by now, whoever wrote it.
    await afterFailedFinalize(session, journal, { ...intent, pivoted: true }, jobId);
    throw err;
  }
  liveCommit.crash('after-pivot');
  // What the guest can notice: its disk requests held, never its CPUs.
  opts.logger?.info('live merge pivot', {
    op: 'snapshot-remove', boxId: intent.boxId, snapshotId: intent.snapshotId,
    held_io_ms: roundMs(performance.now() - held), note_ms: roundMs(notedAt - noting),
  });
  pivotedMap(session, intent);
  onProgress(1);
}

/** What query-block-jobs says of a job (the fields read here). */
interface BlockJob { device: string; status: string; 'auto-finalize'?: boolean }

/**
 * The removal's job as an earlier owner left it, fit to be taken on: none, or one with
 * auto-finalize off in a state the steps go on from. A paused one (paused, or standby: paused
 * once ready) is resumed. One an earlier version started with auto-finalize on would pivot by
 * itself, before any note, once completed: it is cancelled before it is ready or completes (a
 * cancelled active commit ends with no pivot) and started again; one already finishing by itself
 * is left to finish (the retry then finds the pivot done, or the job gone).
 */
async function settledJob(session: QemuSession, jobId: string): Promise<BlockJob | undefined> {
  const { qmp } = session;
  const find = async () => (await qmp.execute<BlockJob[]>('query-block-jobs')).find((j) => j.device === jobId);
  let job = await find();
  if (job?.status === 'paused' || job?.status === 'standby') {
    // Paused by someone (standby: paused once ready), it would never reach PENDING. QEMU refuses
    // to resume a job it paused itself (drained for a moment): that one goes on by itself.
    await qmp.execute('job-resume', { id: jobId }).catch(() => undefined);
    job = await find();
  }
  if (!job || job['auto-finalize'] === false) return job;
  if (!['created', 'running', 'ready', 'standby', 'paused'].includes(job.status)) throw vmError(`The merge job ${jobId} an earlier Boxkeep started is finishing (${job.status}); tried again shortly.`);
  await qmp.execute('job-cancel', { id: jobId });
  for (let i = 0; i < 400 && (job = await find()); i++) await new Promise((r) => setTimeout(r, 25));
  if (job) throw vmError(`The merge job ${jobId} an earlier Boxkeep started did not end when cancelled (${job.status}); tried again shortly.`);
  return undefined;
}
/** The owner's map after the pivot: the removed layer's nodes are the top, the old top is gone from the chain. */
function pivotedMap(session: QemuSession, intent: LiveCommitIntent): void {
  session.nodes = withoutSnapshot({ ...session.nodes, top: intent.base }, intent.snapshotId);
  writeNodes(session.runDir, session.nodes);
}

/**
 * After job-finalize failed or its reply never came: QEMU says what happened, if it can. Its top
 * the removed layer's nodes: pivoted (the owner's map follows). Its top the old one with no job
 * held in PENDING (gone, or aborting): the finalize failed and the guest writes to the old top
 * again, so the note goes at once (a journal that refuses it fails the step loudly). Its job still
 * pending, or QEMU silent: left as it is, for the retry or recovery.
 */
async function afterFailedFinalize(session: QemuSession, journal: string, intent: LiveCommitIntent, jobId: string): Promise<void> {
  const ask = { timeoutMs: 60_000 };
  let job: BlockJob | undefined;
  let top: string | undefined;
  try {
    job = (await session.qmp.execute<BlockJob[]>('query-block-jobs', undefined, ask)).find((j) => j.device === jobId);
    top = bootDiskTop(await session.qmp.execute<BlockDevice[]>('query-block', undefined, ask));
  } catch {
    return; // QEMU silent: recovery asks it again.
  }
  if (top === intent.base.format) pivotedMap(session, intent);
  else if (top === intent.oldTop.format) takeBackStaleNote(journal, intent, job);
}

/**
 * A note QEMU contradicts, asked when its disk does not read the removed layer's nodes: with no
 * job held in PENDING (gone, or aborting) a finalize failed and the guest writes to the old top
 * again, which is the truth again. The note goes (true), or there was none to take back (false).
 */
function takeBackStaleNote(journal: string, intent: LiveCommitIntent, job: BlockJob | undefined): boolean {
  if (!intent.pivoted || job?.status === 'pending') return false;
  writeIntent(journal, { ...intent, pivoted: false });
  return true;
}

/**
 * After the pivot: the removed layer's file takes the live path (QEMU keeps its descriptor)
 * while the old top's nodes go (closing its file), then the rows and the folder. Idempotent.
 */
export async function finishCommit(core: HomeData, session: QemuSession | null, intent: LiveCommitIntent): Promise<void> {
  // Sent first and awaited last, so QEMU closes the old top while the rename, the rows and the
  // folder are made durable: any order is right (nothing reads the old top after the pivot, and
  // the trash frees its file after the removal, open or not). Both sent whatever the first
  // answers, as one at a time did: either may be gone already (recovery).
  const dropped = session ? executeInOrder(session.qmp, [['blockdev-del', { 'node-name': intent.oldTop.format }], ['blockdev-del', { 'node-name': intent.oldTop.file }]]).catch(() => undefined) : null;
  if (fs.existsSync(intent.snapshotPath)) {
    // The old top, replaced here, is freed by the trash after the removal, not by QEMU's close.
    core.trash?.keep(intent.commitFrom.path);
    renameDurable(intent.snapshotPath, intent.commitFrom.path);
  }
  liveCommit.crash('after-rename');
  removeRowReparenting(core, intent);
  liveCommit.crash('after-row');
  deleteSnapshotFiles(core, intent);
  liveCommit.crash('after-delete');
  await dropped;
}
