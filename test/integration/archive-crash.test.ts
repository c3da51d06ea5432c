// An import killed at each of its crash points: after recovery the home holds either the whole
// imported box (its rows were committed) or nothing of it, and the source box is untouched.
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
