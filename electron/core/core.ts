// Composition root: builds the services for one home directory, each from the small
// dependencies type declared beside it. It imports every service; nothing in electron/core
// imports it back. Taking the home runs recovery before anything else can touch a disk.
import { Emitter } from '../../shared/events.js';
import type { RecoveryReport, SystemInfo } from '../../shared/types.js';
import { ArchiveService } from './archive/service.js';
import { BoxService } from './boxes/service.js';
import { CloneService } from './clone/service.js';
import { ImageService } from './images/service.js';
import type { HomeLock, OwnerKind } from './lock.js';
import { silentLogger, type Logger } from './logger.js';
import { HOME_KEY, KeyedMutex } from './mutex.js';
import type { HomePaths } from './paths.js';
import { asDiskFull } from './fsutil.js';
import { takeHome } from './take-home.js';
import { recoveryNeeded } from './recovery/needed.js';
import { runRecovery, type RecoveryOptions } from './recovery/recovery.js';
import { SettleLater } from './recovery/settle-later.js';
import { SnapshotEngine } from './snapshots/engine.js';
import { ProtectService } from './protect/service.js';
import { InsideService, type InsideOptions } from './inside/service.js';
import { diskSpace } from './space.js';
import type { Store } from './store/store.js';
import { Tasks } from './tasks.js';
import { Trash } from './trash.js';
import type { VmControl } from './vm/control.js';
import { Supervisor, type SupervisorOptions } from './vm/supervisor.js';
import { version } from './version.js';

export interface CoreOptions {
  home: string;
  owner?: OwnerKind;
  logger?: Logger;
  supervisor?: SupervisorOptions;
  /** Looking inside snapshots (how long an appliance stays warm). */
  inside?: InsideOptions;
  /**
   * 'full' (the default: the app, serve, tests) settles intents, reconciles rows with files and
   * adopts QEMUs. 'when-needed' (one CLI command) does all that only when an intent record or a
   * box recorded as running exists; the full check of rows against files then waits for the
   * next full open or `boxkeep recover`, and every operation still checks the chain it touches.
   */
  recovery?: 'full' | 'when-needed';
}

export class Core {
  readonly paths: HomePaths;
  readonly events = new Emitter();
  /** The queues: one per box, and HOME_KEY for home-wide operations. */
  readonly locks = new KeyedMutex();
  readonly store: Store;
  readonly tasks: Tasks;
  readonly images: ImageService;
  readonly boxes: BoxService;
  readonly snapshots: SnapshotEngine;
  readonly protect: ProtectService;
  readonly archives: ArchiveService;
  readonly clones: CloneService;
  readonly inside: InsideService;
  /** Live snapshots left unsettled, settled as soon as their QEMU answers or exits. */
  readonly unsettled: SettleLater;
  vms: VmControl;
  readonly logger: Logger;
  readonly trash: Trash;
  lastRecovery: RecoveryReport | null = null;
  private readonly lock: HomeLock;
  private readonly supervisor: Supervisor;

  private constructor(opts: Required<CoreOptions>) {
    ({ paths: this.paths, lock: this.lock, store: this.store } = takeHome(opts.home, opts.owner));
    this.logger = opts.logger;
    this.tasks = new Tasks(this.events);
    this.trash = new Trash(this.paths.trashDir, this.logger);
    const home = { paths: this.paths, store: this.store, trash: this.trash };
    const effects = { ...home, locks: this.locks, events: this.events, logger: this.logger };
    this.images = new ImageService({ ...effects, tasks: this.tasks });
    // The box's detail says when a live snapshot of it is unsettled; the watch needs the supervisor, made after.
    this.boxes = new BoxService({ ...effects, images: this.images, unsettled: { of: (boxId) => this.unsettled.of(boxId) } });
    this.supervisor = new Supervisor({ ...effects, boxes: this.boxes }, opts.supervisor);
    this.vms = this.supervisor;
    this.unsettled = new SettleLater({ ...effects, sessions: this.supervisor });
    this.snapshots = new SnapshotEngine({ ...effects, tasks: this.tasks, boxes: this.boxes, vms: this.vms, sessions: this.supervisor, unsettled: this.unsettled });
    this.protect = new ProtectService({ ...effects, boxes: this.boxes, snapshots: this.snapshots });
    this.archives = new ArchiveService({ ...effects, tasks: this.tasks, boxes: this.boxes });
    this.clones = new CloneService({ ...effects, tasks: this.tasks, boxes: this.boxes, snapshots: this.snapshots });
    this.inside = new InsideService({ ...effects, tasks: this.tasks, boxes: this.boxes, vms: this.supervisor }, opts.inside);
  }

  /** Takes the home, runs recovery, and returns the services. */
  static async open(opts: CoreOptions): Promise<Core> {
    try {
      const core = new Core({ owner: 'cli', logger: silentLogger, supervisor: {}, inside: {}, recovery: 'full', ...opts });
      try {
        if (opts.recovery === 'when-needed' && !recoveryNeeded(core)) {
          core.lastRecovery = { at: Date.now(), elapsedMs: 0, items: [] };
        } else {
          await core.recover();
        }
        // What a crash left there before it was freed (nothing to do without a trash folder).
        core.trash.empty();
      } catch (err) {
        await core.close();
        throw err;
      }
      return core;
    } catch (err) {
      // Before the router could say so.
      throw asDiskFull(opts.home, err);
    }
  }

  /**
   * Runs recovery holding the home-wide queue and every box's queue, so a recovery asked for
   * while the app runs never settles the intent of an operation still in flight.
   */
  async recover(opts: RecoveryOptions = {}): Promise<RecoveryReport> {
    // Ids only: a box whose row does not read yet is one recovery repairs (recovery/columns.ts).
    const ids = this.store.boxIds().sort();
    // A live snapshot or live removal it had to leave (its QEMU did not answer) is tried again
    // by the owner: looked for while every queue is still held, so an operation queued behind
    // this recovery, whose own record is in its journal moments later, is not taken for one.
    const recovered = async () => {
      const report = await runRecovery({ paths: this.paths, store: this.store, logger: this.logger, sessions: this.supervisor, vms: this.vms }, opts);
      this.unsettled.retryKept();
      return report;
    };
    const underBoxLocks = (i: number): Promise<RecoveryReport> => (i === ids.length ? recovered() : this.locks.run(ids[i]!, () => underBoxLocks(i + 1)));
    const report = await this.locks.run(HOME_KEY, () => underBoxLocks(0));
    this.lastRecovery = report;
    if (report.items.length > 0) this.events.emit('recovery:report', report);
    return report;
  }

  async info(): Promise<SystemInfo> {
    return { home: this.paths.root, version: version(), accelerator: await this.vms.nextAccelerator(), qemuVersion: await this.vms.qemuVersion(), space: diskSpace(this) };
  }

  async close(): Promise<void> {
    // First: a warm appliance still holds snapshot layers.
    await this.inside.close();
    // Before QEMU's monitors close: a settle in progress finishes; the records left go to the next owner.
    await this.unsettled.close();
    await this.vms.close();
    await this.trash.drained();
    this.store.close();
    this.lock.release();
  }
}

export const openCore = (opts: CoreOptions) => Core.open(opts);
