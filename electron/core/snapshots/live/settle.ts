// Recovery of live operations. The owner may have died while QEMU kept running — possibly
// paused by us, possibly mid block job — so each handler first reattaches to QEMU, then
// settles the files, the QEMU block graph and the rows together.
import fs from 'node:fs';
import type { HomeData } from '../../deps.js';
import { backingPathOf } from '../../disk/backing.js';
import { rebase } from '../../disk/qemu-img.js';
import { removeDurable, renameDurable } from '../../fsutil.js';
import type { ReportBuilder } from '../../recovery/report.js';
import { strayDependents } from '../settle.js';
import { commitCreateRow, deleteSnapshotFiles, moveDependentRow, removeRowReparenting } from '../steps.js';
import { addOverlayNodes, completeRenames, dropOverlayNodes, switched, switchToOverlay } from './create.js';
import type { LiveCreateIntent, LiveRemoveIntent } from './intents.js';
import { finishStream, rebaseOthers, streamLayer, waitForJob } from './remove.js';
import { afterSwitch, bootDiskTop, writeNodes, type BlockDevice } from '../../vm/nodes.js';
import { MEMORY_PARTIAL_FILE, memoryPath } from '../../paths.js';
import { isSameProcess, MEMORY_SOCKET, readFingerprint, runDirFor } from '../../vm/qemu.js';
import { dropPartial, forgetSum, installState, readSum, verifiedState } from './memory.js';
import path from 'node:path';
import type { QemuSession, Supervisor } from '../../vm/supervisor.js';

/** What settling a live operation needs: the home, and reattaching to the box's QEMU. */
export type LiveSettleDeps = HomeData & { sessions: Pick<Supervisor, 'adoptOne' | 'thawLeftFrozen'> };

export async function settleLiveCreate(core: LiveSettleDeps, intent: LiveCreateIntent, report: ReportBuilder): Promise<boolean> {
  const { boxId, snapshot } = intent;
  const box = core.store.getBox(boxId);
  const name = JSON.stringify(snapshot.name);
  if (!box) {
    report.kept(boxId, `An interrupted live snapshot ${name} belongs to a box that no longer exists; nothing was changed.`);
    return true;
  }
  const session = await core.sessions.adoptOne(box, report, { switching: { snapshotId: snapshot.id, top: intent.newTop.format, below: intent.oldTop.format } });
  // Such a QEMU may be switched or not: renaming or removing a file on a guess would turn the
  // snapshot into a disk QEMU still writes, or delete the one it writes to.
  if (leftToUnadoptedQemu(core, boxId, session, report, `Live snapshot ${name}`)) return false;
  const live = box.liveDiskPath;
  const frozen = snapshot.diskPath;
  const resume = async () => {
    if (!session || intent.wasPaused) return;
    // A memory stream cut off by our death: QEMU's migration fails by itself, or is cancelled here.
    if (intent.memory) await session.qmp.execute('migrate_cancel').catch(() => undefined);
    const s = await session.qmp.execute<{ status: string }>('query-status');
    // postmigrate: a memory snapshot without background-snapshot completed while paused.
    if (s.status === 'paused' || s.status === 'postmigrate') {
      await session.qmp.execute('cont');
      core.store.setBoxStatus(boxId, 'running');
    }
    // Only a running guest's agent answers: the thaw comes after the resume.
    await core.sessions.thawLeftFrozen(session, box, report);
  };
  // Never a half-written stream beside a snapshot: a restore must not find one to load.
  const partial = path.join(path.dirname(frozen), MEMORY_PARTIAL_FILE);
  await settleStream(session, partial, memoryPath(frozen));
  if (core.store.getSnapshot(snapshot.id)) {
    forgetSum(partial);
    await resume();
    removeDurable(core.paths.nextDisk(boxId));
    report.info(boxId, `Live snapshot ${name} had been taken; its bookkeeping is complete.`);
    return true;
  }
  await renameIfSwitched(core, session, intent);
  const hasLive = fs.existsSync(live);
  const hasFrozen = fs.existsSync(frozen);
  if (!hasLive && hasFrozen) {
    // QEMU's fd still points at this file: renaming it back changes nothing for the guest.
    renameDurable(frozen, live);
    cleanUp(core, intent);
    await resume();
    await dropAbandonedNodes(session, intent);
    report.repaired(boxId, `Live snapshot ${name} was interrupted; the box was put back as it was before (and resumed). Take the snapshot again.`);
    return true;
  }
  if (hasLive && hasFrozen) {
    if ((await backingPathOf(live)) !== frozen) {
      report.kept(boxId, `Live snapshot ${name} was interrupted and left two disks that do not belong together; both were kept (${frozen}).`);
      return true;
    }
    if (session) await completeSwitch(session, live, intent);
    // memory.state is renamed into place only once QEMU completed the stream and it was fsynced;
    // it is kept only when its bytes are still the ones the sink hashed.
    const state = intent.memory ? verifiedState(memoryPath(frozen), partial) : null;
    if (!state) removeDurable(memoryPath(frozen));
    commitCreateRow(core, { ...snapshot, live: true, ...(state && intent.memory ? { taken: 'with-memory' as const, memory: { ...intent.memory, ...state } } : {}) });
    forgetSum(partial);
    removeDurable(core.paths.nextDisk(boxId));
    await resume();
    const kept = !intent.memory ? '' : state ? ' with its memory' : ' with its disk only (its memory had not been written completely)';
    report.repaired(boxId, `Live snapshot ${name} was interrupted after its disks were in place; it was completed${kept}${session ? ' and the box resumed' : ''}.`);
    return true;
  }
  cleanUp(core, intent);
  await resume();
  await dropAbandonedNodes(session, intent);
  if (hasLive) report.repaired(boxId, `Live snapshot ${name} was interrupted before it changed anything; it was cleaned up${session ? ' and the box resumed' : ''}. Take the snapshot again.`);
  else report.kept(boxId, `Live snapshot ${name} was interrupted and neither the live disk nor the snapshot disk was found.`);
  return true;
}

