// A home moved or copied to another folder (a new disk, a restored backup, another account):
// every row names its files by absolute path and every layer its backing file, both under the
// folder the home was in. Recovery notices (every row that names a file names it under one
// other folder, its own relative path the same) and re-points the home onto its own files: the
// rows in one transaction, then each layer's backing name (`qemu-img rebase -u`, the header
// only) and the facts recorded for it. An operation interrupted before the move left an intent
// record naming the old folder: it is rewritten to name this home's files first, and the layers
// it names are re-pointed with the rest, so its settle finds the home as it would have in place. Only a layer of this home's own that is exactly what
// Boxkeep recorded is re-pointed (its facts read back first), only onto another layer of this
// home's own, and only from the folders the rows and layers name their own files under (one,
// or more when the home was moved again before an earlier move was finished); the confinement check that
// follows still checks every chain as before. Crash-safe under a `home-move` intent
// (settle.ts): each step may run again, and checks again what it acts on.
import path from 'node:path';
import { isBusy } from '../../../shared/types.js';
import type { HomeData } from '../deps.js';
import { placedFile, readLayerFacts, type LayerFacts } from '../disk/confine.js';
import { readQcow2LayerSync } from '../disk/qcow2.js';
import { rebase } from '../disk/qemu-img.js';
import { newId } from '../ids.js';
import { clearIntent, readIntents, writeIntent, type IntentBase } from '../journal.js';
import type { ReportBuilder } from '../recovery/report.js';
import { homeMove, type HomeMoveIntent } from './intents.js';

interface RowPath { table: 'images' | 'snapshots'; column: string; id: string; recorded: string; own: string }

/** Every path a row keeps, with the path Boxkeep keeps that file at in this home. */
function rowPaths(core: Pick<HomeData, 'paths' | 'store'>): RowPath[] {
  const { db } = core.store;
  const { paths } = core;
  const out: RowPath[] = [];
  const images = db.prepare('SELECT id, kind, path, kernel_path, initrd_path FROM images').all() as { id: string; kind: string; path: string; kernel_path: string | null; initrd_path: string | null }[];
  for (const i of images) {
    out.push({ table: 'images', column: 'path', id: i.id, recorded: i.path, own: i.kind === 'installer' ? paths.imageInstaller(i.id) : paths.imageDisk(i.id) });
    if (i.kernel_path !== null) out.push({ table: 'images', column: 'kernel_path', id: i.id, recorded: i.kernel_path, own: paths.imageKernel(i.id) });
    if (i.initrd_path !== null) out.push({ table: 'images', column: 'initrd_path', id: i.id, recorded: i.initrd_path, own: paths.imageInitrd(i.id) });
  }
  for (const s of db.prepare('SELECT id, box_id, disk_path FROM snapshots').all() as { id: string; box_id: string; disk_path: string }[]) {
    out.push({ table: 'snapshots', column: 'disk_path', id: s.id, recorded: s.disk_path, own: paths.snapshotDisk(s.box_id, s.id) });
  }
  return out;
}

/** The folder a recorded path says the home was in, when it is this file's own path there. */
function formerRoot(root: string, recorded: string, own: string): string | null {
  if (recorded === own || !path.isAbsolute(recorded) || path.normalize(recorded) !== recorded) return null;
  const tail = path.sep + path.relative(root, own);
  if (!recorded.endsWith(tail)) return null;
  const from = recorded.slice(0, -tail.length);
  return from && from !== root ? from : null;
}

/**
 * Does any row name a file other than its own in this home? What `recovery: 'when-needed'`
 * asks at every command: one query each, stopping at the first (paths.ts builds the same paths).
 */
