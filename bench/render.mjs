// Render benchmarks (issue 5): how long a person waits for the snapshot tree of a box with
// 1,000 snapshots in Debian's Chromium, against `boxkeep serve` on a temporary home. Measured
// by the page itself (performance measure boxkeep:tree-render: tree data in the store → first
// frame painted with it, renderer/src/perf.ts), and from a Chromium trace of the same window,
// the CPU time the page's main thread spent in it. On shared cores the wall time also counts
// waiting for a core; the CPU time is the page's own work. The floor is the same action on a
// box with 2 snapshots: what any tree costs, so the ratio is what the 1,000 rows add.
//
// The 1,000 snapshots are rows written through the store (on disks that exist: hard links to
// one empty overlay), not 1,000 qemu-img runs: this benchmarks the UI, not the engine.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MiB, print, requireBuilt, round, row, sh, tempDir } from './lib.mjs';
import { seedSnapshots } from './seed-tree.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const { chromium } = await import('playwright-core');

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = '/usr/lib/chromium/chromium';
const COUNT = 1000;
const N = Number(process.env.BENCH_RENDER_N ?? 7);
const MEASURE = 'boxkeep:tree-render';

export function requireChromium() {
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
  } catch {
    console.error(`bench: the render benchmarks need Chromium at ${CHROMIUM}; install it with: sudo apt-get install chromium`);
    process.exit(1);
  }
}

export function buildRenderer(outDir) {
  const vite = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  sh(process.execPath, [vite, 'build', '--config', path.join(ROOT, 'renderer', 'vite.config.mts'), '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error']);
}


/** Debian's Chromium, headless, as every Chromium bench runs it. */
export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'] });
}

async function prepareHome(dir) {
  const home = path.join(dir, 'home');
  const core = await openCore({ home, owner: 'test' });
  try {
    const seed = path.join(dir, 'base.qcow2');
    sh('qemu-img', ['create', '-q', '-f', 'qcow2', seed, String(16 * MiB)]);
    const image = await core.images.import({ path: seed, name: 'base' });
    // Created first, so a fresh page shows it first.
    await core.boxes.create({ name: 'big', image: image.id });
    await seedSnapshots(core, 'big', COUNT);
    const big = core.boxes.resolve('big').id;
    const small = (await core.boxes.create({ name: 'small', image: image.id })).id;
    for (const name of ['installed', 'configured']) await core.snapshots.create({ box: small, name });
    return { home, big, small };
  } finally {
    await core.close();
  }
}

async function serve(home, rendererDir) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'boxkeep.mjs'), 'serve', '--port', '0'], {
    env: { ...process.env, BOXKEEP_HOME: home, BOXKEEP_RENDERER_DIR: rendererDir, BOXKEEP_LOG: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`boxkeep serve printed no URL within 30 s:\n${out}`)), 30_000);
    child.stdout.on('data', () => {
      const m = /Boxkeep is at (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`boxkeep serve exited with ${code}:\n${out}`)));
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => resolve(clearTimeout(kill)));
      child.kill('SIGTERM');
    });
  return { url, stop };
}

