// Removing a snapshot a running box reads through: the dependent layer QEMU reads is merged
// by a block-stream job while the guest keeps running; other dependents are rebased with
// qemu-img. Recovery: settle.ts.
import fs from 'node:fs';
import path from 'node:path';
import { invalidState, vmError } from '../../../../shared/errors.js';
import type { Box } from '../../../../shared/types.js';
import { backingPathOf } from '../../disk/backing.js';
import { rebase } from '../../disk/qemu-img.js';
import { newId } from '../../ids.js';
import { clearIntent, writeIntent } from '../../journal.js';
import type { Dependent, RemoveFacts, SnapshotRemoveIntent } from '../intents.js';
import { deleteSnapshotFiles, moveDependentRow, removeRowReparenting } from '../steps.js';
import { withoutSnapshot, writeNodes, type NodePair } from '../../vm/nodes.js';
import { executeInOrder, type QmpEvent } from '../../vm/qmp.js';
import type { QemuSession } from '../../vm/supervisor.js';
import type { HomeData } from '../../deps.js';
import type { LiveDeps } from './create.js';
import { liveRemove, type LiveRemoveIntent } from './intents.js';

export async function removeLive(core: LiveDeps, box: Box, plan: SnapshotRemoveIntent, onProgress: (f: number) => void): Promise<void> {
  const session = core.sessions.session(box.id);
  const streamInto = readByQemu(core, box, plan);
  const intent: LiveRemoveIntent = { ...plan, id: newId(), op: 'live-remove', streamInto, others: plan.dependents.filter((d) => d !== streamInto) };
  const journal = core.paths.boxJournal(box.id);
  writeIntent(journal, intent);
  liveRemove.crash('after-intent');
  try {
    await rebaseOthers(core, intent);
    await streamLayer(session, intent, onProgress);
  } catch (err) {
    // A failed stream leaves its target backing onto the removed snapshot, content unchanged;
    // whatever did merge was moved in the rows. The snapshot stays, whole: nothing to replay.
    if ((await backingPathOf(streamInto.path).catch(() => null)) === intent.parentPath) moveDependentRow(core, intent, streamInto);
    clearIntent(journal, intent.id);
    throw err;
  }
  moveDependentRow(core, intent, streamInto);
  liveRemove.crash('after-stream');
  removeRowReparenting(core, intent);
  liveRemove.crash('after-row');
  deleteSnapshotFiles(core, intent);
  liveRemove.crash('after-delete');
  clearIntent(journal, intent.id);
}

/**
 * The dependents QEMU does not read (other branches) onto the removed snapshot's parent, each row
 * moved with it. Idempotent, so recovery runs it again: one already rebased (or gone) is skipped.
 */
export async function rebaseOthers(core: HomeData, intent: Pick<LiveRemoveIntent, 'others' | 'parentPath'> & RemoveFacts): Promise<void> {
  for (const d of intent.others) {
    if (fs.existsSync(d.path) && (await backingPathOf(d.path)) !== intent.parentPath) await rebase(d.path, intent.parentPath);
    moveDependentRow(core, intent, d);
  }
}

/** The dependent QEMU reads through (the live disk or a snapshot of its chain). */
export function readByQemu(core: LiveDeps, box: Box, plan: SnapshotRemoveIntent): Dependent {
  const session = core.sessions.session(box.id);
  const read = new Set([box.liveDiskPath, ...Object.keys(session.nodes.snapshots).map((id) => core.store.getSnapshot(id)?.diskPath)]);
  const dependent = plan.dependents.find((d) => read.has(d.path));
  if (!dependent) throw invalidState('The running box does not read from this snapshot; it can be removed offline.');
  return dependent;
}

/**
 * Streams the removed snapshot's data into the layer above it, which then backs onto the
 * removed snapshot's parent. An intermediate layer is reopened read-write for the job and
 * read-only after it. Then the removed layer's nodes are dropped, closing its file.
 */
export async function streamLayer(session: QemuSession, intent: LiveRemoveIntent, onProgress: (f: number) => void): Promise<void> {
  const { target, removed, base } = layersOf(session, intent);
  if (target !== session.nodes.top) await reopen(session, target, removed.format, false);
  const jobId = `rm-${intent.snapshotId}`;
  const job = watchJob(session, jobId, onProgress);
  try {
    // QEMU's own filenames are stale after the renames of live snapshots: name the backing file.
    // No base (a blank root removed): everything is streamed and the target then stands alone.
    const onto = base ? { 'base-node': base.format, 'backing-file': intent.parentPath } : {};
    await session.qmp.execute('block-stream', { 'job-id': jobId, device: target.format, ...onto });
  } catch (err) {
    job.cancel();
    if (target !== session.nodes.top) await reopen(session, target, removed.format, true).catch(() => undefined);
    throw err;
  }
  await job.done;
  // QEMU has detached the removed layer; its nodes and the map still name it.
  liveRemove.crash('after-job');
  await finishStream(session, intent);
  onProgress(1);
}

export function layersOf(session: QemuSession, intent: MergeEnds): { target: NodePair; removed: NodePair; base: NodePair | null } {
  const { target, base } = mergeEnds(session, intent);
  const removed = session.nodes.snapshots[intent.snapshotId];
  if (!removed) throw missingLayers();
  return { target, removed, base };
}

