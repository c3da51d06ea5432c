// Snapshots of a running box. Create: the overlay is made before the pause, so the guest is
// paused only for two renames and three QMP commands. Remove: the dependent layer QEMU
// reads through is merged by a block-stream job; the guest keeps running.
import fs from 'node:fs';
import path from 'node:path';
import { invalidState, vmError } from '../../../../shared/errors.js';
import type { Box, Snapshot } from '../../../../shared/types.js';
import type { HomeData } from '../../deps.js';
import type { Logger } from '../../logger.js';
import { crashPoint } from '../../crash.js';
import { rebase } from '../../disk/qemu-img.js';
import { backingPathOf } from '../../disk/backing.js';
import { mkdirDurable } from '../../fsutil.js';
import { newId } from '../../ids.js';
import { clearIntent, writeIntent } from '../../journal.js';
import type { LiveSnapshotOps } from '../engine.js';
import { commitCreateRow, deleteSnapshotFiles, freezeLiveDisk, installNextOverlay, moveDependentRow, removeRowReparenting, syncDisks, writeNextOverlay, type Dependent, type SnapshotRemoveIntent } from '../steps.js';
import { writeNodes, type NodePair } from '../../vm/nodes.js';
import type { QemuSession, Supervisor } from '../../vm/supervisor.js';

export interface LiveCreateIntent {
  id: string; op: 'live-create'; startedAt: number;
  boxId: string; snapshot: Snapshot;
  generation: number; oldTop: NodePair; newTop: NodePair; wasPaused: boolean;
}

export interface LiveRemoveIntent extends Omit<SnapshotRemoveIntent, 'op'> {
  op: 'live-remove';
  /** The layer QEMU reads through that backs onto the removed snapshot (the live disk or a snapshot). */
  streamInto: Dependent;
  /** Dependents QEMU does not read (other branches): rebased with qemu-img. */
  others: Dependent[];
}

/** What live snapshots need: the home, the log, and the session of the box's running QEMU. */
export type LiveDeps = HomeData & { logger: Logger; sessions: Pick<Supervisor, 'session'> };

export class LiveSnapshots implements LiveSnapshotOps {
  constructor(private readonly core: LiveDeps) {}

  async create(box: Box, snapshot: Snapshot): Promise<Snapshot> {
    const session = this.core.sessions.session(box.id);
    const generation = session.nodes.generation + 1;
    const intent: LiveCreateIntent = {
      id: newId(), op: 'live-create', startedAt: Date.now(), boxId: box.id, snapshot, generation,
      oldTop: session.nodes.top, newTop: { format: `q${generation}`, file: `f${generation}` }, wasPaused: box.status === 'paused',
    };
    const journal = this.core.paths.boxJournal(box.id);
    writeIntent(journal, intent);
    crashPoint('live-create:after-intent');
    mkdirDurable(path.dirname(snapshot.diskPath));
    // Made before the pause: creating it inside the pause would triple the pause window.
    await writeNextOverlay(this.core, box, snapshot.diskPath, { backingMayNotExistYet: true });
    await addOverlayNodes(session, this.core.paths.nextDisk(box.id), intent);
    crashPoint('live-create:after-overlay');
    session.quiescing = true;
    const paused = performance.now();
    let pauseMs = 0;
    const marks: number[] = [];
    try {
      if (!intent.wasPaused) await session.qmp.execute('stop');
      marks.push(performance.now());
      crashPoint('live-create:after-pause');
      // QEMU keeps its fd on the renamed file: the guest's disk does not move under it.
      freezeLiveDisk(this.core, box, snapshot.diskPath, { sync: false });
      crashPoint('live-create:after-freeze');
      installNextOverlay(this.core, box, { sync: false });
      syncDisks(this.core, box, snapshot.diskPath);
      marks.push(performance.now());
      crashPoint('live-create:after-install');
      await switchToOverlay(session, intent);
      marks.push(performance.now());
      crashPoint('live-create:after-switch');
      if (!intent.wasPaused) await session.qmp.execute('cont');
      pauseMs = performance.now() - paused;
      // Outside the pause: recovery rebuilds the map from QEMU's own node list if we die first.
      writeNodes(session.runDir, session.nodes);
      crashPoint('live-create:after-resume');
    } catch (err) {
      session.quiescing = false;
      if (!(await this.pastPointOfNoReturn(session, box, intent))) {
        await this.undoCreate(session, box, intent);
        throw err;
      }
      // QEMU writes to the new overlay (or is gone with the disks complete): the frozen disk
      // is the snapshot now, and undoing would delete what the live disk backs onto.
      if (!intent.wasPaused) await session.qmp.execute('cont').catch(() => undefined);
      try {
        writeNodes(session.runDir, session.nodes);
      } catch (writeErr) {
        this.core.logger.warn('node map not written', { op: 'live-create', boxId: box.id, error: String(writeErr) });
      }
      this.core.logger.warn('live snapshot finished despite an error after the switch', { op: 'live-create', boxId: box.id, snapshotId: snapshot.id, error: String((err as Error).message ?? err) });
    } finally {
      session.quiescing = false;
    }
    const row = commitCreateRow(this.core, { ...snapshot, live: true });
    crashPoint('live-create:after-row');
    clearIntent(journal, intent.id);
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const [stopped = paused, renamed = paused, switched = paused] = marks;
    this.core.logger.info('live snapshot pause window', {
      op: 'live-create', boxId: box.id, snapshotId: snapshot.id, pause_ms: r2(pauseMs),
      stop_ms: r2(stopped - paused), rename_ms: r2(renamed - stopped), switch_ms: r2(switched - renamed), cont_ms: r2(paused + pauseMs - switched),
    });
    return row;
  }