export function rowsNameAnotherHome(core: Pick<HomeData, 'paths' | 'store'>): boolean {
  const { db } = core.store;
  const images = core.paths.imagesDir + path.sep;
  const boxes = core.paths.boxesDir + path.sep;
  const image = db.prepare(`SELECT 1 FROM images WHERE path IS NOT (@images || id || (CASE kind WHEN 'installer' THEN '/installer.iso' ELSE '/disk.qcow2' END))
    OR (kernel_path IS NOT NULL AND kernel_path IS NOT (@images || id || '/kernel')) OR (initrd_path IS NOT NULL AND initrd_path IS NOT (@images || id || '/initrd')) LIMIT 1`).get({ images });
  if (image) return true;
  return db.prepare(`SELECT 1 FROM snapshots WHERE disk_path IS NOT (@boxes || box_id || '/snapshots/' || id || '/container.qcow2') LIMIT 1`).get({ boxes }) !== undefined;
}

/** A layer's backing name that is an image's or a snapshot's own path under another folder: that folder. */
const LAYER_TAIL = /^(\/.+)\/(images\/[0-9a-f]{12}\/disk\.qcow2|boxes\/[0-9a-f]{12}\/snapshots\/[0-9a-f]{12}\/container\.qcow2)$/;

/**
 * The folders the home was in, when every row naming a file other than its own, and every layer
 * backing onto an image's or snapshot's path outside the home, names its own file under one of
 * them; null when none does, or one names something else (left to the checks). The layers count
 * too: a move whose rows were done and some layer not (it could not be re-pointed then) goes on
 * later, and when the home was moved again meanwhile, the rows name the second folder and those
 * layers the first: each path is mapped from its own.
 */
function movedFrom(core: HomeData, rows: RowPath[], backings: (string | null)[]): string[] | null {
  const { root } = core.paths;
  const froms = new Set<string | null>();
  for (const r of rows) if (r.recorded !== r.own) froms.add(formerRoot(root, r.recorded, r.own));
  for (const b of backings) {
    if (b === null || b.startsWith(root + path.sep)) continue;
    const m = LAYER_TAIL.exec(b);
    froms.add(m && path.normalize(b) === b && m[1] !== root ? m[1]! : null);
  }
  if (froms.size === 0 || froms.has(null)) return null;
  return [...froms as Set<string>].sort();
}

/** The folders a home-move intent maps from (`others`: absent in records of earlier builds), the valid ones. */
export function foldersOf(root: string, intent: Pick<HomeMoveIntent, 'from' | 'others'>): string[] {
  return [intent.from, ...(intent.others ?? [])].filter((f) => typeof f === 'string' && f !== root && path.isAbsolute(f) && path.normalize(f) === f);
}

/** The folder of these a path lies under (the longest, should one be inside another), or null. */
function folderOf(folders: string[], p: string): string | null {
  let best: string | null = null;
  for (const f of folders) if (p.startsWith(f + path.sep) && (best === null || f.length > best.length)) best = f;
  return best;
}

/**
 * A layer that may back onto another: each snapshot's, each box's live disk, and (`named`) one
 * an interrupted operation is part-way through (named by its record, or a box's next overlay),
 * re-pointed whatever its facts are now: the operation's settle decides what it becomes.
 */
interface OwnLayer { path: string; snapshotId: string | null; named?: boolean }

/** Every journal of the home: its own, and each box's. */
function journalDirs(core: Pick<HomeData, 'paths' | 'store'>): string[] {
  return [core.paths.homeJournal, ...(core.store.db.prepare('SELECT id FROM boxes').all() as { id: string }[]).map((b) => core.paths.boxJournal(b.id))];
}

/**
 * A path to one of a home's own files (under `images/<id>/` or `boxes/<id>/`), written in the
 * folder named first: the folder, and the file's path inside the home.
 */
const HOME_FILE = /^(\/.*)\/((?:images|boxes)\/[0-9a-f]{12}(?:\/[^/]+)*)$/;

/**
 * The record with every path to a home's own file, written in another folder (any folder: a home
 * moved again before a record was settled names the one before), naming that file in this home
 * instead. Nothing else in it changes (a description naming a path stays as it is).
 */
