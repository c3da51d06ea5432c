// A box's snapshots as the rows and the files say now: what the snapshot list shows.
import type { Snapshot, SnapshotTree } from '../../../shared/types.js';
import { resolveBox } from '../boxes/resolve.js';
import type { HomeData } from '../deps.js';
import { sizeOnDisk } from '../fsutil.js';
import { memoryPath, picturePath } from '../paths.js';
import { treeOrder } from '../store/store.js';

export function snapshotTree({ store }: HomeData, boxRef: string): SnapshotTree {
  const box = resolveBox(store, boxRef);
  return { boxId: box.id, currentId: box.currentSnapshotId, snapshots: treeOrder(store.listSnapshots(box.id).map(withSizeNow)) };
}

/**
 * A frozen disk's blocks settle after it is frozen (a live snapshot's file was being written
 * with delayed allocation a moment before): the size shown is read from the file each time.
 * Its picture and memory are part of what the snapshot takes (and what deleting it frees).
 */
export function withSizeNow(snapshot: Snapshot): Snapshot {
  const now = sizeOnDisk(snapshot.diskPath);
  const picture = snapshot.hasPicture ? sizeOnDisk(picturePath(snapshot.diskPath)) : 0;
  const memory = snapshot.memory ? sizeOnDisk(memoryPath(snapshot.diskPath)) : 0;
  return now > 0 ? { ...snapshot, sizeOnDisk: now + picture + memory } : snapshot;
}
