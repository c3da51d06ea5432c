// AutoProtect (issue 14): planning the pruning of a year of hourly automatic snapshots (the
// keep/remove decision over 8,760 rows) beside sorting the same rows, the least any plan pays;
// and the scheduler's idle cost, CPU per simulated hour (240 ticks of 15 s) with 20 protected
// boxes, beside 240 bare `SELECT * FROM boxes` (what any look at the boxes costs). Run alone
// with `node bench/protect.mjs [--json]`.
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { print, round, row, sh, tempDir, timeIt, requireBuilt } from './lib.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const { planPrune } = await import('../dist/electron/core/protect/retention.js');
const { ProtectScheduler, TICK_MS } = await import('../dist/electron/core/protect/scheduler.js');
const { PROTECT_PRESET } = await import('../dist/shared/protect.js');

const N = Number(process.env.BENCH_N ?? 15);
const HOUR = 3_600_000;

function yearOfHours() {
  const start = Date.UTC(2026, 0, 1);
  return Array.from({ length: 8760 }, (_, i) => ({ id: `s${String(i).padStart(5, '0')}`, createdAt: start + i * HOUR, auto: true, pinned: i % 500 === 0 }));
}

function cpuMs(fn) {
  const before = process.cpuUsage();
  return fn().then(() => {
    const d = process.cpuUsage(before);
    return (d.user + d.system) / 1000;
  });
}

export async function protectBenchmarks() {
  const rows = [];
  const year = yearOfHours();
  const plan = [];
  const sort = [];
  let pruned = 0;
  for (let i = 0; i < N; i++) {
    plan.push(await timeIt(async () => (pruned = planPrune(year, PROTECT_PRESET, year.at(-1).id).length)));
    sort.push(await timeIt(async () => [...year].sort((a, b) => b.createdAt - a.createdAt)));
  }
  rows.push(row('protect: plan the pruning of 8,760 hourly snapshots', plan, sort, 'floor: sorting the same rows by time', { pruned }));

  const dir = tempDir('bkprot-');
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test' });
  try {
    const image = path.join(dir, 'img.qcow2');
    sh('qemu-img', ['create', '-q', '-f', 'qcow2', image, '64M']);
    await core.images.import({ path: image, name: 'img' });
    fs.rmSync(image);
    for (let i = 0; i < 20; i++) {
      const box = await core.boxes.create({ name: `b${i}`, image: 'img' });
      // Running by its row, with an interval far off: every tick counts and decides, none snapshots.
      core.store.setBoxStatus(box.id, 'running');
      core.protect.set({ box: box.id, everyMinutes: 7 * 24 * 60, dailyAt: null, beforeStop: true });
    }
    let now = Date.now();
    const clock = { now: () => now, setTimeout: () => null, clearTimeout: () => {} };
    const scheduler = new ProtectScheduler(core, clock);
    const ticks = HOUR / TICK_MS;
    const hour = [];
    const floor = [];
    for (let i = 0; i < Math.min(N, 7); i++) {
      hour.push(await cpuMs(async () => {
        for (let t = 0; t < ticks; t++) {
          now += TICK_MS;
          await scheduler.tick();
        }
      }));
      floor.push(await cpuMs(async () => {
        for (let t = 0; t < ticks; t++) core.store.db.prepare('SELECT * FROM boxes').all();
      }));
    }
    await scheduler.stop();
    const r = row('protect: scheduler CPU per simulated hour, 20 protected boxes (ms of CPU)', hour, floor, `floor: ${ticks} bare SELECT * FROM boxes`);
    rows.push({ ...r, cpu_share_of_an_hour: round((r.median_ms / HOUR) * 100) + ' %' });
    for (const b of core.store.listBoxes()) core.store.setBoxStatus(b.id, 'stopped');
  } finally {
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) print(await protectBenchmarks(), process.argv.includes('--json'));
