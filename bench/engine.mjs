// Engine benchmarks (issue 2): snapshot create/restore vs a bare `qemu-img create`, remove vs a
// bare `qemu-img rebase` of the same data, listing 1,000 snapshots, recovery of 100 boxes.
import fs from 'node:fs';
import path from 'node:path';
import { GiB, MiB, median, requireBuilt, round, row, sh, tempDir, timeIt } from './lib.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');

const N = Number(process.env.BENCH_N ?? 15);

async function withHome(fn) {
  const dir = tempDir('bkb-');
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test' });
  try {
    return await fn(core, dir);
  } finally {
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function importImage(core, dir, size) {
  const seed = path.join(dir, `seed-${size}.qcow2`);
  sh('qemu-img', ['create', '-q', '-f', 'qcow2', seed, String(size)]);
  return core.images.import({ path: seed, name: `seed-${size}` });
}

/** Bare floor: one `qemu-img create` of an overlay on the same backing, median of N. */
function overlayFloor(dir, backing, size) {
  sh('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', 'qcow2', path.join(dir, 'warm.qcow2'), String(size)]);
  const samples = [];
  for (let i = 0; i < N; i++) {
    const f = path.join(dir, `floor-${i}.qcow2`);
    const t0 = performance.now();
    sh('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', 'qcow2', f, String(size)]);
    samples.push(performance.now() - t0);
    fs.rmSync(f);
  }
  return samples;
}

async function createAndRestore(size, label) {
  return withHome(async (core, dir) => {
    const image = await importImage(core, dir, size);
    const box = await core.boxes.create({ name: 'b', image: image.name });
    sh('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a 0 ${64 * MiB}`, box.liveDiskPath]);
    await core.snapshots.create({ box: 'b', name: 'warm-up' });
    const create = [];
    for (let i = 0; i < N; i++) create.push(await timeIt(() => core.snapshots.create({ box: 'b', name: `s${i}` })));
    const restore = [];
    for (let i = 0; i < N; i++) restore.push(await timeIt(() => core.snapshots.restore({ box: 'b', snapshot: `s${i % 3}` })));
    const floor = overlayFloor(dir, core.store.findSnapshot(box.id, 's0').diskPath, size);
    return [
      row(`snapshot create, ${label} disk, 64 MiB written`, create, floor, 'within 2x of the floor'),
      row(`snapshot restore, ${label} disk`, restore, floor, 'within 2x of the floor'),
    ];
  });
}

async function removeMiddle() {
  const ours = [];
  const floor = [];
  for (let i = 0; i < Math.min(N, 7); i++) {
    await withHome(async (core, dir) => {
      const image = await importImage(core, dir, 256 * MiB);
      const box = await core.boxes.create({ name: 'b', image: image.name });
      await core.snapshots.create({ box: 'b', name: 'a' });
      sh('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x6b 0 ${50 * MiB}`, box.liveDiskPath]);
      const m = await core.snapshots.create({ box: 'b', name: 'm' });
      sh('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x7c ${100 * MiB} ${MiB}`, box.liveDiskPath]);
      await core.snapshots.create({ box: 'b', name: 'c' });
      // Floor: a bare rebase of a copy of the child off the 50 MiB snapshot, same data.
      const a = core.store.findSnapshot(box.id, 'a');
      const c = core.store.findSnapshot(box.id, 'c');
      const copy = path.join(dir, 'child-copy.qcow2');
      fs.copyFileSync(c.diskPath, copy);
      sh('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-b', m.diskPath, '-F', 'qcow2', copy]);
      floor.push(await timeIt(() => sh('qemu-img', ['rebase', '-f', 'qcow2', '-b', a.diskPath, '-F', 'qcow2', copy])));
      ours.push(await timeIt(() => core.snapshots.remove('b', 'm')));
    });
  }
  return [row('remove a middle snapshot holding 50 MiB', ours, floor, 'within 1.5x of the floor')];
}

async function list1000() {
  return withHome(async (core, dir) => {
    const image = await importImage(core, dir, 64 * MiB);
    const box = await core.boxes.create({ name: 'b', image: image.name });
    // Rows, and a small file at each snapshot's own path (the listing looks in each folder for a
    // picture, and once read every layer): 1,000 real snapshots would bench qemu-img instead.
    const insert = core.store.db.transaction(() => {
      let parent = null;
      for (let i = 0; i < 1000; i++) {
        const id = `s${String(i).padStart(11, '0')}`;
        const diskPath = core.paths.snapshotDisk(box.id, id);
        fs.mkdirSync(path.dirname(diskPath), { recursive: true });
        fs.writeFileSync(diskPath, Buffer.alloc(8192, 1));
        core.store.insertSnapshot({ id, boxId: box.id, parentId: parent, name: `snap ${i}`, description: '', createdAt: Date.now() + i, sizeOnDisk: 8192, virtualSize: 64 * MiB, live: false, taken: 'stopped', diskPath });
        parent = i % 10 === 9 ? `s${String(i - 5).padStart(11, '0')}` : id;
      }
    });
    insert();
    const samples = [];
    for (let i = 0; i < N; i++) samples.push(await timeIt(() => core.snapshots.tree('b')));
    return [row('list a box with 1,000 snapshots (tree order)', samples, null, 'under 20 ms')];
  });
}

async function recovery100() {
  const dir = tempDir('bkr-');
  const home = path.join(dir, 'h');
  try {
    let core = await openCore({ home, owner: 'test' });
    const image = await importImage(core, dir, 64 * MiB);
    for (let b = 0; b < 100; b++) {
      await core.boxes.create({ name: `box${b}`, image: image.name });
      for (let s = 0; s < 10; s++) await core.snapshots.create({ box: `box${b}`, name: `s${s}` });
    }
    await core.close();
    const samples = [];
    for (let i = 0; i < 5; i++) {
      core = await openCore({ home, owner: 'test' });
      if (core.lastRecovery.items.length) throw new Error('recovery found work on a healthy home: ' + JSON.stringify(core.lastRecovery.items[0]));
      samples.push(core.lastRecovery.elapsedMs);
      await core.close();
    }
    return [row('recovery, 100 boxes x 10 snapshots, nothing to repair', samples, null, 'under 1000 ms')];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function engineBenchmarks() {
  const small = await createAndRestore(100 * MiB, '100 MiB');
  const large = await createAndRestore(10 * GiB, '10 GiB');
  const scale = round(large[0].median_ms / small[0].median_ms);
  return [
    ...small,
    ...large,
    { name: 'snapshot create, 10 GiB vs 100 MiB', median_ms: large[0].median_ms, floor_ms: small[0].median_ms, ratio: scale, target: 'within 1.3x' },
    ...(await removeMiddle()),
    ...(await list1000()),
    ...(await recovery100()),
  ];
}

export { median };
