// Screen update latency (issue 12): a key goes to the guest, the guest draws it, and the
// time until the picture shows it. The guest is the test boot sector (test/helpers/installer.ts
// makeScreenDisk): it reads each key with the BIOS and writes it into VGA text memory, the
// n-th key into the n-th cell from row KEYS_ROW on, so every run changes one known 9x16 cell.
//
// - floor: a minimal RFB client (the tests' handshake, test/helpers/rfb.ts, plus raw-encoded
//   incremental updates painted here) on QEMU's VNC unix socket; from the key event sent until
//   the painted cell has lit pixels.
// - web host: the same client through the displays:open stream over the web host's WebSocket
//   (the page's transport) into Node.
// - Display tab: Debian's Chromium on the web host, the key pressed in the Display tab's
//   canvas; from the press until the canvas's cell has lit pixels (checked every animation
//   frame, so up to ~16 ms of it is the polling).
// All three drive the same guest, one after another; each side's first run warms up and is not counted.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runnerImport } from 'vite';
import { median, requireBuilt, round, row, tempDir } from './lib.mjs';
import { buildRenderer, launchChromium, requireChromium } from './render.mjs';
import { wsStream } from './terminal.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const { createRouter } = await import('../dist/electron/core/router.js');
const { startWebHost } = await import('../dist/electron/host/web-host.js');
const { vncSocketPath } = await import('../dist/electron/core/vm/qemu.js');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { LocalStream } = await import('../dist/shared/streams.js');
// The test helpers are TypeScript: vite's module runner loads them.
const { module: bootSector } = await runnerImport(path.join(root, 'test', 'helpers', 'installer.ts'));
const { RfbClient } = (await runnerImport(path.join(root, 'test', 'helpers', 'rfb.ts'))).module;
const { makeScreenDisk, KEYS_ROW, DISK_MARKER } = bootSector;

const RUNS = Number(process.env.BENCH_DISPLAY_N ?? 11);
const say = process.env.BENCH_DEBUG ? (what) => console.error(`display bench: ${what}`) : () => {};
const KEYSYM_A = 0x61;
const SCANCODE_A = 0x1e;
const QEMU_EXTENDED_KEY = -258;
/** Where the n-th key (0-based, counted over the whole bench) lands: 80x25 cells of 9x16. */
const cellOf = (n) => {
  const cell = KEYS_ROW * 80 + n;
  return { x: (cell % 80) * 9, y: Math.floor(cell / 80) * 16 };
};

/** QEMU's socket as a ByteStream, so the tests' RFB client (test/helpers/rfb.ts) reads it too. */
function socketStream(socket) {
  const stream = new LocalStream({ write: (b) => socket.write(b), setPaused: (p) => (p ? socket.pause() : socket.resume()), closed: () => socket.destroy() });
  socket.on('data', (b) => stream.push(b));
  socket.on('close', () => stream.end({ reason: 'closed', message: 'The VNC socket closed.' }));
  return stream;
}

/**
 * What the bench adds to the tests' RFB client (handshake, reads): raw encoding with QEMU's
 * extended key events (keys by scancode, as noVNC sends them to QEMU), incremental updates
 * painted into a framebuffer of its own, and a cell checked for lit pixels as on the canvas.
 */
class ScreenWatcher {
  constructor(stream) {
    this.stream = stream;
    this.rfb = new RfbClient(stream);
    this.listeners = new Set();
  }
  async start() {
    const init = await this.rfb.handshake();
    this.width = init.width;
    this.height = init.height;
    this.bytesPerPixel = 4; // QEMU's default pixel format: 32 bits per pixel
    this.fb = Buffer.alloc(this.width * this.height * this.bytesPerPixel);
    const enc = Buffer.alloc(12);
    enc.writeUInt8(2, 0);
    enc.writeUInt16BE(2, 2);
    enc.writeInt32BE(0, 4);
    enc.writeInt32BE(QEMU_EXTENDED_KEY, 8);
    this.stream.write(enc);
    void this.readLoop().catch(() => {});
    await this.update(false);
  }
  request(incremental) {
    const m = Buffer.alloc(10);
    m.writeUInt8(3, 0);
    m.writeUInt8(incremental ? 1 : 0, 1);
    m.writeUInt16BE(this.width, 6);
    m.writeUInt16BE(this.height, 8);
    this.stream.write(m);
  }
  /** Asks for an update and resolves once it has been painted. */
  update(incremental) {
    return new Promise((resolve) => {
      const once = () => {
        this.listeners.delete(once);
        resolve();
      };
      this.listeners.add(once);
      this.request(incremental);
    });
  }
  /** A press and release, as QEMU extended key events (client message 255, subtype 0). */
  key(keysym, scancode) {
    for (const down of [1, 0]) {
      const m = Buffer.alloc(12);
      m.writeUInt8(255, 0);
      m.writeUInt16BE(down, 2);
      m.writeUInt32BE(keysym, 4);
      m.writeUInt32BE(scancode, 8);
      this.stream.write(m);
    }
  }
  async readLoop() {
    const read = (n) => this.rfb.read(n, 1e9);
    for (;;) {
      const type = (await read(1))[0];
      if (type === 0) {
        const n = (await read(3)).readUInt16BE(1);
        for (let i = 0; i < n; i++) {
          const h = await read(12);
          const r = { x: h.readUInt16BE(0), y: h.readUInt16BE(2), w: h.readUInt16BE(4), h: h.readUInt16BE(6), enc: h.readInt32BE(8) };
          // The server acknowledges the extended key pseudo-encoding with an empty rectangle.
          if (r.enc === QEMU_EXTENDED_KEY) continue;
          if (r.enc !== 0) throw new Error(`RFB: unexpected encoding ${r.enc}`);
          this.paint(r, await read(r.w * r.h * this.bytesPerPixel));
        }
        for (const l of [...this.listeners]) l();
      } else if (type === 3) {
        await read((await read(7)).readUInt32BE(3)); // ServerCutText
      } else if (type !== 2) {
        throw new Error(`RFB: unexpected server message ${type}`);
      }
    }
  }
  paint(r, pixels) {
    const bpp = this.bytesPerPixel;
    for (let row = 0; row < r.h; row++) pixels.copy(this.fb, ((r.y + row) * this.width + r.x) * bpp, row * r.w * bpp, (row + 1) * r.w * bpp);
  }
  /** Whether the 9x16 cell at `cell` has lit pixels (the same test as on the canvas). */
  lit(cell) {
    const bpp = this.bytesPerPixel;
    for (let y = cell.y; y < cell.y + 16; y++) {
      for (let x = cell.x; x < cell.x + 9; x++) {
        const at = (y * this.width + x) * bpp;
        if (this.fb[at] + this.fb[at + 1] + this.fb[at + 2] > 96) return true;
      }
    }
    return false;
  }
  /** Types a key; resolves once the updates have lit `cell` (incremental requests until then). */
  async timeKey(cell) {
    const t0 = performance.now();
    this.key(KEYSYM_A, SCANCODE_A);
    while (!this.lit(cell)) await this.update(true);
    return performance.now() - t0;
  }
}