/** Runs `act`, waits for the render of `boxId`'s tree with `snapshots` snapshots: wall and CPU ms. */
async function timeRender(context, page, boxId, snapshots, act, { newDocument = false } = {}) {
  const cdp = await context.newCDPSession(page);
  const events = [];
  cdp.on('Tracing.dataCollected', (d) => events.push(...d.value));
  const complete = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
  await cdp.send('Tracing.start', { categories: 'disabled-by-default-devtools.timeline,blink.user_timing', transferMode: 'ReportEvents' });
  try {
    // A new document starts a new performance timeline.
    const before = newDocument ? 0 : await page.evaluate((name) => performance.getEntriesByName(name).length, MEASURE);
    await act();
    const handle = await page.waitForFunction(
      ([name, from, id, count]) => {
        const found = performance.getEntriesByName(name).slice(from).find((e) => e.detail?.boxId === id && e.detail?.snapshots === count);
        return found ? found.duration : null;
      },
      [MEASURE, before, boxId, snapshots],
      { timeout: 30_000, polling: 50 },
    );
    const wall = await handle.jsonValue();
    await cdp.send('Tracing.end');
    await complete;
    return { wall, cpu: mainThreadCpu(events, boxId, snapshots) };
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/** CPU time of the renderer main thread's tasks inside the measure's window, in ms. */
function mainThreadCpu(events, boxId, snapshots) {
  const ours = (e) => {
    const detail = detailOf(e);
    return e.name === MEASURE && e.ph === 'b' && detail?.boxId === boxId && detail?.snapshots === snapshots;
  };
  const begin = events.find(ours);
  if (!begin) {
    if (process.env.BENCH_DEBUG) console.error(JSON.stringify(events.filter((e) => e.name === MEASURE)));
    return Number.NaN;
  }
  const end = events.find((e) => e.name === MEASURE && e.ph === 'e' && e.ts >= begin.ts && e.tid === begin.tid);
  if (!end) return Number.NaN;
  let cpu = 0;
  for (const e of events) {
    if (e.ph !== 'X' || e.name !== 'RunTask' || e.pid !== begin.pid || e.tid !== begin.tid || !e.dur) continue;
    const from = Math.max(e.ts, begin.ts);
    const to = Math.min(e.ts + e.dur, end.ts);
    // Thread time of the task, prorated to the part of it inside the window.
    if (to > from) cpu += (to - from) * ((e.tdur ?? e.dur) / e.dur);
  }
  return cpu / 1000;
}

/** The measure's detail as the trace records it (a JSON string in args.detail, or in args.data). */
function detailOf(e) {
  const raw = e.args?.detail ?? e.args?.data?.detail;
  if (typeof raw !== 'string') return raw ?? null;
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

async function takeSnapshotFromUi(page, boxName) {
  await page.keyboard.press('Control+Shift+S');
  const dialog = page.getByRole('dialog', { name: `Take a snapshot of ${boxName}` });
  await dialog.getByRole('button', { name: 'Take snapshot' }).click();
  await dialog.waitFor({ state: 'hidden' });
}

export async function renderBenchmarks() {
  requireChromium();
  const dir = tempDir('bkrb-');
  const rendererDir = path.join(dir, 'renderer');
  let served = null;
  let browser = null;
  try {
    buildRenderer(rendererDir);
    const { home, big, small } = await prepareHome(dir);
    served = await serve(home, rendererDir);
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
    const page = await context.newPage();
    const nav = page.getByRole('navigation', { name: 'Boxes' });
    const select = (name) => () => nav.getByRole('button', { name: new RegExp(`^${name}`) }).click();

    // A fresh page on the big box: V8 compiles the app while it renders the tree.
    const cold = [];
    for (let i = 0; i < N; i++) {
      cold.push(await timeRender(context, page, big, COUNT, () => (i === 0 ? page.goto(served.url) : page.reload()), { newDocument: true }));
    }

    // Opening a box from the sidebar, the app already running: big, and small as the floor.
    const open = { big: [], small: [] };
    for (let i = 0; i < N; i++) {
      open.small.push(await timeRender(context, page, small, 2, select('small')));
      open.big.push(await timeRender(context, page, big, COUNT, select('big')));
    }

    // A fresh tree arriving by event: a snapshot taken from the UI, on each box in turn.
    const refresh = { big: [], small: [] };
    for (let i = 1; i <= N; i++) {
      refresh.big.push(await timeRender(context, page, big, COUNT + i, () => takeSnapshotFromUi(page, 'big')));
      await timeRender(context, page, small, 2 + i - 1, select('small'));
      refresh.small.push(await timeRender(context, page, small, 2 + i, () => takeSnapshotFromUi(page, 'small')));
      await timeRender(context, page, big, COUNT + i, select('big'));
    }

    const wall = (xs) => xs.map((x) => x.wall);
    const cpu = (xs) => xs.map((x) => x.cpu);
    const extra = (xs) => ({ samples_wall_ms: wall(xs).map(round), samples_cpu_ms: cpu(xs).map(round), load: round(os.loadavg()[0]) });
    return [
      row('render: open the 1,000-snapshot box, wall', wall(open.big), wall(open.small), 'under 100 ms', extra(open.big)),
      row('render: open the 1,000-snapshot box, main-thread CPU', cpu(open.big), cpu(open.small), 'under 100 ms', extra(open.big)),
      row('render: refresh after an event, 1,000 snapshots, wall', wall(refresh.big), wall(refresh.small), 'under 100 ms', extra(refresh.big)),
      row('render: refresh after an event, 1,000 snapshots, main-thread CPU', cpu(refresh.big), cpu(refresh.small), 'under 100 ms', extra(refresh.big)),
      row('render: fresh page showing the 1,000-snapshot box (cold), wall', wall(cold), null, 'under 1000 ms', extra(cold)),
    ];
  } finally {
    await browser?.close().catch(() => {});
    await served?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  print(await renderBenchmarks(), process.argv.includes('--json'));
}