function mapFrom(value: unknown, root: string): unknown {
  if (typeof value === 'string') {
    const m = HOME_FILE.exec(value);
    return m && m[1] !== root && path.normalize(value) === value ? path.join(root, m[2]!) : value;
  }
  if (Array.isArray(value)) return value.map((x) => mapFrom(x, root));
  if (value && typeof value === 'object') {
    // What a user wrote (a snapshot's name and description) is kept as written.
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, k === 'name' || k === 'description' ? x : mapFrom(x, root)]));
  }
  return value;
}

/** The disk layers of this home a record names (every path in it, at any depth, that is a qcow2 file of this home's). */
function recordLayers(root: string, value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (value.startsWith(root + path.sep) && value.endsWith('.qcow2') && path.normalize(value) === value) out.push(value);
  } else if (value && typeof value === 'object') {
    for (const x of Object.values(value)) recordLayers(root, x, out);
  }
  return out;
}

/** An interrupted operation's record that names the old folder, as it is to read here. */
export interface MovedRecord { journal: string; record: IntentBase & Record<string, unknown> }

/**
 * Is this record one to act on in this home (its kind's schema; passed in by recovery, whose
 * table of kinds settles this one too)?
 */
export type RecordAccepted = (record: Record<string, unknown>) => boolean;

/** The records of operations interrupted before the move: not of this home as they read, of this home once read from the folders it was in. */
function movedRecords(core: HomeData, from: string[], accepts: RecordAccepted): MovedRecord[] {
  const out: MovedRecord[] = [];
  for (const journal of journalDirs(core)) {
    for (const { intent } of readIntents(journal).intents) {
      // A re-pointing of the home's, interrupted before it was moved again, goes with this one: the
      // layers it had re-pointed, their facts not yet recorded, are named here, and it is cleared once done.
      if ((intent.op === 'home-move' && journal !== core.paths.homeJournal) || accepts(intent)) continue;
      const record = mapFrom(intent, core.paths.root) as MovedRecord['record'];
      if (accepts(record)) out.push({ journal, record });
    }
  }
  return out;
}

/**
 * Every layer of the home that may back onto another, and every file one may back onto. `named`:
 * the layers interrupted operations name (their records as they are to read here).
 */
function ownLayers(core: HomeData, records: unknown[]): { layers: OwnLayer[]; backings: Set<string> } {
  const { db } = core.store;
  const snapshots: OwnLayer[] = (db.prepare('SELECT id, box_id FROM snapshots').all() as { id: string; box_id: string }[]).map((s) => ({ path: core.paths.snapshotDisk(s.box_id, s.id), snapshotId: s.id }));
  const boxes = db.prepare('SELECT id FROM boxes').all() as { id: string }[];
  const live: OwnLayer[] = boxes.map((b) => ({ path: core.paths.liveDisk(b.id), snapshotId: null }));
  const images = (db.prepare("SELECT id FROM images WHERE kind != 'installer'").all() as { id: string }[]).map((i) => core.paths.imageDisk(i.id));
  const layers = new Map([...snapshots, ...live].map((l) => [l.path, l]));
  const named = [...boxes.map((b) => core.paths.nextDisk(b.id)), ...records.flatMap((r) => recordLayers(core.paths.root, r))];
  for (const file of named) layers.set(file, { ...(layers.get(file) ?? { path: file, snapshotId: null }), named: true });
  // A layer may back onto a snapshot's disk an operation is making (not recorded yet), nothing else it names.
  const making = named.filter((f) => /\/boxes\/[0-9a-f]{12}\/snapshots\/[0-9a-f]{12}\/container\.qcow2$/.test(f));
  return { layers: [...layers.values()], backings: new Set([...images, ...snapshots.map((s) => s.path), ...making]) };
}

