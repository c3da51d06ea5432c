// A box with many snapshots in seconds, shared by bench/render.mjs and the e2e tests (this file is
// plain JavaScript so both can load it; it takes the engine they opened, from dist/ or source).
// Rows are written straight into the store of a stopped box with none, and every row's disk is a
// real qcow2 layer backing onto its parent's, as Boxkeep itself would have frozen it (the engine
// checks every chain it touches). Cheap: the layers have 4 KiB clusters, and all but the root are
// one template whose backing path (all snapshot paths have the same length) is rewritten in place.
// The tree, every 100 snapshots, goes back 30 and carries on from there; a description on every
// 7th, every 5th marked live, a minute apart up to now; the last snapshot is taken by the engine.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const seededName = (i) => `step ${String(i).padStart(4, '0')}`;

function overlay(file, backing, size) {
  const r = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', '-u', '-b', backing, '-F', 'qcow2', file, String(size)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`qemu-img create ${file} failed: ${r.stderr}`);
}

/** Returns the snapshot ids and names in the order they were "taken". */
export async function seedSnapshots(core, boxRef, count) {
  const box = core.boxes.resolve(boxRef);
  if (core.store.listSnapshots(box.id).length > 0) throw new Error(`seedSnapshots: the box ${box.name} already has snapshots`);
  const image = core.store.getImage(box.imageId);
  const placeholder = core.paths.snapshotDisk(box.id, '0'.repeat(12));
  const templateFile = path.join(core.paths.boxDir(box.id), 'seed-template.qcow2');
  overlay(templateFile, placeholder, box.diskSize);
  const template = fs.readFileSync(templateFile);
  fs.rmSync(templateFile);
  const at = template.indexOf(placeholder);
  const ids = [];
  const names = [];
  const start = Date.now() - count * 60_000;
  core.store.db.transaction(() => {
    for (let i = 1; i < count; i++) {
      const id = randomBytes(6).toString('hex');
      const parentId = i === 1 ? null : i % 100 === 0 ? ids[i - 31] : ids[i - 2];
      const diskPath = core.paths.snapshotDisk(box.id, id);
      fs.mkdirSync(path.dirname(diskPath), { recursive: true });
      if (parentId === null) overlay(diskPath, image.path, box.diskSize);
      else {
        const layer = Buffer.from(template);
        layer.write(core.paths.snapshotDisk(box.id, parentId), at);
        fs.writeFileSync(diskPath, layer);
      }
      core.store.insertSnapshot({
        id, boxId: box.id, parentId, name: seededName(i), description: i % 7 === 0 ? `checkpoint ${i}` : '',
        createdAt: start + i * 60_000, sizeOnDisk: fs.statSync(diskPath).blocks * 512, virtualSize: box.diskSize, live: i % 5 === 0, taken: i % 5 === 0 ? 'crash-consistent' : 'stopped', diskPath,
      });
      ids.push(id);
      names.push(seededName(i));
    }
    core.store.setCurrentSnapshot(box.id, ids.at(-1) ?? null);
  })();
  // The live disk moves under the newest seeded snapshot, as a restore to it would leave it.
  overlay(box.liveDiskPath, core.paths.snapshotDisk(box.id, ids.at(-1)), box.diskSize);
  const last = await core.snapshots.create({ box: box.id, name: seededName(count) });
  ids.push(last.id);
  names.push(last.name);
  return { ids, names };
}
