// Screen benchmarks (issue 12): a screenshot through the channel (in process, and over the
// control socket the CLI uses while the app runs: base64 PNG in one JSON message, or streamed
// through displays:screenshot, as box screenshot does for any size), beside the floor of a raw
// QMP screendump on the same QEMU (QEMU writes the PNG, it is read back). The box boots a blank
// disk: SeaBIOS's text screen ("No bootable device"), 720×400. Also the cost a screen picture
// adds to a live snapshot.
import fs from 'node:fs';
import path from 'node:path';
import { median, requireBuilt, row, tempDir } from './lib.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const { createRouter } = await import('../dist/electron/core/router.js');
const { startControlServer } = await import('../dist/electron/host/control-server.js');
const { connectControl } = await import('../dist/electron/host/control-client.js');

const RUNS = 30;

/** Each fn timed `n` times, the three taking turns so the machine's load falls on all alike. */
async function interleaved(n, fns) {
  for (const fn of fns) await fn(); // the first ones warm QEMU's console and Node's code paths
  const out = fns.map(() => []);
  for (let i = 0; i < n; i++) {
    for (const [k, fn] of fns.entries()) {
      const t0 = performance.now();
      await fn();
      out[k].push(performance.now() - t0);
    }
  }
  return out;
}

export async function screenBenchmarks() {
  const dir = tempDir('bkscreen-');
  const blank = path.join(dir, 'blank.raw');
  fs.writeFileSync(blank, Buffer.alloc(1024 * 1024));
  const pictures = [];
  const logger = { info: (m, f) => { if (m === 'snapshot picture kept') pictures.push(f.elapsed_ms); }, warn() {}, error() {} };
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test', logger, supervisor: { stopTimeoutMs: 1000 } });
  const rows = [];
  let control;
  let client;
  try {
    await core.images.import({ path: blank, name: 'blank' });
    const box = await core.boxes.create({ name: 's', image: 'blank' });
    await core.vms.start('s');
    await new Promise((r) => setTimeout(r, 3000)); // SeaBIOS has drawn its screen
    const router = createRouter(core);
    control = await startControlServer({ router, socketPath: core.paths.controlSocket });
    client = await connectControl(core.paths.controlSocket);
    const session = core.vms.session(box.id);

    const rawDump = async () => {
      const file = path.join(session.runDir, 'bench-dump.png');
      await session.qmp.execute('screendump', { filename: file, format: 'png' });
      fs.readFileSync(file);
      fs.rmSync(file);
    };
    const streamed = async (open) => {
      const stream = await open();
      stream.onData(() => {});
      await new Promise((r) => stream.onClose(r));
    };
    const [floor, inProcess, overControl, streamOverControl] = await interleaved(RUNS, [
      rawDump,
      () => router.invoke('boxes:screenshot', { box: 's' }),
      () => client.invoke('boxes:screenshot', { box: 's' }),
      () => streamed(() => client.openStream('displays:screenshot', { box: 's' })),
    ]);
    const shot = await router.invoke('boxes:screenshot', { box: 's' });
    const size = `${shot.width}×${shot.height}, ${Buffer.from(shot.png, 'base64').length} B PNG`;
    rows.push(row(`screenshot, in process (${size})`, inProcess, floor, 'report'));
    rows.push(row('screenshot, over the control socket, one message', overControl, floor, 'report'));
    rows.push(row('screenshot, over the control socket, streamed (displays:screenshot, what the CLI uses)', streamOverControl, floor, 'report'));

    for (let i = 0; i < 10; i++) await core.snapshots.create({ box: 's', name: `p${i}` });
    rows.push({ name: 'snapshot picture: screendump + shrink to 320 px + write, median of 10', median_ms: median(pictures), floor_ms: null, ratio: null, target: 'report (outside the pause window)' });
    await core.vms.stop('s', { force: true });
  } finally {
    client?.close();
    await control?.close();
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
