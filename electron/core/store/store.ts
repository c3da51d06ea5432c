// The SQLite store: images, boxes, snapshots and each box's current pointer.
// Rows are the index of what exists; files on disk are the truth recovery reconciles against.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BoxkeepError } from '../../../shared/errors.js';
import { diskFullError, freeBytes, isDiskFull } from '../fsutil.js';
import { BOX_STATUSES, NETWORK_MODES, type Box, type BoxStatus, type DisplayMode, type Image, type NetworkMode, type PortForward, type Snapshot, type SnapshotMemory, type SnapshotTaken } from '../../../shared/types.js';
import { SNAPSHOT_TAKEN } from '../../../shared/types.js';
import type { FrozenLayer, LayerFacts } from '../disk/confine.js';
import { MIGRATIONS } from './schema.js';
import { columnValue, forwardsValue } from './columns.js';
import { picturePath } from '../paths.js';

interface ImageDbRow { id: string; name: string; kind: string; path: string; virtual_size: number; size_on_disk: number; kernel_path: string | null; initrd_path: string | null; append: string | null; created_at: number }
interface BoxDbRow {
  id: string; name: string; image_id: string | null; status: string; failure_reason: string | null; cpus: number; memory_mib: number; disk_size: number; current_snapshot_id: string | null; created_at: number;
  installer_image_id: string | null;
  firmware: string;
  installed_from: string | null;
  network: string; forwards: string; mac_address: string; stop_timeout_sec: number; pending_restart: number; stop_deadline: number | null; pending_disk_size: number | null;
  cloud_init: string | null;
  display: string;
  linked_snapshot_id: string | null;
}
// Snapshot rows are read as arrays (better-sqlite3's raw mode) of these columns in this order: a
// box's 1,000 rows come back in a third of the time objects take (bench/engine.mjs, listing).
const SNAPSHOT_COLUMNS = 'id, box_id, parent_id, name, description, created_at, size_on_disk, virtual_size, live, taken, disk_path, pinned, auto, memory_size, memory_sha256, memory_qemu, memory_machine, memory_devices';
type SnapshotDbRow = [
  id: string, boxId: string, parentId: string | null, name: string, description: string, createdAt: number, sizeOnDisk: number, virtualSize: number,
  live: number, taken: string, diskPath: string, pinned: number, auto: number,
  memorySize: number | null, memorySha256: string | null, memoryQemu: string | null, memoryMachine: string | null, memoryDevices: string | null,
];

export type NewBox = Omit<Box, 'liveDiskPath' | 'pendingRestart' | 'stopDeadline' | 'pendingDiskSize' | 'cloudInit' | 'linkedSnapshotId'> & { cloudInit?: CloudInitRecord | null; linkedSnapshotId?: string | null };

/** A box's cloud-init settings as kept: the password only as its SHA-512 crypt hash. */
export interface CloudInitRecord {
  user: string;
  sshKeys: string[];
  hostname: string;
  passwordHash: string | null;
}

/** The settings boxes:update may change; each left out stays. */
export interface BoxSettings {
  cpus?: number;
  memoryMib?: number;
  network?: NetworkMode;
  forwards?: PortForward[];
  stopTimeoutSec?: number;
  display?: DisplayMode;
  /** null clears it. */
  pendingDiskSize?: number | null;
}

/** A snapshot row as written: never pinned at first; `auto` only when the schedule took it. */
export type NewSnapshot = Omit<Snapshot, 'hasPicture' | 'pinned' | 'auto'> & { auto?: boolean };

/** The -shm index (32 KiB) and a few WAL pages, with room to spare. */
const ROOM_FOR_WAL = 1024 * 1024;

export class Store {
  readonly db: Database.Database;
  private readonly liveDiskPath: (boxId: string) => string;

