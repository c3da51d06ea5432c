// The VM supervisor: runs boxes on QEMU, one detached QEMU per box, controlled over QMP.
// QEMU outlives the process that started it; any later owner of the home adopts it through
// its fingerprint and QMP socket. Box states are persisted and pushed as events.
import fs from 'node:fs';
import path from 'node:path';
import { BoxkeepError, invalidState, storageError, vmError } from '../../../shared/errors.js';
import { readIntents } from '../journal.js';
import type { ByteStream } from '../../../shared/streams.js';
import { isActive, isBusy, type Box, type BoxStatus, type ConsoleOutput, type Screenshot, type SnapshotMemory, type StopResult } from '../../../shared/types.js';
import { assertForwardsFree, portTaken } from './forwarding.js';
import type { BoxService } from '../boxes/service.js';
import { applyPendingGrow } from '../boxes/update.js';
import type { Effects, HomeData } from '../deps.js';
import { walkChain } from '../disk/chain.js';
import type { VerifiedLayer } from '../disk/confine.js';
import { changedSinceCheck, ChangedSinceCheck, pinChecked, type CheckedFile } from './checked-files.js';
import { bootId, openInodes } from '../proc.js';
import { snapshotIdsBelow, verifyBoxChain } from '../snapshots/box-chain.js';
import type { ReportBuilder } from '../recovery/report.js';
import { assertNoUnfinishedWork, liveRecordProblem } from '../snapshots/waiting-merge.js';
import { detectAccelerator, knownAccelerator, type AccelDecision } from './accel.js';
import { tailLines, tailLog } from './console.js';
import { chainBlockdevs, detachedNodes, nodeMapFromGraph, qemuChain, readBlockGraph, writeNodes, type ExpectedLayer, type NodeMap } from './nodes.js';
import { buildQemuArgs, inheritedPath, isQemuOf, isSameProcess, lastWords, qemuVersion, qmpSocketPath, readFingerprint, runDirFor, serialSocketPath, spawnQemu, vncSocketPath, type Accel, type QemuFingerprint, type QemuSpec } from './qemu.js';
import { isStall, loadMemory, memoryMismatch, refusal } from './memory-load.js';
import { SerialHub } from './serial.js';
import { DisplayHub } from './display.js';
import { MAX_SCREENSHOT_BYTES, MAX_SCREENSHOT_STREAM_BYTES, openScreendump, screendump } from './screen.js';
import { descriptorStream } from '../file-stream.js';
import { QmpClient } from './qmp.js';
import type { StartOptions, VmControl } from './control.js';
import { elapsedMs } from '../logger.js';
import { crashPoint } from '../crash.js';
import { clearStarting, isStarting, markStarting } from './start-mark.js';
import { ejectFromQemu, installerFor, type CheckedInstaller } from './installer.js';
import { seedFor } from './seed.js';
import { findOvmf, firmwareFor, type CheckedFirmware } from './firmware.js';
import { bootFilesFor } from './boot-files.js';
import { forgetFreeze, shutdownThroughAgent, thawIfLeftFrozen } from './freeze.js';

export interface SupervisorOptions {
  /** Overrides every box's stop timeout (tests; also BOXKEEP_STOP_TIMEOUT_MS); else the box's own setting. */
  stopTimeoutMs?: number;
  qemuBinary?: string;
  /** How long a restore with memory waits for a QEMU that takes none of the state (tests); memory-load.ts MEMORY_STALL_MS. */
  memoryStallMs?: number;
}

/** One running QEMU we hold a QMP connection to. */
export interface QemuSession {
  boxId: string;
  qmp: QmpClient;
  runDir: string;
  pid: number;
  nodes: NodeMap;
  stopRequested: boolean;
  guestShutdown: boolean;
  /** Set while we pause the guest ourselves (live snapshot), so STOP/RESUME are not state changes. */
  quiescing: boolean;
  /** The serial terminal, connected at the first console opened (here or after adoption alike). */
  serial: SerialHub;
  /** The screen (VNC), or null when this QEMU was started without one. */
  display: DisplayHub | null;
  /** The exit status, known only in the process that spawned QEMU. */
  exitStatus: Promise<{ code: number | null; signal: NodeJS.Signals | null } | null>;
  closed: Promise<void>;
}

/** What the supervisor needs: the home, its queues and events, and box lookup. */
export type SupervisorDeps = HomeData & Effects & { boxes: Pick<BoxService, 'resolve'> };

export class Supervisor implements VmControl {
  readonly sessions = new Map<string, QemuSession>();
  private accel: AccelDecision | null = null;
  private version: string | null = null;
  /** What the next start will use, as known before it (nextAccelerator). */
  private known: Promise<'kvm' | 'tcg' | 'unknown'> | null = null;
  private readonly stopTimeoutMs: number | null;

  constructor(private readonly core: SupervisorDeps, private readonly options: SupervisorOptions = {}) {
    const fromEnv = Number(process.env.BOXKEEP_STOP_TIMEOUT_MS);
    this.stopTimeoutMs = options.stopTimeoutMs ?? (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : null);
  }

  accelerator(): 'kvm' | 'tcg' | 'unknown' {
    return this.accel?.accel ?? 'unknown';
  }

  /** The accelerator this process chose, or what the next start will choose when that is known already (vm/accel.ts). */
  async nextAccelerator(): Promise<'kvm' | 'tcg' | 'unknown'> {
    if (this.accel) return this.accel.accel;
    // Asked once per owner (the app asks at every change): only this owner's own start changes it.
    this.known ??= knownAccelerator({ cacheFile: path.join(this.core.paths.root, 'accel.json'), binary: this.options.qemuBinary, version: this.version ?? undefined });
    return this.known;
  }

