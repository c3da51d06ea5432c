// Migrations by PRAGMA user_version: each entry upgrades from its index to index+1.
// Never edit a shipped migration; append a new one. An entry is SQL, or a function for a
// change SQL cannot say on its own (a table rebuild that keeps columns added after it).
import type Database from 'better-sqlite3';

export type Migration = string | ((db: Database.Database) => void);

export const MIGRATIONS: Migration[] = [
  `
  CREATE TABLE images (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    path         TEXT NOT NULL,
    virtual_size INTEGER NOT NULL,
    size_on_disk INTEGER NOT NULL,
    kernel_path  TEXT,
    initrd_path  TEXT,
    append       TEXT,
    created_at   INTEGER NOT NULL
  );
  CREATE TABLE boxes (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    image_id            TEXT NOT NULL REFERENCES images(id),
    status              TEXT NOT NULL,
    failure_reason      TEXT,
    cpus                INTEGER NOT NULL,
    memory_mib          INTEGER NOT NULL,
    disk_size           INTEGER NOT NULL,
    current_snapshot_id TEXT,
    created_at          INTEGER NOT NULL
  );
  CREATE TABLE snapshots (
    id           TEXT PRIMARY KEY,
    box_id       TEXT NOT NULL REFERENCES boxes(id) ON DELETE CASCADE,
    parent_id    TEXT,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    size_on_disk INTEGER NOT NULL,
    virtual_size INTEGER NOT NULL,
    live         INTEGER NOT NULL DEFAULT 0,
    disk_path    TEXT NOT NULL,
    UNIQUE (box_id, name)
  );
  CREATE INDEX snapshots_by_box ON snapshots (box_id, created_at);
  CREATE INDEX boxes_by_image ON boxes (image_id);
  `,
  // 2: user settings (the disk reserve), one row per key; a missing row means the default.
  `
  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 3: facts of each frozen layer (disk/confine.ts, LayerFacts), checked before every merge,
  // restore and start. NULL: frozen before they were kept; such a layer is confined, not compared.
  `
  ALTER TABLE snapshots ADD COLUMN file_size INTEGER;
  ALTER TABLE snapshots ADD COLUMN header_digest TEXT;
  ALTER TABLE images ADD COLUMN file_size INTEGER;
  ALTER TABLE images ADD COLUMN header_digest TEXT;
  `,
  // 4: installer media. An image is a disk (its chain's base) or an installer ISO; a box may
  // have one attached as a CD-ROM until it is ejected (NULL: none).
  `
  ALTER TABLE images ADD COLUMN kind TEXT NOT NULL DEFAULT 'disk';
  ALTER TABLE boxes ADD COLUMN installer_image_id TEXT REFERENCES images(id);
  `,
  // 5: box settings beyond CPUs, memory and disk. forwards: a JSON array of PortForward.
  // Boxes made before get their stable MAC here, once. stop_deadline: set only while a
  // graceful stop waits (status 'stopping'). pending_disk_size: a grow asked for while the
  // box ran, done at its next start.
  `
  ALTER TABLE boxes ADD COLUMN network TEXT NOT NULL DEFAULT 'nat';
  ALTER TABLE boxes ADD COLUMN forwards TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE boxes ADD COLUMN mac_address TEXT NOT NULL DEFAULT '';
  ALTER TABLE boxes ADD COLUMN stop_timeout_sec INTEGER NOT NULL DEFAULT 20;
  ALTER TABLE boxes ADD COLUMN pending_restart INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE boxes ADD COLUMN stop_deadline INTEGER;
  ALTER TABLE boxes ADD COLUMN pending_disk_size INTEGER;
  UPDATE boxes SET mac_address = printf('52:54:00:%02x:%02x:%02x', abs(random()) % 256, abs(random()) % 256, abs(random()) % 256);
  `,
  // 6: the screen. Boxes whose image boots a kernel directly have none (their console is the
  // serial port); the others (from a disk or installer media) get a VNC screen, as at create.
  `
  ALTER TABLE boxes ADD COLUMN display TEXT NOT NULL DEFAULT 'vnc';
  UPDATE boxes SET display = 'none' WHERE image_id IN (SELECT id FROM images WHERE kernel_path IS NOT NULL);
  `,
  // 7: cloud-init. A JSON object {user, sshKeys, hostname, passwordHash} (passwordHash: a
  // SHA-512 crypt string or null; the clear password is never stored); NULL: no seed.
  `
  ALTER TABLE boxes ADD COLUMN cloud_init TEXT;
  `,
  // 8: firmware ('bios' | 'uefi'; a UEFI box keeps its variables in disks/efivars.fd), and
  // boxes.image_id nullable: a box made from installer media records no base image (its
  // first disk stands alone), so the ISO can be removed once no box has it attached.
  (db) => {
    db.exec(`ALTER TABLE boxes ADD COLUMN firmware TEXT NOT NULL DEFAULT 'bios'`);
    // The installer's name, kept for the words "installed from …" once the ISO is gone.
    db.exec(`ALTER TABLE boxes ADD COLUMN installed_from TEXT`);
    rebuildWithout(db, 'boxes', /\bimage_id\s+TEXT\s+NOT\s+NULL\b/i, 'image_id TEXT');
    db.exec(`UPDATE boxes SET installed_from = (SELECT name FROM images WHERE images.id = boxes.image_id) WHERE image_id IN (SELECT id FROM images WHERE kind = 'installer')`);
    db.exec(`UPDATE boxes SET image_id = NULL WHERE installed_from IS NOT NULL`);
  },
  // 9: how each snapshot was taken (shared/types.ts SnapshotTaken). Before, a live snapshot
  // kept only its disk, so it is crash-consistent; the others were taken stopped.
  `
  ALTER TABLE snapshots ADD COLUMN taken TEXT NOT NULL DEFAULT 'stopped';
  UPDATE snapshots SET taken = 'crash-consistent' WHERE live = 1;
  `,
  // 10: AutoProtect. snapshots.pinned: never pruned; snapshots.auto: taken by the schedule (the
  // only ones pruned). protect: one row per box with a policy (JSON ProtectPolicy) and the
  // schedule's state: running_ms (running time counted since the last interval snapshot),
  // seen_at (when the owner last saw the box running), daily_at (the last daily slot served).
  `
  ALTER TABLE snapshots ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE snapshots ADD COLUMN auto INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE protect (
    box_id     TEXT PRIMARY KEY REFERENCES boxes(id) ON DELETE CASCADE,
    policy     TEXT NOT NULL,
    running_ms INTEGER NOT NULL DEFAULT 0,
    seen_at    INTEGER,
    daily_at   INTEGER
  );
  `,
  // 11: linked clones. The snapshot (of another box) a linked clone's bottom layer backs onto;
  // NULL for every other box. That snapshot cannot be removed while a clone links to it.
  `
  ALTER TABLE boxes ADD COLUMN linked_snapshot_id TEXT;
  `,
  // 12: a snapshot with memory (taken 'with-memory'): its memory.state file's size and sha256,
  // and what a restore must run again to load it (QEMU version, machine type, device hash).
  // All NULL for a disk-only snapshot.
  `
  ALTER TABLE snapshots ADD COLUMN memory_size INTEGER;
  ALTER TABLE snapshots ADD COLUMN memory_sha256 TEXT;
  ALTER TABLE snapshots ADD COLUMN memory_qemu TEXT;
  ALTER TABLE snapshots ADD COLUMN memory_machine TEXT;
  ALTER TABLE snapshots ADD COLUMN memory_devices TEXT;
  `,
];

/**
 * SQLite's table rebuild (create new, copy, drop, rename, recreate indexes and triggers), from the table's
 * own CREATE text with one change: columns other migrations added stay, in their order.
 * Foreign keys are off meanwhile (migrate() turns them off around every migration): dropping
 * the old boxes table with them on would cascade into the snapshots.
 */
function rebuildWithout(db: Database.Database, table: string, from: RegExp, to: string): void {
  const sqlOf = (type: string) => db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = ? AND tbl_name = ? AND sql IS NOT NULL`).all(type, table) as { name: string; sql: string }[];
  const [create] = sqlOf('table');
  if (!create) throw new Error(`migration: there is no table ${table}`);
  // Already as wanted (a database taken back to an earlier version by hand keeps its rebuilt
  // table): nothing to rebuild. Anything else is a schema this migration does not know.
  if (!from.test(create.sql)) {
    if (new RegExp(`\\b${to.replace(/\s+/g, '\\s+')}\\b`, 'i').test(create.sql)) return;
    throw new Error(`migration: ${table} does not have the column definition to change`);
  }
  // DROP TABLE drops the table's indexes and triggers (a sibling migration may have added some).
  const dependents = [...sqlOf('index'), ...sqlOf('trigger')];
  const temp = `${table}_rebuilt`;
  db.exec(create.sql.replace(from, to).replace(/^CREATE TABLE\s+("?)\w+\1/i, `CREATE TABLE ${temp}`));
  db.exec(`INSERT INTO ${temp} SELECT * FROM ${table}`);
  db.exec(`DROP TABLE ${table}`);
  // The rename re-checks every view and trigger of the schema, and one naming the table would
  // fail it (the old table is gone by now); the legacy rename skips that, and views name the
  // table as before, so they read the rebuilt one.
  db.pragma('legacy_alter_table = ON');
  try {
    db.exec(`ALTER TABLE ${temp} RENAME TO ${table}`);
  } finally {
    db.pragma('legacy_alter_table = OFF');
  }
  for (const dependent of dependents) db.exec(dependent.sql);
}
