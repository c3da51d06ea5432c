// The screen of a box with real QEMU: the hand-made boot sector (test/helpers/installer.ts)
// clears the VGA text screen, writes a line on it and echoes every key it reads to COM1. One
// box boots for the whole file: its screen comes through displays:open as raw RFB (in process
// and over the web host's WebSocket), a key sent as an RFB KeyEvent reaches the guest, a
// screenshot shows the line, a live snapshot keeps a small picture; the last test stops it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ByteStream } from '../../shared/streams.js';
import type { Router } from '../../shared/transport.js';
import type { Screenshot, SnapshotPicture } from '../../shared/types.js';
import { openCore, type Core } from '../../electron/core/core.js';
import { createRouter } from '../../electron/core/router.js';
import { decodePng, type RgbImage } from '../../electron/core/vm/png.js';
import { DisplayHub, MAX_VIEWERS } from '../../electron/core/vm/display.js';
import { vncSocketPath } from '../../electron/core/vm/qemu.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { startWebHost, type WebHost } from '../../electron/host/web-host.js';
import { connectBridge, type SocketFactory } from '../../renderer/src/transport.js';
import { listedAndRealSizes } from '../helpers/core.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { DISK_MARKER, KEYS_ROW, makeScreenDisk, SCREEN_ROW, SCREEN_TEXT, waitForSerial } from '../helpers/installer.js';
import { RfbClient } from '../helpers/rfb.js';
import { electronBridge } from '../helpers/streams.js';

let tmp: { dir: string; cleanup(): void };
let core: Core;
let router: Router;
let host: WebHost;
const transports: Array<{ name: string; open: (input: unknown) => Promise<ByteStream> }> = [];
let boxId: string;

const sup = () => core.vms as Supervisor;

beforeAll(async () => {
  requireTools('qemu-system-x86_64', 'qemu-img');
  tmp = tempHome('bkscr');
  core = await openCore({ home: path.join(tmp.dir, 'h'), owner: 'test', supervisor: { stopTimeoutMs: 2000 } });
  await core.images.import({ path: makeScreenDisk(tmp.dir), name: 'screen' });
  boxId = (await core.boxes.create({ name: 'scr', image: 'screen' })).id;
  await core.boxes.create({ name: 'blind', image: 'screen', display: 'none' });
  await core.vms.start('scr');
  await waitForSerial(sup().logFile(boxId), 0, DISK_MARKER);
  router = createRouter(core);
  transports.push({ name: 'in process', open: (i) => router.openStream('displays:open', i) });
  host = await startWebHost({ router, staticDir: path.join(tmp.dir, 'none') });
  const origin = `http://127.0.0.1:${host.port}`;
  const Browser = class extends WebSocket { constructor(url: string) { super(url, { origin }); } } as unknown as SocketFactory;
  const bridge = await connectBridge({ preload: null, pageUrl: host.url, WebSocket: Browser });
  transports.push({ name: 'websocket', open: (i) => bridge.displays.open(i as { box: string }) });
}, 120_000);

afterAll(async () => {
  await host?.close();
  if (core) {
    for (const id of [...sup().sessions.keys()]) await core.vms.stop(id, { force: true }).catch(() => {});
    await core.close().catch(() => {});
  }
  tmp?.cleanup();
});

/** The text cell (9×16 pixels in QEMU's 720×400 text mode) at row, col holds any pixel brighter than the background. */
function cellLit(image: RgbImage, row: number, col: number, scale = 1): boolean {
  const [x0, y0] = [Math.floor(col * 9 * scale), Math.floor(row * 16 * scale)];
  const [x1, y1] = [Math.ceil((col + 1) * 9 * scale), Math.ceil((row + 1) * 16 * scale)];
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * image.width + x) * 3;
      if (image.rgb[i]! + image.rgb[i + 1]! + image.rgb[i + 2]! > 3 * 40) return true;
    }
  }
  return false;
}

const serialSince = (from: number) => fs.readFileSync(sup().logFile(boxId)).subarray(from).toString('latin1');

