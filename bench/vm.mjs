// VM benchmarks (issue 3): live-snapshot pause window, box start to guest ready, memory with
// four running boxes, guest sequential read at chain depth 1 vs 32. Real QEMU under TCG.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { closeVmBench, median, requireBuilt, round, tempDir } from './lib.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function guest() {
  const out = execFileSync(process.execPath, [path.join(root, 'scripts/build-guest.mjs')], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

function dataDisk(file, sizeMiB) {
  execFileSync(process.execPath, [path.join(root, 'scripts/build-guest.mjs'), '--data-disk', file, '--size', `${sizeMiB}M`], { encoding: 'utf8' });
  return file;
}

/** A minimal console driver: waits for the ready line, runs `cmd; echo DONE_n`. */
class Console {
  static async open(socketPath) {
    for (let i = 0; ; i++) {
      try {
        const s = await new Promise((resolve, reject) => {
          const c = net.createConnection(socketPath);
          c.once('connect', () => resolve(c));
          c.once('error', reject);
        });
        return new Console(s);
      } catch (err) {
        if (i > 500) throw err;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }
  constructor(socket) {
    this.buf = '';
    this.n = 0;
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d) => { this.buf += d; this.wake?.(); });
  }
  async until(re, ms = 120_000) {
    const end = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.buf);
      if (m) { this.buf = this.buf.slice(m.index + m[0].length); return m; }
      if (Date.now() > end) throw new Error(`console: ${re} did not appear`);
      await new Promise((r) => { this.wake = r; setTimeout(r, 100); });
    }
  }
  async run(cmd) {
    const n = ++this.n;
    this.socket.write(`${cmd}; echo DONE_${n}_$?\n`);
    return this.until(new RegExp(`DONE_${n}_(\\d+)`));
  }
  close() { this.socket.destroy(); }
}

function readyIn(log, from) {
  if (!fs.existsSync(log)) return false;
  return fs.readFileSync(log, 'utf8').slice(from).includes('BOXKEEP-GUEST-READY');
}

async function waitReady(log, from, ms = 120_000) {
  const end = Date.now() + ms;
  while (!readyIn(log, from)) {
    if (Date.now() > end) throw new Error('guest did not get ready');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

export async function vmBenchmarks() {
  const g = guest();
  const dir = tempDir('bkvm-');
  const pauses = [];
  const logger = { info: (m, f) => { if (m === 'live snapshot stall') pauses.push(f.stall_ms); }, warn() {}, error() {} };
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test', logger, supervisor: { stopTimeoutMs: 1000 } });
  const rows = [];
  try {
    await core.images.import({ path: dataDisk(path.join(dir, 'd.qcow2'), 96), name: 'tiny', kernelPath: g.kernel, initrdPath: g.initrd, append: 'console=ttyS0 panic=-1 quiet' });

    // Start to ready, five boots.
    const box = await core.boxes.create({ name: 'b0', image: 'tiny' });
    const log = core.vms.logFile(box.id);
    const starts = [];
    for (let i = 0; i < 5; i++) {
      const from = fs.existsSync(log) ? fs.statSync(log).size : 0;
      const t0 = performance.now();
      await core.vms.start('b0');
      await waitReady(log, from);
      starts.push(performance.now() - t0);
      if (i < 4) await core.vms.stop('b0', { force: true });
    }
    rows.push({ name: 'box start to guest ready (TCG, tiny guest)', median_ms: round(median(starts)), floor_ms: null, ratio: null, target: 'report' });

    // Pause window over 50 live snapshots while the guest writes.
    const con = await Console.open(path.join(core.vms.session(box.id).runDir, 'serial.sock'));
    await con.run('(while true; do dd if=/dev/zero of=/mnt/noise bs=64k count=4 2>/dev/null; done) & true');
    for (let i = 0; i < 50; i++) await core.snapshots.create({ box: 'b0', name: `p${i}` });
    rows.push({ name: 'live snapshot stall (the switch; no pause), median of 50', median_ms: round(median(pauses)), floor_ms: null, ratio: null, target: 'under 10 ms' });
    rows.push({ name: 'live snapshot stall (the switch; no pause), max of 50', median_ms: round(Math.max(...pauses)), floor_ms: null, ratio: null, target: 'report' });
    con.close();
    await core.vms.stop('b0', { force: true });

    // Memory with four running boxes.
    const before = rssKiB(process.pid);
    for (let i = 1; i <= 4; i++) {
      await core.boxes.create({ name: `m${i}`, image: 'tiny' });
      const b = core.boxes.resolve(`m${i}`);
      await core.vms.start(b.id);
      await waitReady(core.vms.logFile(b.id), 0);
    }
    const after = rssKiB(process.pid);
    const qemuRss = [1, 2, 3, 4].map((i) => rssKiB(core.vms.session(core.boxes.resolve(`m${i}`).id).pid));
    rows.push({ name: 'supervisor RSS growth with 4 running boxes (MiB)', median_ms: round((after - before) / 1024), floor_ms: null, ratio: null, target: 'report (MiB, not ms)' });
    rows.push({ name: 'QEMU RSS per box at -m 256 (MiB, median of 4)', median_ms: round(median(qemuRss) / 1024), floor_ms: null, ratio: null, target: 'report (MiB, not ms)' });
    for (let i = 1; i <= 4; i++) await core.vms.stop(`m${i}`, { force: true });

    // Sequential read in the guest at chain depth 1 vs 32.
    await core.boxes.create({ name: 'r', image: 'tiny' });
    const read = async (label) => {
      const b = core.boxes.resolve('r');
      const logFile = core.vms.logFile(b.id);
      const from = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
      await core.vms.start('r');
      await waitReady(logFile, from);
      const c = await Console.open(path.join(core.vms.session(b.id).runDir, 'serial.sock'));
      if (label === 'fill') {
        await c.run('dd if=/dev/urandom of=/mnt/big bs=1M count=64 2>/dev/null; sync');
      }
      const samples = [];
      for (let i = 0; i < 3; i++) {
        await c.run('sync; echo 3 > /proc/sys/vm/drop_caches');
        const t0 = performance.now();
        await c.run('dd if=/dev/vda of=/dev/null bs=1M count=80 2>/dev/null');
        samples.push(performance.now() - t0);
      }
      c.close();
      await core.vms.stop('r', { force: true });
      return (80 / (median(samples) / 1000));
    };
    await read('fill');
    const depth1 = await read('depth1');
    for (let i = 0; i < 31; i++) await core.snapshots.create({ box: 'r', name: `d${i}` });
    const depth32 = await read('depth32');
    rows.push({ name: 'guest sequential read, chain depth 1 (MiB/s)', median_ms: round(depth1), floor_ms: null, ratio: null, target: 'report (MiB/s, not ms)' });
    rows.push({ name: 'guest sequential read, chain depth 32 (MiB/s)', median_ms: round(depth32), floor_ms: round(depth1), ratio: round(depth32 / depth1), target: 'report: ratio below ~0.7 means suggest consolidation' });
  } finally {
    await closeVmBench(core, dir);
  }
  return rows;
}
