// AutoProtect's scheduler against a real running QEMU box (the tiny guest): a manual clock
// drives the schedule's time, the snapshots and merges are the engine's real live ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../electron/core/core.js';
import { ProtectScheduler, type Clock } from '../../electron/core/protect/scheduler.js';
import { updateSettings } from '../../electron/core/space.js';
import { protectRow } from '../../electron/core/protect/policy-store.js';
import { startOwner } from '../../electron/host/owner.js';
import { silentLogger } from '../../electron/core/logger.js';
import type { ProtectAlert } from '../../shared/events.js';
import { diskDigest } from '../helpers/disk.js';
import { boot, openVmHome, type VmHome } from '../helpers/vm.js';

const MINUTE = 60_000;

/** Time moves only when the test says; timers never fire (the test calls tick()). */
function manualClock(start = Date.now()): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => now, advance: (ms) => void (now += ms), setTimeout: () => null, clearTimeout: () => {} };
}

let h: VmHome;
let core: Core;
let boxId: string;
const alerts: ProtectAlert[] = [];

const autos = () => core.store.listSnapshots(boxId).filter((s) => s.auto);

async function tickAndSettle(s: ProtectScheduler): Promise<void> {
  await s.tick();
  await s.idle();
}

beforeAll(async () => {
  h = await openVmHome();
  core = h.core;
  const box = await core.boxes.create({ name: 'p', image: 'tiny', memoryMib: 128 });
  boxId = box.id;
  await boot(core, 'p');
}, 180_000);

afterAll(async () => {
  await h?.cleanup();
});

/** Holds the box's queue until release(); resolves once the hold runs (the queue first lets go of warm appliances). */
async function holdBox(core: Core, boxId: string): Promise<{ release: () => void; held: Promise<void> }> {
  let release!: () => void;
  let entered!: () => void;
  const inside = new Promise<void>((e) => (entered = e));
  const held = core.locks.run(boxId, () => new Promise<void>((r) => { release = r; entered(); }));
  await inside;
  return { release, held };
}

/** The box running, a scheduler on a manual clock with `policy` set and ticked once, its alerts heard, the snapshots counted. */
async function armedOnRunningBox(policy: Omit<Parameters<Core['protect']['set']>[0], 'box'>) {
  if (core.boxes.resolve('p').status !== 'running') await core.vms.start('p');
  const clock = manualClock();
  const s = new ProtectScheduler(core, clock);
  core.protect.set({ box: 'p', ...policy });
  const seen: ProtectAlert[] = [];
  const off = core.events.on('protect:alert', (a) => seen.push(a));
  await tickAndSettle(s);
  return { clock, s, seen, off, before: core.store.listSnapshots(boxId).length };
}

