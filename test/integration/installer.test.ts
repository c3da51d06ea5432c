// Installer media without QEMU running: import of ISO 9660 images (and what import refuses),
// boxes made for an installer (a blank disk that stands alone, the root of the tree), and the
// snapshot engine, recovery, confinement and `check` on such a tree.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkHome } from '../../electron/core/check.js';
import { rejection } from '../helpers/errors.js';
import { backingOf, hashFile, readPattern, writePattern } from '../helpers/disk.js';
import { MiB, openTestHome, type TestHome } from '../helpers/core.js';
import { makeInstallerIso } from '../helpers/installer.js';

let t: TestHome;
beforeEach(async () => { t = await openTestHome(); });
afterEach(async () => { await t.cleanup(); });

const GiB = 1024 * MiB;
const scratch = (name: string) => path.join(path.dirname(t.dir), name);
/** Every entry of the home's images folder and journal: what a refused import must not grow. */
const homeEntries = () => [...fs.readdirSync(t.core.paths.imagesDir), ...fs.readdirSync(t.core.paths.homeJournal).map((f) => `journal/${f}`)].sort();

function qemuImgCheck(file: string): void {
  const r = spawnSync('qemu-img', ['check', '-q', '-f', 'qcow2', file], { encoding: 'utf8' });
  expect(r.status, `qemu-img check ${file}: ${r.stdout}${r.stderr}`).toBe(0);
}

/** The byte each of the first four MiB of a disk holds throughout (-1: mixed), read by qemu-io. */
function slots(file: string): number[] {
  return [0, 1, 2, 3].map((slot) => [0, 0x21, 0x22, 0x23, 0x24, 0x31, 0x32].find((b) => readPattern(file, slot * MiB, MiB, b)) ?? -1);
}

async function importInstaller(name = 'installer') {
  const iso = makeInstallerIso(path.dirname(t.dir), `${name}.iso`);
  return { iso, image: await t.core.images.import({ path: iso, name }) };
}

async function installerBox(name = 'fresh', diskSizeGiB = 1) {
  await importInstaller();
  return t.core.boxes.create({ name, image: 'installer', diskSizeGiB });
}

