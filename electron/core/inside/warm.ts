// Warm appliances: a launch costs 20-60 s under TCG (seconds with KVM), and a person browsing a
// snapshot opens folder after folder, so the appliance that answered one look inside a box's
// snapshots is kept for a short idle time and answers the next look at the same snapshots: the
// same disks, or the first of them (a compared pair serves browsing its first snapshot), each
// held the same way (read-only, or read-write for putting files back into Now). Every other
// operation of the box first lets go of them (the box's queue runs `closeBox` before it, see
// KeyedMutex.beforeEach), so nothing else ever meets a disk an appliance still holds, and
// nothing changes a disk under an appliance that keeps a view of it: within the looks inside,
// an appliance about to write a disk first closes every other one holding it, and one about to
// read a disk first closes the one writing it. Quitting closes them all. One closing on its own
// (idle, or the longest unused beyond the limit, closed from another box's look) still holds its
// disks until its QEMU has exited: whoever closes the box's appliances waits for it too.
import type { Appliance, ApplianceDisk } from './appliance.js';

interface Warm {
  box: string;
  disks: ApplianceDisk[];
  app: Appliance;
  idle: NodeJS.Timeout | null;
}

export interface WarmOptions {
  /** How long an unused appliance is kept. */
  idleMs: number;
  /** At most this many are kept at once (each is a VM of its own); the longest unused goes first. */
  max: number;
  launch: (disks: ApplianceDisk[]) => Promise<Appliance>;
}

export const WARM_DEFAULTS = { idleMs: 60_000, max: 2 };

export class WarmAppliances {
  private readonly kept: Warm[] = [];
  /** Taken out of `kept` and still shutting down (their QEMU holds the disks until it exits). */
  private readonly closing = new Map<Warm, Promise<void>>();
  private closed = false;

  constructor(private readonly opts: WarmOptions) {}

  /** Runs `work` with an appliance holding `disks` (of one box) as its first disks. */
  async use<T>(box: string, disks: ApplianceDisk[], work: (app: Appliance) => Promise<T>): Promise<T> {
    const same = (a: ApplianceDisk, b: ApplianceDisk | undefined) => a.path === b?.path && a.readonly === b.readonly;
    const at = this.kept.findIndex((w) => w.box === box && w.app.alive && disks.every((d, i) => same(d, w.disks[i])));
    let warm: Warm;
    if (at >= 0) {
      warm = this.kept.splice(at, 1)[0]!;
      if (warm.idle) clearTimeout(warm.idle);
      warm.idle = null;
    } else {
      const clash = (w: Warm) => w.box === box && w.disks.some((x) => disks.some((d) => d.path === x.path && !(d.readonly && x.readonly)));
      await this.drop(clash, true);
      warm = { box, disks, app: await this.opts.launch(disks), idle: null };
    }
    let failed = false;
    try {
      return await work(warm.app);
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      await this.keep(warm, failed);
    }
  }

  /** Closes the box's appliances (before any other work of the box may touch its disks). */
  async closeBox(box: string): Promise<void> {
    await this.drop((w) => w.box === box, true);
  }

  /** Closes them all; none is kept after this. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drop(() => true, true);
  }

  /**
   * Back into the pool, clean (unmounted), or closed when it cannot be. A look that failed may
   * have met a dead VM (guestfish lives on, every command failing): kept only if its daemon answers.
   */
  private async keep(warm: Warm, failed: boolean): Promise<void> {
    const answers = () => (failed ? warm.app.answers() : Promise.resolve(true));
    const reusable = !this.closed && warm.app.alive && (await answers()) && (await warm.app.reset().then(() => true, () => false));
    if (!reusable || this.closed) {
      await warm.app.close();
      return;
    }
    warm.idle = setTimeout(() => void this.drop((w) => w === warm), this.opts.idleMs);
    warm.idle.unref();
    this.kept.push(warm);
    const extra = this.kept.length - this.opts.max;
    if (extra > 0) await this.drop((w) => this.kept.indexOf(w) < extra);
  }

  /** Closes the kept ones `which` picks; with `andClosing`, also waits for those of them already closing. */
  private async drop(which: (w: Warm) => boolean, andClosing = false): Promise<void> {
    const gone = this.kept.filter(which);
    for (const w of gone) {
      this.kept.splice(this.kept.indexOf(w), 1);
      if (w.idle) clearTimeout(w.idle);
      const done = w.app.close().finally(() => this.closing.delete(w));
      this.closing.set(w, done);
    }
    const waitFor = andClosing ? [...this.closing].filter(([w]) => which(w)) : gone.map((w) => [w, this.closing.get(w)] as const);
    await Promise.all(waitFor.map(([, done]) => done));
  }
}