describe('AutoProtect scheduler', () => {
  it('an owner closed for three intervals takes one overdue snapshot when it next sees the box running, not three', async () => {
    const clock = manualClock();
    const first = new ProtectScheduler(core, clock);
    core.protect.set({ box: 'p', everyMinutes: 10 });
    await tickAndSettle(first);
    expect(autos()).toHaveLength(0);
    await first.stop();
    // The owner goes away; the box keeps running in its own QEMU.
    core = await h.reopen();
    clock.advance(35 * MINUTE);
    const second = new ProtectScheduler(core, clock);
    await tickAndSettle(second);
    await tickAndSettle(second);
    expect(autos()).toHaveLength(1);
    expect(autos()[0]!.live).toBe(true);
    clock.advance(9 * MINUTE);
    await tickAndSettle(second);
    expect(autos()).toHaveLength(1);
    expect(core.protect.status('p').nextRunAt).toBe(clock.now() + MINUTE);
    clock.advance(MINUTE);
    await tickAndSettle(second);
    expect(autos()).toHaveLength(2);
    await second.stop();
  }, 240_000);

  it('a box busy with another operation when its snapshot is due is waited for, then snapshotted, not skipped or failed', async () => {
    const clock = manualClock();
    const s = new ProtectScheduler(core, clock);
    core.protect.set({ box: 'p', everyMinutes: 5 });
    const off = core.events.on('protect:alert', (a) => alerts.push(a));
    await tickAndSettle(s);
    const before = autos().length;
    const { release, held } = await holdBox(core, boxId);
    clock.advance(6 * MINUTE);
    await s.tick();
    await s.tick();
    await new Promise((r) => setTimeout(r, 500));
    expect(autos()).toHaveLength(before);
    release();
    await held;
    await s.idle();
    expect(autos()).toHaveLength(before + 1);
    expect(alerts).toEqual([]);
    expect(core.protect.status('p').lastError).toBeNull();
    off();
    await s.stop();
  }, 240_000);

  it('space below the reserve pauses the schedule with one alert, and it resumes by itself once space is back', async () => {
    const clock = manualClock();
    const s = new ProtectScheduler(core, clock);
    core.protect.set({ box: 'p', everyMinutes: 5 });
    const seen: ProtectAlert[] = [];
    const off = core.events.on('protect:alert', (a) => seen.push(a));
    await tickAndSettle(s);
    const before = autos().length;
    const { total } = (await core.info()).space;
    updateSettings(core, { diskReserve: total });
    for (let i = 0; i < 4; i++) {
      clock.advance(6 * MINUTE);
      await tickAndSettle(s);
    }
    expect(autos()).toHaveLength(before);
    expect(seen.map((a) => a.kind)).toEqual(['paused']);
    expect(seen[0]!.message).toMatch(/AutoProtect of "p" is paused: .*reserve/);
    expect(core.protect.status('p').pausedReason).toMatch(/reserve/);
    expect(core.protect.status('p').nextRunAt).toBeNull();
    updateSettings(core, { diskReserve: 0 });
    await tickAndSettle(s);
    expect(seen.map((a) => a.kind)).toEqual(['paused', 'resumed']);
    expect(autos()).toHaveLength(before + 1);
    expect(core.protect.status('p').pausedReason).toBeNull();
    off();
    await s.stop();
  }, 240_000);

  it('retention prunes only unpinned automatic snapshots, by merging, and leaves every other snapshot byte-identical', async () => {
    const clock = manualClock();
    const manual = await core.snapshots.create({ box: 'p', name: 'by-hand' });
    const pinned = autos()[0]!;
    await core.snapshots.pin('p', pinned.id, true);
    const s = new ProtectScheduler(core, clock);
    core.protect.set({ box: 'p', everyMinutes: 1, keepLast: 2 });
    await tickAndSettle(s);
    const digests = (ids: string[]) => Object.fromEntries(ids.map((id) => [id, diskDigest(core.store.getSnapshot(id)!.diskPath, { shareLocked: true })]));
    const keptBefore = digests([manual.id, pinned.id]);
    for (let i = 0; i < 3; i++) {
      clock.advance(MINUTE);
      await tickAndSettle(s);
    }
    const left = autos();
    // Two kept by keep-last, plus the pinned one.
    expect(left.filter((x) => !x.pinned)).toHaveLength(2);
    expect(left.map((x) => x.id)).toContain(pinned.id);
    expect(core.store.getSnapshot(manual.id)).not.toBeNull();
    expect(digests([manual.id, pinned.id])).toEqual(keptBefore);
    await s.stop();
  }, 300_000);

  it('the owner runs the schedule for real: a 1-minute interval on a scaled clock snapshots the running box, and a stop takes one first', async () => {
    await core.close();
    const started = Date.now();
    const scaled: Clock = { now: () => started + (Date.now() - started) * 30, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout) };
    const owner = await startOwner({ home: h.dir, kind: 'test', logger: silentLogger, clock: scaled, tickMs: 300 });
    core = owner.core;
    h.core = owner.core;
    try {
      await owner.router.invoke('protect:set', { box: 'p', everyMinutes: 1, beforeStop: true });
      const before = autos().length;
      const status = (await owner.router.invoke('protect:get', { box: 'p' })) as { nextRunAt: number };
      expect(status.nextRunAt).toBeGreaterThan(scaled.now());
      const deadline = Date.now() + 120_000;
      while (autos().length < before + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(autos().length).toBeGreaterThanOrEqual(before + 2);
      await owner.scheduler.stop();
      const beforeStop = autos().length;
      const stopped = (await owner.router.invoke('boxes:stop', { box: 'p' })) as { status: string };
      expect(stopped.status).toBe('stopped');
      const last = autos().at(-1)!;
      expect(autos()).toHaveLength(beforeStop + 1);
      expect(last.description).toMatch(/before a stop/);
      expect(last.live).toBe(true);
    } finally {
      await owner.close();
      h.core = await (await import('../../electron/core/core.js')).openCore({ home: h.dir, owner: 'test' });
    }
  }, 300_000);

  it('a snapshot that fell due while a stop\'s before-stop snapshot waited ahead of it in the box\'s queue is skipped: that one covers it', async () => {
    core = h.core;
    const { clock, s, seen, off, before } = await armedOnRunningBox({ everyMinutes: 5, beforeStop: true });
    // An operation holds the box; a stop's before-stop snapshot queues behind it, then the schedule's.
    const { release, held } = await holdBox(core, boxId);
    const covering = core.protect.beforeStop('p');
    clock.advance(6 * MINUTE);
    await s.tick();
    release();
    await held;
    expect(await covering).toBe(true);
    await s.idle();
    const added = core.store.listSnapshots(boxId).slice(before);
    expect(added.map((x) => x.description)).toEqual(['Taken automatically by AutoProtect (before a stop).']);
    expect(core.boxes.resolve('p').status).toBe('running');
    expect(seen).toEqual([]);
    expect(core.protect.status('p').lastError).toBeNull();
    off();
    await s.stop();
  }, 240_000);

  // Last: it leaves the box stopped.
  it('a snapshot that fell due while a stop waited in the box\'s queue is skipped once the box has stopped, quietly, and is due at the next start', async () => {
    core = h.core;
    const { clock, s, seen, off, before } = await armedOnRunningBox({ everyMinutes: 5 });
    // An operation holds the box; the user's stop queues behind it, then the schedule's snapshot.
    const { release, held } = await holdBox(core, boxId);
    const stopped = core.vms.stop('p', { force: true });
    clock.advance(6 * MINUTE);
    await s.tick();
    release();
    await held;
    expect((await stopped).status).toBe('stopped');
    await s.idle();
    expect(core.store.listSnapshots(boxId)).toHaveLength(before);
    expect(seen).toEqual([]);
    expect(core.protect.status('p').lastError).toBeNull();
    // The running time counted stays: the next time the box runs, the snapshot is due at once.
    await tickAndSettle(s);
    expect(protectRow(core.store, boxId)!.runningMs).toBeGreaterThanOrEqual(5 * MINUTE);
    off();
    await s.stop();
  }, 240_000);
});