  /**
   * Asked of the binary (`--version`, ~10 ms) the first time someone wants to know, not when
   * the home opens: most CLI commands never need it. A missing QEMU is asked again next time,
   * so installing it while the app runs shows up without a restart.
   */
  async qemuVersion(): Promise<string | null> {
    this.version ??= await qemuVersion(this.options.qemuBinary).catch(() => null);
    return this.version;
  }

  logFile(boxId: string): string {
    return path.join(this.core.paths.logsDir(boxId), 'serial.log');
  }

  private qemuLog(boxId: string): string {
    return path.join(this.core.paths.logsDir(boxId), 'qemu.log');
  }

  session(boxId: string): QemuSession {
    const s = this.sessions.get(boxId);
    if (!s) {
      const box = this.core.store.getBox(boxId);
      const name = box?.name ?? boxId;
      if (box && isBusy(box.status)) {
        throw invalidState(`The box ${JSON.stringify(name)} is recorded as ${box.status}, but there is no running QEMU that Boxkeep controls for it; run "boxkeep box stop ${name} --force", then start it again.`);
      }
      throw invalidState(`The box ${JSON.stringify(name)} is not running; start it first.`);
    }
    return s;
  }

  private setStatus(boxId: string, status: BoxStatus, reason: string | null = null): void {
    if (!this.core.store.getBox(boxId)) return;
    this.core.store.setBoxStatus(boxId, status, reason);
    this.core.events.emit('boxes:changed', { boxId });
  }

  private onBox<T>(ref: string, work: (box: Box) => Promise<T>): Promise<T> {
    const { id } = this.core.boxes.resolve(ref);
    return this.core.locks.run(id, async () => work(this.core.store.getBox(id)!));
  }

  async start(ref: string, opts: StartOptions = {}): Promise<Box> {
    return this.onBox(ref, async (asked) => {
      if (isBusy(asked.status)) {
        throw invalidState(`The box ${JSON.stringify(asked.name)} is already ${asked.status}.`);
      }
      // A failed operation left the disks mid-change: booting them would let the guest write
      // into a chain recovery has yet to finish.
      assertNoUnfinishedWork(this.core, asked);
      // A disk size set while the box ran: grown (crash-safe, journaled) before QEMU opens the disk.
      const box = await applyPendingGrow(this.core, asked);
      const accel = await this.chooseAccelerator();
      const runDir = runDirFor(this.core.paths, box.id, { create: true });
      const snapshotsByPath = new Map(snapshotIdsBelow(this.core, box).map((id) => [this.core.store.getSnapshot(id)!.diskPath, id]));
      // Each file checked (no symlink anywhere below the home, the exact file and backing
      // Boxkeep recorded) right before QEMU opens it, and held open until the guest runs
      // (checked-files.ts). QEMU opens the layers by path, so a file swapped in the moment between the
      // check and QEMU's open() is still opened; QEMU starts with its CPUs stopped (-S) and
      // runs the guest only once it holds every checked inode and every path still leads to
      // it, so a swapped-in host file is opened (its header read) but never shown to the guest.
      const { layers, installer, seed, firmware, boot, pinned } = await this.checkAndPin(box);
      try {
        return await this.launch(box, opts, accel, runDir, { layers, installer, seed, firmware, snapshotsByPath, pinned: pinned.files, boot, bootFds: boot.map(pinned.fdOf) });
      } finally {
        pinned.close();
      }
    });
  }

  /** The start's checks: every file QEMU is to open, checked and pinned (closed by the caller). */
  private async checkAndPin(box: Box) {
    const installer = installerFor(this.core, box);
    const seed = await seedFor(this.core, box);
    const firmware = firmwareFor(this.core, box);
    const boot = bootFilesFor(this.core, box);
    const layers = verifyBoxChain(this.core, box, 'live');
    const pinned = pin(box, [...layers, ...(installer ? [installer] : []), ...(seed ? [seed] : []), ...(firmware ? [firmware] : []), ...boot]);
    try {
      // Checked again now that nothing can take their inode numbers: a layer replaced between
      // the check and the pin by a file that happened to get the same number fails here.
      const again = verifyBoxChain(this.core, box, 'live');
      const moved = again.filter((l, i) => l.dev !== layers[i]!.dev || l.ino !== layers[i]!.ino).map((l) => `${l.path} (replaced right after it was checked)`);
      if (moved.length > 0) throw replacedError(box, moved);
    } catch (err) {
      pinned.close();
      throw err;
    }
    return { layers, installer, seed, firmware, boot, pinned };
  }