/** The layer's backing name and facts, read the no-follow way the check reads; null when it cannot be read (the check says why). */
function layerNow(root: string, file: string): { backing: string | null; facts: LayerFacts } | null {
  if (typeof placedFile(root, file) === 'string') return null;
  try {
    const { header, stat, prefixDigest } = readQcow2LayerSync(file);
    return { backing: header.backingFile, facts: { fileSize: stat.size, virtualSize: header.virtualSize, headerDigest: prefixDigest! } };
  } catch {
    return null;
  }
}

/**
 * Only the backing name, the header read without the digest: what every start reads of each
 * layer to see whether the home was moved (the digest is for the few layers then re-pointed).
 */
function backingNow(root: string, file: string): string | null {
  if (typeof placedFile(root, file) === 'string') return null;
  try {
    return readQcow2LayerSync(file, { digest: false }).header.backingFile;
  } catch {
    return null;
  }
}

const sameFacts = (a: LayerFacts, b: LayerFacts) => a.fileSize === b.fileSize && a.virtualSize === b.virtualSize && a.headerDigest === b.headerDigest;

/**
 * Where a layer backing onto one of the folders the home was in is to back onto now: the same
 * relative path in this home, when that is one of this home's own layers and a regular file
 * reached through no link. Null otherwise.
 */
function newBacking(core: HomeData, backings: Set<string>, folders: string[], backing: string | null): string | null {
  if (backing === null || path.normalize(backing) !== backing) return null;
  const from = folderOf(folders, backing);
  if (from === null) return null;
  const onto = path.join(core.paths.root, backing.slice(from.length + 1));
  return backings.has(onto) && typeof placedFile(core.paths.root, onto) !== 'string' ? onto : null;
}

/** Is this layer, as found, one to re-point (a snapshot's: only if exactly what was recorded, unless an operation is part-way through it)? */
function fitToRepoint(core: HomeData, l: OwnLayer, facts: LayerFacts): boolean {
  if (l.named) return true;
  const recorded = l.snapshotId ? core.store.snapshotFacts(l.snapshotId) : null;
  return !recorded || sameFacts(recorded, facts);
}

/** The plan: the folder the home was in, each layer to re-point and each record to rewrite, or null when there is nothing to do. */
function planMove(core: HomeData, accepts: RecordAccepted): Pick<HomeMoveIntent, 'from' | 'others' | 'layers' | 'records'> | null {
  const { root } = core.paths;
  const rows = rowPaths(core);
  const byRows = ownLayers(core, []).layers.filter((l) => !l.named);
  const from = movedFrom(core, rows, byRows.map((l) => backingNow(root, l.path)));
  if (from === null) return null;
  const [first, ...others] = from;
  const records = movedRecords(core, from, accepts);
  const own = ownLayers(core, records.map((r) => r.record));
  const found = own.layers.map((l) => ({ ...l, backing: backingNow(root, l.path) }));
  const layers: HomeMoveIntent['layers'] = [];
  for (const { backing: was, ...l } of found) {
    const backing = newBacking(core, own.backings, from, was);
    if (!backing) continue;
    // A layer that is not what Boxkeep recorded stays as it is: the check names it.
    const now = layerNow(root, l.path);
    if (now?.backing === was && fitToRepoint(core, l, now.facts)) layers.push({ path: l.path, snapshotId: l.snapshotId, backing });
  }
  if (layers.length === 0 && records.length === 0 && !rows.some((r) => from.includes(formerRoot(root, r.recorded, r.own)!))) return null;
  return { from: first!, others, layers, records };
}

/** What recovery does with the other records: a move waiting for its boxes leaves those naming its old folders for later. */
export interface MoveState { from: string[]; deferred: boolean }

/** "A" or "A and B": the folders, for a message. */
const named = (folders: string[]) => folders.length === 1 ? folders[0]! : `${folders.slice(0, -1).join(', ')} and ${folders.at(-1)!}`;

/**
 * Re-points a home moved or copied here onto its own files, first of what recovery does after
 * the home-move records: the records of interrupted operations are rewritten with it, and
 * settled after it. Null when the home was not moved.
 */
