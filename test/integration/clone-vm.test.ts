// A running box cloned "now": a live snapshot is taken through the engine, the linked clone
// boots on it (its chain crossing into the source's folder), beside the source still running.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { boot, openVmHome, sh, type VmHome } from '../helpers/vm.js';

let h: VmHome;
beforeAll(async () => { h = await openVmHome(); }, 120_000);
afterAll(async () => h?.cleanup());

it('a linked clone of a running box starts from a live snapshot and sees what the source had written', async () => {
  await h.core.boxes.create({ name: 'src', image: 'tiny' });
  const con = await boot(h.core, 'src');
  await sh(con, 'echo from-the-source > /mnt/note.txt && sync');
  const clone = await h.core.clones.clone({ box: 'src' });
  const taken = h.core.store.getSnapshot(clone.linkedSnapshotId!)!;
  expect(taken.live).toBe(true);
  expect(h.core.boxes.resolve('src').status).toBe('running');
  const cc = await boot(h.core, clone.id);
  expect(await sh(cc, 'cat /mnt/note.txt')).toContain('from-the-source');
  expect(await sh(cc, 'cat /mnt/hello.txt')).toContain('hello from the image');
  cc.close();
  con.close();
  await h.core.vms.stop(clone.id, { force: true });
  await h.core.vms.stop('src', { force: true });
}, 300_000);
