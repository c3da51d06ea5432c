// Box settings without a guest: growing the disk killed at each step, and a home written
// before migration 5 opening with the new settings' defaults.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openCore } from '../../electron/core/core.js';
import { MIGRATIONS } from '../../electron/core/store/schema.js';
import { readQcow2Header } from '../../electron/core/disk/qcow2.js';
import { cleanUpWorldsAfterEach, crashAt, digests, makeWorld, points, recovered } from '../helpers/crash.js';
import { hashFile, tempHome } from '../helpers/disk.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
cleanUpWorldsAfterEach();

/** What the guest reads in the first `bytes` of a disk, hashed like diskDigest hashes a whole disk. */
function leadingDigest(file: string, bytes: number): string {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bklead-')), 'lead.raw');
  try {
    execFileSync('qemu-img', ['dd', '-f', 'qcow2', '-O', 'raw', 'bs=1M', `count=${bytes / MiB}`, `if=${file}`, `of=${out}`]);
    return hashFile(out);
  } finally {
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  }
}

describe('growing the disk killed at each step', () => {
  it.each(points('box-resize'))('%s: the row says the size the file has, and no byte changed', async (point) => {
    const w = await makeWorld();
    const r = crashAt(w, point, 'boxes:update', { box: 'dev', diskSizeGiB: 1 });
    expect(r.signal).toBe('SIGKILL');
    const report = await recovered(w, async (core) => {
      const box = core.store.getBox(w.boxId)!;
      const fileSize = (await readQcow2Header(box.liveDiskPath)).virtualSize;
      expect(fileSize).toBe(point === 'box-resize:after-intent' ? 8 * MiB : GiB);
      expect(box.diskSize).toBe(fileSize);
      expect((await core.boxes.detail('dev')).diskSize).toBe(fileSize);
      expect(leadingDigest(box.liveDiskPath, 8 * MiB)).toBe(w.live);
      expect(digests(core, w.boxId)).toEqual(w.snapshots);
      // Done again after recovery, it finishes (or is already done).
      expect((await core.boxes.update({ box: 'dev', diskSizeGiB: 1 })).diskSize).toBe(GiB);
    });
    expect(report.items.map((i) => i.message).join(' ')).toMatch(/Growing the disk of the box "dev" was interrupted/);
  });

  it.each(points('box-resize'))('%s, growing at a start what was set while the box ran: the size the file has, the rest still pending', async (point) => {
    const w = await makeWorld();
    // As boxes:update leaves a box it was given a larger disk while it ran, once stopped.
    const db = new Database(path.join(w.home, 'boxkeep.db'));
    db.prepare("UPDATE boxes SET status = 'stopped', pending_disk_size = ?, pending_restart = 1 WHERE id = ?").run(GiB, w.boxId);
    db.close();
    const r = crashAt(w, point, 'boxes:start', { box: 'dev' });
    expect(r.signal).toBe('SIGKILL');
    const grown = point !== 'box-resize:after-intent';
    const report = await recovered(w, async (core) => {
      const box = core.store.getBox(w.boxId)!;
      const fileSize = (await readQcow2Header(box.liveDiskPath)).virtualSize;
      expect(fileSize).toBe(grown ? GiB : 8 * MiB);
      expect(box).toMatchObject({ diskSize: fileSize, pendingDiskSize: grown ? null : GiB, status: 'stopped' });
      expect(leadingDigest(box.liveDiskPath, 8 * MiB)).toBe(w.live);
      expect(digests(core, w.boxId)).toEqual(w.snapshots);
    });
    expect(report.items.map((i) => i.message).join(' ')).toMatch(grown ? /recorded as grown/ : /kept its size\. It grows at the next start\./);
  });

  it('grows a stopped box at once; the snapshots keep their size, a restore keeps the grown one', async () => {
    const w = await makeWorld();
    const core = await openCore({ home: w.home, owner: 'test' });
    try {
      const grown = await core.boxes.update({ box: 'dev', diskSizeGiB: 1 });
      expect(grown).toMatchObject({ diskSize: GiB, pendingRestart: false });
      expect((await readQcow2Header(grown.liveDiskPath)).virtualSize).toBe(GiB);
      expect(leadingDigest(grown.liveDiskPath, 8 * MiB)).toBe(w.live);
      await core.snapshots.restore({ box: 'dev', snapshot: 'a' });
      expect((await readQcow2Header(grown.liveDiskPath)).virtualSize).toBe(GiB);
      expect(digests(core, w.boxId)).toEqual(w.snapshots);
      await expect(core.boxes.update({ box: 'dev', diskSizeGiB: 1, cpus: 3 })).resolves.toMatchObject({ cpus: 3, diskSize: GiB });
    } finally {
      await core.close();
    }
  });
});