  /** Does QEMU already write to the new overlay, or is it gone with both renames done? */
  private async pastPointOfNoReturn(session: QemuSession, box: Box, intent: LiveCreateIntent): Promise<boolean> {
    if (session.nodes.top.format === intent.newTop.format) return true;
    const installed = !fs.existsSync(this.core.paths.nextDisk(box.id)) && fs.existsSync(intent.snapshot.diskPath);
    try {
      const devices = await session.qmp.execute<{ inserted?: { 'node-name'?: string } }[]>('query-block', undefined, { timeoutMs: 3000 });
      const top = devices.find((d) => d.inserted)?.inserted?.['node-name'];
      if (top === intent.newTop.format) {
        session.nodes = { ...session.nodes, generation: intent.generation, top: intent.newTop, snapshots: { ...session.nodes.snapshots, [intent.snapshot.id]: intent.oldTop } };
        return true;
      }
      return false;
    } catch {
      return session.qmp.closed && installed;
    }
  }

  /** A failed QMP step before the switch: put the live disk back where QEMU's fd is. */
  private async undoCreate(session: QemuSession, box: Box, intent: LiveCreateIntent): Promise<void> {
    if (session.nodes.top.format !== intent.newTop.format && fs.existsSync(intent.snapshot.diskPath)) {
      fs.rmSync(box.liveDiskPath, { force: true });
      fs.renameSync(intent.snapshot.diskPath, box.liveDiskPath);
    }
    if (!intent.wasPaused) await session.qmp.execute('cont').catch(() => undefined);
    await dropOverlayNodes(session, intent);
    fs.rmSync(this.core.paths.nextDisk(box.id), { force: true });
    fs.rmSync(path.dirname(intent.snapshot.diskPath), { recursive: true, force: true });
    clearIntent(this.core.paths.boxJournal(box.id), intent.id);
  }

  async remove(box: Box, plan: SnapshotRemoveIntent, onProgress: (f: number) => void): Promise<void> {
    const session = this.core.sessions.session(box.id);
    const readByQemu = new Set([box.liveDiskPath, ...Object.keys(session.nodes.snapshots).map((id) => this.core.store.getSnapshot(id)?.diskPath)]);
    const streamInto = plan.dependents.find((d) => readByQemu.has(d.path));
    if (!streamInto) throw invalidState('The running box does not read from this snapshot; it can be removed offline.');
    const intent: LiveRemoveIntent = { ...plan, id: newId(), op: 'live-remove', streamInto, others: plan.dependents.filter((d) => d !== streamInto) };
    const journal = this.core.paths.boxJournal(box.id);
    writeIntent(journal, intent);
    crashPoint('live-remove:after-intent');
    try {
      for (const d of intent.others) {
        await rebase(d.path, intent.parentPath);
        moveDependentRow(this.core, intent, d);
      }
      await streamLayer(session, intent, onProgress);
    } catch (err) {
      // A failed stream leaves its target backing onto the removed snapshot, content unchanged;
      // whatever did merge was moved in the rows. The snapshot stays, whole: nothing to replay.
      if ((await backingPathOf(streamInto.path).catch(() => null)) === intent.parentPath) moveDependentRow(this.core, intent, streamInto);
      clearIntent(journal, intent.id);
      throw err;
    }
    moveDependentRow(this.core, intent, streamInto);
    crashPoint('live-remove:after-stream');
    removeRowReparenting(this.core, intent);
    crashPoint('live-remove:after-row');
    deleteSnapshotFiles(this.core, intent);
    crashPoint('live-remove:after-delete');
    clearIntent(journal, intent.id);
  }
}

/**
 * Opens the prepared overlay in QEMU as two separate nodes, before the pause: opening a qcow2
 * node reads its header, which need not hold the guest up. The file node keeps its fd across
 * the rename that follows, and being opened read-write it is never reopened by its (then
 * stale) path: QEMU only reopens a file by name to gain write access. Never an inline file
 * child: blockdev-snapshot would reopen that by path, which by then names the new overlay,
 * and from the second snapshot on the guest would read empty data.
 */
export async function addOverlayNodes(session: QemuSession, file: string, intent: LiveCreateIntent): Promise<void> {
  const { qmp } = session;
  await qmp.execute('blockdev-add', { driver: 'file', 'node-name': intent.newTop.file, filename: file });
  await qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': intent.newTop.format, file: intent.newTop.file, backing: null });
}

