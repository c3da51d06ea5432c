// A home moved or copied to another folder (a new disk, a restored backup, another account):
// every row names its files by absolute path and every layer its backing file, both under the
// folder the home was in. Recovery notices (every row that names a file names it under one
// other folder, its own relative path the same) and re-points the home onto its own files: the
// rows in one transaction, then each layer's backing name (`qemu-img rebase -u`, the header
// only) and the facts recorded for it. Only a layer that is exactly what Boxkeep recorded is
// re-pointed (its facts read back first), only onto a file that lies in this home, and only
// from the one folder every row agrees on; the confinement check that follows still checks
// every chain as before. Crash-safe under a `home-move` intent (settle.ts): each step may run
// again. Recovery: settle.ts.
import path from 'node:path';
import { isBusy } from '../../../shared/types.js';
import type { HomeData } from '../deps.js';
import { placedFile, readLayerFacts, type LayerFacts } from '../disk/confine.js';
import { readQcow2LayerSync } from '../disk/qcow2.js';
import { rebase } from '../disk/qemu-img.js';
import { newId } from '../ids.js';
import { clearIntent, writeIntent } from '../journal.js';
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

/** Does any row name a file outside this home? Cheap: what `recovery: 'when-needed'` asks. */
export function rowsNameAnotherHome(core: Pick<HomeData, 'paths' | 'store'>): boolean {
  const inside = core.paths.root + path.sep;
  return rowPaths(core).some((r) => !r.recorded.startsWith(inside));
}

/** A layer's backing name that is an image's or a snapshot's own path under another folder: that folder. */
const LAYER_TAIL = /^(\/.+)\/(images\/[0-9a-f]{12}\/disk\.qcow2|boxes\/[0-9a-f]{12}\/snapshots\/[0-9a-f]{12}\/container\.qcow2)$/;

/**
 * The folder the home was in, when every row naming a file outside this home, and every layer
 * backing onto an image's or snapshot's path outside it, names its own file under that one
 * folder; null when none does, or they disagree (left to the checks). The layers count too: a
 * move whose rows were done and some layer not (it could not be re-pointed then) is finished later.
 */
function movedFrom(core: HomeData, rows: RowPath[], backings: (string | null)[]): string | null {
  const { root } = core.paths;
  const froms = new Set<string | null>();
  for (const r of rows) if (r.recorded !== r.own) froms.add(formerRoot(root, r.recorded, r.own));
  for (const b of backings) {
    if (b === null || b.startsWith(root + path.sep)) continue;
    const m = LAYER_TAIL.exec(b);
    froms.add(m && path.normalize(b) === b && m[1] !== root ? m[1]! : null);
  }
  if (froms.size !== 1) return null;
  return [...froms][0]!;
}

/** Every layer of the home that may back onto another: each snapshot's, each box's live disk. */
function layerFiles(core: HomeData): { path: string; snapshotId: string | null }[] {
  const { db } = core.store;
  const snapshots = (db.prepare('SELECT id, box_id FROM snapshots').all() as { id: string; box_id: string }[]).map((s) => ({ path: core.paths.snapshotDisk(s.box_id, s.id), snapshotId: s.id }));
  const live = (db.prepare('SELECT id FROM boxes').all() as { id: string }[]).map((b) => ({ path: core.paths.liveDisk(b.id), snapshotId: null }));
  return [...snapshots, ...live];
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

const sameFacts = (a: LayerFacts, b: LayerFacts) => a.fileSize === b.fileSize && a.virtualSize === b.virtualSize && a.headerDigest === b.headerDigest;

/** The plan: the folder the home was in and each layer to re-point, or null when the home was not moved. */
function planMove(core: HomeData): Pick<HomeMoveIntent, 'from' | 'layers'> | null {
  const { root } = core.paths;
  const found = layerFiles(core).map((l) => ({ ...l, now: layerNow(root, l.path) }));
  const from = movedFrom(core, rowPaths(core), found.map((l) => l.now?.backing ?? null));
  if (from === null) return null;
  const layers: HomeMoveIntent['layers'] = [];
  for (const { now, ...l } of found) {
    if (!now?.backing?.startsWith(from + path.sep)) continue;
    const backing = path.join(root, now.backing.slice(from.length + 1));
    if (path.normalize(now.backing) !== now.backing || typeof placedFile(root, backing) === 'string') continue;
    const facts = l.snapshotId ? core.store.snapshotFacts(l.snapshotId) : null;
    // A layer that is not what Boxkeep recorded stays as it is: the check names it.
    if (facts && !sameFacts(facts, now.facts)) continue;
    layers.push({ path: l.path, backing, snapshotId: l.snapshotId, facts });
  }
  return { from, layers };
}

export async function relocateHome(core: HomeData, report: ReportBuilder): Promise<void> {
  const plan = planMove(core);
  if (!plan) return;
  // A box recorded as running may still run in a QEMU that holds its layers open (the home was
  // renamed under it) and reads them by their old names: nothing is re-pointed until none does.
  const busy = core.store.listBoxes().filter((b) => isBusy(b.status));
  if (busy.length > 0) {
    report.kept(null, `This home was in ${plan.from} before (moved or copied here); it is re-pointed onto its own files once no box runs (${busy.map((b) => JSON.stringify(b.name)).join(', ')} ${busy.length === 1 ? 'is' : 'are'} recorded as running).`);
    return;
  }
  const intent: HomeMoveIntent = { id: newId(), op: 'home-move', startedAt: Date.now(), ...plan };
  writeIntent(core.paths.homeJournal, intent);
  homeMove.crash('after-intent');
  const rows = await applyMove(core, intent);
  clearIntent(core.paths.homeJournal, intent.id);
  report.repaired(null, movedMessage(intent, rows));
}

export function movedMessage(intent: HomeMoveIntent, rows: number): string {
  return `This home was in ${intent.from} before (moved or copied here): ${rows} record${rows === 1 ? '' : 's'} and ${intent.layers.length} disk layer${intent.layers.length === 1 ? '' : 's'} now name its own files; nothing of the other folder is used.`;
}

/**
 * The move's steps, each one again as often as it is run (settle.ts): the rows naming a file
 * under `from` take their own path; each layer still backing onto `from` (and still what was
 * recorded) is re-pointed, and its new facts recorded. Returns how many rows changed.
 */
export async function applyMove(core: HomeData, intent: HomeMoveIntent): Promise<number> {
  const { store } = core;
  const rows = rowPaths(core).filter((r) => formerRoot(core.paths.root, r.recorded, r.own) === intent.from);
  store.transaction(() => {
    for (const r of rows) store.db.prepare(`UPDATE ${r.table} SET ${r.column} = ? WHERE id = ?`).run(r.own, r.id);
  });
  homeMove.crash('after-rows');
  for (const l of intent.layers) {
    const now = layerNow(core.paths.root, l.path);
    if (!now) continue;
    if (now.backing?.startsWith(intent.from + path.sep)) {
      if (l.facts && !sameFacts(l.facts, now.facts)) continue;
      await rebase(l.path, l.backing, { unsafe: true });
      homeMove.crash('after-rebase');
    } else if (now.backing !== l.backing) {
      continue;
    }
    // Re-pointed here or by a run killed before it recorded the facts: only the backing name
    // changed (the same size, the same disk size).
    if (l.snapshotId && l.facts) {
      const after = readLayerFacts(l.path);
      if (after.fileSize === l.facts.fileSize && after.virtualSize === l.facts.virtualSize) store.setSnapshotFacts(l.snapshotId, after);
    }
  }
  homeMove.crash('after-layers');
  return rows.length;
}