describe('growing the disk failing', () => {
  it('a qemu-img resize that fails leaves no unfinished work behind: the row says the size the file has, the box takes snapshots again', async () => {
    const w = await makeWorld();
    const core = await openCore({ home: w.home, owner: 'test' });
    const live = core.store.getBox(w.boxId)!.liveDiskPath;
    // Another program holding the disk's write lock (a stray QEMU, say): qemu-img resize fails.
    const holder = spawn('qemu-io', ['-f', 'qcow2', live], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (c: Buffer) => c.toString().includes('qemu-io>') && resolve());
        holder.once('exit', () => reject(new Error('qemu-io exited')));
      });
      await expect(core.boxes.update({ box: 'dev', diskSizeGiB: 1 })).rejects.toThrow(/lock/);
    } finally {
      holder.kill('SIGKILL');
    }
    try {
      expect(core.store.getBox(w.boxId)!.diskSize).toBe(8 * MiB);
      expect(fs.readdirSync(core.paths.boxJournal(w.boxId))).toEqual([]);
      await expect(core.snapshots.create({ box: 'dev', name: 'after' })).resolves.toMatchObject({ name: 'after' });
      expect((await core.boxes.update({ box: 'dev', diskSizeGiB: 1 })).diskSize).toBe(GiB);
    } finally {
      await core.close();
    }
  });
});

/**
 * The database file as the Boxkeep of schema `version` left it: the tables and columns later
 * migrations added (to any table) dropped, user_version set back. Every row keeps its older columns.
 */
function backTo(file: string, version: number): void {
  const old = new Database(':memory:');
  for (const m of MIGRATIONS.slice(0, version)) old.exec(m as string);
  const tables = (d: Database.Database) => (d.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((t) => t.name);
  const columns = (d: Database.Database, t: string) => (d.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name);
  const db = new Database(file);
  const kept = new Set(tables(old));
  for (const t of tables(db)) {
    if (!kept.has(t)) {
      db.exec(`DROP TABLE ${t}`);
      continue;
    }
    const keep = new Set(columns(old, t));
    for (const c of columns(db, t)) if (!keep.has(c)) db.exec(`ALTER TABLE ${t} DROP COLUMN ${c}`);
  }
  db.pragma(`user_version = ${version}`);
  db.close();
  old.close();
}

describe('migration 5 (box settings)', () => {
  it('gives boxes made before it the nat network, no forwards, a stable MAC and the 20 s stop timeout', async () => {
    const tmp = tempHome('bkm4');
    try {
      const w = await makeWorld({ under: tmp.dir });
      // Back to schema 4: drop what migration 5 and any later one added, as an older Boxkeep left the file.
      backTo(path.join(w.home, 'boxkeep.db'), 4);
      const macs: string[] = [];
      for (let i = 0; i < 2; i++) {
        const core = await openCore({ home: w.home, owner: 'test' });
        try {
          const box = core.store.getBox(w.boxId)!;
          expect(box).toMatchObject({ network: 'nat', forwards: [], stopTimeoutSec: 20, pendingRestart: false, stopDeadline: null, pendingDiskSize: null });
          macs.push(box.macAddress);
        } finally {
          await core.close();
        }
      }
      expect(macs[0]).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
      expect(macs[1]).toBe(macs[0]);
      expect(fs.existsSync(path.join(w.home, 'boxkeep.db'))).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('migration 6 (the screen)', () => {
  it('gives a box on a disk image a VNC screen and a direct-kernel box none, as create would', async () => {
    const tmp = tempHome('bkm6');
    try {
      const w = await makeWorld({ under: tmp.dir });
      const kernel = path.join(tmp.dir, 'vmlinuz');
      fs.writeFileSync(kernel, 'not really a kernel');
      const seed = path.join(tmp.dir, 'seed.qcow2');
      let kernelBox: string;
      const core0 = await openCore({ home: w.home, owner: 'test' });
      try {
        await core0.images.import({ path: seed, name: 'kernel-seed', kernelPath: kernel });
        const made = await core0.boxes.create({ name: 'kbox', image: 'kernel-seed' });
        expect(made.display).toBe('none');
        expect(core0.store.getBox(w.boxId)!.display).toBe('vnc');
        kernelBox = made.id;
        // Made before migration 6: both as the old default would have left them.
        await core0.boxes.update({ box: 'dev', display: 'none' });
        await core0.boxes.update({ box: 'kbox', display: 'vnc' });
      } finally {
        await core0.close();
      }
      // Back to schema 5: drop what migration 6 and any later one added.
      backTo(path.join(w.home, 'boxkeep.db'), 5);
      const core = await openCore({ home: w.home, owner: 'test' });
      try {
        expect(core.store.getBox(w.boxId)!.display).toBe('vnc');
        expect(core.store.getBox(kernelBox)!.display).toBe('none');
      } finally {
        await core.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});
