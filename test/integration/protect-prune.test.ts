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

  it('a snapshot pinned after the plan, while the prune waits in the box\'s queue, is kept', async () => {
    const { core } = h;
    const box = await core.boxes.create({ name: 'pq', image: 'seed' });
    core.protect.set({ box: 'pq', everyMinutes: 60, keepLast: 1 });
    for (let i = 0; i < 3; i++) await core.snapshots.create({ box: 'pq', name: `b${i}` }, { auto: true });
    let release!: () => void;
    const held = core.locks.run(box.id, () => new Promise<void>((r) => (release = r)));
    while (!release) await new Promise((r) => setTimeout(r, 5));
    const pruning = core.protect.prune(box.id);
    const pinning = core.snapshots.pin('pq', 'b1', true);
    release();
    await held;
    expect((await pinning).pinned).toBe(true);
    expect((await pruning).map((id) => core.store.getSnapshot(id))).toEqual([null]);
    expect(core.store.listSnapshots(box.id).map((s) => `${s.name}${s.pinned ? ' (pinned)' : ''}`)).toEqual(['b1 (pinned)', 'b2']);
  }, 120_000);
});
