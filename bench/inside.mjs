// Looking inside snapshots (issue 16): the changed-bytes answer for a 10 GiB box with 20
// snapshots (in-process, from the layers' L1/L2 tables) beside `qemu-img map` of those layers;
// the changed files between two snapshots of a 1 GiB ext4 holding 10,000 files beside the floor
// of one bare guestfish launch + `find /` on the same two disks; and the cached answer.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { GiB, MiB, requireBuilt, row, sh, tempDir, timeIt } from './lib.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const N = Number(process.env.BENCH_N ?? 15);
const GUESTFS = { ...process.env, LIBGUESTFS_BACKEND: 'direct', LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg' };

export async function insideBenchmarks() {
  const dir = tempDir('bkin-');
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test' });
  const rows = [];
  try {
    rows.push(...(await changedBytes(core, dir)));
    if (!process.env.BENCH_INSIDE_BYTES_ONLY) rows.push(...(await changedFiles(core, dir)));
  } finally {
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

async function changedBytes(core, dir) {
  const seed = path.join(dir, 'big.qcow2');
  sh('qemu-img', ['create', '-q', '-f', 'qcow2', seed, String(10 * GiB)]);
  await core.images.import({ path: seed, name: 'big' });
  const box = await core.boxes.create({ name: 'big', image: 'big' });
  for (let i = 0; i < 20; i++) {
    // 8 MiB a snapshot, spread over the whole disk so every layer has tables across it.
    sh('qemu-io', ['-f', 'qcow2', '-c', `write -P ${i + 1} ${(i * 500 + 7) * MiB} ${8 * MiB}`, box.liveDiskPath]);
    await core.snapshots.create({ box: 'big', name: `s${i}` });
  }
  const samples = [];
  let answer = 0;
  for (let i = 0; i < N; i++) samples.push(await timeIt(async () => { answer = (await core.inside.diff({ box: 'big', from: 's0', to: 's19' })).changedBytes; }));
  const layers = core.store.listSnapshots(box.id).map((s) => s.diskPath);
  const map = [];
  for (let i = 0; i < N; i++) map.push(await timeIt(async () => { for (const l of layers) sh('qemu-img', ['map', '--output=json', '-U', '-f', 'qcow2', l]); }));
  return [row('changed bytes, 10 GiB box, 20 snapshots (s0 → s19)', samples, map, `qemu-img map of the 20 layers is the floor shown; answer ${answer / MiB} MiB`)];
}

async function changedFiles(core, dir) {
  const src = path.join(dir, 'tree');
  for (let d = 0; d < 100; d++) {
    fs.mkdirSync(path.join(src, `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(src, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`.repeat(20));
  }
  const raw = path.join(dir, 'files.raw');
  const disk = path.join(dir, 'files.qcow2');
  sh('truncate', ['-s', '1G', raw]);
  sh('mkfs.ext4', ['-q', '-F', '-d', src, raw]);
  sh('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, disk]);
  fs.rmSync(raw);
  fs.rmSync(src, { recursive: true });
  await core.images.import({ path: disk, name: 'files' });
  const box = await core.boxes.create({ name: 'files', image: 'files' });
  await core.snapshots.create({ box: 'files', name: 'A' });
  const edits = ['run', ':', 'mount', '/dev/sda', '/'];
  for (let i = 0; i < 50; i++) edits.push(':', 'write', `/d${i}/f0.txt`, `changed ${i}\n`);
  for (let i = 0; i < 25; i++) edits.push(':', 'rm', `/d${i}/f1.txt`);
  for (let i = 0; i < 25; i++) edits.push(':', 'write', `/d${i}/new.txt`, 'new\n');
  const r = spawnSync('guestfish', ['--format=qcow2', '-a', box.liveDiskPath, ...edits], { env: GUESTFS, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`guestfish edits failed: ${r.stderr}`);
  await core.snapshots.create({ box: 'files', name: 'B' });
  const [a, b] = ['A', 'B'].map((n) => core.store.findSnapshot(box.id, n).diskPath);

  let changes = 0;
  const first = await timeIt(async () => { changes = (await core.inside.diff({ box: 'files', from: 'A', to: 'B', files: true })).files[0].changes.length; });
  const floor = await timeIt(async () => {
    const f = spawnSync('guestfish', ['--ro', '--format=qcow2', '-a', a, '-a', b, 'run', ':', 'mkmountpoint', '/a', ':', 'mkmountpoint', '/b', ':', 'mount-ro', '/dev/sda', '/a', ':', 'mount-ro', '/dev/sdb', '/b', ':', 'find', '/a', ':', 'find', '/b'], { env: GUESTFS, encoding: 'utf8', maxBuffer: 64 * MiB });
    if (f.status !== 0) throw new Error(`bare guestfish failed: ${f.stderr}`);
  });
  const cached = [];
  for (let i = 0; i < N; i++) cached.push(await timeIt(() => core.inside.diff({ box: 'files', from: 'A', to: 'B', files: true })));
  return [
    row('changed files, 1 GiB ext4, 10,000 files (first answer)', [first], [floor], `floor: one bare guestfish launch + find / on both disks; ${changes} changes`),
    row('changed files, the cached answer', cached, null, 'read from snapshots/<A>/changes-to-<B>.json'),
  ];
}