/** Drops overlay nodes that were added but never made the top (an abandoned snapshot). */
export async function dropOverlayNodes(session: QemuSession, intent: LiveCreateIntent): Promise<void> {
  if (session.nodes.top.format === intent.newTop.format) return;
  await session.qmp.execute('blockdev-del', { 'node-name': intent.newTop.format }).catch(() => undefined);
  await session.qmp.execute('blockdev-del', { 'node-name': intent.newTop.file }).catch(() => undefined);
}

/** Makes the added overlay the top QEMU writes to (the caller persists the node map). */
export async function switchToOverlay(session: QemuSession, intent: LiveCreateIntent): Promise<void> {
  await session.qmp.execute('blockdev-snapshot', { node: intent.oldTop.format, overlay: intent.newTop.format });
  session.nodes = {
    ...session.nodes, generation: intent.generation, top: intent.newTop,
    snapshots: { ...session.nodes.snapshots, [intent.snapshot.id]: intent.oldTop },
  };
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
    await session.qmp.execute('block-stream', { 'job-id': jobId, device: target.format, 'base-node': base.format, 'backing-file': intent.parentPath });
  } catch (err) {
    job.cancel();
    if (target !== session.nodes.top) await reopen(session, target, removed.format, true).catch(() => undefined);
    throw err;
  }
  await job.done;
  // QEMU has detached the removed layer; its nodes and the map still name it.
  crashPoint('live-remove:after-job');
  await finishStream(session, intent);
  onProgress(1);
}

export function layersOf(session: QemuSession, intent: LiveRemoveIntent): { target: NodePair; removed: NodePair; base: NodePair } {
  const { target, base } = mergeEnds(session, intent);
  const removed = session.nodes.snapshots[intent.snapshotId];
  if (!removed) throw missingLayers();
  return { target, removed, base };
}

/** The layer merged into and the layer it then backs onto. */
function mergeEnds(session: QemuSession, intent: LiveRemoveIntent): { target: NodePair; base: NodePair } {
  const { nodes } = session;
  const target = intent.streamInto.snapshotId ? nodes.snapshots[intent.streamInto.snapshotId] : nodes.top;
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

/** Watches a block job from before it starts (its events may come at once); cancel() if it never does. */
function watchJob(session: QemuSession, jobId: string, onProgress: (f: number) => void): { done: Promise<void>; cancel(): void } {
  const { qmp } = session;
  let stop!: () => void;
  const cancelled = new Promise<never>((_, reject) => (stop = () => reject(vmError(`block job ${jobId} was not started`))));
  cancelled.catch(() => undefined);
  const completed = qmp.waitForEvent('BLOCK_JOB_COMPLETED', (e) => e.data?.device === jobId, 24 * 3_600_000);
  const failed = qmp.waitForEvent('BLOCK_JOB_ERROR', (e) => e.data?.device === jobId, 24 * 3_600_000);
  failed.catch(() => undefined);
  completed.catch(() => undefined);
  const poll = setInterval(() => {
    qmp.execute<{ device: string; offset: number; len: number }[]>('query-block-jobs').then((jobs) => {
      const job = jobs.find((j) => j.device === jobId);
      if (job && job.len > 0) onProgress(job.offset / job.len);
    }, () => undefined);
  }, 200);
  const done = Promise.race([
    completed.then((e) => {
      if (typeof e.data?.error === 'string') throw vmError(`Merging the snapshot failed: ${e.data.error}`);
    }),
    failed.then((e) => {
      throw vmError(`Merging the snapshot failed: ${JSON.stringify(e.data)}`);
    }),
    cancelled,
  ]).finally(() => clearInterval(poll));
  done.catch(() => undefined);
  return { done, cancel: stop };
}

/**
 * After the stream: the merged layer read-only again, the removed layer's nodes dropped.
 * Idempotent, and safe after adoption, whose map no longer holds a removed layer that QEMU
 * had already detached (adoption drops such nodes itself).
 */
export async function finishStream(session: QemuSession, intent: LiveRemoveIntent): Promise<void> {
  const removed = session.nodes.snapshots[intent.snapshotId];
  const { target, base } = removed ? layersOf(session, intent) : mergeEnds(session, intent);
  if (target !== session.nodes.top) await reopen(session, target, base.format, true).catch(() => undefined);
  if (removed) {
    await session.qmp.execute('blockdev-del', { 'node-name': removed.format }).catch(() => undefined);
    await session.qmp.execute('blockdev-del', { 'node-name': removed.file }).catch(() => undefined);
  }
  const snapshots = { ...session.nodes.snapshots };
  delete snapshots[intent.snapshotId];
  session.nodes = { ...session.nodes, snapshots };
  writeNodes(session.runDir, session.nodes);
}

async function reopen(session: QemuSession, node: NodePair, backing: string | null, readOnly: boolean): Promise<void> {
  await session.qmp.execute('blockdev-reopen', { options: [{ driver: 'qcow2', 'node-name': node.format, file: node.file, 'read-only': readOnly, backing }] });
}
