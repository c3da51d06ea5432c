// The space guard counts a UEFI box's variables: a snapshot keeps a copy of them and a restore
// prepares one, so with room for the overlay but not for the variables both are refused up
// front (on a real small filesystem) and nothing changes; AutoProtect's guard counts them too.
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Core } from '../../electron/core/core.js';
import { ProtectScheduler } from '../../electron/core/protect/scheduler.js';
import type { ProtectAlert } from '../../shared/events.js';
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

it('AutoProtect of a running UEFI box pauses on the same figure before it asks: one alert, not a "resumed" and a refusal every interval', async () => {
  const box = await core.boxes.create({ name: 'auto', image: 'seed', firmware: 'uefi', memoryMib: 128 });
  await core.vms.start('auto');
  try {
    const clock = { now: Date.now(), advance(ms: number) { this.now += ms; } };
    const s = new ProtectScheduler(core, { now: () => clock.now, setTimeout: () => null, clearTimeout: () => {} });
    core.protect.set({ box: 'auto', everyMinutes: 5 });
    const seen: ProtectAlert[] = [];
    const off = core.events.on('protect:alert', (a) => seen.push(a));
    const autos = () => core.store.listSnapshots(box.id).filter((x) => x.auto).length;
    try {
      // Room for the overlay, not for the variables' copy besides (OVMF's QEMU writes nothing to this disk).
      core.store.setSetting('disk-reserve', String(Math.max(0, loop.free() - (MiB + 256 * 1024))));
      for (let i = 0; i < 3; i++) {
        await s.tick();
        await s.idle();
        clock.advance(6 * 60_000);
      }
      expect(seen.map((a) => a.kind)).toEqual(['paused']);
      expect(seen[0]!.message).toMatch(/AutoProtect of "auto" is paused: The automatic snapshot of "auto" needs about 1\.5 MiB/);
      expect(autos()).toBe(0);
      core.store.setSetting('disk-reserve', String(Math.max(0, loop.free() - 8 * MiB)));
      await s.tick();
      await s.idle();
      expect(seen.map((a) => a.kind)).toEqual(['paused', 'resumed']);
      expect(autos()).toBe(1);
    } finally {
      off();
      await s.stop();
    }
  } finally {
    await core.vms.stop('auto', { force: true }).catch(() => undefined);
  }
}, 180_000);

it('a UEFI box whose OVMF files went away fails its own automatic snapshot, with the reason, and the boxes after it in the pass still get theirs', async () => {
  const uefi = await core.boxes.create({ name: 'gone-fw', image: 'seed', firmware: 'uefi', memoryMib: 128 });
  const plain = await core.boxes.create({ name: 'plain', image: 'seed', memoryMib: 128 });
  await core.vms.start('gone-fw');
  await core.vms.start('plain');
  const saved = process.env.BOXKEEP_OVMF_DIR;
  let now = Date.now();
  const s = new ProtectScheduler(core, { now: () => now, setTimeout: () => null, clearTimeout: () => {} });
  const seen: ProtectAlert[] = [];
  const off = core.events.on('protect:alert', (a) => seen.push(a));
  try {
    core.store.setSetting('disk-reserve', '0');
    core.protect.set({ box: 'gone-fw', everyMinutes: 5 });
    core.protect.set({ box: 'plain', everyMinutes: 5 });
    // The firmware package removed while the box runs.
    process.env.BOXKEEP_OVMF_DIR = fs.mkdtempSync(`${loop.dir}/no-ovmf-`);
    await s.tick(); // both seen running: the five minutes of running time count from here
    now += 6 * 60_000;
    await s.tick();
    await s.idle();
    expect(core.store.listSnapshots(plain.id).filter((x) => x.auto)).toHaveLength(1);
    expect(core.store.listSnapshots(uefi.id).filter((x) => x.auto)).toHaveLength(0);
    const failed = seen.filter((a) => a.kind === 'failed');
    expect(failed.map((a) => a.box)).toEqual(['gone-fw']);
    expect(failed[0]!.message).toMatch(/The automatic snapshot of "gone-fw" failed: .*OVMF.*apt-get install ovmf/);
  } finally {
    if (saved === undefined) delete process.env.BOXKEEP_OVMF_DIR;
    else process.env.BOXKEEP_OVMF_DIR = saved;
    off();
    await s.stop();
    await core.vms.stop('gone-fw', { force: true }).catch(() => undefined);
    await core.vms.stop('plain', { force: true }).catch(() => undefined);
  }
}, 180_000);