  private async launch(box: Box, opts: StartOptions, accel: Accel, runDir: string, checked: {
    layers: VerifiedLayer[]; installer: CheckedInstaller | null; seed: CheckedInstaller | null; firmware: CheckedFirmware | null;
    snapshotsByPath: Map<string, string>; pinned: readonly CheckedFile[];
    /** The kernel and initrd (pinned too): QEMU reads them (through bootFds) at machine init; it need not hold them as it holds the layers. */
    boot: readonly CheckedFile[];
    /** The pinned kernel and initrd, in boot's order. */
    bootFds: readonly number[];
  }): Promise<Box> {
    const { layers, installer, seed, firmware, snapshotsByPath } = checked;
    const { args: blockdevs, nodes } = chainBlockdevs(layers, (p) => snapshotsByPath.get(p) ?? null);
    const base = this.specFor(box, accel, runDir, { blockdevs, installer: installer?.path, seed: seed?.path, firmware });
    // The kernel and initrd go to QEMU as the files held since the check, not by path: QEMU
    // reads them once, at machine init, so no later look could tell which file a path gave it.
    const bootPath = (file: string | undefined): string | undefined => {
      if (file === undefined) return undefined;
      const i = checked.boot.findIndex((f) => f.path === file);
      if (i < 0) throw storageError(`The box ${JSON.stringify(box.name)} was not started: its boot file ${file} was not among the files checked.`);
      return inheritedPath(i);
    };
    const spec: QemuSpec = { ...base, incoming: !!opts.memory, kernel: bootPath(base.kernel), initrd: bootPath(base.initrd), inherit: [...checked.bootFds] };
    // Before anything runs: a state file loads only into the devices it was saved from.
    if (opts.memory) {
      const why = memoryMismatch(opts.memory.facts, { qemuVersion: await this.qemuVersion(), args: buildQemuArgs(spec) });
      if (why) throw refusal(box.name, opts.memory.snapshotName, why);
    }
    const started = performance.now();
    // Written before QEMU exists, so a later owner always finds the map of what it runs.
    writeNodes(runDir, nodes);
    forgetFreeze(runDir);
    markStarting(runDir);
    // Recorded as running before QEMU exists: should this process die from here on, the next
    // owner finds a box to adopt (through QEMU's fingerprint) or to mark stopped, never a QEMU
    // nothing knows of while offline operations freeze the disks it writes.
    const before = box.status;
    // Checked in the same synchronous step that records the box as running: another box's
    // start (its own lock, so it runs alongside) then either sees this one running or has
    // already been recorded running itself. Checked before an await, both would pass.
    assertForwardsFree(box, this.core.store.listBoxes());
    this.setStatus(box.id, 'running');
    let spawned: Awaited<ReturnType<typeof spawnQemu>>;
    try {
      spawned = await spawnQemu(spec);
    } catch (err) {
      const taken = portTaken(box, (err as Error).message);
      if (taken) {
        this.setStatus(box.id, before, box.failureReason);
        throw taken;
      }
      this.setStatus(box.id, 'failed', `QEMU did not start: ${(err as Error).message}`);
      throw err;
    }
    // Killed from here until `cont`: QEMU waits with its CPUs stopped, and the next owner stops it (adoptOne).
    crashPoint('box-start:after-spawn');
    let qmp: QmpClient | null = null;
    try {
      qmp = await QmpClient.connect(qmpSocketPath(runDir), { timeoutMs: 15_000, isAlive: () => isSameProcess(spawned.fingerprint), logger: this.core.logger });
      const notHeld = layersNotHeld(spawned.pid, checked.pinned.filter((f) => !checked.boot.includes(f)));
      if (notHeld.length > 0) {
        // A layer was swapped between the check and QEMU's open: it holds some other file.
        throw storageError(`The box ${JSON.stringify(box.name)} was not started: QEMU opened a different file than the one Boxkeep checked at ${notHeld.join(', ')} (it was replaced meanwhile). Run "boxkeep check ${box.name}".`);
      }
      // QEMU holds every checked inode, but maybe through another path (a layer moved to
      // where QEMU opens its serial log): each path must still lead to its inode. The kernel
      // and initrd too (QEMU read the held files, not the paths, but a home whose files are
      // being swapped is not one to run a guest from).
      const changed = changedSinceCheck(this.core.paths.root, checked.pinned);
      if (changed.length > 0) throw replacedError(box, changed);
      if (opts.memory) await loadMemory(qmp, runDir, opts.memory, box.name, this.options.memoryStallMs);
      crashPoint('box-start:before-cont');
      await qmp.execute('cont');
      clearStarting(runDir);
    } catch (err) {
      // A QEMU we cannot control (or must not run) must not keep running behind a box marked failed.
      qmp?.close();
      if (!(await killQemu(spawned.fingerprint))) {
        // Still holding the disks: the box stays busy, so nothing offline touches them.
        this.setStatus(box.id, 'stopping', `QEMU (pid ${spawned.pid}) did not start properly and could not be stopped`);
        throw vmError(`The box ${JSON.stringify(box.name)} did not start, and its QEMU (pid ${spawned.pid}) could not be stopped; run "boxkeep box stop ${box.name} --force".`, err);
      }
      if (err instanceof BoxkeepError && (err.code === 'Storage' || (opts.memory && (err.code === 'InvalidState' || isStall(err))))) {
        this.setStatus(box.id, before, box.failureReason);
        throw err;
      }
      const why = await lastWords(this.qemuLog(box.id));
      // The host's business, not the box's: the box stays as it was, ready once the port is free.
      const taken = portTaken(box, why);
      if (taken) {
        this.setStatus(box.id, before, box.failureReason);
        throw taken;
      }
      this.setStatus(box.id, 'failed', `QEMU did not start: ${why}`);
      throw vmError(`The box ${JSON.stringify(box.name)} did not start: ${why}`, err);
    }
    this.attach({ boxId: box.id, qmp, runDir, pid: spawned.pid, nodes, exitStatus: spawned.exited.then((x) => x, () => null) }, box.display === 'vnc');
    // Only now does the guest run with what the row says; a start that failed keeps the mark.
    this.core.store.clearPendingRestart(box.id);
    this.setStatus(box.id, 'running');
    this.core.logger.info('box started', { op: 'box-start', boxId: box.id, accel, pid: spawned.pid, elapsed_ms: elapsedMs(started) });
    return this.core.store.getBox(box.id)!;
  }