export async function relocateHome(core: HomeData, report: ReportBuilder, accepts: RecordAccepted): Promise<MoveState | null> {
  const plan = planMove(core, accepts);
  if (!plan) return null;
  // A box recorded as running may still run in a QEMU that holds its layers open (the home was
  // renamed under it) and reads them by their old names: nothing is re-pointed until none does.
  const busy = core.store.listBoxes().filter((b) => isBusy(b.status));
  if (busy.length > 0) {
    report.kept(null, `This home was in ${named(foldersOf(core.paths.root, plan))} before (moved or copied here); it is re-pointed onto its own files once no box runs (${busy.map((b) => JSON.stringify(b.name)).join(', ')} ${busy.length === 1 ? 'is' : 'are'} recorded as running).`);
    return { from: foldersOf(core.paths.root, plan), deferred: true };
  }
  const intent: HomeMoveIntent = { id: newId(), op: 'home-move', startedAt: Date.now(), ...plan };
  writeIntent(core.paths.homeJournal, intent);
  homeMove.crash('after-intent');
  const done = await applyMove(core, intent);
  clearIntent(core.paths.homeJournal, intent.id);
  tellMove(report, intent, done);
  return { from: foldersOf(core.paths.root, plan), deferred: false };
}

/**
 * A record left as it was by a move that waits (its paths name the old folder): recovery keeps
 * it, to be settled once the home is re-pointed, rather than setting it aside as malformed.
 */
export function waitsForMove(core: HomeData, move: MoveState | null, record: Record<string, unknown>, accepts: RecordAccepted): boolean {
  return move !== null && move.deferred && namesFormerFolder(core, move, record, accepts);
}

/**
 * A record that names this home's files where the home was before, in a home whose rows still
 * do (its re-pointing waits, or could not be made): kept, to be settled once it is re-pointed,
 * by whatever would settle it (recovery, or the retry of a live operation's record).
 */
export function keptForMove(core: HomeData, record: Record<string, unknown>, accepts: RecordAccepted): boolean {
  return rowsNameAnotherHome(core) && !accepts(record) && accepts(mapFrom(record, core.paths.root) as Record<string, unknown>);
}

/** Is this record one of this home's, written while it was in one of the folders it was in? */
function namesFormerFolder(core: HomeData, move: MoveState, record: Record<string, unknown>, accepts: RecordAccepted): boolean {
  return !accepts(record) && accepts(mapFrom(record, core.paths.root) as Record<string, unknown>);
}

/**
 * An interrupted re-pointing recorded in the folder the home was in before it was moved again:
 * the re-pointing made here did all it was to do (every step is worked out again from the home
 * itself, and the records it was to rewrite were rewritten with this one's), so it is cleared.
 */
export function supersededMove(core: HomeData, move: MoveState | null, record: Record<string, unknown>, accepts: RecordAccepted): boolean {
  return move !== null && !move.deferred && record.op === 'home-move' && namesFormerFolder(core, move, record, accepts);
}

export interface MoveDone { rows: number; layers: number; records: number; failed: { path: string; why: string }[] }

export function tellMove(report: ReportBuilder, intent: HomeMoveIntent, done: MoveDone, suffix = ''): void {
  const n = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
  const interrupted = done.records ? `, as does the record of ${n(done.records, 'interrupted operation')} (finished next)` : '';
  if (done.rows + done.layers + done.records > 0) {
    report.repaired(null, `This home was in ${named([intent.from, ...(intent.others ?? [])])} before (moved or copied here): ${n(done.rows, 'record')} and ${n(done.layers, 'disk layer')} now name its own files${interrupted}${done.failed.length ? '' : '; nothing of the other folder is used'}.${suffix}`);
  } else if (suffix) {
    report.repaired(null, `The re-pointing of this home, which was in ${named([intent.from, ...(intent.others ?? [])])} before, was finished.${suffix}`);
  }
  for (const f of done.failed) report.kept(null, `The disk layer ${f.path} still names its file in ${named([intent.from, ...(intent.others ?? [])])} (it could not be re-pointed: ${f.why}); "boxkeep check" names it, and "boxkeep recover" (or the next start of Boxkeep) tries again.`);
}

