// The space guard counts a UEFI box's variables: a snapshot keeps a copy of them and a restore
// prepares one, so with room for the overlay but not for the variables both are refused up
// front (on a real small filesystem) and nothing changes.
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Core } from '../../electron/core/core.js';
import { varsDigests, worldOnSmallDisk, type World } from '../helpers/crash.js';
import { diskDigest, hashFile } from '../helpers/disk.js';
import type { LoopFs } from '../helpers/loopfs.js';

const MiB = 1024 * 1024;
let loop: LoopFs;
let world: World;
let core: Core;

beforeAll(async () => {
  ({ loop, world, core } = await worldOnSmallDisk({ firmware: 'uefi' }));
}, 120_000);

afterAll(async () => {
  await core?.close();
  loop?.release();
});

function state() {
  const box = core.store.getBox(world.boxId)!;
  return {
    snapshots: core.store.listSnapshots(world.boxId).map((s) => s.name), current: box.currentSnapshotId,
    live: diskDigest(box.liveDiskPath), liveVars: hashFile(core.paths.efiVars(world.boxId)), vars: varsDigests(core, world.boxId),
    disks: fs.readdirSync(core.paths.disksDir(world.boxId)).sort(),
  };
}

it('snapshot create and restore of a UEFI box need room for the variables too (OVMF\'s 528 KiB)', async () => {
  // Room for an overlay (1 MiB) and a little more, not for the variables besides.
  core.store.setSetting('disk-reserve', String(Math.max(0, loop.free() - (MiB + 256 * 1024))));
  const before = state();
  await expect(core.snapshots.create({ box: 'dev', name: 'full' })).rejects.toThrow(/Taking the snapshot "full" needs about 1\.5 MiB/);
  await expect(core.snapshots.restore({ box: 'dev', snapshot: 'a' })).rejects.toThrow(/Restoring "a" needs about 1\.5 MiB/);
  expect(state()).toEqual(before);
  core.store.setSetting('disk-reserve', String(Math.max(0, loop.free() - 8 * MiB)));
  await core.snapshots.create({ box: 'dev', name: 'fits' });
  expect(hashFile(core.paths.snapshotEfiVars(world.boxId, core.store.findSnapshot(world.boxId, 'fits')!.id))).toBe(world.liveVars);
});
