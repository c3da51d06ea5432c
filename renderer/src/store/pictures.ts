// Snapshot pictures, fetched once per snapshot and kept: a snapshot never changes, so its
// picture never does. The tree's hover preview and the details share the entries; an entry
// goes when its snapshot leaves its box's tree (deleted) or its box goes.
import type { SnapshotTree } from '../../../shared/types.js';

export interface PictureCache {
  /** The picture as a data: URL, or null when there is none (a failed fetch is not kept: the next call asks again). */
  get(boxId: string, snapshotId: string): Promise<string | null>;
  /** The URL at once when it has already landed (no flash of nothing before a cached preview). */
  peek(boxId: string, snapshotId: string): string | null | undefined;
  /** Drops the entries of snapshots no longer in their box's loaded tree, and of boxes no longer listed. */
  prune(trees: Record<string, SnapshotTree>, boxIds: readonly string[]): void;
  readonly size: number;
}

export function createPictureCache(fetch: (boxId: string, snapshotId: string) => Promise<string | null>): PictureCache {
  const pending = new Map<string, Map<string, Promise<string | null>>>();
  const landed = new Map<string, Map<string, string | null>>();
  const of = <T>(m: Map<string, Map<string, T>>, boxId: string) => m.get(boxId) ?? m.set(boxId, new Map()).get(boxId)!;
  return {
    get(boxId, snapshotId) {
      const byId = of(pending, boxId);
      let p = byId.get(snapshotId);
      if (!p) {
        p = fetch(boxId, snapshotId).then(
          (url) => {
            if (byId.get(snapshotId) === p) of(landed, boxId).set(snapshotId, url);
            return url;
          },
          () => {
            if (byId.get(snapshotId) === p) byId.delete(snapshotId);
            return null;
          },
        );
        byId.set(snapshotId, p);
      }
      return p;
    },
    peek: (boxId, snapshotId) => landed.get(boxId)?.get(snapshotId),
    prune(trees, boxIds) {
      for (const m of [pending, landed] as Map<string, Map<string, unknown>>[]) {
        for (const [boxId, byId] of m) {
          if (!boxIds.includes(boxId)) {
            m.delete(boxId);
            continue;
          }
          const tree = trees[boxId];
          if (!tree) continue;
          const ids = new Set(tree.snapshots.map((s) => s.id));
          for (const id of byId.keys()) if (!ids.has(id)) byId.delete(id);
        }
      }
    },
    get size() {
      let n = 0;
      for (const byId of pending.values()) n += byId.size;
      return n;
    },
  };
}
