// Screen update latency (issue 12): a key goes to the guest, the guest draws it, and the
// time until the picture shows it. The guest is the test boot sector (test/helpers/installer.ts
// makeScreenDisk): it reads each key with the BIOS and writes it into VGA text memory, the
// n-th key into the n-th cell from row KEYS_ROW on, so every run changes one known 9x16 cell.
//
// - floor: a minimal RFB client of this bench on QEMU's VNC unix socket (handshake, raw
//   encoding, incremental FramebufferUpdateRequests); from the KeyEvent sent until an update
//   covering the cell has arrived.
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
import WebSocket from 'ws';
import { runnerImport } from 'vite';
import { median, requireBuilt, round, row, tempDir } from './lib.mjs';
import { buildRenderer, launchChromium, requireChromium } from './render.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const { createRouter } = await import('../dist/electron/core/router.js');
const { startWebHost } = await import('../dist/electron/host/web-host.js');
const { vncSocketPath } = await import('../dist/electron/core/vm/qemu.js');
const { StreamClient, encodeDataFrame, decodeDataFrame } = await import('../dist/shared/stream-wire.js');
const { readHostMessage } = await import('../dist/shared/wire.js');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { module: bootSector } = await runnerImport(path.join(root, 'test', 'helpers', 'installer.ts'));
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

/**
 * The smallest RFB 3.8 client that can time an update: security None, raw encoding only,
 * full picture once, then incremental requests. `rects` is called with each update's rectangles.
 */
class RawRfb {
  constructor(write) {
    this.write = write;
    this.buf = Buffer.alloc(0);
    this.wake = null;
    this.listeners = new Set();
  }
  take(bytes) {
    this.buf = Buffer.concat([this.buf, bytes]);
    this.wake?.();
  }
  async need(n, ms = 60_000) {
    const end = Date.now() + ms;
    while (this.buf.length < n) {
      if (Date.now() > end) throw new Error(`RFB: waited ${ms} ms for ${n} bytes, have ${this.buf.length}`);
      await new Promise((r) => { this.wake = r; setTimeout(r, 20); });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  async handshake() {
    const version = (await this.need(12)).toString('latin1');
    if (!version.startsWith('RFB 003.')) throw new Error(`RFB: not a VNC server: ${JSON.stringify(version)}`);
    this.write(Buffer.from('RFB 003.008\n'));
    const count = (await this.need(1))[0];
    const types = [...(await this.need(count))];
    if (!types.includes(1)) throw new Error(`RFB: the server wants authentication (${types})`);
    this.write(Buffer.from([1]));
    if ((await this.need(4)).readUInt32BE(0) !== 0) throw new Error('RFB: security handshake failed');
    this.write(Buffer.from([1])); // ClientInit: shared
    const init = await this.need(24);
    this.width = init.readUInt16BE(0);
    this.height = init.readUInt16BE(2);
    this.bytesPerPixel = init[4] / 8;
    await this.need(init.readUInt32BE(20)); // desktop name
    this.fb = Buffer.alloc(this.width * this.height * this.bytesPerPixel);
    // Raw, and QEMU's extended key events (keys by scancode, as noVNC sends them to QEMU).
    const enc = Buffer.alloc(12);
    enc.writeUInt8(2, 0);
    enc.writeUInt16BE(2, 2);
    enc.writeInt32BE(0, 4);
    enc.writeInt32BE(QEMU_EXTENDED_KEY, 8);
    this.write(enc);
    void this.readLoop();
    await this.update(false);
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
  request(incremental) {
    const m = Buffer.alloc(10);
    m.writeUInt8(3, 0);
    m.writeUInt8(incremental ? 1 : 0, 1);
    m.writeUInt16BE(this.width, 6);
    m.writeUInt16BE(this.height, 8);
    this.write(m);
  }
  /** Asks for an update and resolves with its rectangles. */
  update(incremental) {
    return new Promise((resolve) => {
      const once = (rects) => {
        this.listeners.delete(once);
        resolve(rects);
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
      m.writeUInt8(0, 1);
      m.writeUInt16BE(down, 2);
      m.writeUInt32BE(keysym, 4);
      m.writeUInt32BE(scancode, 8);
      this.write(m);
    }
  }
  async readLoop() {
    for (;;) {
      const type = (await this.need(1, 1e9))[0];
      if (type === 0) {
        const rects = [];
        const n = (await this.need(3, 1e9)).readUInt16BE(1);
        for (let i = 0; i < n; i++) {
          const h = await this.need(12, 1e9);
          const r = { x: h.readUInt16BE(0), y: h.readUInt16BE(2), w: h.readUInt16BE(4), h: h.readUInt16BE(6), enc: h.readInt32BE(8) };
          // The server acknowledges the extended key pseudo-encoding with an empty rectangle.
          if (r.enc === QEMU_EXTENDED_KEY) continue;
          if (r.enc !== 0) throw new Error(`RFB: unexpected encoding ${r.enc}`);
          this.paint(r, await this.need(r.w * r.h * this.bytesPerPixel, 1e9));
          rects.push(r);
        }
        for (const l of [...this.listeners]) l(rects);
      } else if (type === 2) {
        // Bell: nothing follows.
      } else if (type === 3) {
        const len = (await this.need(7, 1e9)).readUInt32BE(3);
        await this.need(len, 1e9);
      } else {
        throw new Error(`RFB: unexpected server message ${type}`);
      }
    }
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

/** A displays:open stream through the web host's WebSocket, as the page gets it. */
async function wsDisplay(host, box) {
  const ws = new WebSocket(`ws://127.0.0.1:${host.port}/ws?token=${host.token}`, { origin: `http://127.0.0.1:${host.port}` });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const client = new StreamClient({ sendMessage: (m) => ws.send(JSON.stringify(m)), sendData: (id, b) => ws.send(encodeDataFrame(id, b)) });
  ws.on('message', (data, binary) => {
    if (binary) {
      const f = decodeDataFrame(data);
      if (f.ok) client.receiveData(f.stream, f.bytes);
    } else {
      const m = readHostMessage(data.toString());
      if (m?.type.startsWith('stream-')) client.receive(m);
    }
  });
  const stream = await client.open('displays:open', { box });
  return { stream, close: () => ws.close() };
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
    const raw = new RawRfb((b) => socket.write(b));
    socket.on('data', (b) => raw.take(b));
    await raw.handshake();
    say('raw RFB handshake done');
    const floor = await timeKeys(raw, 0);
    socket.destroy();

    say('floor done');
    host = await startWebHost({ router: createRouter(core), staticDir: rendererDir });
    const ws = await wsDisplay(host, box.id);
    const viaWs = new RawRfb((b) => ws.stream.write(b));
    ws.stream.onData((b) => viaWs.take(Buffer.from(b)));
    await viaWs.handshake();
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