async function timeKeys(rfb, first) {
  const times = [];
  for (let n = first; n < first + RUNS; n++) {
    const ms = await rfb.timeKey(cellOf(n));
    if (n > first) times.push(ms);
  }
  return times;
}

async function waitForSerial(file, marker, ms = 60_000) {
  const end = Date.now() + ms;
  while (!(fs.existsSync(file) && fs.readFileSync(file, 'latin1').includes(marker))) {
    if (Date.now() > end) throw new Error(`${marker} did not reach the serial log within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function displayBenchmarks() {
  requireChromium();
  const dir = tempDir('bkd-');
  const home = path.join(dir, 'h');
  const core = await openCore({ home, owner: 'test', supervisor: { stopTimeoutMs: 1000 } });
  let host = null;
  let browser = null;
  let socket = null;
  try {
    const rendererDir = path.join(dir, 'renderer');
    buildRenderer(rendererDir);
    say('renderer built');
    const image = await core.images.import({ path: makeScreenDisk(dir), name: 'bootsector' });
    const box = await core.boxes.create({ name: 'screen', image: image.id, cpus: 1, memoryMib: 64 });
    await core.vms.start(box.id);
    await waitForSerial(path.join(home, 'boxes', box.id, 'logs', 'serial.log'), DISK_MARKER);

    say('guest booted');
    socket = await new Promise((resolve, reject) => {
      const s = net.connect(vncSocketPath(core.vms.session(box.id).runDir));
      s.once('connect', () => resolve(s)).once('error', reject);
    });
    const raw = new ScreenWatcher(socketStream(socket));
    await raw.start();
    say('raw RFB handshake done');
    const floor = await timeKeys(raw, 0);
    socket.destroy();

    say('floor done');
    host = await startWebHost({ router: createRouter(core), staticDir: rendererDir });
    const ws = await wsStream(host, box.id, 'displays:open');
    const viaWs = new ScreenWatcher(ws.stream);
    await viaWs.start();
    const overWs = await timeKeys(viaWs, RUNS);
    ws.stream.close();
    ws.close();

    say('web host done');
    browser = await launchChromium();
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' })).newPage();
    await page.goto(host.url);
    await page.getByRole('heading', { level: 1, name: 'screen' }).waitFor();
    await page.getByRole('tab', { name: 'Display' }).click();
    await page.getByText('Click the screen to type into the guest.').waitFor({ timeout: 60_000 });
    const canvas = page.getByTestId('guest-screen');
    await canvas.click();
    say('Display tab open');
    const drawn = [];
    for (let n = 2 * RUNS; n < 3 * RUNS; n++) {
      const cell = cellOf(n);
      const t0 = performance.now();
      await page.keyboard.press('a');
      await page.waitForFunction(
        ({ x, y }) => {
          const data = document.querySelector('[data-testid="guest-screen"]').getContext('2d').getImageData(x, y, 9, 16).data;
          for (let i = 0; i < data.length; i += 4) if (data[i] + data[i + 1] + data[i + 2] > 96) return true;
          return false;
        },
        cell,
        { timeout: 60_000, polling: 'raf' },
      );
      if (n > 2 * RUNS) drawn.push(performance.now() - t0);
    }
    const extra = (xs) => ({ samples_ms: xs.map(round), load: round(os.loadavg()[0]) });
    return [
      row('key to screen, drawn in the Display tab (Chromium, noVNC)', drawn, floor, 'report', extra(drawn)),
      row('key to screen, raw RFB over the web host WebSocket into Node', overWs, floor, 'report', extra(overWs)),
      row('key to screen, raw RFB client on the VNC unix socket (floor)', floor, null, 'report', extra(floor)),
    ];
  } finally {
    socket?.destroy();
    await browser?.close().catch(() => {});
    await host?.close();
    await core.vms.stop('screen', { force: true }).catch(() => {});
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