  /** The QEMU spec of a start; pure but for the parts the caller checked (chain, media, firmware). */
  private specFor(box: Box, accel: Accel, runDir: string, parts: { blockdevs?: string[]; installer?: string; seed?: string; firmware?: { code: string; path: string } | null }): QemuSpec {
    const image = box.imageId === null ? null : this.core.store.getImage(box.imageId)!;
    return {
      name: box.name, cpus: box.cpus, memoryMib: box.memoryMib, accel,
      kernel: image?.kernelPath ?? undefined, initrd: image?.initrdPath ?? undefined, append: image?.append ?? undefined,
      liveDisk: box.liveDiskPath, runDir, logFile: this.logFile(box.id), stderrLog: this.qemuLog(box.id),
      blockdevs: parts.blockdevs, binary: this.options.qemuBinary, startPaused: true, installer: parts.installer, seed: parts.seed,
      network: box.network === 'nat' ? { mac: box.macAddress, forwards: box.forwards } : null,
      ...(box.display === 'vnc' ? { display: 'vnc' as const } : {}),
      firmware: parts.firmware ? { code: parts.firmware.code, vars: parts.firmware.path } : undefined,
    };
  }

  /**
   * Why the box, started now, could not load this memory state (null: it can). The devices of
   * its next start are its settings now, whatever it runs with at the moment; media and
   * firmware paths do not count (devices.ts), only whether they are there.
   */
  async memoryMismatch(ref: string, facts: SnapshotMemory): Promise<string | null> {
    const box = this.core.boxes.resolve(ref);
    // A kernel or initrd the start would refuse is named as such, not taken for a machine mismatch.
    bootFilesFor(this.core, box);
    const accel = await this.chooseAccelerator();
    const runDir = runDirFor(this.core.paths, box.id, { create: false });
    const spec = this.specFor(box, accel, runDir, {
      installer: box.installerImageId === null ? undefined : this.core.paths.imageInstaller(box.installerImageId),
      seed: box.cloudInit ? this.core.paths.seedIso(box.id) : undefined,
      firmware: box.firmware === 'uefi' ? { code: '/firmware', path: this.core.paths.efiVars(box.id) } : null,
    });
    return memoryMismatch(facts, { qemuVersion: await this.qemuVersion(), args: buildQemuArgs({ ...spec, incoming: true }) });
  }

  private async chooseAccelerator(): Promise<Accel> {
    this.version ??= await qemuVersion(this.options.qemuBinary);
    if (this.accel) return this.accel.accel;
    // One verdict for every box, whatever it boots: the smoke boot runs QEMU's own firmware.
    this.accel = await detectAccelerator({ cacheFile: path.join(this.core.paths.root, 'accel.json'), ovmfCode: ovmfCode(), logger: this.core.logger, binary: this.options.qemuBinary });
    return this.accel.accel;
  }

  /** Starts watching a QEMU: state events and its exit. */
  private attach(init: Omit<QemuSession, 'stopRequested' | 'guestShutdown' | 'quiescing' | 'closed' | 'serial' | 'display'>, hasDisplay: boolean): QemuSession {
    let resolveClosed!: () => void;
    const label = `the box ${JSON.stringify(this.core.store.getBox(init.boxId)?.name ?? init.boxId)}`;
    const serial = new SerialHub(serialSocketPath(init.runDir), label, this.core.logger, init.boxId);
    const display = hasDisplay ? new DisplayHub(vncSocketPath(init.runDir), label, this.core.logger, init.boxId) : null;
    const session: QemuSession = { ...init, serial, display, stopRequested: false, guestShutdown: false, quiescing: false, closed: new Promise((r) => (resolveClosed = r)) };
    this.sessions.set(session.boxId, session);
    const { qmp, boxId } = session;
    qmp.on('SHUTDOWN', (e) => {
      if (e.data?.guest === true) session.guestShutdown = true;
    });
    qmp.on('STOP', () => {
      if (!session.quiescing && !session.stopRequested) this.setStatus(boxId, 'paused');
    });
    qmp.on('RESUME', () => {
      if (!session.quiescing && !session.stopRequested) this.setStatus(boxId, 'running');
    });
    qmp.onClose(() => {
      void this.onExit(session)
        .catch((err: unknown) => this.core.logger.warn('box exit not recorded', { op: 'box-exit', boxId, error: String((err as Error)?.message ?? err) }))
        .finally(resolveClosed);
    });
    return session;
  }

  private async onExit(session: QemuSession): Promise<void> {
    if (this.sessions.get(session.boxId) !== session) return;
    this.sessions.delete(session.boxId);
    if (this.closing) return; // our own connection closed at shutdown: QEMU keeps running
    if (session.stopRequested || session.guestShutdown) {
      session.serial.end({ reason: 'box-stopped', message: 'The box stopped.' });
      session.display?.end({ reason: 'box-stopped', message: 'The box stopped.' });
      this.setStatus(session.boxId, 'stopped');
      this.core.logger.info('box stopped', { op: 'box-stop', boxId: session.boxId });
      return;
    }
    const status = await Promise.race([session.exitStatus, new Promise<null>((r) => setTimeout(() => r(null), 300))]);
    const reason = await this.failureReason(session.boxId, status);
    // The home closed while we read QEMU's last words (the app quit as the box died): the
    // database is gone, and the next owner's adoption finds QEMU gone and says so.
    if (this.closing) return;
    session.serial.end({ reason: 'box-stopped', message: `The box failed: ${reason}` });
    session.display?.end({ reason: 'box-stopped', message: `The box failed: ${reason}` });
    this.setStatus(session.boxId, 'failed', reason);
    this.core.logger.error('box failed', { op: 'box-exit', boxId: session.boxId, reason });
  }

