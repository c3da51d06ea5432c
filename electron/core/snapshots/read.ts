// A box's snapshots as the rows and the files say now: what the snapshot list shows.
import { isBusy, type Box, type Snapshot, type SnapshotTree } from '../../../shared/types.js';
import { resolveBox } from '../boxes/resolve.js';
import type { HomeData } from '../deps.js';
import { sizeOnDisk } from '../fsutil.js';
import { hasEntries } from '../journal.js';
import { memoryPath } from '../paths.js';
import { treeOrder, type Store } from '../store/store.js';

export function snapshotTree(home: HomeData, boxRef: string): SnapshotTree {
  const box = resolveBox(home.store, boxRef);
  const rows = home.store.listSnapshots(box.id);
  const moving = layersThatMayMove(home, box, rows);
  const snapshots = rows.map((s) => (moving === 'all' || moving.has(s.id) ? withSizeNow(home.store, s) : withExtras(home.store, s, s.sizeOnDisk)));
  return { boxId: box.id, currentId: box.currentSnapshotId, snapshots: treeOrder(snapshots) };
}

/**
 * The snapshots whose layer may hold more or fewer blocks than its row says. A layer is written
 * only inside a journaled operation (a merge rewrites a dependent, a live removal streams into
 * one), and every step that finishes such a write records the file's size with its facts
 * (steps.ts, box-chain.ts, archive/import.ts): with a record in the box's journal, an operation
 * is under way or was cut short, so every layer is read. A busy box's QEMU holds its current
 * chain, the last layer it wrote among them (a live snapshot's blocks may still be settling):
 * those are read too. Any other layer has not been written since its size was recorded.
 */
function layersThatMayMove(home: HomeData, box: Box, rows: Snapshot[]): 'all' | Set<string> {
  if (hasEntries(home.paths.boxJournal(box.id))) return 'all';
  const held = new Set<string>();
  if (!isBusy(box.status)) return held;
  const parentOf = new Map(rows.map((s) => [s.id, s.parentId]));
  for (let id = box.currentSnapshotId; id !== null && !held.has(id); id = parentOf.get(id) ?? null) held.add(id);
  return held;
}

/**
 * The size read from the files now (a snapshot read on its own: snapshot show, create's answer).
 * Its picture and memory are part of what the snapshot takes (and what deleting it frees).
 */
export function withSizeNow(store: Store, snapshot: Snapshot): Snapshot {
  const now = sizeOnDisk(snapshot.diskPath);
  return withExtras(store, snapshot, now > 0 ? now : snapshot.sizeOnDisk);
}

/** The layer's bytes and its picture's and memory's (written once, before the row, never again). */
function withExtras(store: Store, snapshot: Snapshot, layer: number): Snapshot {
  const picture = store.pictureBytes(snapshot);
  const memory = snapshot.memory ? sizeOnDisk(memoryPath(snapshot.diskPath)) : 0;
  if (layer === snapshot.sizeOnDisk && picture === 0 && memory === 0) return snapshot;
  return { ...snapshot, sizeOnDisk: layer + picture + memory };
}
