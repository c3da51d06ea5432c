// A running box cloned "now": a live snapshot is taken through the engine, the linked clone
// boots on it (its chain crossing into the source's folder), beside the source still running.
// One booted source for the file.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { diskSpace, updateSettings } from '../../electron/core/space.js';
import type { SerialDriver } from '../helpers/guest.js';
import { boot, openVmHome, sh, type VmHome } from '../helpers/vm.js';

let h: VmHome;
let con: SerialDriver;
beforeAll(async () => {
  h = await openVmHome();
  await h.core.boxes.create({ name: 'src', image: 'tiny' });
  con = await boot(h.core, 'src');
}, 120_000);
afterAll(async () => {
  con?.close();
  await h?.cleanup();
});

it('a linked clone of a running box starts from a live snapshot and sees what the source had written', async () => {
  await sh(con, 'echo from-the-source > /mnt/note.txt && sync');
  const clone = await h.core.clones.clone({ box: 'src' });
  const taken = h.core.store.getSnapshot(clone.linkedSnapshotId!)!;
  expect(taken.live).toBe(true);
  expect(h.core.boxes.resolve('src').status).toBe('running');
  const cc = await boot(h.core, clone.id);
  expect(await sh(cc, 'cat /mnt/note.txt')).toContain('from-the-source');
  expect(await sh(cc, 'cat /mnt/hello.txt')).toContain('hello from the image');
  cc.close();
  await h.core.vms.stop(clone.id, { force: true });
}, 300_000);

it('a clone of a running box that fails after its snapshot leaves no snapshot behind in the source\'s tree', async () => {
  // 40 MiB in the source's live disk, 12 MiB free above the reserve: the snapshot for the clone
  // (1 MiB) fits, the full copy (over 40 MiB) does not.
  await sh(con, 'dd if=/dev/zero of=/mnt/fill bs=1M count=40 2>/dev/null; echo kept > /mnt/kept.txt; sync');
  const before = h.core.snapshots.tree('src').snapshots.map((s) => s.name);
  updateSettings(h.core, { diskReserve: diskSpace(h.core).free - 12 * 1024 * 1024 });
  let err: unknown;
  try {
    err = await h.core.clones.clone({ box: 'src', name: 'too-big', full: true }).then(() => null, (e: unknown) => e);
  } finally {
    updateSettings(h.core, { diskReserve: 'default' });
  }
  expect(err, 'the clone must fail for lack of space').toMatchObject({ code: 'Storage' });
  expect(h.core.store.findBox('too-big')).toBeNull();
  expect(h.core.snapshots.tree('src').snapshots.map((s) => s.name)).toEqual(before);
  expect(h.core.boxes.resolve('src').status).toBe('running');
  expect(await sh(con, 'cat /mnt/kept.txt /mnt/note.txt')).toMatch(/kept[\s\S]*from-the-source/);
}, 120_000);