  async failureReason(boxId: string, status: { code: number | null; signal: NodeJS.Signals | null } | null): Promise<string> {
    const how = status?.signal ? `QEMU was killed (${status.signal})` : status && status.code !== null ? `QEMU exited with status ${status.code}` : 'QEMU exited unexpectedly';
    const qemuSaid = await lastWords(this.qemuLog(boxId), 3).catch(() => '');
    const console = (await tailLines(this.logFile(boxId), 5).catch(() => [])).filter(Boolean);
    const parts = [how + '.'];
    if (qemuSaid && !qemuSaid.startsWith('(QEMU printed nothing)')) parts.push(`QEMU said: ${qemuSaid}`);
    if (console.length) parts.push(`Last console lines: ${console.join(' | ')}`);
    return parts.join(' ').slice(0, 2000);
  }

  /** Graceful stops waiting for their guest: a force stop cuts the wait short instead of queueing behind it. */
  private readonly gracefulStops = new Map<string, { cutShort: () => void; done: Promise<StopResult> }>();

  async stop(ref: string, opts: { force: boolean }): Promise<StopResult> {
    // The waiting stop holds the box's lock; a force stop queued behind it would find the box
    // stopped already. It ends the wait, and the waiting stop (now forced) answers both.
    const waiting = opts.force ? this.gracefulStops.get(this.core.boxes.resolve(ref).id) : undefined;
    if (waiting) {
      waiting.cutShort();
      return waiting.done;
    }
    return this.onBox(ref, async (box) => {
      const session = this.sessions.get(box.id);
      if (!session) {
        if (!isBusy(box.status)) throw invalidState(`The box ${JSON.stringify(box.name)} is not running.`);
        // Recorded as running with no QEMU we control (it did not answer at adoption): stop
        // the process itself, and only then call the box stopped, or offline work would
        // rename disks it still writes.
        const runDir = runDirFor(this.core.paths, box.id, { create: false });
        const fp = readFingerprint(runDir);
        // Only this box's QEMU: never another home's whose record a copy of this home carries.
        if (fp && isQemuOf(fp, runDir, box.liveDiskPath) && !(await killQemu(fp))) {
          throw vmError(`QEMU (pid ${fp.pid}) of the box ${JSON.stringify(box.name)} did not exit when told to; stop it by hand (kill -9 ${fp.pid}).`);
        }
        this.setStatus(box.id, 'stopped');
        return { ...this.core.store.getBox(box.id)!, forced: true };
      }
      session.stopRequested = true;
      const started = performance.now();
      if (!opts.force) {
        // The deadline is published with the status, so every window counts down to the same moment.
        const timeoutMs = this.stopTimeoutMs ?? box.stopTimeoutSec * 1000;
        this.core.store.setStopDeadline(box.id, Date.now() + timeoutMs);
        this.setStatus(box.id, 'stopping');
        let cutShort!: () => void;
        const cut = new Promise<void>((r) => (cutShort = r));
        const result = (async () => {
          const deadline = Date.now() + timeoutMs;
          let isCut = false;
          void cut.then(() => (isCut = true));
          const waitUntil = (ms: number) => Promise.race([waitFor(session.closed, Math.max(ms, 0)), cut]);
          // The guest agent first: a graceful stop even for a guest that ignores ACPI. ACPI
          // follows when the guest has not gone within half the timeout (or has no agent).
          if (await shutdownThroughAgent(session.qmp, session.runDir, session.closed)) await waitUntil(timeoutMs / 2);
          if (!isCut && !session.qmp.closed) await session.qmp.execute('system_powerdown').catch(() => undefined);
          await waitUntil(deadline - Date.now());
          return this.endStop(box, session, opts.force, started);
        })();
        this.gracefulStops.set(box.id, { cutShort, done: result });
        try {
          return await result;
        } finally {
          this.gracefulStops.delete(box.id);
        }
      }
      this.setStatus(box.id, 'stopping');
      return this.endStop(box, session, opts.force, started);
    });
  }

  /** After the graceful wait (or none): a QEMU still running is told to quit, then killed. */
  private async endStop(box: Box, session: QemuSession, force: boolean, started: number): Promise<StopResult> {
    const forced = this.sessions.get(box.id) === session;
    if (forced) {
      // quit flushes QEMU's block layer before it exits: the disks stay consistent.
      await session.qmp.execute('quit', undefined, { timeoutMs: 5000 }).catch(() => undefined);
      if (!(await waitFor(session.closed, 5000))) {
        try { process.kill(session.pid, 'SIGKILL'); } catch { /* already gone */ }
        await waitFor(session.closed, 5000);
      }
    }
    this.setStatus(box.id, 'stopped');
    this.core.logger.info('box stop', { op: 'box-stop', boxId: box.id, force, forced, elapsed_ms: elapsedMs(started) });
    return { ...this.core.store.getBox(box.id)!, forced };
  }

  pause(ref: string): Promise<Box> {
    return this.switchRunState(ref, 'running', 'stop', 'paused', 'paused');
  }

  resume(ref: string): Promise<Box> {
    return this.switchRunState(ref, 'paused', 'cont', 'running', 'resumed');
  }

  /** Pause and resume: one QMP command between two states. */
  private switchRunState(ref: string, from: BoxStatus, command: 'stop' | 'cont', to: BoxStatus, done: string): Promise<Box> {
    return this.onBox(ref, async (box) => {
      if (box.status !== from) throw invalidState(`The box ${JSON.stringify(box.name)} is ${box.status}; only a ${from} box can be ${done}.`);
      // A live snapshot's or live removal's record left to settle: its settle resumes the guest
      // the operation left stopped, so a pause of the user's would be undone, and a resume
      // before a removal's pivot is noted would let the guest write unnoted.
      const left = liveRecordProblem(this.core, box, readIntents(this.core.paths.boxJournal(box.id)).intents);
      if (left) throw invalidState(`${left} Until then the box cannot be ${done}.`);
      await this.session(box.id).qmp.execute(command);
      this.setStatus(box.id, to);
      return this.core.store.getBox(box.id)!;
    });
  }

