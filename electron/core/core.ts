// Composition root: builds the services for one home directory, each from the small
// dependencies type declared beside it. It imports every service; nothing in electron/core
// imports it back. Taking the home runs recovery before anything else can touch a disk.
import fs from 'node:fs';
import path from 'node:path';
import { BoxkeepError } from '../../shared/errors.js';
import { Emitter } from '../../shared/events.js';
import type { RecoveryReport, SystemInfo } from '../../shared/types.js';
import { ArchiveService } from './archive/service.js';
import { BoxService } from './boxes/service.js';
import { CloneService } from './clone/service.js';
import { diskFullError, isDiskFull } from './fsutil.js';
import { ImageService } from './images/service.js';
import { HomeLock, type OwnerKind } from './lock.js';
import { silentLogger, type Logger } from './logger.js';
import { HOME_KEY, KeyedMutex } from './mutex.js';
import { HomePaths } from './paths.js';
import { recoveryNeeded } from './recovery/needed.js';
import { runRecovery, type RecoveryOptions } from './recovery/recovery.js';
import { SnapshotEngine } from './snapshots/engine.js';
import { ProtectService } from './protect/service.js';
import { InsideService, type InsideOptions } from './inside/service.js';
import { diskSpace } from './space.js';
import { Store } from './store/store.js';
import { Tasks } from './tasks.js';
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
  vms: VmControl;
  readonly logger: Logger;
  lastRecovery: RecoveryReport | null = null;
  private readonly lock: HomeLock;
  private readonly supervisor: Supervisor;

  private constructor(opts: Required<CoreOptions>) {
    // Canonical from the start: backing paths written into qcow2 headers must be canonical,
    // and recovery compares them with the paths derived here.
    this.paths = new HomePaths(fs.realpathSync(privateHome(opts.home)));
    this.lock = HomeLock.acquire(this.paths.lock, opts.owner);
    try {
      this.store = new Store(this.paths.db, (id) => this.paths.liveDisk(id));
    } catch (err) {
      this.lock.release();
      throw err;
    }
    this.logger = opts.logger;
    this.tasks = new Tasks(this.events);
    const home = { paths: this.paths, store: this.store };
    const effects = { ...home, locks: this.locks, events: this.events, logger: this.logger };
    this.images = new ImageService({ ...effects, tasks: this.tasks });
    this.boxes = new BoxService({ ...effects, images: this.images });
    this.supervisor = new Supervisor({ ...effects, boxes: this.boxes }, opts.supervisor);
    this.vms = this.supervisor;
    this.snapshots = new SnapshotEngine({ ...effects, tasks: this.tasks, boxes: this.boxes, vms: this.vms, sessions: this.supervisor });
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
      } catch (err) {
        await core.close();
        throw err;
      }
      return core;
    } catch (err) {
      // Making the home or a recovery step can hit a full disk before the router could say so.
      throw isDiskFull(err) ? diskFullError(path.resolve(opts.home), err) : err;
    }
  }

  /**
   * Runs recovery holding the home-wide queue and every box's queue, so a recovery asked for
   * while the app runs never settles the intent of an operation still in flight.
   */
  async recover(opts: RecoveryOptions = {}): Promise<RecoveryReport> {
    const ids = this.store.listBoxes().map((b) => b.id).sort();
    const underBoxLocks = (i: number): Promise<RecoveryReport> =>
      i === ids.length ? runRecovery({ paths: this.paths, store: this.store, logger: this.logger, sessions: this.supervisor, vms: this.vms }, opts) : this.locks.run(ids[i]!, () => underBoxLocks(i + 1));
    const report = await this.locks.run(HOME_KEY, () => underBoxLocks(0));
    this.lastRecovery = report;
    if (report.items.length > 0) this.events.emit('recovery:report', report);
    return report;
  }

  async info(): Promise<SystemInfo> {
    return { home: this.paths.root, version: version(), accelerator: this.vms.accelerator(), qemuVersion: await this.vms.qemuVersion(), space: diskSpace(this) };
  }

  async close(): Promise<void> {
    // First: a warm appliance still holds snapshot layers.
    await this.inside.close();
    await this.vms.close();
    this.store.close();
    this.lock.release();
  }
}

export const openCore = (opts: CoreOptions) => Core.open(opts);

/** What only a folder Boxkeep made holds; its presence is what makes a folder a Boxkeep home. */
const HOME_MARKER = 'boxkeep.db';

/** Every name Boxkeep puts at the top of a home (the database may be missing: moved aside). */
function homeEntries(home: string): Set<string> {
  const p = new HomePaths(home);
  const files = [p.db, `${p.db}-wal`, `${p.db}-shm`, p.lock, `${p.lock}.db`, p.imagesDir, p.boxesDir, p.homeJournal, p.orphansDir, p.controlSocket];
  return new Set(files.map((f) => path.basename(f)));
}

/**
 * The home holds every guest's disks, so it is private (0700). But --home may name any folder,
 * and Boxkeep only changes one it made. A Boxkeep home is a folder with boxkeep.db, or one that
 * holds nothing but names Boxkeep puts there (an empty folder among them: adopted as a new
 * home, since the user made it for this). It is tightened to 0700 if loosened; except that an
 * empty folder with the sticky bit is a shared folder such as /tmp and is left alone. A private
 * folder of the user's own holding other files is used without changing it. Any other folder is
 * refused untouched, and so is a folder of another user (someone could have made it first in /tmp).
 */
function privateHome(home: string): string {
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const st = fs.statSync(home);
  const uid = process.getuid?.();
  if (!st.isDirectory()) throw new BoxkeepError('InvalidArgument', `The Boxkeep home ${home} is not a folder; pick another with --home or BOXKEEP_HOME.`);
  if (uid !== undefined && st.uid !== uid) {
    throw new BoxkeepError('InvalidState', `The Boxkeep home ${home} belongs to another user (uid ${st.uid}); pick a folder of your own with --home or BOXKEEP_HOME.`);
  }
  const entries = fs.readdirSync(home);
  const ours = homeEntries(home);
  const foreign = entries.includes(HOME_MARKER) ? [] : entries.filter((e) => !ours.has(e));
  // A folder of the user's own that is already private (0700 or tighter, no special bits) is
  // used as it is: Boxkeep changes nothing of it but the files it adds. Anything looser would
  // have to be changed, and that is only done to a folder Boxkeep made.
  // …unless it already holds names Boxkeep uses (a journal/, boxes/ of the user's own): those
  // would be read as Boxkeep's records and files.
  const claimed = entries.filter((e) => ours.has(e));
  if (foreign.length > 0 && ((st.mode & 0o7077) !== 0 || claimed.length > 0)) {
    const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? ', …' : '');
    throw new BoxkeepError('InvalidArgument', `${home} is not a Boxkeep home: it has no ${HOME_MARKER} and holds other files (${shown})${claimed.length ? ` beside names Boxkeep uses (${claimed.join(', ')})` : ' and is not private'}; Boxkeep will not use it. Pick a new or empty folder with --home or BOXKEEP_HOME.`);
  }
  if (entries.length === 0 && (st.mode & 0o1000) !== 0) {
    throw new BoxkeepError('InvalidArgument', `${home} is a shared folder (it has the sticky bit, like /tmp); Boxkeep will not make it private. Pick a folder of your own with --home or BOXKEEP_HOME.`);
  }
  if ((st.mode & 0o7077) !== 0) fs.chmodSync(home, 0o700);
  return home;
}

