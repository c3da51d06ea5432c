// An import killed at each of its crash points: after recovery the home holds either the whole
// imported box (its rows were committed) or nothing of it, and the source box is untouched.
// An export killed at each of its points: the archive is there whole or not at all, and its
// hidden partial file (beside the target, outside the home) is gone after the next opening.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCore } from '../../electron/core/core.js';
import { cleanUpWorldsAfterEach, crashAt, digests, makeWorld, points, recovered } from '../helpers/crash.js';
import { diskDigest } from '../helpers/disk.js';

cleanUpWorldsAfterEach();

describe('box-import crash points', () => {
  let archive: string;
  let exported: Record<string, string>;
  beforeAll(async () => {
    const world = await makeWorld({ branch: true });
    archive = path.join(fs.mkdtempSync('/tmp/bkarc-'), 'dev.boxkeep');
    const core = await openCore({ home: world.home, owner: 'test' });
    try {
      await core.archives.export({ box: 'dev', path: archive });
      exported = { ...digests(core, world.boxId), Now: world.live };
    } finally {
      await core.close();
    }
  }, 120_000);
  afterAll(() => { if (archive) fs.rmSync(path.dirname(archive), { recursive: true, force: true }); });

  it('covers every point of the kind', () => {
    expect(points('box-import')).toEqual(['box-import:after-intent', 'box-import:after-copy', 'box-import:after-rebase', 'box-import:after-row']);
  });

  it.each(points('box-import'))('%s: the box is imported whole or not at all', async (point) => {
    const world = await makeWorld();
    const before = fs.readdirSync(path.join(world.home, 'boxes')).sort();
    const imagesBefore = fs.readdirSync(path.join(world.home, 'images')).sort();
    const r = crashAt(world, point, 'boxes:import', { path: archive, name: 'copy' });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    await recovered(world, (core) => {
      const copy = core.store.findBox('copy');
      const whole = point === 'box-import:after-row';
      expect(!!copy).toBe(whole);
      if (copy) {
        expect({ ...digests(core, copy.id), Now: diskDigest(copy.liveDiskPath) }).toEqual(exported);
        expect(fs.readdirSync(path.join(world.home, 'boxes')).length).toBe(before.length + 1);
      } else {
        expect(fs.readdirSync(path.join(world.home, 'boxes')).sort()).toEqual(before);
        expect(fs.readdirSync(path.join(world.home, 'images')).sort()).toEqual(imagesBefore);
        expect(core.store.listImages().length).toBe(imagesBefore.length);
        expect(fs.existsSync(path.join(world.home, 'orphans')) ? fs.readdirSync(path.join(world.home, 'orphans')) : []).toEqual([]);
      }
      expect(digests(core, world.boxId)).toEqual(world.snapshots);
    });
  }, 120_000);
});

describe('box-export crash points', () => {
  it('covers every point of the kind', () => {
    expect(points('box-export')).toEqual(['box-export:after-intent', 'box-export:after-write', 'box-export:after-land']);
  });

  it.each(points('box-export'))('%s: the archive is whole or absent, and no partial file is left beside it', async (point) => {
    const world = await makeWorld();
    const dir = fs.mkdtempSync('/tmp/bkexp-');
    try {
      const out = path.join(dir, 'dev.boxkeep');
      const r = crashAt(world, point, 'boxes:export', { box: 'dev', path: out, compression: 'none' });
      expect(r.signal, r.stderr).toBe('SIGKILL');
      expect(fs.readdirSync(dir).filter((n) => n.endsWith('.partial')), 'what the kill left beside the target').toHaveLength(point === 'box-export:after-write' ? 1 : 0);
      await recovered(world, async (core) => {
        expect(fs.readdirSync(dir).filter((n) => n !== 'dev.boxkeep')).toEqual([]);
        const landed = point === 'box-export:after-land';
        expect(fs.existsSync(out)).toBe(landed);
        expect(digests(core, world.boxId)).toEqual(world.snapshots);
        if (landed) {
          // Whole: it imports, every snapshot reading as in the box it came from.
          const copy = await core.archives.import({ path: out, name: 'from-crash' });
          expect(digests(core, copy.id)).toEqual(world.snapshots);
        }
        // The box takes changes again.
        expect((await core.snapshots.create({ box: 'dev', name: 'after-export' })).name).toBe('after-export');
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
