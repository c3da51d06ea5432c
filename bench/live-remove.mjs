// Live removal (issue 17): removing the snapshot a running box's live disk backs onto, with
// 50 MiB in the snapshot and 1 MiB in the live disk (Boxkeep should commit the 1 MiB down), and
// 1 MiB in the snapshot and 50 MiB in the live disk (it should stream the 1 MiB up); then the
// same at a larger size (200 MiB / 50 MiB both ways, BENCH_LIVE_REMOVE_BIG_ROUNDS), so the trend
// of the ratio with the size shows. The floor is the cheaper bare QMP job on the same chain, in
// the same QEMU: copies of the two layers added as nodes of their own over the same parent, then
// block-commit (READY, complete) or block-stream, timed from the command to
// BLOCK_JOB_COMPLETED. Beside each: Boxkeep's own job timed the same way (job_ms) and the rest of
// its removal (overhead_ms: planning, intent, node renames, pivot note, renames, rows, files),
// also as rows of their own. And beside a second floor, the least a crash-safe removal adds to
// the bare job (the same job with a durable record written before it and removed after it, and
// for an active commit a durable note while the job waits in PENDING, before job-finalize), so what Boxkeep adds
// beyond what any crash-safe removal must do shows. Also the 50/1 case streamed, as Boxkeep did
// before (BOXKEEP_LIVE_MERGE=stream).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { closeVmBench, median, requireBuilt, round, row, tempDir } from './lib.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const ROUNDS = Number(process.env.BENCH_LIVE_REMOVE_ROUNDS ?? 3);
const BIG_ROUNDS = Number(process.env.BENCH_LIVE_REMOVE_BIG_ROUNDS ?? 2);

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
async function bareJob(core, box, kind, removed, live, dir, { safe = false } = {}) {
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
  const intent = path.join(dir, 'bare-intent.json');
  const t0 = performance.now();
  // The least a crash-safe removal adds to the job: a durable record before it, for an active
  // commit a durable note while the job waits in PENDING (auto-finalize off) before job-finalize
  // pivots, the record's durable removal after.
  if (safe) durableWrite(intent, JSON.stringify({ op: 'bare', removed: a, live: b, at: Date.now() }));
  const completed = on('BLOCK_JOB_COMPLETED');
  if (kind === 'commit') {
    const ready = on('BLOCK_JOB_READY');
    const pending = safe ? qmp.waitForEvent('JOB_STATUS_CHANGE', (e) => e.data?.id === 'bare' && e.data?.status === 'pending', 600_000) : null;
    await qmp.execute('block-commit', { 'job-id': 'bare', device: 'bq1', 'base-node': 'bq0', ...(safe ? { 'auto-finalize': false } : {}) });
    await ready;
    await qmp.execute('block-job-complete', { device: 'bare' });
    if (safe) {
      await pending;
      durableWrite(intent, JSON.stringify({ op: 'bare', removed: a, live: b, pivoted: true }));
      await qmp.execute('job-finalize', { id: 'bare' });
    }
  } else {
    await qmp.execute('block-stream', { 'job-id': 'bare', device: 'bq1', 'base-node': parent.format, 'backing-file': parentPath });
  }
  await completed;
  if (safe) {
    fs.rmSync(intent);
    fsyncDir(dir);
  }
  const ms = performance.now() - t0;
  for (const name of names) await qmp.execute('blockdev-del', { 'node-name': name }).catch(() => undefined);
  fs.rmSync(a);
  fs.rmSync(b);
  return ms;
}

function durableWrite(file, text) {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, text);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