/**
 * The move's steps, each one again as often as it is run (settle.ts), each checking again what
 * it acts on (a record may have been written by hand): the rows naming their own file under
 * `from` take their own path; each listed layer that is one of this home's own, still backing
 * onto `from` and still what was recorded, is re-pointed onto one of this home's own layers,
 * and its new facts recorded. A layer that cannot be re-pointed (a file made read-only) is
 * left as it is and reported: the others go on.
 */
export async function applyMove(core: HomeData, intent: HomeMoveIntent): Promise<MoveDone> {
  const { store } = core;
  const { root } = core.paths;
  const done: MoveDone = { rows: 0, layers: 0, records: 0, failed: [] };
  const folders = foldersOf(root, intent);
  if (folders.length === 0) return done;
  // Each record over its own file only, in one of this home's journals, and only while that file
  // is still that record, as written where the home was or as rewritten here (not settled, nor
  // rewritten since by its own operation): a record written by hand adds no record, and
  // recovery checks each again.
  const journals = new Set(journalDirs(core));
  const carried: MovedRecord['record'][] = [];
  // The record as read from disk, not as parsed: one written by an earlier build has no `records`.
  for (const { journal, record } of intent.records ?? []) {
    if (!journals.has(journal)) continue;
    const onDisk = readIntents(journal).intents.find((r) => path.basename(r.file) === `${record.id}.json`)?.intent;
    if (!onDisk || JSON.stringify(mapFrom(onDisk, root)) !== JSON.stringify(record)) continue;
    carried.push(record);
    if (record.op === 'home-move') continue; // cleared once this move is done
    if (JSON.stringify(onDisk) !== JSON.stringify(record)) writeIntent(journal, record);
    done.records++;
  }
  homeMove.crash('after-records');
  const rows = rowPaths(core).filter((r) => folders.includes(formerRoot(root, r.recorded, r.own)!));
  store.transaction(() => {
    for (const r of rows) store.db.prepare(`UPDATE ${r.table} SET ${r.column} = ? WHERE id = ?`).run(r.own, r.id);
  });
  done.rows = rows.length;
  homeMove.crash('after-rows');
  const own = ownLayers(core, carried);
  const byPath = new Map(own.layers.map((l) => [l.path, l]));
  for (const listed of intent.layers) {
    const l = byPath.get(listed.path);
    if (!l || l.snapshotId !== listed.snapshotId) continue;
    const now = layerNow(root, l.path);
    if (!now) continue;
    const onto = newBacking(core, own.backings, folders, now.backing);
    if (onto !== null) {
      if (onto !== listed.backing || !fitToRepoint(core, l, now.facts)) continue;
      try {
        await rebase(l.path, onto, { unsafe: true });
      } catch (err) {
        done.failed.push({ path: l.path, why: (err as Error).message });
        continue;
      }
      homeMove.crash('after-rebase');
    } else if (now.backing !== listed.backing || !own.backings.has(listed.backing)) {
      continue;
    }
    // Re-pointed here or by a run killed before it recorded the facts: only the backing name
    // changed (the same size, the same disk size; the header digest is new).
    const recorded = l.snapshotId ? store.snapshotFacts(l.snapshotId) : null;
    if (l.snapshotId && recorded) {
      const after = readLayerFacts(l.path);
      if (after.fileSize === recorded.fileSize && after.virtualSize === recorded.virtualSize) store.setSnapshotFacts(l.snapshotId, after);
    }
    if (onto !== null) done.layers++;
  }
  homeMove.crash('after-layers');
  for (const r of carried) if (r.op === 'home-move' && r.id !== intent.id && done.failed.length === 0) clearIntent(core.paths.homeJournal, r.id);
  return done;
}
