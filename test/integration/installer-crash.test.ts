// Installer media killed at each step (SIGKILL in a separate process, then recovery): an ISO is
// imported whole or not at all, a box for it is made whole (its blank disk standing alone) or
// not at all, and a snapshot of such a box leaves its tree as before or as after.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCore } from '../../electron/core/core.js';
import { backingOf, hashFile, readPattern, writePattern } from '../helpers/disk.js';
import { boxMade, cleanUpWorldsAfterEach, crashAt, imageMade, makeWorld, points, recovered, snapshotMade, type World } from '../helpers/crash.js';
import { makeInstallerIso } from '../helpers/installer.js';

const MiB = 1024 * 1024;
cleanUpWorldsAfterEach();

/** The byte each of the first three MiB holds throughout (-1: mixed), read by qemu-io. */
const slots = (file: string) => [0, 1, 2].map((i) => [0, 0x41, 0x42, 0x43].find((b) => readPattern(file, i * MiB, MiB, b)) ?? -1);

async function withInstaller(w: World): Promise<string> {
  const iso = makeInstallerIso(path.dirname(w.home));
  const core = await openCore({ home: w.home, owner: 'test' });
  await core.images.import({ path: iso, name: 'installer' });
  await core.close();
  return iso;
}

describe('installer media killed at each step', () => {
  // An ISO is copied, never converted: the convert step is a disk's only.
  it.each(points('image-import').filter((p) => !p.endsWith(':after-convert')))('%s: the ISO is imported whole or not at all', async (point) => {
    const w = await makeWorld();
    const iso = makeInstallerIso(path.dirname(w.home));
    const r = crashAt(w, point, 'images:import', { path: iso, name: 'installer' });
    expect(r.signal).toBe('SIGKILL');
    await recovered(w, (core) => {
      const image = core.store.findImage('installer');
      expect(image !== null, 'undone unless the row exists').toBe(imageMade(point));
      if (image) {
        expect(image.kind).toBe('installer');
        expect(hashFile(image.path)).toBe(hashFile(iso));
      }
      expect(fs.readdirSync(core.paths.imagesDir).length).toBe(image ? 2 : 1);
    });
  });

  it.each(points('box-create'))('%s: a box for an installer is made whole, on a blank disk, or not at all', async (point) => {
    const w = await makeWorld();
    await withInstaller(w);
    const r = crashAt(w, point, 'boxes:create', { name: 'fresh', image: 'installer', diskSizeGiB: 1 });
    expect(r.signal).toBe('SIGKILL');
    await recovered(w, (core) => {
      const box = core.store.findBox('fresh');
      expect(box !== null, 'undone unless the row exists').toBe(boxMade(point));
      if (box) {
        expect(box.installerImageId).not.toBeNull();
        expect(backingOf(box.liveDiskPath)).toBeNull();
      }
      expect(fs.readdirSync(core.paths.boxesDir).length).toBe(box ? 2 : 1);
    });
  });

  it.each(points('snapshot-create'))('%s: the first snapshot of an installer box leaves a tree that stands alone', async (point) => {
    const w = await makeWorld();
    await withInstaller(w);
    const core = await openCore({ home: w.home, owner: 'test' });
    await core.boxes.create({ name: 'fresh', image: 'installer', diskSizeGiB: 1 });
    await core.close();
    const r = crashAt(w, point, 'snapshots:create', { box: 'fresh', name: 'first' });
    expect(r.signal).toBe('SIGKILL');
    await recovered(w, async (c) => {
      const box = c.store.findBox('fresh')!;
      const first = c.store.findSnapshot(box.id, 'first');
      expect(first !== null, 'kept once the overlay sits on the frozen disk, else undone').toBe(snapshotMade(point));
      expect(backingOf(box.liveDiskPath)).toBe(first ? first.diskPath : null);
      if (first) expect(backingOf(first.diskPath)).toBeNull();
      expect((await c.snapshots.create({ box: 'fresh', name: 'again' })).name).toBe('again');
    });
  });

  // Two dependents: a rebase, which never reaches the commit's swap step.
  it.each(points('snapshot-remove').filter((p) => !p.endsWith(':after-swap')))('%s: removing the blank root finishes, and what depended on it stands alone with its bytes', async (point) => {
    const w = await makeWorld();
    await withInstaller(w);
    const core = await openCore({ home: w.home, owner: 'test' });
    const box = await core.boxes.create({ name: 'fresh', image: 'installer', diskSizeGiB: 1 });
    writePattern(box.liveDiskPath, 0, MiB, 0x41);
    await core.snapshots.create({ box: 'fresh', name: 'root' });
    writePattern(box.liveDiskPath, MiB, MiB, 0x42);
    const child = await core.snapshots.create({ box: 'fresh', name: 'child' });
    await core.snapshots.restore({ box: 'fresh', snapshot: 'root' });
    writePattern(box.liveDiskPath, 2 * MiB, MiB, 0x43);
    await core.close();
    const r = crashAt(w, point, 'snapshots:remove', { box: 'fresh', snapshot: 'root' });
    expect(r.signal).toBe('SIGKILL');
    await recovered(w, (c) => {
      expect(slots(child.diskPath)).toEqual([0x41, 0x42, 0]);
      expect(slots(box.liveDiskPath)).toEqual([0x41, 0, 0x43]);
      const root = c.store.findSnapshot(box.id, 'root');
      expect(backingOf(child.diskPath)).toBe(root ? root.diskPath : null);
      expect(backingOf(box.liveDiskPath)).toBe(root ? root.diskPath : null);
    });
  });
});

describe('an interrupted removal whose record was edited', () => {
  it('a record saying a snapshot of a box on an image backs onto nothing is not replayed: nothing is flattened off the image', async () => {
    const w = await makeWorld({ branch: true });
    // b has two dependents (c and d): a rebase, the mode that would flatten them onto "nothing".
    const r = crashAt(w, 'snapshot-remove:after-intent', 'snapshots:remove', { box: 'dev', snapshot: 'b' });
    expect(r.signal).toBe('SIGKILL');
    const journal = path.join(w.home, 'boxes', w.boxId, 'journal');
    const [file] = fs.readdirSync(journal);
    const record = JSON.parse(fs.readFileSync(path.join(journal, file!), 'utf8')) as { parentPath: string | null };
    expect(record.parentPath).toMatch(/snapshots/);
    fs.writeFileSync(path.join(journal, file!), JSON.stringify({ ...record, parentPath: null }));
    const core = await openCore({ home: w.home, owner: 'test' });
    try {
      const messages = core.lastRecovery!.items.map((i) => i.message).join('\n');
      expect(messages).toMatch(/cannot be finished/);
      for (const name of ['c', 'd']) {
        const s = core.store.findSnapshot(w.boxId, name)!;
        expect(backingOf(s.diskPath), name).toBe(core.store.findSnapshot(w.boxId, 'b')!.diskPath);
      }
      expect(core.store.findSnapshot(w.boxId, 'b')).not.toBeNull();
    } finally {
      await core.close();
    }
  });
});
