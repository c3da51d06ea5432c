// A removed snapshot's folder leaves its place at once and is freed in the background (the
// home's trash): on a small real ext4, so the space freed is the filesystem's own count.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openCore, type Core } from '../../electron/core/core.js';
import { silentLogger } from '../../electron/core/logger.js';
import { Trash } from '../../electron/core/trash.js';
import { diskSpace, updateSettings } from '../../electron/core/space.js';
import { makeQcow2, requireTools, writePattern } from '../helpers/disk.js';
import { makeLoopFs, type LoopFs } from '../helpers/loopfs.js';

const MiB = 1024 * 1024;
const DRIVER = path.resolve('test/helpers/crash-driver.mjs');
let lfs: LoopFs | undefined;
let core: Core | undefined;

afterEach(async () => {
  await core?.close().catch(() => undefined);
  core = undefined;
  lfs?.release();
  lfs = undefined;
});

/** A home on a 96 MiB ext4 with a box whose snapshot `big` (16 MiB of its own) is a leaf: the box is back on `base`. */
async function world() {
  requireTools('qemu-img', 'qemu-io');
  lfs = makeLoopFs(96);
  const home = path.join(lfs.dir, 'home');
  core = await openCore({ home, owner: 'test' });
  updateSettings(core, { diskReserve: 0 });
  const seed = path.join(lfs.dir, 'seed.qcow2');
  makeQcow2(seed, 64 * MiB);
  await core.images.import({ path: seed, name: 'seed' });
  fs.rmSync(seed);
  const box = await core.boxes.create({ name: 'b', image: 'seed' });
  await core.snapshots.create({ box: 'b', name: 'base' });
  writePattern(box.liveDiskPath, 0, 16 * MiB, 0x5a);
  const big = await core.snapshots.create({ box: 'b', name: 'big' });
  await core.snapshots.restore({ box: 'b', snapshot: 'base' });
  return { home, box, big };
}

const trashNames = (home: string) => (fs.existsSync(path.join(home, 'trash')) ? fs.readdirSync(path.join(home, 'trash')) : []);

describe('the trash', () => {
  it('takes a removed snapshot\'s folder out of its place at once; the space guard counts it free at once; the filesystem has it back once freed', async () => {
    const { home, big } = await world();
    const bytes = fs.statSync(big.diskPath).blocks * 512;
    expect(bytes).toBeGreaterThan(15 * MiB);
    const freeBefore = lfs!.free();

    await core!.snapshots.remove('b', big.id);
    expect(fs.existsSync(path.dirname(big.diskPath))).toBe(false);
    // Freed or still to be freed, the guard sees it free.
    expect(diskSpace(core!).free).toBeGreaterThanOrEqual(freeBefore + bytes - MiB);
    await core!.trash.drained();
    expect(trashNames(home)).toEqual([]);
    expect(lfs!.free()).toBeGreaterThanOrEqual(freeBefore + bytes - MiB);
    expect(core!.trash.pendingBytes).toBe(0);
    expect(core!.store.listSnapshots(big.boxId).map((s) => s.name)).toEqual(['base']);
  });

  it('a removal killed after its folder went into the trash: the next open frees it, and the removal is complete', async () => {
    const { home, big } = await world();
    await core!.close();
    core = undefined;
    const freeBefore = lfs!.free();
    const r = spawnSync(process.execPath, [DRIVER, home, 'snapshots:remove', JSON.stringify({ box: 'b', snapshot: 'big' })], {
      encoding: 'utf8', env: { ...process.env, BOXKEEP_CRASH_AT: 'snapshot-remove:after-delete' }, timeout: 60_000,
    });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    expect(trashNames(home)).toHaveLength(1);
    expect(fs.existsSync(path.dirname(big.diskPath))).toBe(false);

    core = await openCore({ home, owner: 'test' });
    await core.trash.drained();
    expect(trashNames(home)).toEqual([]);
    expect(core.store.getSnapshot(big.id)).toBeNull();
    expect(core.store.listSnapshots(big.boxId).map((s) => s.name)).toEqual(['base']);
    expect(lfs!.free()).toBeGreaterThan(freeBefore + 8 * MiB);
  });

  it('the home\'s close waits until everything taken is freed', async () => {
    const { home, big } = await world();
    const freeBefore = lfs!.free();
    await core!.snapshots.remove('b', big.id);
    await core!.close();
    core = undefined;
    expect(trashNames(home)).toEqual([]);
    expect(lfs!.free()).toBeGreaterThan(freeBefore + 8 * MiB);
  });

  it('never follows a link: a trash that is a link is not used (the folder is deleted at once), and a link inside it goes, not what it names', async () => {
    const { home, big } = await world();
    const outside = path.join(lfs!.dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'precious'), 'keep me');
    fs.rmSync(path.join(home, 'trash'), { recursive: true, force: true });
    fs.symlinkSync(outside, path.join(home, 'trash'));
    await core!.snapshots.remove('b', big.id);
    await core!.trash.drained();
    expect(fs.existsSync(path.dirname(big.diskPath))).toBe(false);
    expect(fs.readdirSync(outside)).toEqual(['precious']);

    fs.rmSync(path.join(home, 'trash'));
    fs.mkdirSync(path.join(home, 'trash'));
    fs.symlinkSync(outside, path.join(home, 'trash', '0123456789ab'));
    fs.writeFileSync(path.join(home, 'trash', 'notes.txt'), 'not a name Boxkeep makes');
    await core!.close();
    core = await openCore({ home, owner: 'test' });
    await core.trash.drained();
    expect(trashNames(home)).toEqual(['notes.txt']);
    expect(fs.readFileSync(path.join(outside, 'precious'), 'utf8')).toBe('keep me');
  });

  it('a folder holding only a trash/ of the user\'s is not taken for a home, and nothing in it is freed', async () => {
    lfs = makeLoopFs(32);
    const folder = path.join(lfs.dir, 'mine');
    fs.mkdirSync(path.join(folder, 'trash', '0123456789ab'), { recursive: true, mode: 0o755 });
    fs.chmodSync(folder, 0o755);
    fs.writeFileSync(path.join(folder, 'trash', '0123456789ab', 'photo.jpg'), 'a photo');
    await expect(openCore({ home: folder, owner: 'test' })).rejects.toThrow(/is not a Boxkeep home/);
    expect(fs.readFileSync(path.join(folder, 'trash', '0123456789ab', 'photo.jpg'), 'utf8')).toBe('a photo');
    expect(fs.statSync(folder).mode & 0o777).toBe(0o755);
  });

  it('keeps a file whose last name goes while it is open: its space comes back when the trash frees it, not when the file is closed', async () => {
    lfs = makeLoopFs(64);
    const file = path.join(lfs.dir, 'old-top.qcow2');
    makeQcow2(file, 32 * MiB);
    writePattern(file, 0, 16 * MiB, 0x33);
    const trash = new Trash(path.join(lfs.dir, 'trash'), silentLogger);
    const held = fs.openSync(file, 'r');
    const before = lfs.free();
    trash.keep(file);
    fs.unlinkSync(file);
    fs.closeSync(held);
    expect(lfs.free()).toBeLessThan(before + MiB);
    expect(trash.pendingBytes).toBeGreaterThan(15 * MiB);
    trash.empty();
    await trash.drained();
    expect(lfs.free()).toBeGreaterThan(before + 15 * MiB);
    expect(fs.readdirSync(path.join(lfs.dir, 'trash'))).toEqual([]);
  });
});