function fsyncDir(dir) {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Times Boxkeep's own block job (job-id rm-…) as the floor's is timed: from the command to
 * BLOCK_JOB_COMPLETED. The function returned gives the last one's milliseconds.
 */
function timeJobs(qmp) {
  let sent = 0;
  let ms = null;
  const execute = qmp.execute.bind(qmp);
  qmp.execute = (command, args, opts) => {
    if ((command === 'block-commit' || command === 'block-stream') && String(args?.['job-id']).startsWith('rm-')) sent = performance.now();
    return execute(command, args, opts);
  };
  qmp.on('BLOCK_JOB_COMPLETED', (e) => {
    if (String(e.data?.device).startsWith('rm-')) ms = performance.now() - sent;
  });
  return () => {
    const took = ms;
    ms = null;
    if (took === null) throw new Error('bench: the removal ran no block job');
    return took;
  };
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
    // 1 MiB of random data in the guest's RAM, written again and again: the layers' sizes are
    // what matters, and urandom under TCG would make the larger cases slow to set up.
    await con.run('dd if=/dev/urandom of=/tmp/r1 bs=1M count=1 2>/dev/null');
    const fill = (file, mib) => con.run(`i=0; while [ $i -lt ${mib} ]; do cat /tmp/r1; i=$((i+1)); done > ${file}; sync`);
    /**
     * A snapshot holding `snapMiB`, the live disk `liveMiB` on top of it. A snapshot first, so the
     * removed one holds only what is written for it (the last removal merged layers below it).
     */
    const chain = async (snapMiB, liveMiB) => {
      k++;
      await con.run('rm -f /mnt/s* /mnt/l*; sync');
      await core.snapshots.create({ box: box.id, name: `below-${k}` });
      await fill(`/mnt/s${k}`, snapMiB);
      const removed = await core.snapshots.create({ box: box.id, name: `r${k}` });
      await fill(`/mnt/l${k}`, liveMiB);
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
    const lastJob = timeJobs(core.vms.session(box.id).qmp);
    /** One case: the bare job on a copy of the chain, then Boxkeep's removal of that chain. */
    const cases = {};
    const measure = async (name, snapMiB, liveMiB, bare, env) => {
      const c = (cases[name] ??= { boxkeep: [], job: [], bare: [], safe: [], chose: new Set() });
      const r = await chain(snapMiB, liveMiB);
      c.bare.push(await bareJob(core, box, bare, r, box.liveDiskPath, dir));
      c.safe.push(await bareJob(core, box, bare, r, box.liveDiskPath, dir, { safe: true }));
      directions.length = 0;
      c.boxkeep.push(await remove(r, env));
      c.job.push(lastJob());
      for (const d of directions) c.chose.add(d);
    };
    for (let i = 0; i < ROUNDS; i++) {
      await measure('commitA', 50, 1, 'commit');
      await measure('streamA', 50, 1, 'commit', 'stream');
      await measure('streamB', 1, 50, 'stream');
    }
    for (let i = 0; i < BIG_ROUNDS; i++) {
      await measure('commitC', 200, 50, 'commit');
      await measure('streamD', 50, 200, 'stream');
    }
    con.close();
    const overhead = (c) => c.boxkeep.map((ms, i) => ms - c.job[i]);
    const extra = (c) => ({ job_ms: round(median(c.job)), overhead_ms: round(median(overhead(c))), samples: c.boxkeep.length });
    const caseRows = (c, label, floorName, rounds) => [
      row(`live remove, ${label} (chose ${[...c.chose].join(',')}), median of ${rounds} (floor: bare QMP ${floorName})`, c.boxkeep, c.bare, '≤ 1.2×', extra(c)),
      row(`  its fixed overhead: Boxkeep's time minus its own job (command to BLOCK_JOB_COMPLETED)`, overhead(c), null, 'report', extra(c)),
      row(`  beside the least a crash-safe removal adds (floor: the bare job with a durable record before it and its removal after${floorName === 'active commit' ? ', a durable note in PENDING before job-finalize' : ''})`, c.boxkeep, c.safe, 'report'),
    ];
    rows.push(...caseRows(cases.commitA, '50 MiB snapshot / 1 MiB live disk', 'active commit', ROUNDS));
    rows.push(row(`live remove, 50 MiB snapshot / 1 MiB live disk, streamed as before, median of ${ROUNDS} (floor: bare QMP active commit)`, cases.streamA.boxkeep, cases.streamA.bare, 'report: what choosing saves', extra(cases.streamA)));
    rows.push(...caseRows(cases.streamB, '1 MiB snapshot / 50 MiB live disk', 'block-stream', ROUNDS));
    rows.push(...caseRows(cases.commitC, '200 MiB snapshot / 50 MiB live disk', 'active commit', BIG_ROUNDS));
    rows.push(...caseRows(cases.streamD, '50 MiB snapshot / 200 MiB live disk', 'block-stream', BIG_ROUNDS));
  } finally {
    await closeVmBench(core, dir);
  }
  return rows;
}
