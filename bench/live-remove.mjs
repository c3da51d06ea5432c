// Live removal (issue 17): removing the snapshot a running box's live disk backs onto, with
// 50 MiB in the snapshot and 1 MiB in the live disk (Boxkeep should commit the 1 MiB down), and
// 1 MiB in the snapshot and 50 MiB in the live disk (it should stream the 1 MiB up). The floor
// is the cheaper bare QMP job on the same chain, in the same QEMU: copies of the two layers
// added as nodes of their own over the same parent, then block-commit (READY, complete) or
// block-stream, timed from the command to BLOCK_JOB_COMPLETED. Also the 50/1 case streamed,
// as Boxkeep did before (BOXKEEP_LIVE_MERGE=stream).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { closeVmBench, requireBuilt, row, tempDir } from './lib.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const ROUNDS = Number(process.env.BENCH_LIVE_REMOVE_ROUNDS ?? 3);

function buildGuest(args = []) {
  const out = execFileSync(process.execPath, [path.join(root, 'scripts/build-guest.mjs'), ...args], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

/** A console on the guest's serial socket: `cmd; echo DONE_n` and wait for the marker. */
async function openConsole(socketPath) {
  const socket = await new Promise((resolve, reject) => {
    const c = net.createConnection(socketPath);
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  let buf = '';
  let n = 0;
  socket.setEncoding('utf8');
  socket.on('data', (d) => { buf += d; });
  return {
    async run(cmd, ms = 300_000) {
      const marker = `DONE_${++n}_`;
      socket.write(`${cmd}; echo ${marker}$?\n`);
      const end = Date.now() + ms;
      while (!new RegExp(`${marker}\\d+`).test(buf)) {
        if (Date.now() > end) throw new Error(`guest: ${cmd} did not finish`);
        await new Promise((r) => setTimeout(r, 20));
      }
      buf = buf.slice(buf.indexOf(marker) + marker.length);
    },
    close: () => socket.destroy(),
  };
}

async function waitFor(check, ms = 180_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The bare job on copies of the two layers, in the box's own QEMU (same guest load), over the
 * same parent node. Returns the milliseconds from the command to BLOCK_JOB_COMPLETED.
 */
async function bareJob(core, box, kind, removed, live, dir) {
  const session = core.vms.session(box.id);
  const { qmp, nodes } = session;
  const parent = removed.parentId ? nodes.snapshots[removed.parentId] : nodes.image;
  const parentPath = removed.parentId ? core.store.getSnapshot(removed.parentId).diskPath : execFileSync('qemu-img', ['info', '-U', '--output=json', removed.diskPath], { encoding: 'utf8' }).match(/"backing-filename": "([^"]+)"/)[1];
  const a = path.join(dir, 'bare-removed.qcow2');
  const b = path.join(dir, 'bare-live.qcow2');
  fs.copyFileSync(removed.diskPath, a);
  fs.copyFileSync(live, b);
  execFileSync('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-b', a, '-F', 'qcow2', b]);
  const names = ['bq1', 'bf1', 'bq0', 'bf0'];
  await qmp.execute('blockdev-add', { driver: 'file', filename: a, 'node-name': 'bf0' });
  await qmp.execute('blockdev-add', { driver: 'qcow2', file: 'bf0', 'node-name': 'bq0', backing: parent.format });
  await qmp.execute('blockdev-add', { driver: 'file', filename: b, 'node-name': 'bf1' });
  await qmp.execute('blockdev-add', { driver: 'qcow2', file: 'bf1', 'node-name': 'bq1', backing: 'bq0' });
  const on = (event) => qmp.waitForEvent(event, (e) => e.data?.device === 'bare', 600_000);
  const t0 = performance.now();
  const completed = on('BLOCK_JOB_COMPLETED');
  if (kind === 'commit') {
    const ready = on('BLOCK_JOB_READY');
    await qmp.execute('block-commit', { 'job-id': 'bare', device: 'bq1', 'base-node': 'bq0' });
    await ready;
    await qmp.execute('block-job-complete', { device: 'bare' });
  } else {
    await qmp.execute('block-stream', { 'job-id': 'bare', device: 'bq1', 'base-node': parent.format, 'backing-file': parentPath });
  }
  await completed;
  const ms = performance.now() - t0;
  for (const name of names) await qmp.execute('blockdev-del', { 'node-name': name }).catch(() => undefined);
  fs.rmSync(a);
  fs.rmSync(b);
  return ms;
}

export async function liveRemoveBenchmarks() {
  const g = buildGuest();
  const dir = tempDir('bklr-');
  const directions = [];
  const logger = { info: (m, f) => { if (m === 'live merge direction') directions.push(f.direction); }, warn() {}, error() {} };
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test', logger, supervisor: { stopTimeoutMs: 1000 } });
  const rows = [];
  try {
    const disk = buildGuest(['--data-disk', path.join(dir, 'd.qcow2'), '--size', '400M']).dataDisk;
    await core.images.import({ path: disk, name: 'tiny', kernelPath: g.kernel, initrdPath: g.initrd, append: 'console=ttyS0 panic=-1 quiet' });
    const box = await core.boxes.create({ name: 'rm', image: 'tiny' });
    const log = core.vms.logFile(box.id);
    await core.vms.start(box.id);
    await waitFor(() => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('BOXKEEP-GUEST-READY'));
    const con = await openConsole(path.join(core.vms.session(box.id).runDir, 'serial.sock'));
    let k = 0;
    /**
     * A snapshot holding `snapMiB`, the live disk `liveMiB` on top of it. A snapshot first, so the
     * removed one holds only what is written for it (the last removal merged layers below it).
     */
    const chain = async (snapMiB, liveMiB) => {
      k++;
      await con.run('rm -f /mnt/s* /mnt/l*; sync');
      await core.snapshots.create({ box: box.id, name: `below-${k}` });
      await con.run(`dd if=/dev/urandom of=/mnt/s${k} bs=1M count=${snapMiB} 2>/dev/null; sync`);
      const removed = await core.snapshots.create({ box: box.id, name: `r${k}` });
      await con.run(`dd if=/dev/urandom of=/mnt/l${k} bs=1M count=${liveMiB} 2>/dev/null; sync`);
      return removed;
    };
    const remove = async (removed, env) => {
      const before = process.env.BOXKEEP_LIVE_MERGE;
      if (env) process.env.BOXKEEP_LIVE_MERGE = env;
      try {
        const t0 = performance.now();
        await core.snapshots.remove(box.id, removed.id);
        return performance.now() - t0;
      } finally {
        if (env) delete process.env.BOXKEEP_LIVE_MERGE;
        if (before !== undefined) process.env.BOXKEEP_LIVE_MERGE = before;
      }
    };
    const t = { commitA: [], streamA: [], bareA: [], streamB: [], bareB: [] };
    const chosen = { A: [], B: [] };
    for (let i = 0; i < ROUNDS; i++) {
      let r = await chain(50, 1);
      t.bareA.push(await bareJob(core, box, 'commit', r, box.liveDiskPath, dir));
      directions.length = 0;
      t.commitA.push(await remove(r));
      chosen.A.push(...directions);
      r = await chain(50, 1);
      t.streamA.push(await remove(r, 'stream'));
      r = await chain(1, 50);
      t.bareB.push(await bareJob(core, box, 'stream', r, box.liveDiskPath, dir));
      directions.length = 0;
      t.streamB.push(await remove(r));
      chosen.B.push(...directions);
    }
    con.close();
    rows.push(row(`live remove, 50 MiB snapshot / 1 MiB live disk (chose ${[...new Set(chosen.A)].join(',')}), median of ${ROUNDS} (floor: bare QMP active commit)`, t.commitA, t.bareA, '≤ 1.2×'));
    rows.push(row(`live remove, 50 MiB snapshot / 1 MiB live disk, streamed as before (floor: bare QMP active commit)`, t.streamA, t.bareA, 'report: what choosing saves'));
    rows.push(row(`live remove, 1 MiB snapshot / 50 MiB live disk (chose ${[...new Set(chosen.B)].join(',')}), median of ${ROUNDS} (floor: bare QMP block-stream)`, t.streamB, t.bareB, '≤ 1.2×'));
  } finally {
    await closeVmBench(core, dir);
  }
  return rows;
}
