// The size the snapshot list shows is what each snapshot's files take on disk, after every
// operation that writes a frozen layer: the list reads the sizes recorded when a layer was
// frozen or rewritten (snapshots/read.ts), so each writer must have recorded the new one.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanUpWorldsAfterEach, crashAt, makeWorld, recovered } from '../helpers/crash.js';
import { listedAndRealSizes, MiB, openTestHome, type TestHome } from '../helpers/core.js';
import { writePattern } from '../helpers/disk.js';

cleanUpWorldsAfterEach();

let t: TestHome | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

function expectTrueSizes(core: TestHome['core'], box: string, what: string): void {
  const { listed, real } = listedAndRealSizes(core, box);
  expect(listed, what).toEqual(real);
  expect(Object.values(real).every((n) => n > 0), what).toBe(true);
}

describe('the listed size of every snapshot is its files\' size on disk', () => {
  it('after create, removal by commit and by rebase, restore, full and linked clones', async () => {
    t = await openTestHome({ imageSize: 32 * MiB });
    const { core } = t;
    const box = await core.boxes.create({ name: 'dev', image: 'seed' });
    // image ← a ← big ← small ← Now: removing big commits small (1 MiB) into big (4 MiB) and
    // moves the merged file onto small's path; small takes what big took and more.
    writePattern(box.liveDiskPath, 0, MiB, 0xa1);
    await core.snapshots.create({ box: 'dev', name: 'a' });
    writePattern(box.liveDiskPath, 2 * MiB, 4 * MiB, 0xb2);
    await core.snapshots.create({ box: 'dev', name: 'big' });
    writePattern(box.liveDiskPath, 8 * MiB, MiB, 0xc3);
    await core.snapshots.create({ box: 'dev', name: 'small' });
    writePattern(box.liveDiskPath, 10 * MiB, MiB, 0x55);
    expectTrueSizes(core, 'dev', 'after create');
    const smallBefore = listedAndRealSizes(core, 'dev').listed.small!;

    await core.snapshots.remove('dev', 'big');
    expectTrueSizes(core, 'dev', 'after a removal by commit');
    expect(listedAndRealSizes(core, 'dev').listed.small).toBeGreaterThan(smallBefore + 3 * MiB);

    // small ← c1 and small ← c2: removing small rebases both children onto a, each takes small's data.
    await core.snapshots.create({ box: 'dev', name: 'c1' });
    await core.snapshots.restore({ box: 'dev', snapshot: 'small' });
    expectTrueSizes(core, 'dev', 'after restore');
    writePattern(box.liveDiskPath, 12 * MiB, MiB, 0x66);
    await core.snapshots.create({ box: 'dev', name: 'c2' });
    const childrenBefore = listedAndRealSizes(core, 'dev').listed;
    await core.snapshots.remove('dev', 'small');
    expectTrueSizes(core, 'dev', 'after a removal by rebase');
    const children = listedAndRealSizes(core, 'dev').listed;
    expect(children.c1).toBeGreaterThan(childrenBefore.c1! + 4 * MiB);
    expect(children.c2).toBeGreaterThan(childrenBefore.c2! + 4 * MiB);

    // A clone of Now takes a snapshot first; a full clone copies layers and writes none of the source's.
    await core.clones.clone({ box: 'dev', full: true, name: 'full' });
    await core.clones.clone({ box: 'dev', from: 'a', name: 'linked' });
    expectTrueSizes(core, 'dev', 'after clones');
  }, 120_000);

  it('after a box is exported and imported', async () => {
    t = await openTestHome({ imageSize: 32 * MiB });
    const { core } = t;
    const box = await core.boxes.create({ name: 'web', image: 'seed' });
    writePattern(box.liveDiskPath, 0, 2 * MiB, 0xa1);
    await core.snapshots.create({ box: 'web', name: 'a' });
    writePattern(box.liveDiskPath, 4 * MiB, 3 * MiB, 0xb2);
    await core.snapshots.create({ box: 'web', name: 'b' });
    const file = path.join(path.dirname(core.paths.root), 'web.boxkeep');
    await core.archives.export({ box: 'web', path: file, compression: 'none' });
    const imported = await core.archives.import({ path: file, name: 'web2' });
    expectTrueSizes(core, imported.id, 'after import');
    expect(Object.keys(listedAndRealSizes(core, imported.id).listed).sort()).toEqual(['a', 'b']);
  }, 120_000);

  const crashes = [
    { label: 'a removal by commit killed after the merge', point: 'snapshot-remove:after-merge', branch: false },
    { label: 'a removal by commit killed after the swap', point: 'snapshot-remove:after-swap', branch: false },
    { label: 'a removal by rebase killed after the first merge', point: 'snapshot-remove:after-merge', branch: true },
    { label: 'a removal killed after its row', point: 'snapshot-remove:after-row', branch: true },
  ] as const;
  it.each(crashes)('after recovery from $label', async ({ point, branch }) => {
    const w = await makeWorld({ branch });
    const r = crashAt(w, point, 'snapshots:remove', { box: 'dev', snapshot: 'b' });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    await recovered(w, (core) => {
      expect(core.store.findSnapshot(w.boxId, 'b')).toBeNull();
      const { listed, real } = listedAndRealSizes(core, 'dev');
      expect(listed).toEqual(real);
    });
  }, 120_000);
});
