// A box with many snapshots in seconds: rows written straight into the store of a home nobody
// holds, on disks that exist, so the home is consistent and recovery has nothing to say.
// (bench/render.mjs builds the same shape from dist/; the bench cannot import TypeScript.)
//
// Every frozen disk but the last is a hard link to one empty overlay on the image: the files
// exist where the rows say, and the UI reads rows, not disks. The last snapshot is taken by the
// engine itself, so the live disk backs onto a real snapshot disk exactly as recorded.
import fs from 'node:fs';
import path from 'node:path';
import type { Core } from '../../electron/core/core.js';
import { createOverlay } from '../../electron/core/disk/qemu-img.js';
import { newId } from '../../electron/core/ids.js';

export interface SeededTree {
  /** Snapshot ids in the order they were "taken". */
  ids: string[];
  names: string[];
}

export const seededName = (i: number) => `step ${String(i).padStart(4, '0')}`;

/**
 * `count` snapshots on a stopped box with none: a chain that, every 100 snapshots, goes back 30
 * and carries on from there (the tree has real branches; the last one, taken by the engine,
 * follows the one before it), a description on every 7th, every 5th marked live, taken a
 * minute apart up to now.
 */
export async function seedSnapshots(core: Core, boxRef: string, count: number): Promise<SeededTree> {
  const box = core.boxes.resolve(boxRef);
  if (core.store.listSnapshots(box.id).length > 0) throw new Error(`seedSnapshots: the box ${box.name} already has snapshots`);
  const image = core.store.getImage(box.imageId)!;
  const template = path.join(core.paths.boxDir(box.id), 'seed-template.qcow2');
  await createOverlay(template, image.path, box.diskSize);
  const size = fs.statSync(template).blocks * 512;
  const ids: string[] = [];
  const names: string[] = [];
  const start = Date.now() - count * 60_000;
  const insert = core.store.db.transaction(() => {
    for (let i = 1; i < count; i++) {
      const id = newId();
      const parentId = i === 1 ? null : i % 100 === 0 ? ids[i - 31]! : ids[i - 2]!;
      const diskPath = core.paths.snapshotDisk(box.id, id);
      fs.mkdirSync(path.dirname(diskPath), { recursive: true });
      fs.linkSync(template, diskPath);
      core.store.insertSnapshot({
        id, boxId: box.id, parentId, name: seededName(i), description: i % 7 === 0 ? `checkpoint ${i}` : '',
        createdAt: start + i * 60_000, sizeOnDisk: size, virtualSize: box.diskSize, live: i % 5 === 0, diskPath,
      });
      ids.push(id);
      names.push(seededName(i));
    }
    core.store.setCurrentSnapshot(box.id, ids.at(-1) ?? null);
  });
  insert();
  fs.rmSync(template);
  const last = await core.snapshots.create({ box: box.id, name: seededName(count) });
  ids.push(last.id);
  names.push(last.name);
  return { ids, names };
}
