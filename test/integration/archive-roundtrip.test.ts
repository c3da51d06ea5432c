// Export a box with a branched snapshot tree, import it into another home: every snapshot and
// Now read back the same bytes, the tree and settings are the same, and the box boots.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHome } from '../../electron/core/check.js';
import type { Core } from '../../electron/core/core.js';
import { diskDigest, writePattern } from '../helpers/disk.js';
import { boot, openVmHome, sh, type VmHome } from '../helpers/vm.js';

const MiB = 1024 * 1024;
let src: VmHome;
let dst: VmHome;
let out: string;

/** name → parent name, and which one Now hangs under. */
function tree(core: Core, box: string) {
  const b = core.boxes.resolve(box);
  const list = core.store.listSnapshots(b.id);
  const nameOf = (id: string | null) => (id === null ? null : list.find((s) => s.id === id)!.name);
  return { parents: Object.fromEntries(list.map((s) => [s.name, nameOf(s.parentId)])), current: nameOf(b.currentSnapshotId), descriptions: list.map((s) => s.description) };
}

function digests(core: Core, box: string) {
  const b = core.boxes.resolve(box);
  return { ...Object.fromEntries(core.store.listSnapshots(b.id).map((s) => [s.name, diskDigest(s.diskPath)])), Now: diskDigest(b.liveDiskPath) };
}

beforeAll(async () => {
  [src, dst] = await Promise.all([openVmHome(), openVmHome()]);
  out = path.join(path.dirname(src.dir), 'web.boxkeep');
  const box = await src.core.boxes.create({ name: 'web', image: 'tiny', cpus: 2, memoryMib: 192, forwards: ['18080:80'] });
  // Patterns far into the 64 MiB ext4 disk: free blocks, so the guest still mounts it.
  const at = (n: number) => (40 + n) * MiB;
  for (const [name, n, byte] of [['a', 1, 0xa1], ['b', 2, 0xb2], ['c', 3, 0xc3]] as const) {
    writePattern(box.liveDiskPath, at(n), MiB, byte);
    await src.core.snapshots.create({ box: 'web', name, description: `step ${name}` });
  }
  await src.core.snapshots.restore({ box: 'web', snapshot: 'b' });
  writePattern(box.liveDiskPath, at(4), MiB, 0xd4);
  await src.core.snapshots.create({ box: 'web', name: 'd' });
  writePattern(box.liveDiskPath, at(5), MiB, 0x55);
}, 300_000);

afterAll(async () => {
  await Promise.all([src?.cleanup(), dst?.cleanup()]);
  if (out) fs.rmSync(out, { force: true });
});