describe('the screen of a running box', () => {
  it('speaks RFB 3.8 from QEMU and carries a key to the guest, in process and over the web host', async () => {
    for (const [i, t] of transports.entries()) {
      const rfb = new RfbClient(await t.open({ box: 'scr' }));
      const init = await rfb.handshake();
      expect(init, t.name).toMatchObject({ version: 'RFB 003.008\n', width: 720, height: 400 });
      const key = 'kw'[i]!;
      const from = fs.statSync(sup().logFile(boxId)).size;
      rfb.key(key.charCodeAt(0));
      // The boot sector read it with int 0x16 and wrote it to COM1.
      await waitForSerial(sup().logFile(boxId), from, key, 20_000).catch((err: Error) => { throw new Error(`${t.name}: ${err.message}`); });
      rfb.stream.close();
    }
  });

  it('gives each viewer its own connection; one asking for the screen alone does not push the others off', async () => {
    const first = new RfbClient(await transports[1]!.open({ box: 'scr' }));
    const { width, height } = await first.handshake(true);
    const second = new RfbClient(await transports[0]!.open({ box: 'scr' }));
    await second.handshake(false);
    expect(await second.requestUpdate(width, height)).toBe(0);
    expect(await first.requestUpdate(width, height)).toBe(0);
    expect(first.ended).toBeNull();
    expect(sup().session(boxId).display!.viewerCount).toBe(2);
    first.stream.close();
    second.stream.close();
  });

  it('opens no TCP port: QEMU listens on unix sockets only', async () => {
    const pid = sup().session(boxId).pid;
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline[cmdline.indexOf('-vnc') + 1]).toMatch(/^unix:.*\/vnc\.sock,share=ignore$/);
    const sockets = new Set(fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      const link = (() => { try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } })();
      return /^socket:\[(\d+)\]$/.exec(link)?.slice(1) ?? [];
    }));
    expect(sockets.size).toBeGreaterThan(0);
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      const inodes = fs.readFileSync(table, 'utf8').trim().split('\n').slice(1).map((line) => line.trim().split(/\s+/)[9]);
      expect(inodes.filter((inode) => sockets.has(inode!)), table).toEqual([]);
    }
  });

  it('takes a screenshot showing the line the guest wrote, and the keys it echoed', async () => {
    const shot = (await router.invoke('boxes:screenshot', { box: 'scr' })) as Screenshot;
    expect(shot).toMatchObject({ boxId, width: 720, height: 400 });
    const png = Buffer.from(shot.png, 'base64');
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    const image = decodePng(png);
    for (let col = 0; col < SCREEN_TEXT.length; col++) {
      expect(cellLit(image, SCREEN_ROW, col), `column ${col} of the text row`).toBe(SCREEN_TEXT[col] !== ' ');
    }
    // The keys of the first test, echoed on their row; the rest of the screen was cleared.
    expect(cellLit(image, KEYS_ROW, 0)).toBe(true);
    for (const row of [0, 5, SCREEN_ROW + 1, 20, 24]) for (const col of [0, 10, 40, 79]) expect(cellLit(image, row, col), `row ${row} col ${col}`).toBe(false);
    // Nothing left in the run folder.
    expect(fs.readdirSync(sup().session(boxId).runDir).filter((f) => f.includes('screendump'))).toEqual([]);
  });

  it('streams the same screenshot through displays:screenshot in process, over the web host and over Electron IPC', async () => {
    const { bridge: ipc } = await electronBridge(router);
    const ws = await connectBridge({ preload: null, pageUrl: host.url, WebSocket: class extends WebSocket { constructor(url: string) { super(url, { origin: `http://127.0.0.1:${host.port}` }); } } as unknown as SocketFactory });
    for (const [name, open] of [
      ['in process', () => router.openStream('displays:screenshot', { box: 'scr' })],
      ['websocket', () => ws.displays.screenshot({ box: 'scr' })],
      ['electron ipc', () => ipc.displays.screenshot({ box: 'scr' })],
    ] as const) {
      const stream = await open();
      const chunks: Uint8Array[] = [];
      stream.onData((b) => chunks.push(b));
      const end = await new Promise((r) => stream.onClose(r));
      expect(end, name).toMatchObject({ reason: 'closed' });
      // Not compared byte for byte with boxes:screenshot: the text cursor may blink in between.
      const image = decodePng(Buffer.concat(chunks));
      expect(image, name).toMatchObject({ width: 720, height: 400 });
      for (let col = 0; col < SCREEN_TEXT.length; col++) expect(cellLit(image, SCREEN_ROW, col), `${name}: column ${col}`).toBe(SCREEN_TEXT[col] !== ' ');
    }
    expect(fs.readdirSync(sup().session(boxId).runDir).filter((f) => f.includes('screendump'))).toEqual([]);
  });

  it('keeps a small picture with a live snapshot, readable as PNG, and none with a stopped one', async () => {
    const live = await core.snapshots.create({ box: 'scr', name: 'running' });
    expect(live).toMatchObject({ live: true, taken: 'crash-consistent', hasPicture: true });
    const file = path.join(path.dirname(live.diskPath), 'screen.png');
    expect(fs.existsSync(file)).toBe(true);
    const picture = (await router.invoke('snapshots:picture', { box: 'scr', snapshot: 'running' })) as SnapshotPicture;
    expect(picture).toMatchObject({ snapshotId: live.id, width: 320, height: 178 });
    const image = decodePng(Buffer.from(picture.png, 'base64'));
    expect(image).toMatchObject({ width: 320, height: 178 });
    const scale = 320 / 720;
    expect(cellLit(image, SCREEN_ROW, 0, scale)).toBe(true);
    expect(cellLit(image, 5, 0, scale)).toBe(false);
    expect(core.snapshots.tree('scr').snapshots.find((s) => s.id === live.id)!.hasPicture).toBe(true);
    // What the snapshot takes (and deleting it frees) counts its picture too.
    const blocks = (f: string) => fs.statSync(f).blocks * 512;
    expect(fs.statSync(file).size).toBeGreaterThan(0);
    expect(core.snapshots.get('scr', 'running').sizeOnDisk).toBe(blocks(live.diskPath) + blocks(file));
    const sizes = listedAndRealSizes(core, 'scr');
    expect(sizes.listed.running).toBe(blocks(live.diskPath) + blocks(file));
    expect(sizes.listed).toEqual(sizes.real);

    const cold = await core.snapshots.create({ box: 'blind', name: 'cold' });
    expect(cold.hasPicture).toBe(false);
    await expect(router.invoke('snapshots:picture', { box: 'blind', snapshot: 'cold' })).rejects.toMatchObject({ code: 'NotFound', message: expect.stringContaining('has no picture') });
  });

  it('the picture goes with its snapshot when the snapshot is removed', async () => {
    const s = await core.snapshots.create({ box: 'scr', name: 'to-remove' });
    expect(s.hasPicture).toBe(true);
    await core.snapshots.remove('scr', 'to-remove');
    expect(fs.existsSync(path.dirname(s.diskPath))).toBe(false);
    expect(core.snapshots.get('scr', 'running').hasPicture).toBe(true);
  });

  it('refuses a box without a screen, a stopped box and an unknown box, saying why, over each transport', async () => {
    for (const t of transports) {
      await expect(t.open({ box: 'blind' }), t.name).rejects.toMatchObject({ code: 'InvalidState', message: 'The box "blind" has no screen (its display is none); give it one with "boxkeep box set blind --display vnc" and start it again.' });
      await expect(t.open({ box: 'ghost' }), t.name).rejects.toMatchObject({ code: 'NotFound' });
    }
    await expect(router.invoke('boxes:screenshot', { box: 'blind' })).rejects.toMatchObject({ code: 'InvalidState', message: expect.stringContaining('has no screen') });
    await expect(router.invoke('boxes:screenshot', { box: 'ghost' })).rejects.toMatchObject({ code: 'NotFound' });
    await core.boxes.update({ box: 'blind', display: 'vnc' });
    await expect(router.invoke('boxes:screenshot', { box: 'blind' })).rejects.toMatchObject({ code: 'InvalidState', message: 'The box "blind" is not running; start it first.' });
    await expect(transports[1]!.open({ box: 'blind' })).rejects.toMatchObject({ code: 'InvalidState', message: 'The box "blind" is not running; start it first.' });
  });

  it('a display set while the box runs waits for the next start', async () => {
    const box = await core.boxes.update({ box: 'scr', display: 'none' });
    expect(box).toMatchObject({ display: 'none', pendingRestart: true });
    // The running QEMU still has its screen: it is still served.
    const rfb = new RfbClient(await transports[0]!.open({ box: 'scr' }));
    await rfb.handshake();
    rfb.stream.close();
    await core.boxes.update({ box: 'scr', display: 'vnc' });
  });

  it(`takes ${MAX_VIEWERS} viewers at once and refuses one more, saying so; closing one makes room`, async () => {
    const open: RfbClient[] = [];
    try {
      for (let i = 0; i < MAX_VIEWERS; i++) {
        open.push(new RfbClient(await transports[i % 2]!.open({ box: 'scr' })));
        await open[i]!.handshake();
      }
      for (const t of transports) {
        await expect(t.open({ box: 'scr' }), t.name).rejects.toMatchObject({ code: 'InvalidState', message: `The screen of the box "scr" already has ${MAX_VIEWERS} viewers open, the most it takes; close one of them first.` });
      }
      open.shift()!.stream.close();
      open.push(new RfbClient(await transports[0]!.open({ box: 'scr' })));
      expect((await open.at(-1)!.handshake()).width).toBe(720);
      for (const v of open) expect(v.ended).toBeNull();
    } finally {
      for (const v of open) v.stream.close();
    }
  });

  it('a screen still being opened when the box stops is refused, not left open', async () => {
    // A hub of its own on the box's real socket, so the box's own screen stays open for the next test.
    const hub = new DisplayHub(vncSocketPath(sup().session(boxId).runDir), 'the box "scr"', core.logger, boxId);
    const opening = hub.open();
    hub.end({ reason: 'box-stopped', message: 'The box stopped.' });
    await expect(opening).rejects.toMatchObject({ code: 'InvalidState', message: 'The screen of the box "scr" is closed: The box stopped.' });
    expect(hub.viewerCount).toBe(0);
  });

  it('takes a screenshot of a paused box', async () => {
    await core.vms.pause('scr');
    try {
      const shot = (await router.invoke('boxes:screenshot', { box: 'scr' })) as Screenshot;
      expect(cellLit(decodePng(Buffer.from(shot.png, 'base64')), SCREEN_ROW, 0)).toBe(true);
    } finally {
      await core.vms.resume('scr');
    }
  });

  it('ends every open screen with box-stopped when the box stops', async () => {
    const viewers = await Promise.all(transports.map(async (t) => {
      const rfb = new RfbClient(await t.open({ box: 'scr' }));
      await rfb.handshake();
      // Wrapped: an async function returning the promise itself would wait for the end here.
      return { ended: new Promise<{ reason: string; message: string }>((resolve) => rfb.stream.onClose(resolve)) };
    }));
    await core.vms.stop('scr', { force: true });
    for (const v of viewers) expect(await v.ended).toEqual({ reason: 'box-stopped', message: 'The box stopped.' });
  });

  it('removing a snapshot with one dependent, stopped, leaves the dependent its own picture (none here), not the removed one\'s', async () => {
    const running = core.snapshots.get('scr', 'running');
    expect(running.hasPicture).toBe(true);
    const cold = await core.snapshots.create({ box: 'scr', name: 'cold-child' });
    expect(cold).toMatchObject({ live: false, hasPicture: false, parentId: running.id });
    await core.snapshots.remove('scr', 'running');
    expect(fs.existsSync(path.dirname(running.diskPath))).toBe(false);
    const after = core.snapshots.get('scr', 'cold-child');
    expect(after).toMatchObject({ hasPicture: false, parentId: null });
    expect(fs.readdirSync(path.dirname(after.diskPath))).toEqual(['container.qcow2']);
    await expect(router.invoke('snapshots:picture', { box: 'scr', snapshot: 'cold-child' })).rejects.toMatchObject({ code: 'NotFound' });
  });
});
