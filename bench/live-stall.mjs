// Guest-visible stall of a live snapshot (issue 17): the guest's stall probe (boxkeep.probe=on,
// scripts/build-guest.mjs) stamps its clock on the serial console every millisecond; the largest
// gap between two stamps while the snapshot is taken is what the guest lost. Beside the floor: a
// bare QMP `transaction {blockdev-snapshot}` onto a prepared overlay on the same guest in the same
// run, measured over a window as long as that Boxkeep snapshot took (so both see as much of the
// machine's own noise). Idle guest, then a guest writing to its disk; in each phase Boxkeep and
// the floor alternate (BENCH_STALL_SNAPSHOTS pairs), so a drift in the machine's load cannot
// favour one. synced_*: the bare transaction right after a durable write like the intent's
// `ready`, to tell whether that fsync just before the switch slows QEMU's drain; fresh_*: the
// bare transaction with its overlay's nodes added inside the window, just before it, as Boxkeep
// adds them a few ms before its switch (does opening them hold the guest up next to the switch?).
// The host's arrival gaps of the stamps are reported too: they also show a pause, during which
// the guest's clock stands still.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { closeVmBench, guest, median, requireBuilt, round, row, tempDir, waitReady } from './lib.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const { clearIntent, writeIntent } = await import('../dist/electron/core/journal.js');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const SNAPSHOTS = Number(process.env.BENCH_STALL_SNAPSHOTS ?? 15);
/** Before and after each measured operation: stamps on both sides of it. */
const MARGIN_MS = 30;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The probe's stamps as they arrive: [host ms, guest ms]. */
function listen(stream) {
  const stamps = [];
  let text = '';
  const decoder = new TextDecoder();
  stream.onData((bytes) => {
    const now = performance.now();
    text += decoder.decode(bytes, { stream: true });
    const lines = text.split('\n');
    text = lines.pop();
    for (const l of lines) {
      const m = /PROBE (\d+)\.(\d{6})/.exec(l);
      if (m) stamps.push([now, Number(m[1].slice(-6)) * 1000 + Number(m[2]) / 1000]);
    }
  });
  return stamps;
}

/** Largest gaps (guest clock, host arrival) among the stamps that arrived in [from, to]. */
function gaps(stamps, from, to) {
  const inside = stamps.filter(([h]) => h >= from && h <= to);
  let guestGap = 0;
  let hostGap = 0;
  for (let i = 1; i < inside.length; i++) {
    guestGap = Math.max(guestGap, inside[i][1] - inside[i - 1][1]);
    hostGap = Math.max(hostGap, inside[i][0] - inside[i - 1][0]);
  }
  if (inside.length < 2) throw new Error('bench: the probe printed no stamps around the operation');
  return { guestGap, hostGap };
}

/** When the last QMP `transaction` was sent and answered (host ms): the switch itself. */
let lastSwitch = [0, 0];
function timeSwitches(qmp) {
  const execute = qmp.execute.bind(qmp);
  qmp.execute = async (command, args, opts) => {
    if (command !== 'transaction') return execute(command, args, opts);
    const sent = performance.now();
    try {
      return await execute(command, args, opts);
    } finally {
      lastSwitch = [sent, performance.now()];
    }
  };
}

/** The largest guest gap among the stamps from the last one that arrived before the transaction was sent to the first after its reply. */
function switchGap(stamps) {
  const [sent, answered] = lastSwitch;
  const first = stamps.findLastIndex(([h]) => h < sent);
  const last = stamps.findIndex(([h]) => h > answered);
  let gap = 0;
  for (let i = Math.max(first, 0) + 1; i <= last; i++) gap = Math.max(gap, stamps[i][1] - stamps[i - 1][1]);
  return gap;
}

/**
 * The largest gaps over the whole operation (what the task measures), and over the switch
 * alone (switchGap).
 */
