// The scheduler's running-time accounting on the real store: time counts while the owner sees
// the box running, stops with the box, and goes on from there at the next run. The box's status
// row is flipped by hand (no QEMU): the interval is never reached, so no snapshot is taken here;
// protect-scheduler.test.ts does the same against a really running box.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { protectRow } from '../../electron/core/protect/policy-store.js';
import { ProtectScheduler } from '../../electron/core/protect/scheduler.js';
import { openTestHome, type TestHome } from '../helpers/core.js';
import { vmError } from '../../shared/errors.js';

const MINUTE = 60_000;
let h: TestHome;
beforeEach(async () => {
  h = await openTestHome();
});
afterEach(async () => {
  await h.cleanup();
});

describe('AutoProtect running-time accounting', () => {
  it('counts only the time a box was seen running, across a stop and a new start', async () => {
    let now = Date.now();
    const clock = { now: () => now, setTimeout: () => null, clearTimeout: () => {} };
    const { core } = h;
    const box = await core.boxes.create({ name: 'acc', image: 'seed' });
    const s = new ProtectScheduler(core, clock);
    core.protect.set({ box: 'acc', everyMinutes: 60 });
    core.store.setBoxStatus(box.id, 'running');
    await s.tick();
    now += 20 * MINUTE;
    await s.tick();
    expect(core.protect.status('acc').nextRunAt).toBe(now + 40 * MINUTE);
    // Stopped: the 20 minutes stay, the two hours it stays stopped do not count.
    core.store.setBoxStatus(box.id, 'stopped');
    now += 10_000;
    await s.tick();
    expect(protectRow(core.store, box.id)).toMatchObject({ runningMs: 20 * MINUTE, seenAt: null });
    expect(core.protect.status('acc').nextRunAt).toBeNull();
    now += 120 * MINUTE;
    await s.tick();
    core.store.setBoxStatus(box.id, 'running');
    await s.tick();
    expect(core.protect.status('acc').nextRunAt).toBe(now + 40 * MINUTE);
    now += 39 * MINUTE;
    await s.tick();
    expect(core.store.listSnapshots(box.id)).toEqual([]);
    core.store.setBoxStatus(box.id, 'stopped');
    await s.stop();
  });
});

describe('AutoProtect after a failed automatic snapshot', () => {
  it('a daily snapshot that fails is told once, not again every tick, and is tried again at the next day\'s time', async () => {
    const { core } = h;
    let now = new Date(2026, 2, 1, 12, 0).getTime();
    const clock = { now: () => now, setTimeout: () => null, clearTimeout: () => {} };
    const box = await core.boxes.create({ name: 'df', image: 'seed' });
    const alerts: string[] = [];
    const off = core.events.on('protect:alert', (a) => alerts.push(`${a.kind}: ${a.message}`));
    // QEMU failing the snapshot (what a real one says when its monitor refuses).
    core.snapshots.create = () => Promise.reject(vmError('QEMU refused the snapshot: device is locked'));
    const s = new ProtectScheduler(core, clock);
    core.protect.set({ box: 'df', dailyAt: '02:00' });
    core.store.setBoxStatus(box.id, 'running');
    now = new Date(2026, 2, 2, 3, 0).getTime();
    for (let i = 0; i < 4; i++) {
      await s.tick();
      await s.idle();
      now += 15_000;
    }
    expect(alerts).toEqual([expect.stringMatching(/^failed: .*device is locked/)]);
    expect(core.protect.status('df').lastError).toMatch(/device is locked/);
    now = new Date(2026, 2, 3, 2, 1).getTime();
    await s.tick();
    await s.idle();
    expect(alerts).toHaveLength(2);
    off();
    core.store.setBoxStatus(box.id, 'stopped');
    await s.stop();
  });
});