describe('export and import round trip', () => {
  it('a branched tree comes back byte for byte in another home, with its settings, and boots', async () => {
    const progress: number[] = [];
    src.core.events.on('tasks:progress', (p) => { if (p.kind === 'box-export') progress.push(p.fraction); });
    const exported = await src.core.archives.export({ box: 'web', path: out });
    expect(exported.compression).toBe('zstd');
    expect(fs.readFileSync(out).readUInt32LE(0)).toBe(0xfd2fb528);
    expect(progress.at(-1)).toBe(1);
    expect(progress.length).toBeGreaterThan(2);
    // The system's tar reads it too: a plain ustar inside.
    const listed = execFileSync('sh', ['-c', `zstd -dc '${out}' | tar -tvf -`], { encoding: 'utf8' });
    expect(listed.split('\n')[0]).toMatch(/^-.* manifest\.json$/);

    const imported = await dst.core.archives.import({ path: out });
    expect(imported.name).toBe('web');
    const srcBox = src.core.boxes.resolve('web');
    // The image's name is taken in the other home (it has its own "tiny"): a suffix.
    expect(dst.core.store.getImage(imported.imageId!)!.name).toBe('tiny (2)');
    expect(tree(dst.core, 'web')).toEqual(tree(src.core, 'web'));
    expect(digests(dst.core, 'web')).toEqual(digests(src.core, 'web'));
    for (const key of ['cpus', 'memoryMib', 'forwards', 'network', 'display', 'firmware', 'diskSize', 'stopTimeoutSec'] as const) {
      expect(imported[key], key).toEqual(srcBox[key]);
    }
    expect(imported.id).not.toBe(srcBox.id);
    expect(imported.macAddress).not.toBe(srcBox.macAddress);
    const check = await checkHome(dst.core, 'web');
    expect(check.ok, JSON.stringify(check)).toBe(true);

    await dst.core.boxes.update({ box: 'web', forwards: [] });
    const con = await boot(dst.core, 'web');
    expect(await sh(con, 'cat /mnt/hello.txt')).toContain('hello from the image');
    con.close();
    await dst.core.vms.stop('web', { force: true });
  }, 300_000);

  it('one snapshot exported flattened imports as a box of its own with that snapshot\'s bytes', async () => {
    const flat = path.join(path.dirname(src.dir), 'web-b.boxkeep');
    try {
      await src.core.archives.export({ box: 'web', snapshot: 'b', path: flat, compression: 'gzip' });
      expect(fs.readFileSync(flat).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      const box = await dst.core.archives.import({ path: flat, name: 'web-b' });
      expect(dst.core.store.listSnapshots(box.id)).toEqual([]);
      const b = src.core.store.findSnapshot(src.core.boxes.resolve('web').id, 'b')!;
      expect(diskDigest(box.liveDiskPath)).toBe(diskDigest(b.diskPath));
      const image = dst.core.store.getImage(box.imageId!)!;
      expect(image.name).toBe('web b');
      expect(image.kernelPath).not.toBeNull();
    } finally {
      fs.rmSync(flat, { force: true });
    }
  }, 300_000);

  it('an export never writes over a file, and a cancelled one leaves no file', async () => {
    fs.writeFileSync(path.join(path.dirname(src.dir), 'taken.boxkeep'), 'mine');
    await expect(src.core.archives.export({ box: 'web', path: path.join(path.dirname(src.dir), 'taken.boxkeep') })).rejects.toMatchObject({ code: 'AlreadyExists' });
    expect(fs.readFileSync(path.join(path.dirname(src.dir), 'taken.boxkeep'), 'utf8')).toBe('mine');
    const target = path.join(path.dirname(src.dir), 'cancelled.boxkeep');
    const off = src.core.events.on('tasks:progress', (p) => { if (p.kind === 'box-export' && !p.done) src.core.tasks.cancel(p.taskId); });
    await expect(src.core.archives.export({ box: 'web', path: target })).rejects.toMatchObject({ code: 'InvalidState', message: expect.stringMatching(/cancelled/) });
    off();
    expect(fs.readdirSync(path.dirname(src.dir)).filter((f) => f.includes('cancelled'))).toEqual([]);
  }, 300_000);

  it('a file another program creates at the very moment the archive lands is never replaced', async () => {
    const target = path.join(path.dirname(src.dir), 'raced.boxkeep');
    // The other program wins the race in the last possible instant: right before the archive
    // takes its name, however it takes it (a rename or a link).
    const real = { renameSync: fs.renameSync, linkSync: fs.linkSync };
    const plant = (to: fs.PathLike) => {
      if (String(to) === target && !fs.existsSync(target)) real.renameSync.call(fs, writeBeside(target, 'theirs'), target);
    };
    const writeBeside = (file: string, text: string) => {
      const other = `${file}.theirs`;
      fs.writeFileSync(other, text);
      return other;
    };
    fs.renameSync = ((from: fs.PathLike, to: fs.PathLike) => (plant(to), real.renameSync(from, to))) as typeof fs.renameSync;
    fs.linkSync = ((from: fs.PathLike, to: fs.PathLike) => (plant(to), real.linkSync(from, to))) as typeof fs.linkSync;
    try {
      await expect(src.core.archives.export({ box: 'web', path: target })).rejects.toMatchObject({ code: 'AlreadyExists', message: expect.stringMatching(/appeared/) });
    } finally {
      Object.assign(fs, real);
    }
    expect(fs.readFileSync(target, 'utf8')).toBe('theirs');
    expect(fs.readdirSync(path.dirname(src.dir)).filter((f) => f.includes('raced') && f !== 'raced.boxkeep')).toEqual([]);
    fs.rmSync(target, { force: true });
  }, 300_000);

  it('an export killed mid-way leaves a partial file that the next export to that name removes; a running one\'s is left alone', async () => {
    const folder = path.dirname(src.dir);
    const target = path.join(folder, 'again.boxkeep');
    // What a killed export leaves: its writer (a process that has exited) named in the file.
    const gone = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const abandoned = path.join(folder, `.again.boxkeep.${gone}-12345-0badf00d.partial`);
    fs.writeFileSync(abandoned, Buffer.alloc(MiB, 7));
    // One a running export writes (this very process, with its true start time).
    const start = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
    const running = path.join(folder, `.again.boxkeep.${process.pid}-${start}-0badcafe.partial`);
    fs.writeFileSync(running, 'still being written');
    try {
      await src.core.archives.export({ box: 'web', path: target });
      expect(fs.existsSync(abandoned)).toBe(false);
      expect(fs.readFileSync(running, 'utf8')).toBe('still being written');
      expect(fs.readdirSync(folder).filter((f) => f.includes('again')).sort()).toEqual([path.basename(running), 'again.boxkeep'].sort());
    } finally {
      for (const f of [target, abandoned, running]) fs.rmSync(f, { force: true });
    }
  }, 300_000);

  it('a snapshot with memory exports its state, and imports as its disk only: a migration stream from a file is never handed to QEMU', async () => {
    const a = src.core.snapshots.get('web', 'a');
    // Of a real state's kind of size: not whole 512-byte blocks, so its tar padding must be skipped too.
    const state = Buffer.alloc(256 * 1024 + 77, 0x6d);
    fs.writeFileSync(path.join(path.dirname(a.diskPath), 'memory.state'), state);
    const memory = { size: state.length, sha256: crypto.createHash('sha256').update(state).digest('hex'), qemuVersion: '7.2.22', machine: 'pc-i440fx-7.2', deviceHash: 'b'.repeat(64) };
    src.core.store.setSnapshotMemory(a.id, memory);
    src.core.store.db.prepare(`UPDATE snapshots SET taken = 'with-memory' WHERE id = ?`).run(a.id);
    const file = path.join(path.dirname(src.dir), 'memory.boxkeep');
    try {
      await src.core.archives.export({ box: 'web', path: file, compression: 'none' });
      // The state and its records are in the archive.
      const listed = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' });
      expect(listed).toMatch(new RegExp(`${state.length} .*memory\\.state`));
      await dst.core.archives.import({ path: file, name: 'web-memory' });
      const got = dst.core.snapshots.get('web-memory', 'a');
      expect([got.taken, got.memory]).toEqual(['crash-consistent', undefined]);
      expect(fs.existsSync(path.join(path.dirname(got.diskPath), 'memory.state'))).toBe(false);
      expect(diskDigest(got.diskPath)).toBe(diskDigest(a.diskPath));
    } finally {
      fs.rmSync(file, { force: true });
    }
  }, 300_000);
});
