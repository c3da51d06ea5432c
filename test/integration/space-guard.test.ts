// The space guard on a real small filesystem: each writing operation that would leave less
// free than the disk reserve is refused up front, says what it needs and what is free, and
// changes nothing (rows, files).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openCore, type Core } from '../../electron/core/core.js';
import { worldOnSmallDisk, type World } from '../helpers/crash.js';
import { hashFile, makeQcow2, writePattern } from '../helpers/disk.js';
import type { LoopFs } from '../helpers/loopfs.js';

const MiB = 1024 * 1024;
const CLI = path.resolve('bin/boxkeep.mjs');
let loop: LoopFs;
let world: World;
let core: Core;

beforeAll(async () => {
  ({ loop, world, core } = await worldOnSmallDisk());
}, 120_000);

afterAll(async () => {
  await core?.close();
  loop?.release();
});

/** Every row and every file's bytes under the home, to show that a refusal changed nothing. */
function homeState(): unknown {
  const files: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile() && !/^(boxkeep\.db|home\.lock)/.test(e.name)) files[path.relative(world.home, full)] = hashFile(full);
    }
  };
  walk(world.home);
  return { files, images: core.store.listImages(), boxes: core.store.listBoxes(), snapshots: core.store.listSnapshots(world.boxId) };
}

/** A reserve that leaves `room` bytes for the next operation, less than it needs. */
function reserveLeaving(room: number): number {
  return Math.max(0, loop.free() - room);
}

async function expectRefused(run: () => Promise<unknown>, needed: RegExp) {
  const before = homeState();
  const err = await run().then(() => null, (e: Error & { code?: string }) => e);
  expect(err, 'the operation should have been refused').not.toBeNull();
  expect(err!.code).toBe('Storage');
  expect(err!.message).toMatch(needed);
  expect(err!.message).toMatch(/MiB free and Boxkeep keeps \d+(\.\d)? MiB in reserve\. Free at least \d+(\.\d)? [KM]iB/);
  expect(err!.message).toMatch(/boxkeep settings --disk-reserve/);
  expect(homeState()).toEqual(before);
}

it('snapshot create, restore and box create are refused when their new overlay would cross the reserve', async () => {
  core.store.setSetting('disk-reserve', String(reserveLeaving(512 * 1024)));
  await expectRefused(() => core.snapshots.create({ box: 'dev', name: 'full' }), /Taking the snapshot "full" needs about 1 MiB/);
  await expectRefused(() => core.snapshots.restore({ box: 'dev', snapshot: 'a' }), /Restoring "a" needs about 1 MiB/);
  await expectRefused(() => core.boxes.create({ name: 'other', image: 'seed' }), /Creating the box "other" needs about 1 MiB/);
  // With the room it needs, the same snapshot is taken: the guard is not refusing everything.
  core.store.setSetting('disk-reserve', String(reserveLeaving(8 * MiB)));
  await core.snapshots.create({ box: 'dev', name: 'fits' });
  await core.snapshots.remove('dev', 'fits');
});

it('snapshot remove is refused when its merge (sized from qemu-img map of the side it copies) would cross the reserve', async () => {
  // b has one dependent, c (1 MiB of data): the removal commits c into b, about 2 MiB with metadata.
  core.store.setSetting('disk-reserve', String(reserveLeaving(1.5 * MiB)));
  await expectRefused(() => core.snapshots.remove('dev', 'b'), /Deleting the snapshot "b" needs about 2 MiB/);
});

it('image import is refused when what qemu-img measure says the conversion writes would cross the reserve', async () => {
  const raw = path.join(loop.dir, 'big.raw');
  fs.writeFileSync(raw, Buffer.alloc(16 * MiB, 0x5a));
  try {
    core.store.setSetting('disk-reserve', String(reserveLeaving(8 * MiB)));
    await expectRefused(() => core.images.import({ path: raw, name: 'big' }), /Importing the image "big" needs about 17 MiB/);
    const qcow = path.join(loop.dir, 'big.qcow2');
    makeQcow2(qcow, 32 * MiB);
    writePattern(qcow, 0, 8 * MiB, 0x33);
    core.store.setSetting('disk-reserve', String(reserveLeaving(4 * MiB)));
    await expectRefused(() => core.images.import({ path: qcow, name: 'bigq' }), /Importing the image "bigq" needs about \d+ MiB/);
    fs.rmSync(qcow);
  } finally {
    fs.rmSync(raw, { force: true });
  }
});

it('boxkeep settings --disk-reserve is kept in the home, shown with the free space, and checked', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, '--home', world.home, ...args], { encoding: 'utf8' });
  // The CLI takes the home itself: let go of it for these commands.
  return core.close().then(async () => {
    try {
      let r = cli('settings', '--disk-reserve', '100M');
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Disk reserve:\s+100 MiB/);
      r = cli('--json', 'settings');
      expect(JSON.parse(r.stdout)).toMatchObject({ diskReserve: 100 * MiB, space: { reserve: 100 * MiB } });
      expect(cli('info').stdout).toMatch(/Free space:\s+\d+ MiB of \d+ MiB free; 100 MiB kept in reserve/);
      r = cli('settings', '--disk-reserve', 'lots');
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--disk-reserve takes a size like 2G/);
      r = cli('settings', '--disk-reserve', '1T');
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/larger than the whole filesystem/);
      // The default on this 300 MiB filesystem is 2 GiB: every change is refused, and says so.
      r = cli('settings', '--disk-reserve', 'default');
      expect(r.stdout).toMatch(/Disk reserve:\s+2 GiB \(the default\)/);
      expect(r.stdout).toMatch(/below the reserve/);
      r = cli('snapshot', 'create', 'dev', 'x');
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/Taking the snapshot "x" needs about 1 MiB of disk space, but the disk holding the Boxkeep home has \d+ MiB free and Boxkeep keeps 2 GiB in reserve/);
    } finally {
      cli('settings', '--disk-reserve', '0');
      core = await openCore({ home: world.home, owner: 'test' });
    }
  });
});