/**
 * The renames follow the switch (create.ts). Files and QEMU can be found as:
 * - live disk and .next, no snapshot disk: before the switch, or switched and not renamed;
 * - snapshot disk and .next, no live disk: switched, the first rename done (or, from a
 *   Boxkeep that renamed before switching, renamed half-way while the guest was paused);
 * - live disk backing onto the snapshot disk, no .next: both renames done.
 * With QEMU alive its top decides the first: switched means forward (QEMU writes to .next),
 * not switched means back (the caller drops the overlay). With QEMU dead nothing can tell a
 * switch that ran from one that did not, and nothing needs to: .next backs onto the snapshot
 * path already, so renaming forward gives a whole chain either way (the snapshot then holds
 * what the live disk held when QEMU died, which is at least what it held at the switch), and
 * it keeps the guest's writes since the switch, which going back would drop. It needs only the
 * overlay to be whole, which `ready` in the intent says. The second is always completed forward
 * (a rename back would drop .next, which QEMU may write), and the caller switches a QEMU that
 * did not yet. Afterwards the caller finds the live disk backing onto the snapshot disk.
 */
async function renameIfSwitched(core: HomeData, session: QemuSession | null, intent: LiveCreateIntent): Promise<void> {
  const next = core.paths.nextDisk(intent.boxId);
  const frozen = intent.snapshot.diskPath;
  if (!fs.existsSync(next) || (await backingPathOf(next).catch(() => null)) !== frozen) return;
  const live = core.paths.liveDisk(intent.boxId);
  if (fs.existsSync(live) && !fs.existsSync(frozen)) {
    const forward = session ? bootDiskTop(await session.qmp.execute<BlockDevice[]>('query-block')) === intent.newTop.format : intent.ready === true;
    if (!forward) return;
  } else if (fs.existsSync(live) || !fs.existsSync(frozen)) {
    return;
  }
  completeRenames(core, { id: intent.boxId }, frozen);
}

/**
 * A QEMU that runs but could not be taken control of (adoptOne said why) still reads and writes
 * the operation's files by its fds, in a state only it could tell: any file work now (a rename,
 * a rebase, a delete) would act on a guess, and qemu-img would fight its locks. The files stay
 * as they are and the caller keeps the intent (reconcile skips a box with a kept record), for
 * the next recovery that can adopt that QEMU, or finds it gone. True when that is the case.
 */
export function leftToUnadoptedQemu(core: HomeData, boxId: string, session: QemuSession | null, report: ReportBuilder, what: string): boolean {
  if (session || !qemuStillRuns(core, boxId)) return false;
  report.kept(boxId, `${what} was interrupted while its box kept running, and Boxkeep could not take control of that QEMU; its files were left as they are until Boxkeep can (it tries again at its next start).`);
  return true;
}

/** Does the box's QEMU (the one its run folder's fingerprint names) still run? */
function qemuStillRuns(core: HomeData, boxId: string): boolean {
  const fp = readFingerprint(runDirFor(core.paths, boxId, { create: false }));
  return fp !== null && isSameProcess(fp);
}

/**
 * A memory stream the owner did not see end: the sink (its own process) and QEMU may finish
 * it meanwhile. Complete (QEMU says so, and the sink fsynced it and wrote its sum): it takes its
 * final name. Anything else: the partial file goes.
 */
