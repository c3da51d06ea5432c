// Guest agent benchmarks (issue 13): what fsfreeze/thaw adds to a disk-only live snapshot, on
// one guest (the tiny test guest with qemu-ga, a writer running in it) with its agent and then
// with qemu-ga killed in it. The floor is the pause window of a snapshot without a freeze:
// with the agent, the guest's writes also stall for the frozen window around that pause.
// Also: boot to ready with and without qemu-ga started, and the cost of a guest with no agent
// (the guest-sync timeout before going crash-consistent).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { closeVmBench, requireBuilt, round, row, tempDir } from './lib.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const SNAPSHOTS = Number(process.env.BENCH_AGENT_SNAPSHOTS ?? 15);
const BOOTS = 4;

function buildGuest(args = []) {
  const out = execFileSync(process.execPath, [path.join(root, 'scripts/build-guest.mjs'), ...args], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

async function waitFor(check, ms = 120_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const logSize = (log) => (fs.existsSync(log) ? fs.statSync(log).size : 0);
const readyAfter = (log, from) => () => fs.existsSync(log) && fs.readFileSync(log, 'utf8').slice(from).includes('BOXKEEP-GUEST-READY');

function send(socketPath, line) {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socketPath);
    c.once('error', reject);
    c.once('connect', () => c.end(line + '\n', resolve));
  });
}

export async function agentBenchmarks() {
  const g = buildGuest();
  const dir = tempDir('bkga-');
  const marks = { pause: [], frozen: [] };
  const logger = {
    info: (m, f) => {
      if (m === 'live snapshot stall') marks.pause.push(f.stall_ms);
      if (m === 'guest frozen') marks.frozen.push(f.frozen_ms);
    },
    warn() {}, error() {},
  };
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test', logger, supervisor: { stopTimeoutMs: 1000 } });
  const rows = [];
  try {
    const disk = buildGuest(['--data-disk', path.join(dir, 'd.qcow2'), '--size', '64M']).dataDisk;
    const base = 'console=ttyS0 panic=-1 quiet';
    await core.images.import({ path: disk, name: 'plain', kernelPath: g.kernel, initrdPath: g.initrd, append: base });
    await core.images.import({ path: disk, name: 'ga', kernelPath: g.kernel, initrdPath: g.initrd, append: `${base} boxkeep.agent=on` });

    // Boot to ready with qemu-ga started and without.
    const boots = {};
    for (const image of ['plain', 'ga']) {
      const box = await core.boxes.create({ name: `boot-${image}`, image });
      const log = core.vms.logFile(box.id);
      boots[image] = [];
      for (let i = 0; i < BOOTS; i++) {
        const from = logSize(log);
        const t0 = performance.now();
        await core.vms.start(box.id);
        await waitFor(readyAfter(log, from));
        boots[image].push(performance.now() - t0);
        await core.vms.stop(box.id, { force: true });
      }
    }
    rows.push(row('box start to guest ready, qemu-ga started (floor: not started)', boots.ga, boots.plain, 'report: what the agent adds to a boot'));

    // One guest, a writer in it; snapshots with its agent, then with qemu-ga killed.
    const box = await core.boxes.create({ name: 'snap', image: 'ga' });
    const log = core.vms.logFile(box.id);
    const from = logSize(log);
    await core.vms.start(box.id);
    await waitFor(readyAfter(log, from));
    const serial = path.join(core.vms.session(box.id).runDir, 'serial.sock');
    await send(serial, '(while true; do dd if=/dev/zero of=/mnt/noise bs=64k count=4 2>/dev/null; done) &');
    const take = async (label, prefix = label) => {
      marks.pause.length = 0;
      marks.frozen.length = 0;
      const totals = [];
      for (let i = 0; i < SNAPSHOTS; i++) {
        const t0 = performance.now();
        const s = await core.snapshots.create({ box: box.id, name: `${prefix}-${label}-${i}` });
        totals.push(performance.now() - t0);
        if (label === 'frozen' && s.taken !== 'filesystems-frozen') throw new Error(`snapshot ${s.name} was ${s.taken}`);
        if (label === 'plain' && s.taken !== 'crash-consistent') throw new Error(`snapshot ${s.name} was ${s.taken}`);
      }
      return { pause: [...marks.pause], frozen: [...marks.frozen], totals };
    };
    const frozen = await take('frozen');
    // An agent that hangs keeps its port open: each snapshot waits out the sync, then goes on.
    await send(serial, 'kill -STOP $(cat /var/run/qemu-ga.pid)');
    await new Promise((r) => setTimeout(r, 1000));
    const hung = await take('plain');
    // Gone, its port closed: QEMU says so (query-chardev) and nothing is waited for.
    await send(serial, 'kill -KILL $(cat /var/run/qemu-ga.pid)');
    await new Promise((r) => setTimeout(r, 1000));
    const plain = await take('plain', 'gone');
    rows.push(row(`live snapshot, guest writes stalled (frozen window), median of ${SNAPSHOTS} (floor: pause without freeze)`, frozen.frozen, plain.pause, 'report: the extra pause freeze/thaw adds'));
    rows.push(row(`live snapshot stall (the switch) with the freeze, median of ${SNAPSHOTS} (floor: without)`, frozen.pause, plain.pause, 'about 1: the freeze is outside the pause'));
    rows.push(row(`live snapshot create, with the agent, median of ${SNAPSHOTS}`, frozen.totals, null, 'report'));
    rows.push(row(`live snapshot create, qemu-ga stopped (SIGSTOP: port open, no answer), median of ${SNAPSHOTS} (floor: qemu-ga gone)`, hung.totals, plain.totals, 'report: about 1 s more (AGENT_SYNC_MS)'));
    rows.push(row(`live snapshot create, qemu-ga gone (port closed), median of ${SNAPSHOTS} (floor: with the agent)`, plain.totals, frozen.totals, 'report: no wait for a guest with no agent'));
    rows.push({ name: 'frozen window, max', median_ms: round(Math.max(...frozen.frozen)), floor_ms: round(Math.max(...plain.pause)), ratio: null, target: 'report' });
    rows.push({ name: 'guest initramfs with qemu-ga and its libraries (KiB)', median_ms: round(fs.statSync(g.initrd).size / 1024), floor_ms: null, ratio: null, target: 'report (KiB, not ms)' });
  } finally {
    await closeVmBench(core, dir);
  }
  return rows;
}
