// AutoProtect's pruning around a really running box (the tiny guest): a prune that fails is not
// a failed snapshot; the before-stop snapshot is taken while the box runs, and the pruning it
// calls for waits until the box has stopped, so a stop (or a forced stop queued behind it) never
// waits for merges of a running disk.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter } from '../../electron/core/router.js';
import { ProtectScheduler } from '../../electron/core/protect/scheduler.js';
import { storageError } from '../../shared/errors.js';
import { boot, openVmHome, type VmHome } from '../helpers/vm.js';

let h: VmHome;
beforeAll(async () => {
  h = await openVmHome();
  await h.core.boxes.create({ name: 'bs', image: 'tiny', memoryMib: 128 });
  await boot(h.core, 'bs');
}, 180_000);
afterAll(async () => {
  await h?.cleanup();
});

describe('AutoProtect pruning that fails', () => {
  it('is told once and neither pauses the schedule nor fails the snapshots it follows', async () => {
    const { core } = h;
    let now = Date.now();
    const clock = { now: () => now, setTimeout: () => null, clearTimeout: () => {} };
    const alerts: string[] = [];
    const off = core.events.on('protect:alert', (a) => alerts.push(`${a.kind}: ${a.message}`));
    const prune = core.snapshots.prune;
    // The merge refused by the space guard (its estimate is larger than the overlay's).
    core.snapshots.prune = () => Promise.reject(storageError('Deleting the snapshot "x" needs 1.0 GiB more than is free above the reserve.'));
    const s = new ProtectScheduler(core, clock);
    try {
      core.protect.set({ box: 'bs', everyMinutes: 1, keepLast: 1 });
      const box = core.boxes.resolve('bs');
      const autos = () => core.store.listSnapshots(box.id).filter((x) => x.auto).length;
      const before = autos();
      for (let i = 0; i < 3; i++) {
        await s.tick();
        await s.idle();
        now += 61_000;
      }
      await s.tick();
      await s.idle();
      expect(autos()).toBe(before + 3);
      expect(alerts).toEqual([expect.stringMatching(/^prune-failed: AutoProtect of "bs" could not prune old automatic snapshots: Deleting the snapshot/)]);
      expect(core.protect.status('bs')).toMatchObject({ pausedReason: null, lastError: null });
    } finally {
      await s.stop();
      off();
      core.snapshots.prune = prune;
      core.protect.set({ box: 'bs', off: true });
    }
  }, 240_000);
});

describe('AutoProtect before a stop', () => {
  it('takes the snapshot while the box runs and prunes only once it has stopped', async () => {
    const { core } = h;
    const router = createRouter(core);
    const box = core.boxes.resolve('bs');
    core.protect.set({ box: 'bs', beforeStop: true, keepLast: 1 });
    const old = await core.snapshots.create({ box: 'bs', name: 'older-auto' }, { auto: true });
    // What the box was doing when each pruning removal reached its queue.
    const statusAtPrune: string[] = [];
    const prune = core.snapshots.prune.bind(core.snapshots);
    core.snapshots.prune = (boxId, id) => {
      statusAtPrune.push(core.store.getBox(boxId)!.status);
      return prune(boxId, id);
    };
    const stopped = (await router.invoke('boxes:stop', { box: 'bs' })) as { status: string };
    expect(stopped.status).toBe('stopped');
    const autos = core.store.listSnapshots(box.id).filter((s) => s.auto);
    expect(autos.map((s) => s.description)).toEqual([expect.stringMatching(/before a stop/)]);
    expect(autos[0]!.live).toBe(true);
    expect(core.store.getSnapshot(old.id)).toBeNull();
    expect(statusAtPrune.length).toBeGreaterThan(0);
    expect(new Set(statusAtPrune)).toEqual(new Set(['stopped']));
  }, 240_000);
});