  async console(ref: string, lines: number): Promise<ConsoleOutput> {
    const box = this.core.boxes.resolve(ref);
    return { boxId: box.id, ...(await tailLog(this.logFile(box.id), lines)) };
  }

  /** Joins the box's serial terminal; the box must have a QEMU this process controls. */
  async openConsole(ref: string): Promise<ByteStream> {
    const box = this.core.boxes.resolve(ref);
    return this.session(box.id).serial.open();
  }

  /** A new VNC connection to the box's screen; the box must run with one under a QEMU this process controls. */
  async openDisplay(ref: string): Promise<ByteStream> {
    return this.displayOf(ref).open();
  }

  async screenshot(ref: string): Promise<Screenshot> {
    const { box, session } = this.screenOf(ref);
    const started = performance.now();
    // Past one message, the stream carries it: say where to get it whole.
    const advice = `"boxkeep box screenshot ${box.name} -o FILE.png" saves it whole (a stream, up to ${MAX_SCREENSHOT_STREAM_BYTES / 1024 / 1024} MiB)`;
    const dump = await screendump(session.qmp, session.runDir, `the box ${JSON.stringify(box.name)}`, MAX_SCREENSHOT_BYTES, advice);
    this.core.logger.info('screenshot', { op: 'box-screenshot', boxId: box.id, bytes: dump.png.length, elapsed_ms: elapsedMs(started) });
    return { boxId: box.id, width: dump.width, height: dump.height, png: dump.png.toString('base64'), takenAt: Date.now() };
  }

  /** A screenshot of any size (up to MAX_SCREENSHOT_STREAM_BYTES) as a stream of its PNG bytes, ending 'closed' once all went. */
  async screenshotStream(ref: string): Promise<ByteStream> {
    const { box, session } = this.screenOf(ref);
    const started = performance.now();
    const label = `the box ${JSON.stringify(box.name)}`;
    const dump = await openScreendump(session.qmp, session.runDir, label, MAX_SCREENSHOT_STREAM_BYTES);
    this.core.logger.info('screenshot', { op: 'box-screenshot', boxId: box.id, bytes: dump.size, stream: true, elapsed_ms: elapsedMs(started) });
    return descriptorStream(dump.fd, dump.size, `the screenshot of ${label}`);
  }

  /** A box running with a screen, and its session; or a refusal saying why there is none. */
  private screenOf(ref: string): { box: Box; session: QemuSession } {
    const box = this.core.boxes.resolve(ref);
    this.displayOf(box.id);
    return { box, session: this.session(box.id) };
  }

  /** The running screen of a box, or a refusal that says why there is none. */
  displayOf(ref: string): DisplayHub {
    const box = this.core.boxes.resolve(ref);
    const session = this.sessions.get(box.id);
    const name = JSON.stringify(box.name);
    if (box.display === 'none' && !session?.display) {
      throw invalidState(`The box ${name} has no screen (its display is none); give it one with "boxkeep box set ${box.name} --display vnc" and start it again.`);
    }
    const display = this.session(box.id).display;
    if (!display) throw invalidState(`The box ${name} was started without a screen; its display setting applies at its next start: stop it and start it again.`);
    return display;
  }

  /** Recovery: reattach to each box recorded as active, or record why it is not running. */
  async adopt(report: ReportBuilder): Promise<void> {
    for (const box of this.core.store.listBoxes()) {
      if (!isBusy(box.status)) continue;
      if (this.sessions.has(box.id)) continue;
      await this.adoptOne(box, report);
    }
  }

  /**
   * Reattaches to a box's QEMU if it still runs; returns the session, or null. `switching`: a
   * live snapshot that may have switched QEMU to its overlay before its files were renamed
   * (QEMU then reads one layer more than the disk and the rows say): its id and its overlay's
   * and old top's format nodes, the only pair that extra layer may be.
   */
  async adoptOne(box: Box, report: ReportBuilder, opts: { switching?: Switching } = {}): Promise<QemuSession | null> {
    const existing = this.sessions.get(box.id);
    if (existing) return existing;
    const runDir = runDirFor(this.core.paths, box.id, { create: false });
    const fp = readFingerprint(runDir);
    const label = JSON.stringify(box.name);
    if (fp && isQemuOf(fp, runDir, box.liveDiskPath)) {
      let qmp: QmpClient | null = null;
      try {
        qmp = await QmpClient.connect(qmpSocketPath(runDir), { timeoutMs: 5000, isAlive: () => isSameProcess(fp), logger: this.core.logger });
        const status = await qmp.execute<{ status: string }>('query-status');
        // Paused with the start's mark: a memory state loaded, maybe never checked (start-mark.ts).
        if (NEVER_RAN.has(status.status) || (status.status === 'paused' && isStarting(runDir))) {
          await this.endInterruptedStart(box, qmp, fp, report);
          return null;
        }
        // Past its `cont` (the owner died before taking the mark away): a later pause is the user's.
        clearStarting(runDir);
        const nodes = await this.nodeMapFor(box, runDir, qmp, opts.switching);
        // spawnQemu() removes every socket before QEMU starts, so vnc.sock exists only when this QEMU serves a screen.
        const session = this.attach({ boxId: box.id, qmp, runDir, pid: fp.pid, nodes, exitStatus: Promise.resolve(null) }, fs.existsSync(vncSocketPath(runDir)));
        const now: BoxStatus = status.status === 'paused' ? 'paused' : 'running';
        if (now !== box.status) this.setStatus(box.id, now);
        if (now === 'running') await this.thawLeftFrozen(session, box, report);
        // Routine, not a repair: every command while a box runs gets here, and a report line
        // each time would drown the ones that matter.
        this.core.logger.info('box reattached', { op: 'box-adopt', boxId: box.id, pid: fp.pid });
        return session;
      } catch (err) {
        // QEMU serves one monitor client at a time: never keep one we gave up on.
        qmp?.close();
        report.kept(box.id, `The box ${label} has a running QEMU (pid ${fp.pid}) that Boxkeep could not take control of (${(err as Error).message}); it was left running. Stop it with "boxkeep box stop ${box.name} --force".`);
        return null;
      }
    }
    // A box not recorded busy already says how its QEMU ended (a recovery's settle asks about
    // every box, e.g. one stopped by the user while a live snapshot was left unsettled).
    if (!isBusy(box.status)) return null;
    if (fp && isSameProcess(fp)) {
      // Running, and not this box's: the original's QEMU, recorded in a copy of the home made while
      // it ran (or a process that took over the pid). It writes none of this home's files.
      this.setStatus(box.id, 'stopped');
      report.repaired(box.id, `The box ${label} was recorded as running in QEMU pid ${fp.pid}, which does not run this home's box (this home is a copy made while it ran, or the pid now belongs to another process); the box is stopped here and that process was left alone.`);
    } else if (fp && fp.bootId !== bootId()) {
      this.setStatus(box.id, 'stopped');
      report.repaired(box.id, `The computer restarted while the box ${label} was running; it is now stopped.`);
    } else if (box.status === 'stopping') {
      this.setStatus(box.id, 'stopped');
      report.repaired(box.id, `The box ${label} finished stopping while Boxkeep was closed.`);
    } else {
      const reason = await this.failureReason(box.id, null);
      this.setStatus(box.id, 'failed', `${reason} (noticed at the next start of Boxkeep)`);
      report.repaired(box.id, `The box ${label} stopped unexpectedly while Boxkeep was closed: ${reason}`);
    }
    return null;
  }