/** What locates the layers of a merge: the removed snapshot, what it backs onto, the layer QEMU reads above it. */
type MergeEnds = Pick<LiveRemoveIntent, 'snapshotId' | 'parentPath' | 'streamInto'>;

/** The layer merged into and the layer it then backs onto (null: none, a blank root was removed). */
function mergeEnds(session: QemuSession, intent: MergeEnds): { target: NodePair; base: NodePair | null } {
  const { nodes } = session;
  const target = intent.streamInto.snapshotId ? nodes.snapshots[intent.streamInto.snapshotId] : nodes.top;
  if (intent.parentPath === null) {
    if (!target) throw missingLayers();
    return { target, base: null };
  }
  const base = nodes.snapshots[path.basename(path.dirname(intent.parentPath))] ?? nodes.image;
  if (!target || !base) throw missingLayers();
  return { target, base };
}

function missingLayers() {
  return invalidState('The running QEMU does not hold the layers this removal needs; stop the box and remove the snapshot offline.');
}

/** Resolves when the job completes (progress polled meanwhile); rejects when it fails. */
export function waitForJob(session: QemuSession, jobId: string, onProgress: (f: number) => void): Promise<void> {
  return watchJob(session, jobId, onProgress).done;
}

/**
 * Watches a block job from before it starts (its events may come at once); cancel() if it never
 * does. `until`: the event that ends the watch (an active commit is READY long before it
 * completes), or 'pending': the job's status change to PENDING (a job started with auto-finalize
 * off, once it is done and waits for job-finalize).
 */
export function watchJob(session: QemuSession, jobId: string, onProgress: (f: number) => void, until: 'BLOCK_JOB_COMPLETED' | 'BLOCK_JOB_READY' | 'pending' = 'BLOCK_JOB_COMPLETED'): { done: Promise<void>; cancel(): void } {
  const { qmp } = session;
  const ours = (e: QmpEvent): boolean => e.data?.device === jobId;
  const offs: (() => void)[] = [];
  let stop!: () => void;
  // Every listener goes when the watch ends, however it ends (a cancelled one too).
  const done = new Promise<void>((resolve, reject) => {
    stop = () => reject(vmError(`block job ${jobId} was not started`));
    if (until === 'pending') offs.push(qmp.on('JOB_STATUS_CHANGE', (e) => e.data?.id === jobId && e.data?.status === 'pending' && resolve()));
    else if (until === 'BLOCK_JOB_READY') offs.push(qmp.on('BLOCK_JOB_READY', (e) => ours(e) && resolve()));
    // A job that fails before it is ready (or pending) completes with an error.
    offs.push(qmp.on('BLOCK_JOB_COMPLETED', (e) => {
      if (!ours(e)) return;
      if (typeof e.data?.error === 'string') reject(vmError(`Merging the snapshot failed: ${e.data.error}`));
      else resolve();
    }));
    offs.push(qmp.on('BLOCK_JOB_ERROR', (e) => ours(e) && reject(vmError(`Merging the snapshot failed: ${JSON.stringify(e.data)}`))));
    offs.push(qmp.onClose(() => reject(vmError(`QEMU closed its QMP connection while block job ${jobId} ran`))));
  });
  // Progress is polled by the watch of the job's run, not of its wait in PENDING.
  const poll = until === 'pending' ? undefined : setInterval(() => {
    qmp.execute<{ device: string; offset: number; len: number }[]>('query-block-jobs').then((jobs) => {
      const job = jobs.find((j) => j.device === jobId);
      if (job && job.len > 0) onProgress(job.offset / job.len);
    }, () => undefined);
  }, 200);
  const watched = done.finally(() => {
    clearInterval(poll);
    for (const off of offs) off();
  });
  watched.catch(() => undefined);
  return { done: watched, cancel: () => stop() };
}

/**
 * After the stream: the merged layer read-only again, the removed layer's nodes dropped.
 * Idempotent, and safe after adoption, whose map no longer holds a removed layer that QEMU
 * had already detached (adoption drops such nodes itself).
 */
export async function finishStream(session: QemuSession, intent: LiveRemoveIntent): Promise<void> {
  const removed = session.nodes.snapshots[intent.snapshotId];
  const { target, base } = removed ? layersOf(session, intent) : mergeEnds(session, intent);
  if (target !== session.nodes.top) await reopen(session, target, base?.format ?? null, true).catch(() => undefined);
  if (removed) await executeInOrder(session.qmp, [['blockdev-del', { 'node-name': removed.format }], ['blockdev-del', { 'node-name': removed.file }]]).catch(() => undefined);
  session.nodes = withoutSnapshot(session.nodes, intent.snapshotId);
  writeNodes(session.runDir, session.nodes);
}

async function reopen(session: QemuSession, node: NodePair, backing: string | null, readOnly: boolean): Promise<void> {
  await session.qmp.execute('blockdev-reopen', { options: [{ driver: 'qcow2', 'node-name': node.format, file: node.file, 'read-only': readOnly, backing }] });
}
