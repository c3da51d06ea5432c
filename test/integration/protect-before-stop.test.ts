// The before-stop snapshot against a really running box (the tiny guest): the snapshot is taken
// while it runs, and the pruning it calls for waits until the box has stopped, so a stop (or a
// forced stop queued behind it) never waits for merges of a running disk.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter } from '../../electron/core/router.js';
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
    expect(statusAtPrune).toEqual(['stopped']);
  }, 240_000);
});
