// Kills each offline operation at each crash point (SIGKILL, in a separate process), then
// recovers and checks what a user would: every snapshot reads back its exact bytes, the
// live disk reads back the before or the after content, and no intent is left behind.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCore } from '../../electron/core/core.js';
import { diskDigest, makeQcow2, writePattern } from '../helpers/disk.js';
import { boxMade, cleanUpWorldsAfterEach, crashAt, digests, imageMade, makeWorld, points, recovered, restoreDone, snapshotMade } from '../helpers/crash.js';

const MiB = 1024 * 1024;
cleanUpWorldsAfterEach();

describe('snapshot create killed at each step', () => {
  it.each(points('snapshot-create'))('%s: snapshots intact, live disk unchanged', async (point) => {
    const w = await makeWorld();
    const r = crashAt(w, point, 'snapshots:create', { box: 'dev', name: 'new' });
    expect(r.signal).toBe('SIGKILL');
    await recovered(w, (core) => {
      const now = digests(core, w.boxId);
      const made = 'new' in now;
      expect(made, 'the snapshot is kept once the overlay sits on the frozen disk, else undone').toBe(snapshotMade(point));
      for (const [name, digest] of Object.entries(w.snapshots)) expect(now[name]).toBe(digest);
      if (made) expect(now.new).toBe(w.live);
      expect(Object.keys(now).length).toBe(Object.keys(w.snapshots).length + (made ? 1 : 0));
      const box = core.store.getBox(w.boxId)!;
      expect(diskDigest(box.liveDiskPath)).toBe(w.live);
      if (made) expect(box.currentSnapshotId).toBe(core.store.findSnapshot(w.boxId, 'new')!.id);
    });
    // After recovery the operation can simply be done (again).
    const again = crashAt(w, null, 'snapshots:create', { box: 'dev', name: 'again' });
    expect(again.status, again.stderr).toBe(0);
  });
});

describe('snapshot restore killed at each step', () => {
  it.each(points('snapshot-restore'))('%s: snapshots intact, live disk as before or as after', async (point) => {
    const w = await makeWorld();
    const r = crashAt(w, point, 'snapshots:restore', { box: 'dev', snapshot: 'a' });
    expect(r.signal).toBe('SIGKILL');
    await recovered(w, (core) => {
      expect(digests(core, w.boxId)).toEqual(w.snapshots);
      const box = core.store.getBox(w.boxId)!;
      const live = diskDigest(box.liveDiskPath);
      const current = core.store.getSnapshot(box.currentSnapshotId!)!;
      expect(live !== w.live, 'undone before the install, finished after').toBe(restoreDone(point));
      if (live === w.live) expect(current.name).toBe('c');
      else {
        expect(live).toBe(w.snapshots.a);
        expect(current.name).toBe('a');
      }
    });
  });
});

describe('box and image operations killed at each step', () => {
  it.each(points('box-create'))('%s: the box exists whole or not at all', async (point) => {
    const w = await makeWorld();
    const r = crashAt(w, point, 'boxes:create', { name: 'second', image: 'seed' });
    expect(r.signal).toBe('SIGKILL');
    await recovered(w, (core) => {
      const box = core.store.findBox('second');
      expect(box !== null, 'undone unless the row exists').toBe(boxMade(point));
      if (box) expect(diskDigest(box.liveDiskPath)).toBe(diskDigest(core.images.resolve('seed').path));
      const dirs = fs.readdirSync(core.paths.boxesDir);
      expect(dirs.length).toBe(box ? 2 : 1);
      expect(digests(core, w.boxId)).toEqual(w.snapshots);
    });
  });

  it.each(points('box-remove'))('%s: the box is removed whole (always forward)', async (point) => {
    const w = await makeWorld();
    const r = crashAt(w, point, 'boxes:remove', { box: 'dev' });
    expect(r.signal).toBe('SIGKILL');
    await recovered(w, (core) => {
      // Always finished: the box, its snapshots and its folder are gone.
      expect(core.store.getBox(w.boxId)).toBeNull();
      expect(core.store.listSnapshots(w.boxId)).toEqual([]);
      expect(fs.existsSync(core.paths.boxDir(w.boxId))).toBe(false);
    });
  });

  it.each(points('image-import'))('%s: the image is imported whole or not at all', async (point) => {
    const w = await makeWorld();
    const src = path.join(path.dirname(w.home), 'other.qcow2');
    makeQcow2(src, 4 * MiB);
    writePattern(src, 0, MiB, 0x77);
    const r = crashAt(w, point, 'images:import', { path: src, name: 'other' });
    expect(r.signal).toBe('SIGKILL');
    await recovered(w, (core) => {
      const image = core.store.findImage('other');
      expect(image !== null, 'undone unless the row exists').toBe(imageMade(point));
      if (image) expect(diskDigest(image.path)).toBe(diskDigest(src));
      expect(fs.readdirSync(core.paths.imagesDir).length).toBe(image ? 2 : 1);
    });
  });

  it.each(points('image-remove'))('%s: an unused image is removed whole (always forward)', async (point) => {
    const w = await makeWorld();
    const src = path.join(path.dirname(w.home), 'spare.qcow2');
    makeQcow2(src, 4 * MiB);
    const c = await openCore({ home: w.home, owner: 'test' });
    const spare = await c.images.import({ path: src, name: 'spare' });
    await c.close();
    const r = crashAt(w, point, 'images:remove', { image: 'spare' });
    expect(r.signal).toBe('SIGKILL');
    await recovered(w, (core) => {
      // Always finished (no box uses the spare image): its row and folder are gone.
      expect(core.store.getImage(spare.id)).toBeNull();
      expect(fs.existsSync(core.paths.imageDir(spare.id))).toBe(false);
      expect(core.store.findImage('seed')).not.toBeNull();
    });
  });
});