  /**
   * A start killed between QEMU's spawn and its `cont`: the guest never ran, and the checks
   * that let it run (every checked file held by QEMU, a memory state's digest) may not have
   * been made, so resuming it could run a guest on a file nobody checked. Stopped instead
   * (QEMU quits; nothing was written to the disks), and the box shown stopped: the user
   * starts it again, with every check.
   */
  private async endInterruptedStart(box: Box, qmp: QmpClient, fp: QemuFingerprint, report: ReportBuilder): Promise<void> {
    await qmp.execute('quit', undefined, { timeoutMs: 5000 }).catch(() => undefined);
    qmp.close();
    const label = JSON.stringify(box.name);
    if (!(await killQemu(fp))) {
      this.setStatus(box.id, 'stopping', `QEMU (pid ${fp.pid}) of an interrupted start could not be stopped`);
      report.kept(box.id, `The start of the box ${label} was interrupted before its guest ran, and its QEMU (pid ${fp.pid}) did not exit when told to; stop it with "boxkeep box stop ${box.name} --force".`);
      return;
    }
    clearStarting(runDirFor(this.core.paths, box.id, { create: false }));
    this.setStatus(box.id, 'stopped');
    report.repaired(box.id, `The start of the box ${label} was interrupted before its guest ran; its QEMU was stopped and the box is stopped. Start it again.`);
  }

  /**
   * A guest its last owner froze (fsfreeze) and died before thawing is thawed now: a frozen
   * guest must never be left behind. Cheap when nothing was frozen (freeze.ts: the mark).
   */
  async thawLeftFrozen(session: QemuSession, box: Box, report: ReportBuilder): Promise<void> {
    const outcome = await thawIfLeftFrozen(session.qmp, session.runDir);
    const label = JSON.stringify(box.name);
    if (outcome === 'thawed') report.repaired(box.id, `The filesystems of the box ${label} were left frozen by an interrupted snapshot; they were thawed.`);
    else if (outcome === 'unreachable') report.kept(box.id, `The box ${label} may have filesystems left frozen by an interrupted snapshot, and its guest agent did not answer; Boxkeep asks again the next time it takes control of the box.`);
    this.core.logger.info('freeze checked', { op: 'box-adopt', boxId: box.id, outcome });
  }

  /**
   * The node map of a running QEMU, rebuilt from QEMU's own block graph (run/nodes.json may be
   * stale: see nodes.ts) and checked against the chain on disk, or, where an interrupted
   * live snapshot left the disk a step ahead of (or mid-way to) QEMU, against the rows.
   * Nodes left over from an interrupted operation are dropped so their files close.
   */
  private async nodeMapFor(box: Box, runDir: string, qmp: QmpClient, switching?: Switching): Promise<NodeMap> {
    const graph = await readBlockGraph(qmp);
    const chain = qemuChain(graph);
    if (typeof chain === 'string') throw vmError(chain);
    const problems: string[] = [];
    const sources: [string, () => Promise<ExpectedLayer[]>][] = [['the chain on disk', () => this.chainOnDisk(box)], ['the snapshot records', () => this.chainInRows(box)]];
    // The overlay on top, the live disk below it as the switching snapshot's layer; only ever
    // that snapshot's own two nodes (an overlay someone else switched QEMU to is not ours).
    if (switching) {
      sources.push(['the records with a switched overlay', async () => {
        if (chain[0]?.format !== switching.top || chain[1]?.format !== switching.below) throw new Error(`its top is not the overlay ${switching.top} over ${switching.below}`);
        return [{ snapshotId: null, image: false }, ...(await this.chainInRows(box)).map((l, i) => (i === 0 ? { ...l, snapshotId: switching.snapshotId } : l))];
      }]);
    }
    for (const [source, expected] of sources) {
      const layers = await expected().catch((err: Error) => err.message);
      const map = typeof layers === 'string' ? layers : nodeMapFromGraph(graph, chain, layers);
      if (typeof map === 'string') {
        problems.push(`against ${source}: ${map}`);
        continue;
      }
      for (const name of detachedNodes(graph)) await qmp.execute('blockdev-del', { 'node-name': name }).catch(() => undefined);
      try {
        writeNodes(runDir, map);
      } catch (err) {
        // Only a record for people: failing to write it must not cost control of the box.
        this.core.logger.warn('node map not written', { op: 'box-adopt', boxId: box.id, error: String(err) });
      }
      return map;
    }
    throw vmError(`its block nodes do not match the box's disks (${problems.join('; ')})`);
  }