  constructor(file: string, liveDiskPath: (boxId: string) => string) {
    this.liveDiskPath = liveDiskPath;
    // WAL keeps its index in a -shm file that must be created and grown: on a full disk it
    // cannot be, and the failed open leaves -wal and -shm behind. This process holds the home
    // lock, so no other Boxkeep opens the database: exclusive locking keeps the index in memory
    // instead, and reads work. Writes then fail with SQLITE_FULL, which says the disk is full.
    const locking = freeBytes(path.dirname(file)) < ROOM_FOR_WAL ? 'exclusive' : 'shared';
    try {
      this.db = openDatabase(file, locking);
    } catch (err) {
      throw openError(file, err);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // Preparing a statement costs more than running it (a quarter of a millisecond for a
  // lookup by name), and an owner runs the same few statements all day: each is prepared once
  // per connection. Only statements run with get()/all()/run(): a cached one must not be left
  // iterating, nor switched to pluck()/raw().
  private readonly statements = new Map<string, Database.Statement>();
  private cached(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /**
   * Each snapshot's picture: its blocks, or -1 for none. A picture is written inside the
   * snapshot's intent, before its row, and goes only with its folder (snapshots/picture.ts: a
   * merge moves disk files alone), so what is found is true for as long as the row exists:
   * looked at once per open home, not at every listing.
   */
  private readonly pictures = new Map<string, number>();
  private pictureOf(id: string, diskPath: string): number {
    let bytes = this.pictures.get(id);
    if (bytes === undefined) {
      // lstat: a link or a FIFO put there by hand is not a picture (readPicture refuses it).
      const found = fs.lstatSync(picturePath(diskPath), { throwIfNoEntry: false });
      this.pictures.set(id, (bytes = found?.isFile() ? found.blocks * 512 : -1));
    }
    return bytes;
  }

  /** What the snapshot's picture takes on disk (0 without one). */
  pictureBytes(snapshot: Pick<Snapshot, 'id' | 'diskPath'>): number {
    return Math.max(0, this.pictureOf(snapshot.id, snapshot.diskPath));
  }

  private readonly toSnapshot = (r: SnapshotDbRow): Snapshot => toSnapshot(r, () => this.pictureOf(r[0], r[10]) >= 0);

  /** A snapshot query, prepared once in raw mode (rows as arrays of SNAPSHOT_COLUMNS), apart from the others. */
  private readonly snapshotStatements = new Map<string, Database.Statement>();
  private snapshotQuery(where: string): Database.Statement {
    let statement = this.snapshotStatements.get(where);
    if (!statement) this.snapshotStatements.set(where, (statement = this.db.prepare(`SELECT ${SNAPSHOT_COLUMNS} FROM snapshots WHERE ${where}`).raw(true)));
    return statement;
  }

  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  // ---- images

  insertImage(image: Image): void {
    this.cached(`INSERT INTO images (id, name, kind, path, virtual_size, size_on_disk, kernel_path, initrd_path, append, created_at)
      VALUES (@id, @name, @kind, @path, @virtualSize, @sizeOnDisk, @kernelPath, @initrdPath, @append, @createdAt)`).run(image);
  }

  listImages(): Image[] {
    return (this.cached('SELECT * FROM images ORDER BY created_at, rowid').all() as ImageDbRow[]).map(toImage);
  }

  getImage(id: string): Image | null {
    const row = this.cached('SELECT * FROM images WHERE id = ?').get(id) as ImageDbRow | undefined;
    return row ? toImage(row) : null;
  }

  /** A box of that exact name (not id): the check before a name is given. */
  boxNameTaken(name: string, exceptId?: string): boolean {
    const row = this.cached('SELECT id FROM boxes WHERE name = ?').get(name) as { id: string } | undefined;
    return !!row && row.id !== exceptId;
  }

  imageNameTaken(name: string): boolean {
    return this.cached('SELECT id FROM images WHERE name = ?').get(name) !== undefined;
  }

  findImage(idOrName: string): Image | null {
    const row = (this.cached('SELECT * FROM images WHERE id = ?').get(idOrName) ??
      this.cached('SELECT * FROM images WHERE name = ?').get(idOrName)) as ImageDbRow | undefined;
    return row ? toImage(row) : null;
  }

  deleteImage(id: string): void {
    this.cached('DELETE FROM images WHERE id = ?').run(id);
  }

  /** What the box's seed was made from (the hash included); null when it has none. */
  cloudInitRecord(boxId: string): CloudInitRecord | null {
    const row = this.cached('SELECT cloud_init FROM boxes WHERE id = ?').get(boxId) as { cloud_init: string | null } | undefined;
    return row && String(row.cloud_init ?? '') ? columnValue('cloud_init', String(row.cloud_init), boxId) : null;
  }

  /** Every box's id, read from nothing else of its row. */
  boxIds(): string[] {
    return (this.cached('SELECT id FROM boxes').all() as { id: string }[]).map((r) => r.id);
  }

  /** Boxes made from the image, or with it attached as their installer. */
  boxesUsingImage(imageId: string): Box[] {
    return (this.cached('SELECT * FROM boxes WHERE image_id = ? OR installer_image_id = ? ORDER BY created_at').all(imageId, imageId) as BoxDbRow[]).map((r) => this.toBox(r));
  }

  // ---- boxes

  insertBox(box: NewBox): void {
    const { cloudInit, linkedSnapshotId, ...row } = box;
    // One transaction: a box with cloud-init never exists without its settings.
    this.transaction(() => {
      this.cached(`INSERT INTO boxes (id, name, image_id, status, failure_reason, cpus, memory_mib, disk_size, current_snapshot_id, created_at, installer_image_id, network, forwards, mac_address, stop_timeout_sec, display, firmware, installed_from)
        VALUES (@id, @name, @imageId, @status, @failureReason, @cpus, @memoryMib, @diskSize, @currentSnapshotId, @createdAt, @installerImageId, @network, @forwards, @macAddress, @stopTimeoutSec, @display, @firmware, @installedFrom)`)
        .run({ ...row, forwards: JSON.stringify(box.forwards) });
      if (cloudInit) this.cached('UPDATE boxes SET cloud_init = ? WHERE id = ?').run(JSON.stringify(cloudInit), box.id);
      if (linkedSnapshotId) this.cached('UPDATE boxes SET linked_snapshot_id = ? WHERE id = ?').run(linkedSnapshotId, box.id);
    });
  }

  /** Linked clones backing onto any of these snapshots. */
  linkedClones(snapshotIds: readonly string[]): Box[] {
    if (snapshotIds.length === 0) return [];
    return (this.cached(`SELECT * FROM boxes WHERE linked_snapshot_id IN (${snapshotIds.map(() => '?').join(', ')}) ORDER BY created_at`).all(...snapshotIds) as BoxDbRow[]).map((r) => this.toBox(r));
  }

  listBoxes(): Box[] {
    return (this.cached('SELECT * FROM boxes ORDER BY created_at, rowid').all() as BoxDbRow[]).map((r) => this.toBox(r));
  }

  getBox(id: string): Box | null {
    const row = this.cached('SELECT * FROM boxes WHERE id = ?').get(id) as BoxDbRow | undefined;
    return row ? this.toBox(row) : null;
  }

  findBox(idOrName: string): Box | null {
    const row = (this.cached('SELECT * FROM boxes WHERE id = ?').get(idOrName) ??
      this.cached('SELECT * FROM boxes WHERE name = ?').get(idOrName)) as BoxDbRow | undefined;
    return row ? this.toBox(row) : null;
  }

  renameBox(id: string, name: string): void {
    this.cached('UPDATE boxes SET name = ? WHERE id = ?').run(name, id);
  }

  /** A deadline belongs to one graceful stop: any other status clears it. */
  setBoxStatus(id: string, status: BoxStatus, failureReason: string | null = null): void {
    this.cached(`UPDATE boxes SET status = ?, failure_reason = ?, stop_deadline = CASE WHEN ? = 'stopping' THEN stop_deadline ELSE NULL END WHERE id = ?`).run(status, failureReason, status, id);
  }

  setStopDeadline(id: string, deadline: number | null): void {
    this.cached('UPDATE boxes SET stop_deadline = ? WHERE id = ?').run(deadline, id);
  }

  /** Stores the given settings in one statement; pendingRestart marks them as not yet in effect. */
  updateBoxSettings(id: string, settings: BoxSettings, pendingRestart: boolean): void {
    const columns: [string, unknown][] = [
      ['cpus', settings.cpus], ['memory_mib', settings.memoryMib], ['network', settings.network],
      ['forwards', settings.forwards && JSON.stringify(settings.forwards)], ['stop_timeout_sec', settings.stopTimeoutSec],
      ['pending_disk_size', settings.pendingDiskSize],
      ['display', settings.display],
    ];
    const set = columns.filter(([, value]) => value !== undefined);
    if (pendingRestart) set.push(['pending_restart', 1]);
    if (set.length === 0) return;
    this.cached(`UPDATE boxes SET ${set.map(([c]) => `${c} = ?`).join(', ')} WHERE id = ?`).run(...set.map(([, value]) => value), id);
  }

  /** The size the live disk file has; a pending grow it reaches is done. */
  setDiskSize(id: string, size: number): void {
    this.cached('UPDATE boxes SET disk_size = ?, pending_disk_size = CASE WHEN pending_disk_size <= ? THEN NULL ELSE pending_disk_size END WHERE id = ?').run(size, size, id);
  }

  /** The box now runs with what its row says. */
  clearPendingRestart(id: string): void {
    this.cached('UPDATE boxes SET pending_restart = 0 WHERE id = ?').run(id);
  }

  /** null: the installer was ejected; the next start has no CD-ROM. */
  setInstaller(boxId: string, imageId: string | null): void {
    this.cached('UPDATE boxes SET installer_image_id = ? WHERE id = ?').run(imageId, boxId);
  }

  setCurrentSnapshot(boxId: string, snapshotId: string | null): void {
    this.cached('UPDATE boxes SET current_snapshot_id = ? WHERE id = ?').run(snapshotId, boxId);
  }

  deleteBox(id: string): void {
    this.transaction(() => {
      this.cached('DELETE FROM snapshots WHERE box_id = ?').run(id);
      this.cached('DELETE FROM boxes WHERE id = ?').run(id);
    });
  }

  // ---- snapshots

  /** A new row is never pinned; `auto` marks what the AutoProtect schedule took (a row settled by recovery is manual: never pruned). */
  insertSnapshot(s: NewSnapshot): void {
    this.cached(`INSERT INTO snapshots (id, box_id, parent_id, name, description, created_at, size_on_disk, virtual_size, live, taken, disk_path, auto)
      VALUES (@id, @boxId, @parentId, @name, @description, @createdAt, @sizeOnDisk, @virtualSize, @live, @taken, @diskPath, @auto)`)
      .run({ ...s, live: s.live ? 1 : 0, auto: s.auto ? 1 : 0 });
  }

  setSnapshotPinned(id: string, pinned: boolean): void {
    this.cached('UPDATE snapshots SET pinned = ? WHERE id = ?').run(pinned ? 1 : 0, id);
  }

  /** All snapshots of a box, oldest first: one query on the (box_id, created_at) index. */
  listSnapshots(boxId: string): Snapshot[] {
    return (this.snapshotQuery('box_id = ? ORDER BY created_at, rowid').all(boxId) as SnapshotDbRow[]).map(this.toSnapshot);
  }

  countSnapshots(boxId: string): number {
    return (this.cached('SELECT count(*) AS n FROM snapshots WHERE box_id = ?').get(boxId) as { n: number }).n;
  }

  getSnapshot(id: string): Snapshot | null {
    const row = this.snapshotQuery('id = ?').get(id) as SnapshotDbRow | undefined;
    return row ? this.toSnapshot(row) : null;
  }

  findSnapshot(boxId: string, idOrName: string): Snapshot | null {
    const row = (this.snapshotQuery('box_id = ? AND id = ?').get(boxId, idOrName) ??
      this.snapshotQuery('box_id = ? AND name = ?').get(boxId, idOrName)) as SnapshotDbRow | undefined;
    return row ? this.toSnapshot(row) : null;
  }

  snapshotNameTaken(boxId: string, name: string, exceptId?: string): boolean {
    const row = this.cached('SELECT id FROM snapshots WHERE box_id = ? AND name = ?').get(boxId, name) as { id: string } | undefined;
    return !!row && row.id !== exceptId;
  }

  children(snapshotId: string): Snapshot[] {
    return (this.snapshotQuery('parent_id = ? ORDER BY created_at, rowid').all(snapshotId) as SnapshotDbRow[]).map(this.toSnapshot);
  }

  setSnapshotParent(id: string, parentId: string | null): void {
    this.cached('UPDATE snapshots SET parent_id = ? WHERE id = ?').run(parentId, id);
  }

  updateSnapshot(id: string, fields: { name?: string; description?: string }): void {
    if (fields.name !== undefined) this.cached('UPDATE snapshots SET name = ? WHERE id = ?').run(fields.name, id);
    if (fields.description !== undefined) this.cached('UPDATE snapshots SET description = ? WHERE id = ?').run(fields.description, id);
  }

  /** Records a snapshot's memory state (migration 12); the caller inserts the row in the same transaction. */
  setSnapshotMemory(id: string, m: SnapshotMemory): void {
    this.cached('UPDATE snapshots SET memory_size = ?, memory_sha256 = ?, memory_qemu = ?, memory_machine = ?, memory_devices = ? WHERE id = ?')
      .run(m.size, m.sha256, m.qemuVersion, m.machine, m.deviceHash, id);
  }

  // ---- layer facts (disk/confine.ts): kept apart from the rows the contract sends

  snapshotFacts(id: string): LayerFacts | null {
    return factsOf(this.cached('SELECT file_size, virtual_size, header_digest FROM snapshots WHERE id = ?').get(id) as FactsRow | undefined);
  }

  /** Frozen layers (snapshots, images) whose facts were never recorded (an older Boxkeep froze them). */
  layersWithoutFacts(): number {
    const q = (table: string) => (this.cached(`SELECT count(*) AS n FROM ${table} WHERE file_size IS NULL OR header_digest IS NULL`).get() as { n: number }).n;
    return q('snapshots') + q('images');
  }

  /**
   * The snapshot's recorded virtual size stays what the box's disk was; the header's is the fact.
   * Its size on disk goes with them: the snapshot list shows it without reading the file again
   * (snapshots/read.ts), so whatever writes a frozen layer records both at once.
   */
  setSnapshotFacts(id: string, facts: FrozenLayer): void {
    this.cached('UPDATE snapshots SET file_size = ?, virtual_size = ?, header_digest = ?, size_on_disk = ? WHERE id = ?').run(facts.fileSize, facts.virtualSize, facts.headerDigest, facts.sizeOnDisk, id);
  }

  imageFacts(id: string): LayerFacts | null {
    return factsOf(this.cached('SELECT file_size, virtual_size, header_digest FROM images WHERE id = ?').get(id) as FactsRow | undefined);
  }

  setImageFacts(id: string, facts: LayerFacts): void {
    this.cached('UPDATE images SET file_size = ?, header_digest = ? WHERE id = ?').run(facts.fileSize, facts.headerDigest, id);
  }

  /** Removes a snapshot row: children move under its parent, "Now" too if it hung under it. */
  deleteSnapshotReparenting(snapshot: Snapshot): void {
    this.transaction(() => {
      this.cached('UPDATE snapshots SET parent_id = ? WHERE parent_id = ?').run(snapshot.parentId, snapshot.id);
      this.cached('UPDATE boxes SET current_snapshot_id = ? WHERE id = ? AND current_snapshot_id = ?').run(snapshot.parentId, snapshot.boxId, snapshot.id);
      this.cached('DELETE FROM snapshots WHERE id = ?').run(snapshot.id);
    });
  }

  // ---- settings (text values; the setting's owner parses them)

  getSetting(key: string): string | null {
    const row = this.cached('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return row ? row.value : null;
  }

  /** null removes the row: the setting goes back to its default. */
  setSetting(key: string, value: string | null): void {
    if (value === null) this.cached('DELETE FROM settings WHERE key = ?').run(key);
    else this.cached('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  private toBox(r: BoxDbRow): Box {
    // A state this version does not know (changed by hand, or a newer version's) reads as
    // stopping: its QEMU may still run, so nothing offline touches its disks, and recovery
    // (which a row like this always gets) adopts that QEMU or records the box stopped. A network
    // mode it does not know reads as no network: nothing is done on a guess.
    const known = (BOX_STATUSES as readonly string[]).includes(r.status);
    return {
      id: r.id, name: r.name, imageId: r.image_id, status: known ? (r.status as BoxStatus) : 'stopping',
      failureReason: known ? r.failure_reason : unknownStateReason(r.status),
      cpus: r.cpus, memoryMib: r.memory_mib, diskSize: r.disk_size, currentSnapshotId: r.current_snapshot_id,
      liveDiskPath: this.liveDiskPath(r.id), createdAt: r.created_at, installerImageId: r.installer_image_id,
      network: (NETWORK_MODES as readonly string[]).includes(r.network) ? (r.network as NetworkMode) : 'none', forwards: forwardsValue(r.forwards, r.id), macAddress: r.mac_address,
      stopTimeoutSec: r.stop_timeout_sec, pendingRestart: r.pending_restart === 1, stopDeadline: r.stop_deadline,
      pendingDiskSize: r.pending_disk_size, cloudInit: publicCloudInit(r.cloud_init, r.id),
      display: r.display === 'none' ? 'none' : 'vnc',
      firmware: r.firmware === 'uefi' ? 'uefi' : 'bios',
      installedFrom: r.installed_from,
      linkedSnapshotId: r.linked_snapshot_id,
    };
  }
}

/** Why a box reads as stopping: the state its row keeps is none this version knows. */
export function unknownStateReason(status: unknown): string {
  return `The database keeps the state ${JSON.stringify(String(status).slice(0, 64))} for it, which this version of Boxkeep does not know; "boxkeep recover" (or the next start of Boxkeep) looks for its QEMU and records what it finds.`;
}

/** The settings without the hash: the UI and CLI need to know only that there is a password. */
function publicCloudInit(json: string | null, boxId: string): Box['cloudInit'] {
  // Empty (text or blob) is none, as recovery/columns.ts reads it.
  const text = String(json ?? '');
  if (!text) return null;
  const { user, sshKeys, hostname, passwordHash } = columnValue('cloud_init', text, boxId);
  return { user, sshKeys, hostname, password: passwordHash !== null };
}

interface FactsRow { file_size: number | null; virtual_size: number; header_digest: string | null }

function factsOf(r: FactsRow | undefined): LayerFacts | null {
  if (!r || r.file_size === null || r.header_digest === null) return null;
  return { fileSize: r.file_size, virtualSize: r.virtual_size, headerDigest: r.header_digest };
}

function toImage(r: ImageDbRow): Image {
  return {
    id: r.id, name: r.name, kind: r.kind === 'installer' ? 'installer' : 'disk', format: r.kind === 'installer' ? 'iso' : 'qcow2', path: r.path, virtualSize: r.virtual_size, sizeOnDisk: r.size_on_disk,
    kernelPath: r.kernel_path, initrdPath: r.initrd_path, append: r.append, createdAt: r.created_at,
  };
}

/** A value this version does not know (a newer one wrote it) reads as what the live flag says. */
function takenOf(taken: string, live: number): SnapshotTaken {
  return (SNAPSHOT_TAKEN as readonly string[]).includes(taken) ? (taken as SnapshotTaken) : live === 1 ? 'crash-consistent' : 'stopped';
}

function toSnapshot(r: SnapshotDbRow, pictured: () => boolean): Snapshot {
  const [id, boxId, parentId, name, description, createdAt, sizeOnDisk, virtualSize, live, taken, diskPath, pinned, auto, memorySize, sha256, qemuVersion, machine, deviceHash] = r;
  const snapshot = {
    id, boxId, parentId, name, description, createdAt, sizeOnDisk, virtualSize, live: live === 1, taken: takenOf(taken, live), diskPath,
    pinned: pinned === 1, auto: auto === 1,
  } as Snapshot;
  if (memorySize != null && sha256 && qemuVersion && machine && deviceHash) snapshot.memory = { size: memorySize, sha256, qemuVersion, machine, deviceHash };
  // The file, not a column: it comes and goes with the snapshot's folder (snapshots/picture.ts).
  // Looked at when first read (a client's listing, JSON, a structured clone), not for every row
  // the engine reads to name, check or merge snapshots: a snapshot create lists them all.
  Object.defineProperty(snapshot, 'hasPicture', { enumerable: true, get: pictured });
  return snapshot;
}

/** Depth-first order, siblings oldest first: every parent before its children. */
export function treeOrder(snapshots: Snapshot[]): Snapshot[] {
  const byParent = new Map<string | null, Snapshot[]>();
  const ids = new Set(snapshots.map((s) => s.id));
  for (const s of snapshots) {
    const key = s.parentId !== null && ids.has(s.parentId) ? s.parentId : null;
    let list = byParent.get(key);
    if (!list) byParent.set(key, (list = []));
    list.push(s);
  }
  const out: Snapshot[] = [];
  const stack = [...(byParent.get(null) ?? [])].reverse();
  while (stack.length) {
    const s = stack.pop()!;
    out.push(s);
    const kids = byParent.get(s.id);
    if (kids) for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
  }
  return out;
}

/**
 * Opens and migrates the database. 'exclusive' is only for a full disk (see the constructor);
 * on failure the connection is closed, so SQLite removes the -wal and -shm files it made.
 */
function openDatabase(file: string, locking: 'shared' | 'exclusive'): Database.Database {
  const db = new Database(file);
  try {
    if (locking === 'exclusive') db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new BoxkeepError('Storage', `The database was written by a newer Boxkeep (schema ${version}, this one knows ${MIGRATIONS.length}); update Boxkeep.`);
  }
  if (version === MIGRATIONS.length) return;
  // Off outside the transaction (SQLite ignores the pragma inside one): a table rebuild drops
  // and recreates a table others reference. Checked before each commit instead.
  db.pragma('foreign_keys = OFF');
  try {
    for (let v = version; v < MIGRATIONS.length; v++) {
      db.transaction(() => {
        const step = MIGRATIONS[v]!;
        if (typeof step === 'string') db.exec(step);
        else step(db);
        const broken = db.pragma('foreign_key_check') as unknown[];
        if (broken.length > 0) throw new BoxkeepError('Storage', `Upgrading the database to schema ${v + 1} would break ${broken.length} reference(s) between its rows; nothing was changed.`);
        db.pragma(`user_version = ${v + 1}`);
      })();
    }
  } finally {
    db.pragma('foreign_keys = ON');
  }
}

/** The error for a database that would not open; its cause is what SQLite said. */
function openError(file: string, err: unknown): BoxkeepError {
  if (err instanceof BoxkeepError) return err;
  // Never the "damaged" advice for a full disk: moving the database aside orphans every box.
  // SHMSIZE: the -shm file could not be grown (the disk filled after freeBytes looked).
  if (isDiskFull(err) || (err as { code?: string }).code === 'SQLITE_IOERR_SHMSIZE') return diskFullError(path.dirname(file), err);
  return new BoxkeepError('Storage', `Cannot open the database ${file}: ${(err as Error).message}. If the file is damaged, move it aside; recovery rebuilds nothing from it.`, { cause: err });
}