async function around(stamps, op, padMs = 0) {
  await sleep(MARGIN_MS + padMs);
  const from = performance.now() - MARGIN_MS;
  const t0 = performance.now();
  await op();
  const took = performance.now() - t0;
  await sleep(MARGIN_MS + padMs);
  return { ...gaps(stamps, from - padMs, performance.now()), took, switchGap: switchGap(stamps), switchMs: lastSwitch[1] - lastSwitch[0] };
}

/**
 * Undoes a bare transaction: QEMU's top back to the node below the bare overlay, by an active
 * commit of the overlay into it (a few ms of writes), so the next Boxkeep snapshot finds the
 * chain its node map names.
 */
async function bringBack(qmp, overlay, below) {
  const job = `back-${overlay}`;
  const on = (event) => qmp.waitForEvent(event, (e) => e.data?.device === job, 60_000);
  const ready = on('BLOCK_JOB_READY');
  const completed = on('BLOCK_JOB_COMPLETED');
  await qmp.execute('block-commit', { 'job-id': job, device: overlay, 'base-node': below });
  await ready;
  await qmp.execute('block-job-complete', { device: job });
  const e = await completed;
  if (e.data?.error) throw new Error(`bench: bringing QEMU's top back failed: ${e.data.error}`);
}

/** Runs a shell line in the guest over the console stream and waits for its marker. */
async function run(stream, seen, cmd) {
  const id = Math.random().toString(36).slice(2);
  const marker = `BK-DONE-${id}`;
  const found = new Promise((resolve) => {
    const off = stream.onData((b) => { seen.text = (seen.text + Buffer.from(b).toString()).slice(-4096); if (seen.text.includes(marker)) { off(); resolve(); } });
  });
  stream.write(new TextEncoder().encode(`${cmd}; echo BK-DONE-"${id}"\n`));
  await Promise.race([found, sleep(60_000).then(() => { throw new Error(`bench: guest command did not finish: ${cmd}`); })]);
}