  private async chainOnDisk(box: Box): Promise<ExpectedLayer[]> {
    const byPath = new Map([...this.core.store.listSnapshots(box.id), ...snapshotIdsBelow(this.core, box).map((id) => this.core.store.getSnapshot(id)!)].map((s) => [s.diskPath, s.id]));
    const layers = await walkChain(box.liveDiskPath);
    // A box made from installer media has no image under its tree: its bottom layer is a disk of its own.
    // (A linked clone reads through its source's chain down to the same image.)
    const hasImage = box.imageId !== null;
    return layers.map((l, i) => {
      const snapshotId = i === 0 ? null : byPath.get(l.path) ?? null;
      return { snapshotId, image: hasImage && i > 0 && i === layers.length - 1 && snapshotId === null };
    });
  }

  private async chainInRows(box: Box): Promise<ExpectedLayer[]> {
    const layers: ExpectedLayer[] = [{ snapshotId: null, image: false }];
    for (const id of snapshotIdsBelow(this.core, box)) layers.push({ snapshotId: id, image: false });
    if (box.imageId !== null) layers.push({ snapshotId: null, image: true });
    return layers;
  }

  /** Detaches the installer: from the running QEMU first (if any), then from the record. */
  async ejectInstaller(ref: string): Promise<Box> {
    return this.onBox(ref, async (box) => {
      if (box.installerImageId === null) throw invalidState(`The box ${JSON.stringify(box.name)} has no installer attached.`);
      if (box.status === 'stopping') throw invalidState(`The box ${JSON.stringify(box.name)} is stopping; try again when it has stopped.`);
      if (isActive(box.status)) await ejectFromQemu(this.session(box.id).qmp);
      this.core.store.setInstaller(box.id, null);
      this.core.logger.info('installer ejected', { op: 'box-eject', boxId: box.id, imageId: box.installerImageId });
      this.core.events.emit('boxes:changed', { boxId: box.id });
      return this.core.store.getBox(box.id)!;
    });
  }

  private closing = false;

  /** Lets go of every QEMU without stopping it: the next owner adopts them. */
  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.sessions.values()) {
      s.serial.end({ reason: 'closed', message: 'Boxkeep let go of the box (the app or command holding it is closing); the box keeps running.' });
      s.display?.end({ reason: 'closed', message: 'Boxkeep let go of the box (the app or command holding it is closing); the box keeps running.' });
      s.qmp.close();
    }
    await Promise.all([...this.sessions.values()].map((s) => waitFor(s.closed, 1000)));
    this.sessions.clear();
  }
}

/** A live snapshot that may have switched QEMU before its renames (adoptOne). */
export interface Switching { snapshotId: string; top: string; below: string }

/** QEMU's run states before a start's `cont`: -S waiting (prelaunch), -incoming waiting for or loading a state (inmigrate). */
const NEVER_RAN = new Set(['prelaunch', 'inmigrate']);

/** Pins the files a start checked; one replaced already is the start's refusal. */
function pin(box: Box, files: CheckedFile[]): ReturnType<typeof pinChecked> {
  try {
    return pinChecked(files);
  } catch (err) {
    if (err instanceof ChangedSinceCheck) throw replacedError(box, err.files);
    throw err;
  }
}

function replacedError(box: Box, files: string[]): BoxkeepError {
  return storageError(`The box ${JSON.stringify(box.name)} was not started: a file Boxkeep checked was replaced before QEMU had opened it, so QEMU may hold another file in its place: ${files.join(', ')}. Run "boxkeep check ${box.name}".`);
}

/**
 * The checked layers (and installer ISO, UEFI variables) QEMU does not hold open for reading. QEMU opens every -blockdev before its monitor
 * answers, so once QMP is connected the set is complete. Not closed: which descriptor serves which node. A path
 * QEMU opens readable for another file it was given (two checked files swapped with each other, and back once
 * QEMU opened them) still passes; only handing QEMU the pinned descriptors (-add-fd) would close that.
 */
function layersNotHeld(pid: number, layers: readonly CheckedFile[]): string[] {
  const held = openInodes(pid);
  return layers.filter((l) => !held.has(`${l.dev}:${l.ino}`)).map((l) => l.path);
}

/** Ends a QEMU by its fingerprint: SIGTERM (QEMU flushes its disks and exits), then SIGKILL. */
async function killQemu(fp: QemuFingerprint): Promise<boolean> {
  for (const [signal, waitMs] of [['SIGTERM', 5000], ['SIGKILL', 5000]] as const) {
    if (!isSameProcess(fp)) return true;
    try {
      process.kill(fp.pid, signal);
    } catch {
      return !isSameProcess(fp);
    }
    const end = Date.now() + waitMs;
    while (isSameProcess(fp) && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  }
  return !isSameProcess(fp);
}

async function waitFor(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([p.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return done;
}

/** OVMF's code file when it is installed: the accelerator's stronger smoke boot (vm/accel.ts). */
function ovmfCode(): string | null {
  try {
    return findOvmf().code;
  } catch {
    return null;
  }
}