describe('importing installer media', () => {
  it('keeps an ISO 9660 image as installer media, byte for byte and read-only, and lists it as such', async () => {
    const { iso, image } = await importInstaller();
    expect(image).toMatchObject({ name: 'installer', kind: 'installer', format: 'iso', virtualSize: fs.statSync(iso).size, kernelPath: null });
    expect(image.path).toBe(t.core.paths.imageInstaller(image.id));
    expect(hashFile(image.path)).toBe(hashFile(iso));
    expect(fs.statSync(image.path).mode & 0o222).toBe(0);
    const listed = await t.router.invoke('images:list', {}) as { name: string; kind: string; format: string }[];
    expect(listed.map((i) => [i.name, i.kind, i.format])).toEqual([['seed', 'disk', 'qcow2'], ['installer', 'installer', 'iso']]);
  });

  it('refuses a truncated ISO, saying so, and leaves nothing in the home', async () => {
    const iso = makeInstallerIso(path.dirname(t.dir));
    const before = homeEntries();
    for (const keep of [0x8000 + 100, 40 * 1024, fs.statSync(iso).size - 4096]) {
      const cut = scratch(`cut-${keep}.iso`);
      fs.writeFileSync(cut, fs.readFileSync(iso).subarray(0, keep));
      const err = await rejection(t.core.images.import({ path: cut, name: `cut${keep}` }));
      expect(err.code).toBe('InvalidArgument');
      expect(err.message).toMatch(/ISO 9660.*truncated/);
      expect(homeEntries()).toEqual(before);
    }
    expect(t.core.images.list().map((i) => i.name)).toEqual(['seed']);
  });

  it('refuses a file that is neither a disk nor an ISO, saying what it is, and leaves nothing', async () => {
    const before = homeEntries();
    const gz = scratch('disk.img.gz');
    fs.writeFileSync(gz, Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(4096 - 4)]));
    const odd = scratch('notes.txt');
    fs.writeFileSync(odd, 'these are notes, not a disk\n');
    const vdi = scratch('old.vdi');
    const v = Buffer.alloc(MiB);
    v.writeUInt32LE(0xbeda107f, 0x40);
    fs.writeFileSync(vdi, v);
    for (const [file, what] of [[gz, /gzip archive; unpack it first/], [odd, /28 bytes long, not a whole number of 512-byte sectors/], [vdi, /VirtualBox VDI.*qemu-img convert/]] as const) {
      const err = await rejection(t.core.images.import({ path: file, name: 'x' }));
      expect(err.code).toBe('InvalidArgument');
      expect(err.message).toMatch(/neither a disk image nor installer media/);
      expect(err.message).toMatch(what);
    }
    expect(homeEntries()).toEqual(before);
  });

  it('refuses an ISO given a kernel to boot, since installer media boots by itself', async () => {
    const iso = makeInstallerIso(path.dirname(t.dir));
    const kernel = scratch('vmlinuz');
    fs.writeFileSync(kernel, 'kernel-bytes');
    const before = homeEntries();
    const err = await rejection(t.core.images.import({ path: iso, name: 'withkernel', kernelPath: kernel }));
    expect(err.code).toBe('InvalidArgument');
    expect(err.message).toMatch(/installer media.*no --kernel/);
    expect(homeEntries()).toEqual(before);
  });

  it('refuses to remove installer media a box uses, and removes it once no box does', async () => {
    const box = await installerBox();
    const err = await rejection(t.core.images.remove('installer'));
    expect(err.code).toBe('InvalidState');
    expect(err.message).toMatch(/"fresh"/);
    expect(fs.existsSync(t.core.paths.imageInstaller(box.installerImageId!))).toBe(true);
    await t.core.boxes.remove('fresh');
    await t.core.images.remove('installer');
    expect(fs.existsSync(t.core.paths.imageDir(box.installerImageId!))).toBe(false);
  });

  it('removing installer media while a box is being created from it: one wins, never a box attached to a removed ISO', async () => {
    for (const first of ['create', 'remove'] as const) {
      const { image } = await importInstaller();
      const create = () => t.core.boxes.create({ name: 'racer', image: 'installer', diskSizeGiB: 1 });
      const remove = () => t.core.images.remove('installer');
      // Both asked at once; the home's queue takes them in the order asked.
      const ops = first === 'create' ? [create(), remove()] : (() => { const r = remove(); return [create(), r]; })();
      const [made, removed] = await Promise.allSettled(ops);
      expect(made!.status).toBe(first === 'create' ? 'fulfilled' : 'rejected');
      const box = t.core.store.findBox('racer');
      if (made!.status === 'fulfilled') {
        // The box holds the ISO: the removal was refused, the file is there.
        expect(removed!.status).toBe('rejected');
        expect(box!.installerImageId).toBe(image.id);
        expect(fs.existsSync(t.core.paths.imageInstaller(image.id))).toBe(true);
        await t.core.boxes.remove('racer');
        await t.core.images.remove('installer');
      } else {
        expect(removed!.status).toBe('fulfilled');
        expect(box).toBeNull();
        expect((made as PromiseRejectedResult).reason.message).toMatch(/installer/);
      }
      expect(t.core.store.listBoxes().filter((b) => b.installerImageId && !t.core.store.getImage(b.installerImageId))).toEqual([]);
    }
  });
});

