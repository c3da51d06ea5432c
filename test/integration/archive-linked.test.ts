// Exports of boxes whose disks read through other files than their own: a linked clone's tree
// stands on its source's snapshot, so its archive must carry what that snapshot reads.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { MiB, openTestHome, type TestHome } from '../helpers/core.js';
import { diskDigest, writePattern } from '../helpers/disk.js';

let t: TestHome;
let dir: string;
beforeEach(async () => {
  t = await openTestHome();
  dir = fs.mkdtempSync(path.join(path.dirname(t.dir), 'arc-'));
}, 120_000);
afterEach(async () => {
  await t?.cleanup();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

it("a linked clone exported whole and imported reads the same bytes as the clone (the source's snapshot included)", async () => {
  const box = await t.core.boxes.create({ name: 'dev', image: 'seed' });
  writePattern(box.liveDiskPath, 2 * MiB, MiB, 0xa1);
  await t.core.snapshots.create({ box: 'dev', name: 'a' });
  const clone = await t.core.clones.clone({ box: 'dev', from: 'a' });
  writePattern(clone.liveDiskPath, 3 * MiB, MiB, 0xb2);
  await t.core.snapshots.create({ box: clone.id, name: 'c1' });
  writePattern(clone.liveDiskPath, 4 * MiB, MiB, 0xc3);
  const c1 = t.core.store.findSnapshot(clone.id, 'c1')!;
  const want = { live: diskDigest(clone.liveDiskPath), c1: diskDigest(c1.diskPath) };

  const out = path.join(dir, 'clone.boxkeep');
  await t.core.archives.export({ box: clone.id, path: out, compression: 'none' });
  const imported = await t.core.archives.import({ path: out, name: 'moved' });
  const importedC1 = t.core.store.findSnapshot(imported.id, 'c1')!;
  expect({ live: diskDigest(imported.liveDiskPath), c1: diskDigest(importedC1.diskPath) }).toEqual(want);
  expect(imported.linkedSnapshotId).toBeNull();
  // Its scratch copy of the base is gone from the clone's folder.
  expect(fs.readdirSync(t.core.paths.boxDir(clone.id)).filter((f) => f.startsWith('.export'))).toEqual([]);
}, 300_000);

it("an export killed while it flattened leaves its scratch disk in the box's folder: the next recovery removes it, and nothing else", async () => {
  const box = await t.core.boxes.create({ name: 'dev', image: 'seed' });
  await t.core.snapshots.create({ box: 'dev', name: 'a' });
  // What a killed `box export --snapshot` leaves: qemu-img convert's output, named as export.ts names it.
  const scratch = path.join(t.core.paths.boxDir(box.id), '.export-0badc0de.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', scratch, String(16 * MiB)]);
  const before = fs.readdirSync(t.core.paths.boxDir(box.id)).filter((f) => f !== path.basename(scratch)).sort();
  const report = await t.core.recover();
  expect(fs.existsSync(scratch)).toBe(false);
  expect(fs.readdirSync(t.core.paths.boxDir(box.id)).sort()).toEqual(before);
  expect(report.items.map((i) => i.message)).toEqual([expect.stringMatching(/interrupted export of the box "dev" was removed/)]);
}, 120_000);
