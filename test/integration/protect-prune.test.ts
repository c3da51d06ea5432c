// AutoProtect's pruning on the real store and real qcow2 layers of a stopped box (no QEMU
// guest): what two prunes at once, or a snapshot gone between the plan and the remove, do.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestHome, type TestHome } from '../helpers/core.js';

let h: TestHome;
beforeEach(async () => {
  h = await openTestHome();
});
afterEach(async () => {
  await h.cleanup();
});

describe('AutoProtect pruning', () => {
  it('two prunes of the same box at once (a tick and a before-stop) both finish and remove each snapshot once', async () => {
    const { core } = h;
    const box = await core.boxes.create({ name: 'pr', image: 'seed' });
    core.protect.set({ box: 'pr', everyMinutes: 60, keepLast: 1 });
    for (let i = 0; i < 4; i++) await core.snapshots.create({ box: 'pr', name: `a${i}` }, { auto: true });
    const results = await Promise.allSettled([core.protect.prune(box.id), core.protect.prune(box.id)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    const removed = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    expect(removed.sort()).toHaveLength(3);
    expect(new Set(removed).size).toBe(3);
    expect(core.store.listSnapshots(box.id).map((s) => s.name)).toEqual(['a3']);
  }, 120_000);
});