describe('a box from installer media', () => {
  it('gets a blank disk of the chosen size with no backing file, and records its installer', async () => {
    const box = await installerBox('fresh', 3);
    expect(box.installerImageId).toBe(t.core.images.resolve('installer').id);
    // No base image: its blank disk stands alone.
    expect(box.imageId).toBeNull();
    expect(box.diskSize).toBe(3 * GiB);
    expect(backingOf(box.liveDiskPath)).toBeNull();
    expect(readPattern(box.liveDiskPath, 0, MiB, 0)).toBe(true);
    const detail = await t.core.boxes.detail('fresh');
    expect(detail.chain.map((l) => [l.kind, l.backingFile])).toEqual([['live', null]]);
    expect(detail.image).toBeNull();
    expect(detail.installedFrom).toBe('installer');
  });

  it('refuses an installer where a disk is needed: without a disk size it says to give one, and makes nothing', async () => {
    await importInstaller();
    const err = await rejection(t.core.boxes.create({ name: 'nosize', image: 'installer' }));
    expect(err.code).toBe('InvalidArgument');
    expect(err.message).toMatch(/installer media.*--disk-size/);
    expect(t.core.boxes.list()).toEqual([]);
    expect(fs.existsSync(t.core.paths.boxesDir) ? fs.readdirSync(t.core.paths.boxesDir) : []).toEqual([]);
  });

  it('takes, restores and removes snapshots on a tree whose root stands alone, every layer reading back its bytes', async () => {
    const box = await installerBox();
    const live = box.liveDiskPath;
    writePattern(live, 0, MiB, 0x21);
    const root = await t.core.snapshots.create({ box: 'fresh', name: 'installed' });
    expect(backingOf(root.diskPath)).toBeNull();
    writePattern(live, MiB, MiB, 0x22);
    const second = await t.core.snapshots.create({ box: 'fresh', name: 'configured' });
    writePattern(live, 2 * MiB, MiB, 0x23);

    // Restore the root, then branch from it: Now and "configured" both depend on it.
    await t.core.snapshots.restore({ box: 'fresh', snapshot: 'installed' });
    expect(slots(live)).toEqual([0x21, 0, 0, 0]);
    writePattern(live, 3 * MiB, MiB, 0x24);
    expect((await checkHome(t.core, 'fresh')).ok).toBe(true);

    // Removing the blank root: its data is merged into both dependents, which then stand alone.
    const removed = await t.core.snapshots.remove('fresh', 'installed');
    expect(removed.nowReparented).toBe(true);
    expect(backingOf(second.diskPath)).toBeNull();
    expect(backingOf(live)).toBeNull();
    expect(slots(second.diskPath)).toEqual([0x21, 0x22, 0, 0]);
    expect(slots(live)).toEqual([0x21, 0, 0, 0x24]);
    for (const f of [second.diskPath, live]) qemuImgCheck(f);
    expect(fs.existsSync(root.diskPath)).toBe(false);
    expect(t.core.store.getSnapshot(second.id)!.parentId).toBeNull();
    expect(t.core.store.getBox(box.id)!.currentSnapshotId).toBeNull();
    const report = await checkHome(t.core, 'fresh');
    expect(report.ok).toBe(true);
    expect(report.boxes[0]!.layers.map((l) => l.kind)).toEqual(['live', 'snapshot']);
  });

  it('removes a blank root with one dependent by commit, leaving a child that stands alone, restores and checks clean', async () => {
    const box = await installerBox();
    writePattern(box.liveDiskPath, 0, 2 * MiB, 0x31);
    await t.core.snapshots.create({ box: 'fresh', name: 'root' });
    writePattern(box.liveDiskPath, 0, MiB, 0x32);
    const child = await t.core.snapshots.create({ box: 'fresh', name: 'child' });
    await t.core.snapshots.remove('fresh', 'root');
    expect(slots(child.diskPath)).toEqual([0x32, 0x31, 0, 0]);
    expect(backingOf(child.diskPath)).toBeNull();
    qemuImgCheck(child.diskPath);
    expect(backingOf(box.liveDiskPath)).toBe(child.diskPath);
    await t.core.snapshots.restore({ box: 'fresh', snapshot: 'child' });
    expect(readPattern(box.liveDiskPath, 0, MiB, 0x32) && readPattern(box.liveDiskPath, MiB, MiB, 0x31)).toBe(true);
    expect((await checkHome(t.core, 'fresh')).ok).toBe(true);
  });

  it('refuses a blank root swapped for one that backs onto a host file, as it refuses any other layer', async () => {
    const box = await installerBox();
    const root = await t.core.snapshots.create({ box: 'fresh', name: 'root' });
    fs.chmodSync(root.diskPath, 0o644);
    const r = spawnSync('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-b', '/etc/passwd', '-F', 'raw', root.diskPath]);
    expect(r.status).toBe(0);
    const err = await rejection(t.core.snapshots.restore({ box: 'fresh', snapshot: 'root' }));
    expect(err.code).toBe('Storage');
    expect(err.message).toMatch(/snapshot "root".*names the backing file "\/etc\/passwd" but should stand alone/i);
    const report = await checkHome(t.core, 'fresh');
    expect(report.ok).toBe(false);
    expect(report.boxes[0]!.layers.find((l) => l.name === 'root')!.ok).toBe(false);
    expect(backingOf(box.liveDiskPath)).toBe(root.diskPath);
  });

  it('refuses a live disk of a fresh installer box that was given a backing file', async () => {
    const box = await installerBox();
    const r = spawnSync('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-b', t.core.images.resolve('seed').path, '-F', 'qcow2', box.liveDiskPath]);
    expect(r.status).toBe(0);
    const err = await rejection(t.core.snapshots.create({ box: 'fresh', name: 'x' }));
    expect(err.code).toBe('Storage');
    expect(err.message).toMatch(/live disk.*should stand alone/);
  });

  it('ejects the installer of a stopped box: recorded, and refused a second time', async () => {
    const box = await installerBox();
    const out = await t.router.invoke('boxes:ejectInstaller', { box: 'fresh' }) as { installerImageId: string | null };
    expect(out.installerImageId).toBeNull();
    expect(t.core.store.getBox(box.id)!.installerImageId).toBeNull();
    const err = await rejection(t.router.invoke('boxes:ejectInstaller', { box: 'fresh' }));
    expect(err.code).toBe('InvalidState');
    expect(err.message).toMatch(/no installer attached/);
  });

  it('refuses to start a box whose installer file was swapped for a symlink, before QEMU is spawned', async () => {
    const box = await installerBox();
    const iso = t.core.paths.imageInstaller(box.installerImageId!);
    fs.rmSync(iso);
    fs.symlinkSync('/etc/passwd', iso);
    const err = await rejection(t.core.vms.start('fresh'));
    expect(err.code).toBe('Storage');
    expect(err.message).toMatch(/installer of the box "fresh" is not the file Boxkeep imported.*symbolic link.*box eject fresh/);
    expect(t.core.store.getBox(box.id)!.status).toBe('configured');
  });

  it('refuses to start a box whose installer file was replaced by another regular file (another box\'s disk, an edited ISO), before QEMU is spawned', async () => {
    const box = await installerBox();
    const other = await t.core.boxes.create({ name: 'other', image: 'seed' });
    writePattern(other.liveDiskPath, 0, MiB, 0x21);
    const iso = t.core.paths.imageInstaller(box.installerImageId!);
    const original = fs.readFileSync(iso);
    const edited = Buffer.from(original);
    edited.write('SWAPPEDVOLUME', 16 * 2048 + 40, 'latin1');
    for (const [what, bytes] of [['another box\'s disk', fs.readFileSync(other.liveDiskPath)], ['an edited ISO of the same size', edited]] as const) {
      fs.rmSync(iso);
      fs.writeFileSync(iso, bytes);
      const err = await rejection(t.core.vms.start('fresh').finally(() => t.core.vms.stop('fresh', { force: true }).catch(() => {})));
      expect(err.code, what).toBe('Storage');
      expect(err.message, what).toMatch(/installer of the box "fresh" is not the file Boxkeep imported/);
      expect(t.core.store.getBox(box.id)!.status, what).toBe('configured');
    }
  });

  it('recovery makes a fresh blank disk for an installer box that lost its live disk and has no snapshot', async () => {
    const box = await installerBox();
    fs.rmSync(box.liveDiskPath);
    const report = await t.core.recover({});
    expect(report.items.map((i) => i.message).join('\n')).toMatch(/fresh blank one/);
    expect(backingOf(box.liveDiskPath)).toBeNull();
    expect((await checkHome(t.core, 'fresh')).ok).toBe(true);
  });
});
