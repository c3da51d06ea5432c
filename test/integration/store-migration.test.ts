// A home made by the Boxkeep before installer media (schema 3) opened by this one: every row
// is kept, images are disks, no box has an installer, and the foreign keys still hold.
import { spawnSync } from 'node:child_process';
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

/** A database made by `makeHome` in a fresh temporary home, opened (so migrated) by the Store: at the newest version. */
function upgraded(makeHome: (file: string) => void): { file: string; store: Store } {
  tmp = tempHome('bkm');
  const file = path.join(tmp.dir, 'boxkeep.db');
  makeHome(file);
  const store = new Store(file, (id) => `/h/boxes/${id}/disks/container.qcow2`);
  expect(store.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
  return { file, store };
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
    const { file, store } = upgraded(schema3Home);
    try {
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
    const { file, store } = upgraded(schema5Home);
    try {
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

/**
 * Schema 7 with every kind of row (settings, facts, a snapshot tree, an installer box
 * still attached and one ejected, a box with pending settings), whose boxes table
 * migrations 6 and 7 grew (display, cloud_init) before this one rebuilds it.
 */
function fullSchema5Home(file: string): void {
  // Migrations 6 and 7 (the screen, cloud-init) add columns to boxes before 8 rebuilds it.
  const db = databaseAt(file, 7);
  // And an index and a trigger on boxes (a DROP TABLE drops both), and a view of it.
  db.exec(`CREATE INDEX boxes_by_display ON boxes (display)`);
  db.exec(`CREATE VIEW box_names AS SELECT id, name FROM boxes`);
  db.exec(`CREATE TRIGGER boxes_renamed AFTER UPDATE OF name ON boxes BEGIN INSERT OR REPLACE INTO settings (key, value) VALUES ('last-renamed', NEW.name); END`);
  db.exec(`
    INSERT INTO settings (key, value) VALUES ('disk-reserve', '12345');
    INSERT INTO images (id, name, path, virtual_size, size_on_disk, created_at, file_size, header_digest, kernel_path, append) VALUES ('img000000001', 'seed', '/h/images/img000000001/disk.qcow2', 1048576, 4096, 1, 4096, 'ab', '/h/k', 'console=ttyS0');
    INSERT INTO images (id, name, kind, path, virtual_size, size_on_disk, created_at) VALUES ('iso000000001', 'netinst', 'installer', '/h/images/iso000000001/installer.iso', 1048576, 4096, 1);
    INSERT INTO images (id, name, kind, path, virtual_size, size_on_disk, created_at) VALUES ('iso000000002', 'other', 'installer', '/h/images/iso000000002/installer.iso', 1048576, 4096, 1);
    INSERT INTO boxes (id, name, image_id, status, failure_reason, cpus, memory_mib, disk_size, current_snapshot_id, created_at, network, forwards, mac_address, stop_timeout_sec, pending_restart, stop_deadline, pending_disk_size, display)
      VALUES ('box000000001', 'dev', 'img000000001', 'failed', 'it broke', 2, 512, 2097152, 'snp000000002', 2, 'none', '[]', '52:54:00:01:02:03', 7, 1, 99, 4194304, 'none');
    INSERT INTO boxes (id, name, image_id, installer_image_id, status, cpus, memory_mib, disk_size, created_at, mac_address) VALUES ('box000000002', 'inst', 'iso000000001', 'iso000000001', 'stopped', 1, 128, 1048576, 3, '52:54:00:0a:0b:0c');
    INSERT INTO boxes (id, name, image_id, installer_image_id, status, cpus, memory_mib, disk_size, created_at, mac_address) VALUES ('box000000003', 'ejected', 'iso000000002', NULL, 'stopped', 1, 128, 1048576, 4, '52:54:00:0d:0e:0f');
    INSERT INTO snapshots (id, box_id, parent_id, name, description, created_at, size_on_disk, virtual_size, live, disk_path, file_size, header_digest) VALUES ('snp000000001', 'box000000001', NULL, 'first', 'd1', 3, 4096, 1048576, 0, '/h/1', 4096, 'cd');
    INSERT INTO snapshots (id, box_id, parent_id, name, description, created_at, size_on_disk, virtual_size, live, disk_path) VALUES ('snp000000002', 'box000000001', 'snp000000001', 'second', '', 4, 4096, 1048576, 1, '/h/2');
    INSERT INTO snapshots (id, box_id, parent_id, name, created_at, size_on_disk, virtual_size, disk_path) VALUES ('snp000000003', 'box000000003', NULL, 'installed', 5, 4096, 1048576, '/h/3');
  `);
  db.close();
}

type Master = { type: string; name: string; tbl_name: string; sql: string | null }[];
const master = (db: Database.Database) => db.prepare(`SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name`).all() as Master;
/** A table's columns (in order), foreign keys and indexes: what a migration that appends columns keeps. */
const shapeOf = (db: Database.Database, table: string) => ({
  columns: db.pragma(`table_info(${table})`) as { name: string }[],
  foreignKeys: db.pragma(`foreign_key_list(${table})`),
  indexes: db.pragma(`index_list(${table})`),
});
const rows = (db: Database.Database, table: string) => db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all() as Record<string, unknown>[];
/** Migration 8's index in MIGRATIONS. */
const EIGHT = 7;

describe('migration 8 on a full home at schema 7', () => {
  it('keeps every row and column (also one a sibling migration added), every index and reference; only boxes.image_id loses NOT NULL', () => {
    tmp = tempHome('bkm');
    const file = path.join(tmp.dir, 'boxkeep.db');
    fullSchema5Home(file);
    const old = new Database(file, { readonly: true });
    const before = { master: master(old), rows: Object.fromEntries(['images', 'boxes', 'snapshots', 'settings'].map((t) => [t, rows(old, t)])), shapes: Object.fromEntries(['images', 'boxes', 'snapshots', 'settings'].map((t) => [t, shapeOf(old, t)])) };
    old.close();

    const store = new Store(file, (id) => `/h/boxes/${id}/disks/container.qcow2`);
    try {
      const db = store.db;
      expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      // The schema: the same objects, the same text, but for the boxes table's; later
      // migrations only append columns to tables (and add objects of their own).
      const after = master(db);
      const flat = (sql: string | null) => (sql ?? '').replace('"boxes"', 'boxes').replace(/\s+/g, ' ');
      for (const m of before.master.filter((x) => x.name !== 'boxes')) {
        if (m.type !== 'table') expect(after.find((x) => x.name === m.name), m.name).toEqual(m);
        else {
          const now = shapeOf(db, m.name);
          expect({ ...now, columns: now.columns.slice(0, before.shapes[m.name]!.columns.length) }, m.name).toEqual(before.shapes[m.name]);
        }
      }
      // (SQLite quotes the name a RENAME gave; spacing is not meaning.)
      const boxesSql = (m: Master) => flat(m.find((x) => x.name === 'boxes')!.sql);
      expect(boxesSql(after).startsWith(boxesSql(before.master).replace('image_id TEXT NOT NULL', 'image_id TEXT').replace(/ ?\)$/, ''))).toBe(true);
      expect(shapeOf(db, 'boxes').columns.slice(before.shapes.boxes!.columns.length, before.shapes.boxes!.columns.length + 2).map((c) => c.name)).toEqual(['firmware', 'installed_from']);
      // Every row, every column it had.
      const asBefore = (table: string) => rows(db, table).map((r, i) => Object.fromEntries(Object.keys(before.rows[table]![i] ?? r).map((k) => [k, r[k]])));
      for (const t of ['images', 'snapshots', 'settings']) expect(asBefore(t), t).toEqual(before.rows[t]);
      expect(asBefore('boxes')).toEqual(before.rows.boxes!.map((b) => {
        const installer = b.image_id === 'iso000000001' ? 'netinst' : b.image_id === 'iso000000002' ? 'other' : null;
        return { ...b, image_id: installer ? null : b.image_id };
      }));
      expect(rows(db, 'boxes').map((b) => [b.firmware, b.installed_from])).toEqual([['bios', null], ['bios', 'netinst'], ['bios', 'other']]);
      // The references hold and cascade as before.
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(db.pragma('foreign_key_check')).toEqual([]);
      expect(() => db.prepare(`INSERT INTO snapshots (id, box_id, name, created_at, size_on_disk, virtual_size, disk_path) VALUES ('snp000000009', 'nobox0000000', 'x', 1, 1, 1, '/x')`).run()).toThrow(/FOREIGN KEY/);
      expect(() => db.prepare(`UPDATE boxes SET image_id = 'noimage00000' WHERE id = 'box000000001'`).run()).toThrow(/FOREIGN KEY/);
      expect(() => db.prepare(`UPDATE boxes SET installer_image_id = 'noimage00000' WHERE id = 'box000000002'`).run()).toThrow(/FOREIGN KEY/);
      expect(() => db.prepare(`UPDATE boxes SET name = 'dev' WHERE id = 'box000000002'`).run()).toThrow(/UNIQUE/);
      db.prepare(`UPDATE boxes SET name = 'renamed' WHERE id = 'box000000003'`).run();
      expect(store.getSetting('last-renamed')).toBe('renamed');
      expect(db.prepare(`SELECT name FROM box_names ORDER BY name`).all()).toEqual([{ name: 'dev' }, { name: 'inst' }, { name: 'renamed' }]);
      db.prepare(`DELETE FROM boxes WHERE id = 'box000000003'`).run();
      expect(rows(db, 'snapshots').map((s) => s.id)).toEqual(['snp000000001', 'snp000000002']);
    } finally {
      store.db.close();
    }
  });

  it('runs with foreign keys really off (they are ignored inside a transaction), then on again', () => {
    tmp = tempHome('bkm');
    const file = path.join(tmp.dir, 'boxkeep.db');
    fullSchema5Home(file);
    const last = EIGHT;
    const original = MIGRATIONS[last]!;
    const seen: unknown[] = [];
    MIGRATIONS[last] = (db) => {
      seen.push(db.pragma('foreign_keys', { simple: true }), db.inTransaction);
      (original as (d: Database.Database) => void)(db);
    };
    try {
      const store = new Store(file, (id) => `/h/boxes/${id}/disks/container.qcow2`);
      expect(seen).toEqual([0, true]);
      expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(store.listSnapshots('box000000001').map((s) => s.name)).toEqual(['first', 'second']);
      store.db.close();
    } finally {
      MIGRATIONS[last] = original;
    }
  });

  it('killed in the middle of the rebuild (SIGKILL, another process): the database is still schema 7, whole, and the next open upgrades it', () => {
    tmp = tempHome('bkm');
    const file = path.join(tmp.dir, 'boxkeep.db');
    fullSchema5Home(file);
    const old = new Database(file, { readonly: true });
    const before = { master: master(old), rows: Object.fromEntries(['images', 'boxes', 'snapshots', 'settings'].map((t) => [t, rows(old, t)])) };
    old.close();
    // The compiled store (dist/, as the app runs it); migration 8 killed after its rebuild, before its commit.
    const script = `
      const { MIGRATIONS } = await import(${JSON.stringify(path.resolve('dist/electron/core/store/schema.js'))});
      const { Store } = await import(${JSON.stringify(path.resolve('dist/electron/core/store/store.js'))});
      const last = ${EIGHT}, original = MIGRATIONS[last];
      MIGRATIONS[last] = (db) => { original(db); process.kill(process.pid, 'SIGKILL'); };
      new Store(process.argv[1], (id) => id);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], { encoding: 'utf8', timeout: 60_000 });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const db = new Database(file);
    expect(db.pragma('user_version', { simple: true })).toBe(7);
    expect(master(db)).toEqual(before.master);
    for (const t of ['images', 'boxes', 'snapshots', 'settings']) expect(rows(db, t), t).toEqual(before.rows[t]);
    db.close();
    const store = new Store(file, (id) => `/h/boxes/${id}/disks/container.qcow2`);
    expect(store.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(store.listSnapshots('box000000001').map((s) => s.name)).toEqual(['first', 'second']);
    store.db.close();
  });
});

describe('opening a home from before snapshot kinds', () => {
  it('calls a snapshot taken while the box ran crash-consistent (it kept only the disk), the others stopped', () => {
    const { store } = upgraded(fullSchema5Home);
    try {
      const taken = (boxId: string) => store.listSnapshots(boxId).map((s) => [s.name, s.live, s.taken]);
      expect(taken('box000000001')).toEqual([['first', false, 'stopped'], ['second', true, 'crash-consistent']]);
      expect(taken('box000000003')).toEqual([['installed', false, 'stopped']]);
      // A kind a later Boxkeep wrote reads as what the live flag says, not as garbage.
      store.db.prepare(`UPDATE snapshots SET taken = 'from-the-future' WHERE id = 'snp000000002'`).run();
      expect(store.getSnapshot('snp000000002')!.taken).toBe('crash-consistent');
    } finally {
      store.db.close();
    }
  });
});

describe('migration 10 (AutoProtect)', () => {
  it('leaves every snapshot unpinned and manual (never pruned), gives no box a policy, and drops a box\'s policy with the box', () => {
    const { store } = upgraded((file) => {
      const db = databaseAt(file, 7);
      (MIGRATIONS[7] as (d: Database.Database) => void)(db);
      db.pragma('user_version = 8');
      db.exec(`
        INSERT INTO images (id, name, path, virtual_size, size_on_disk, created_at) VALUES ('img000000001', 'seed', '/h/i', 1, 1, 1);
        INSERT INTO boxes (id, name, image_id, status, cpus, memory_mib, disk_size, created_at, mac_address) VALUES ('box000000001', 'dev', 'img000000001', 'stopped', 1, 128, 1, 2, '52:54:00:01:02:03');
        INSERT INTO snapshots (id, box_id, name, created_at, size_on_disk, virtual_size, disk_path) VALUES ('snp000000001', 'box000000001', 'first', 3, 1, 1, '/h/1');
      `);
      db.close();
    });
    try {
      expect(store.listSnapshots('box000000001').map((s) => [s.name, s.pinned, s.auto])).toEqual([['first', false, false]]);
      expect(store.db.prepare('SELECT count(*) AS n FROM protect').get()).toEqual({ n: 0 });
      store.db.prepare(`INSERT INTO protect (box_id, policy) VALUES ('box000000001', '{}')`).run();
      store.deleteBox('box000000001');
      expect(store.db.prepare('SELECT count(*) AS n FROM protect').get()).toEqual({ n: 0 });
    } finally {
      store.db.close();
    }
  });
});

describe('opening a home from before snapshots with memory (migration 12)', () => {
  it('reads every old snapshot as disk only, and a memory state recorded afterwards reads back whole', () => {
    const { store } = upgraded(fullSchema5Home);
    try {
      expect(store.listSnapshots('box000000001').map((s) => [s.name, s.memory])).toEqual([['first', undefined], ['second', undefined]]);
      const memory = { size: 95_500_000, sha256: 'a'.repeat(64), qemuVersion: '7.2.22', machine: 'pc-i440fx-7.2-machine', deviceHash: 'b'.repeat(64) };
      store.setSnapshotMemory('snp000000002', memory);
      expect(store.getSnapshot('snp000000002')!.memory).toEqual(memory);
      expect(store.getSnapshot('snp000000001')!.memory).toBeUndefined();
    } finally {
      store.db.close();
    }
  });
});
