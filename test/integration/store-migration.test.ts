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

function schema3Home(file: string): void {
  const db = new Database(file);
  db.pragma('foreign_keys = ON');
  for (let v = 0; v < 3; v++) {
    db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${v + 1}`);
  }
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
