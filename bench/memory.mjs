// Snapshots with memory (issue 13), at -m 256 and -m 1024 under TCG, the tiny guest:
// - the guest's pause window of a snapshot with memory, with background-snapshot (RAM streamed
//   while the guest runs) and without (BOXKEEP_MEMORY_PRECOPY=1: the whole stream while paused),
//   beside the floor of writing the state file's bytes with `dd … conv=fsync` to the home's
//   filesystem; the state file's size;
// - a restore with memory to running (disk restore, fresh QEMU, state loaded, cont) beside a cold
//   boot of the same box (start to the guest's ready line).
// Every QEMU it starts is killed at the end, and on SIGINT/SIGTERM.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { guest, MiB, requireBuilt, row, tempDir, timeIt, waitReady } from './lib.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const SNAPSHOTS = 3;
const RESTORES = 3;

/** Writing `bytes` into a fresh file on the home's filesystem, fsynced: what the state file cannot beat. */
function ddFloor(dir, bytes) {
  const file = path.join(dir, 'dd-floor');
  const t0 = performance.now();
  execFileSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${Math.max(1, Math.round(bytes / MiB))}`, 'conv=fsync', 'status=none']);
  const ms = performance.now() - t0;
  fs.rmSync(file, { force: true });
  return ms;
}

async function measure(core, home, name, windows) {
  const box = core.boxes.resolve(name);
  const log = core.vms.logFile(box.id);
  const boots = [];
  const from = () => (fs.existsSync(log) ? fs.statSync(log).size : 0);
  for (let i = 0; i < RESTORES; i++) {
    const at = from();
    boots.push(await timeIt(async () => {
      await core.vms.start(name);
      await waitReady(log, at);
    }));
    if (i < RESTORES - 1) await core.vms.stop(name, { force: true });
  }
  const result = {};
  for (const mode of ['background', 'paused']) {
    if (mode === 'paused') process.env.BOXKEEP_MEMORY_PRECOPY = '1';
    else delete process.env.BOXKEEP_MEMORY_PRECOPY;
    windows.length = 0;
    const sizes = [];
    for (let i = 0; i < SNAPSHOTS; i++) sizes.push((await core.snapshots.create({ box: name, name: `${mode}-${i}`, memory: true })).memory.size);
    result[mode] = { pauses: windows.map((w) => w.stall_ms), size: sizes.at(-1) };
  }
  delete process.env.BOXKEEP_MEMORY_PRECOPY;
  const floors = [0, 1, 2].map(() => ddFloor(home, result.background.size));
  await core.vms.stop(name, { force: true });
  const restores = [];
  for (let i = 0; i < RESTORES; i++) {
    restores.push(await timeIt(() => core.snapshots.restore({ box: name, snapshot: 'background-0' })));
    await core.vms.stop(name, { force: true });
  }
  return { boots, restores, floors, ...result };
}

export async function memoryBenchmarks() {
  const g = guest();
  const dir = tempDir('bkmem-');
  const windows = [];
  const logger = { info: (m, f) => { if (m === 'live snapshot stall') windows.push(f); }, warn() {}, error() {} };
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test', logger, supervisor: { stopTimeoutMs: 1000 } });
  const killAll = () => {
    for (const s of core.vms.sessions.values()) {
      try { process.kill(s.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  };
  const onSignal = (signal) => {
    killAll();
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const data = path.join(dir, 'd.qcow2');
    execFileSync(process.execPath, [path.join(root, 'scripts/build-guest.mjs'), '--data-disk', data, '--size', '32M']);
    await core.images.import({ path: data, name: 'tiny', kernelPath: g.kernel, initrdPath: g.initrd, append: 'console=ttyS0 panic=-1 quiet' });
    const rows = [];
    for (const mib of [256, 1024]) {
      const name = `m${mib}`;
      await core.boxes.create({ name, image: 'tiny', memoryMib: mib });
      const r = await measure(core, path.join(dir, 'h'), name, windows);
      const mb = (r.background.size / 1e6).toFixed(1);
      rows.push(
        row(`-m ${mib}: pause window, snapshot with memory, background-snapshot (floor: dd conv=fsync of the ${mb} MB state), median of ${SNAPSHOTS}`, r.background.pauses, r.floors, 'well under the floor', { state_bytes: r.background.size }),
        row(`-m ${mib}: pause window, snapshot with memory, guest paused while written (floor: dd conv=fsync), median of ${SNAPSHOTS}`, r.paused.pauses, r.floors, 'near the floor', { state_bytes: r.paused.size }),
        row(`-m ${mib}: restore with memory to running (floor: cold boot to ready line), median of ${RESTORES}`, r.restores, r.boots, 'under the floor'),
      );
    }
    return rows;
  } finally {
    killAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { print } = await import('./lib.mjs');
  print(await memoryBenchmarks(), process.argv.includes('--json'));
}
