// A home made by the Boxkeep before installer media (schema 3) opened by this one: every row
// is kept, images are disks, no box has an installer, and the foreign keys still hold.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../electron/core/store/schema.js';
import { Store } from '../../electron/core/store/store.js';
import { tempHome } from '../helpers/disk.js';

let tmp: { dir: string; cleanup(): void } | null = null;
afterEach(() => tmp?.cleanup());

/** A database as an older Boxkeep left it: the first `version` migrations (all SQL text), no later. */
function databaseAt(file: string, version: number): Database.Database {
  const db = new Database(file);
  db.pragma('foreign_keys = ON');
  for (let v = 0; v < version; v++) {
    db.exec(MIGRATIONS[v] as string);
    db.pragma(`user_version = ${v + 1}`);
  }
  return db;
}

function schema3Home(file: string): void {
  const db = databaseAt(file, 3);
  db.prepare(`INSERT INTO images (id, name, path, virtual_size, size_on_disk, created_at, file_size, header_digest) VALUES ('img000000001', 'seed', '/h/images/img000000001/disk.qcow2', 1048576, 4096, 1, 4096, 'ab')`).run();
  db.prepare(`INSERT INTO boxes (id, name, image_id, status, cpus, memory_mib, disk_size, current_snapshot_id, created_at) VALUES ('box000000001', 'dev', 'img000000001', 'stopped', 1, 128, 1048576, 'snp000000001', 2)`).run();
  db.prepare(`INSERT INTO snapshots (id, box_id, parent_id, name, created_at, size_on_disk, virtual_size, disk_path) VALUES ('snp000000001', 'box000000001', NULL, 'first', 3, 4096, 1048576, '/h/boxes/box000000001/snapshots/snp000000001/container.qcow2')`).run();
  db.close();
}

describe('opening a home from before installer media', () => {
  it('keeps every row, calls each image a disk, attaches no installer, and keeps the foreign keys enforced', () => {
    tmp = tempHome('bkm');
    const file = path.join(tmp.dir, 'boxkeep.db');
    schema3Home(file);
    const store = new Store(file, (id) => `/h/boxes/${id}/disks/container.qcow2`);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      expect(store.listImages().map((i) => [i.name, i.kind, i.format])).toEqual([['seed', 'disk', 'qcow2']]);
      expect(store.imageFacts('img000000001')).toMatchObject({ fileSize: 4096, headerDigest: 'ab' });
      expect(store.listBoxes().map((b) => [b.name, b.imageId, b.installerImageId, b.currentSnapshotId])).toEqual([['dev', 'img000000001', null, 'snp000000001']]);
      expect(store.listSnapshots('box000000001').map((s) => s.name)).toEqual(['first']);
      expect(store.db.pragma('foreign_key_check')).toEqual([]);
      expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
      // The new reference is enforced too: a box cannot name an installer that does not exist.
      expect(() => store.setInstaller('box000000001', 'nosuchimage0')).toThrow(/FOREIGN KEY/);
      expect(() => store.deleteImage('img000000001')).toThrow(/FOREIGN KEY/);
    } finally {
      store.db.close();
    }
    expect(fs.existsSync(file)).toBe(true);
  });
});

/** A home as main's schema 5 left it: a box on an image with a snapshot, and a box made from installer media. */
function schema5Home(file: string): void {
  const db = databaseAt(file, 5);
  db.prepare(`INSERT INTO images (id, name, path, virtual_size, size_on_disk, created_at) VALUES ('img000000001', 'seed', '/h/images/img000000001/disk.qcow2', 1048576, 4096, 1)`).run();
  db.prepare(`INSERT INTO images (id, name, kind, path, virtual_size, size_on_disk, created_at) VALUES ('iso000000001', 'netinst', 'installer', '/h/images/iso000000001/installer.iso', 1048576, 4096, 1)`).run();
  db.prepare(`INSERT INTO boxes (id, name, image_id, status, cpus, memory_mib, disk_size, current_snapshot_id, created_at, forwards) VALUES ('box000000001', 'dev', 'img000000001', 'stopped', 1, 128, 1048576, 'snp000000001', 2, '[{"hostAddress":"127.0.0.1","hostPort":2222,"guestPort":22,"protocol":"tcp"}]')`).run();
  db.prepare(`INSERT INTO boxes (id, name, image_id, installer_image_id, status, cpus, memory_mib, disk_size, created_at) VALUES ('box000000002', 'inst', 'iso000000001', 'iso000000001', 'stopped', 1, 128, 1048576, 3)`).run();
  db.prepare(`INSERT INTO snapshots (id, box_id, parent_id, name, created_at, size_on_disk, virtual_size, disk_path) VALUES ('snp000000001', 'box000000001', NULL, 'first', 3, 4096, 1048576, '/h/boxes/box000000001/snapshots/snp000000001/container.qcow2')`).run();
  db.close();
}

describe('opening a home from before UEFI and removable installers', () => {
  it('gives every box BIOS firmware, records no base image for an installer box, and keeps every row, index and reference', () => {
    tmp = tempHome('bkm');
    const file = path.join(tmp.dir, 'boxkeep.db');
    schema5Home(file);
    const store = new Store(file, (id) => `/h/boxes/${id}/disks/container.qcow2`);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      expect(store.listBoxes().map((b) => [b.name, b.imageId, b.installerImageId, b.installedFrom, b.firmware, b.currentSnapshotId, b.forwards.length])).toEqual([
        ['dev', 'img000000001', null, null, 'bios', 'snp000000001', 1],
        ['inst', null, 'iso000000001', 'netinst', 'bios', null, 0],
      ]);
      // Rebuilding the boxes table must not have cascaded into the snapshots.
      expect(store.listSnapshots('box000000001').map((s) => s.name)).toEqual(['first']);
      const indexes = store.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'boxes' AND sql IS NOT NULL`).all();
      expect(indexes).toEqual([{ name: 'boxes_by_image' }]);
      expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(() => store.deleteImage('img000000001')).toThrow(/FOREIGN KEY/);
      expect(() => store.deleteImage('iso000000001')).toThrow(/FOREIGN KEY/);
      // Once ejected, nothing refers to the ISO.
      store.setInstaller('box000000002', null);
      store.deleteImage('iso000000001');
      expect(store.listImages().map((i) => i.name)).toEqual(['seed']);
      // Deleting a box still takes its snapshots with it (the reference survived the rebuild).
      store.db.prepare('DELETE FROM boxes WHERE id = ?').run('box000000001');
      expect(store.db.prepare('SELECT count(*) AS n FROM snapshots').get()).toEqual({ n: 0 });
    } finally {
      store.db.close();
    }
  });
});