async function settleStream(session: QemuSession | null, partial: string, final: string): Promise<void> {
  // Its sum stays (settleLiveCreate checks memory.state against it, then forgets it).
  if (!fs.lstatSync(partial, { throwIfNoEntry: false })) return;
  // A sink QEMU never reached exits once its socket is gone; a connected one writes on.
  if (session) fs.rmSync(path.join(session.runDir, MEMORY_SOCKET), { force: true });
  const end = Date.now() + 120_000;
  // "completed" may be a previous snapshot's migration: the sink writes its sum within
  // milliseconds of a stream's end, so a few seconds without one means this stream never ran.
  let completedUntil = 0;
  while (session && Date.now() < end) {
    const { status } = await session.qmp.execute<{ status?: string }>('query-migrate').catch(() => ({ status: 'gone' }));
    if (status !== 'completed' && status !== 'active' && status !== 'setup' && status !== 'device') break;
    if (status === 'completed') {
      if (readSum(partial)) {
        if (verifiedState(partial, partial)) return installState(partial, final);
        break;
      }
      completedUntil ||= Date.now() + 5000;
      if (Date.now() > completedUntil) break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  dropPartial(partial);
}

/** The overlay is the live disk on disk; make it QEMU's top too if it is not yet. */
async function completeSwitch(session: QemuSession, live: string, intent: LiveCreateIntent): Promise<void> {
  const top = bootDiskTop(await session.qmp.execute<BlockDevice[]>('query-block'));
  if (top !== intent.newTop.format) {
    const names = await nodeNames(session);
    if (!names.has(intent.newTop.format)) await addOverlayNodes(session, live, intent);
    await switchToOverlay(session, intent);
  } else {
    session.nodes = afterSwitch(session.nodes, switched(intent));
  }
  writeNodes(session.runDir, session.nodes);
}

async function nodeNames(session: QemuSession): Promise<Set<string>> {
  const nodes = await session.qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
  return new Set(nodes.map((n) => n['node-name']));
}

/** Overlay nodes added before the switch of an abandoned snapshot would block the next one's names. */
async function dropAbandonedNodes(session: QemuSession | null, intent: LiveCreateIntent): Promise<void> {
  if (!session) return;
  if ((await nodeNames(session)).has(intent.newTop.format)) await dropOverlayNodes(session, intent);
}

function cleanUp(core: HomeData, intent: LiveCreateIntent): void {
  removeDurable(core.paths.nextDisk(intent.boxId));
  removeDurable(core.paths.snapshotDir(intent.boxId, intent.snapshot.id));
}

/** Live remove always rolls forward: in QEMU when it still runs, with qemu-img when not. */
export async function settleLiveRemove(core: LiveSettleDeps, intent: LiveRemoveIntent, report: ReportBuilder): Promise<boolean> {
  const box = core.store.getBox(intent.boxId);
  const name = JSON.stringify(core.store.getSnapshot(intent.snapshotId)?.name ?? intent.snapshotId);
  const session = box ? await core.sessions.adoptOne(box, report) : null;
  // Mid-stream, such a QEMU may still run the job, or hold the removed layer open after it.
  if (leftToUnadoptedQemu(core, intent.boxId, session, report, `Deleting snapshot ${name}`)) return false;
  const merged = async (file: string) => (await backingPathOf(file)) === intent.parentPath;
  if (!(await merged(intent.streamInto.path))) {
    if (session) {
      const jobId = `rm-${intent.snapshotId}`;
      const jobs = await session.qmp.execute<{ device: string }[]>('query-block-jobs');
      if (jobs.some((j) => j.device === jobId)) {
        await waitForJob(session, jobId, () => {});
        await finishStream(session, intent);
      } else {
        await streamLayer(session, intent, () => {});
      }
    } else {
      await rebase(intent.streamInto.path, intent.parentPath);
    }
  } else if (session) {
    await finishStream(session, intent);
  }
  await rebaseOthers(core, intent);
  moveDependentRow(core, intent, intent.streamInto);
  const strays = await strayDependents(core, intent);
  if (strays.length > 0) {
    report.kept(intent.boxId, `Deleting snapshot ${name} was interrupted; its data was merged into what depended on it, but ${strays.join(', ')} still backs onto it, so it was kept.`);
    return true;
  }
  removeRowReparenting(core, intent);
  deleteSnapshotFiles(core, intent);
  report.repaired(intent.boxId, `Deleting snapshot ${name} of a running box was interrupted; it was completed and everything that depended on it reads exactly as before.`);
  return true;
}