export async function liveStallBenchmarks() {
  const g = guest();
  const dir = tempDir('bkstall-');
  const logged = [];
  const logger = { info: (m, f) => { if (m === 'live snapshot stall') logged.push(f.stall_ms); }, warn() {}, error() {} };
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test', logger, supervisor: { stopTimeoutMs: 1000 } });
  try {
    const data = path.join(dir, 'd.qcow2');
    execFileSync(process.execPath, [path.join(root, 'scripts/build-guest.mjs'), '--data-disk', data, '--size', '96M']);
    await core.images.import({ path: data, name: 'tiny', kernelPath: g.kernel, initrdPath: g.initrd, append: 'console=ttyS0 panic=-1 quiet boxkeep.probe=on' });
    const box = await core.boxes.create({ name: 'b', image: 'tiny' });
    await core.vms.start('b');
    await waitReady(core.vms.logFile(box.id), 0);
    timeSwitches(core.vms.session(box.id).qmp);
    const stream = await core.vms.openConsole('b');
    const stamps = listen(stream);
    const seen = { text: '' };
    while (stamps.length < 500) await sleep(50);

    // Interleaved: each Boxkeep snapshot, then a bare transaction over a window as long as that
    // snapshot took, then the same bare transaction right after a durable write like the
    // intent's `ready` (the hypothesis that the fsync just before the switch slows QEMU's
    // drain). After each bare one, outside its window, QEMU's top is brought back, so a drift
    // in the machine's load falls on all three alike and Boxkeep's node map stays true.
    const session = core.vms.session(box.id);
    const kinds = ['boxkeep', 'floor', 'synced', 'fresh'];
    const results = Object.fromEntries(kinds.map((k) => [k, { idle: [], writing: [] }]));
    const syncDir = path.join(dir, 'sync');
    fs.mkdirSync(syncDir);
    let n = 0;
    const bare = async (padMs, arm) => {
      const top = session.nodes.top.format;
      const file = path.join(dir, `bare-${++n}.qcow2`);
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, String(box.diskSize)]);
      const addNodes = async () => {
        await session.qmp.execute('blockdev-add', { driver: 'file', 'node-name': `fbare${n}`, filename: file });
        await session.qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': `qbare${n}`, file: `fbare${n}`, backing: null });
      };
      if (arm !== 'fresh') await addNodes();
      const r = await around(stamps, async () => {
        if (arm === 'fresh') await addNodes();
        if (arm === 'synced') writeIntent(syncDir, { id: 'bench', op: 'bench', startedAt: Date.now(), ready: true });
        await session.qmp.execute('transaction', { actions: [{ type: 'blockdev-snapshot', data: { node: top, overlay: `qbare${n}` } }] });
      }, padMs);
      await bringBack(session.qmp, `qbare${n}`, top);
      for (const node of [`qbare${n}`, `fbare${n}`]) await session.qmp.execute('blockdev-del', { 'node-name': node });
      fs.rmSync(file);
      clearIntent(syncDir, 'bench');
      return r;
    };
    const phase = async (name) => {
      for (let i = 0; i < SNAPSHOTS; i++) {
        const s = await around(stamps, () => core.snapshots.create({ box: 'b', name: `${name}-${i}` }));
        results.boxkeep[name].push(s);
        // As long a window as that snapshot took: the same chance of the machine's own gaps.
        for (const arm of ['floor', 'synced', 'fresh']) results[arm][name].push(await bare(s.took / 2, arm));
      }
    };
    await phase('idle');
    const idleLogged = logged.splice(0);
    await run(stream, seen, '(while :; do dd if=/dev/zero of=/mnt/noise bs=64k count=8 conv=fsync 2>/dev/null; done) >/dev/null 2>&1 & echo $! > /tmp/writer');
    await phase('writing');
    const writingLogged = logged.splice(0);
    await run(stream, seen, 'kill $(cat /tmp/writer)');
    stream.close();
    const boxkeep = results.boxkeep;
    const floor = results.floor;
    const { synced, fresh } = results;

    const extra = (phase, loggedMs) => ({
      host_gap_ms: round(median(boxkeep[phase].map((s) => s.hostGap))), floor_host_gap_ms: round(median(floor[phase].map((s) => s.hostGap))),
      switch_gap_ms: round(median(boxkeep[phase].map((s) => s.switchGap))), floor_switch_gap_ms: round(median(floor[phase].map((s) => s.switchGap))),
      transaction_ms: round(median(boxkeep[phase].map((s) => s.switchMs))), floor_transaction_ms: round(median(floor[phase].map((s) => s.switchMs))),
      synced_gap_ms: round(median(synced[phase].map((s) => s.guestGap))), synced_switch_gap_ms: round(median(synced[phase].map((s) => s.switchGap))),
      fresh_gap_ms: round(median(fresh[phase].map((s) => s.guestGap))), fresh_switch_gap_ms: round(median(fresh[phase].map((s) => s.switchGap))),
      logged_stall_ms: round(median(loggedMs)), snapshot_ms: round(median(boxkeep[phase].map((s) => s.took))),
      // Paired: in how many of the interleaved pairs Boxkeep's gap was the larger (noise: about half).
      pairs_over_floor: `${boxkeep[phase].filter((s, i) => s.guestGap > floor[phase][i].guestGap).length}/${boxkeep[phase].length}`,
      samples: boxkeep[phase].length,
    });
    return [
      row(`live snapshot, idle guest: largest gap between probe stamps (floor: bare QMP transaction {blockdev-snapshot}), median of ${SNAPSHOTS} interleaved`,
        boxkeep.idle.map((s) => s.guestGap), floor.idle.map((s) => s.guestGap), '≤ 1.2× the floor', extra('idle', idleLogged)),
      row(`live snapshot, guest writing to disk: largest gap between probe stamps (floor: bare QMP transaction), median of ${SNAPSHOTS} interleaved`,
        boxkeep.writing.map((s) => s.guestGap), floor.writing.map((s) => s.guestGap), '≤ 1.2× the floor', extra('writing', writingLogged)),
    ];
  } finally {
    await closeVmBench(core, dir);
  }
}
