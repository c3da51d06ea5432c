// The box's terminal as a byte stream, on a real running tiny guest, over every transport:
// in process, the control socket, the web host's WebSocket (through the renderer's transport),
// and Electron's MessagePort path (the IPC sender check, preload and transport, minus Electron).
// One guest is booted for the whole file; the last test stops it.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ByteStream } from '../../shared/streams.js';
import type { Router } from '../../shared/transport.js';
import { createRouter } from '../../electron/core/router.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { startControlServer, type ControlServer } from '../../electron/host/control-server.js';
import { connectControl, type ControlClient } from '../../electron/host/control-client.js';
import { startWebHost, type WebHost } from '../../electron/host/web-host.js';
import { connectBridge, type SocketFactory } from '../../renderer/src/transport.js';
import { boot, openVmHome, type VmHome } from '../helpers/vm.js';
import { electronBridge, nodePort, readStream } from '../helpers/streams.js';
import { socketUrl } from '../../renderer/src/transport.js';
import net from 'node:net';
import { onLines } from '../../electron/host/lines.js';

type Open = (input: unknown) => Promise<ByteStream>;
const transports: Array<{ name: string; open: Open }> = [];
let h: VmHome;
let router: Router;
let control: ControlServer;
let client: ControlClient;
let host: WebHost;

beforeAll(async () => {
  h = await openVmHome();
  await h.core.boxes.create({ name: 'term', image: 'tiny' });
  await h.core.boxes.create({ name: 'idle', image: 'tiny' });
  // The test's own serial client lets go once the guest is up: the supervisor holds the socket from here on.
  (await boot(h.core, 'term')).close();
  router = createRouter(h.core);
  transports.push({ name: 'in process', open: (i) => router.openStream('consoles:open', i) });
  control = await startControlServer({ router, socketPath: h.core.paths.controlSocket });
  client = (await connectControl(h.core.paths.controlSocket))!;
  transports.push({ name: 'control socket', open: (i) => client.openStream('consoles:open', i) });
  host = await startWebHost({ router, staticDir: path.join(h.dir, 'none') });
  const origin = `http://127.0.0.1:${host.port}`;
  const Browser = class extends WebSocket { constructor(url: string) { super(url, { origin }); } } as unknown as SocketFactory;
  const bridge = await connectBridge({ preload: null, pageUrl: host.url, WebSocket: Browser });
  transports.push({ name: 'websocket', open: (i) => bridge.consoles.open(i as { box: string }) });
  const electron = await electronBridge(router);
  transports.push({ name: 'electron port', open: (i) => electron.bridge.consoles.open(i as { box: string }) });
}, 180_000);
afterAll(async () => {
  client?.close();
  await control?.close();
  await host?.close();
  await h?.cleanup();
});

let marker = 0;
/** Runs a guest line through a stream and waits for its unique answer. */
async function roundTrip(stream: ReturnType<typeof readStream>): Promise<void> {
  const n = ++marker;
  stream.send(`echo BK$((${n}*1000+42))\n`);
  await stream.waitFor(`BK${n * 1000 + 42}`);
}

describe('the console stream of a running box', () => {
  it('carries a typed line to the guest and its answer back, over every transport', async () => {
    for (const t of transports) {
      const s = readStream(await t.open({ box: 'term' }));
      await roundTrip(s).catch((err: Error) => { throw new Error(`${t.name}: ${err.message}`); });
    }
  });

  it('shows every open console the same output, whichever of them typed it', async () => {
    const all = await Promise.all(transports.map((t) => t.open({ box: 'term' }).then(readStream)));
    all[2]!.send('echo SHARED$((6*7))\n');
    for (const [i, s] of all.entries()) await s.waitFor('SHARED42').catch((err: Error) => { throw new Error(`${transports[i]!.name}: ${err.message}`); });
  });

  it('refuses a box that is not running (InvalidState, saying to start it) and an unknown box (NotFound), over every transport', async () => {
    for (const t of transports) {
      await expect(t.open({ box: 'idle' }), t.name).rejects.toMatchObject({ code: 'InvalidState', message: 'The box "idle" is not running; start it first.' });
      await expect(t.open({ box: 'ghost' }), t.name).rejects.toMatchObject({ code: 'NotFound' });
    }
  });

  it('holds the guest back while a reader is paused, and loses nothing once it resumes', async () => {
    const ws = await transports[2]!.open({ box: 'term' });
    const s = readStream(ws);
    ws.pause();
    // ~340 KB of output: more than one window (256 KiB) and a data frame (64 KiB).
    s.send('seq 1 50000; echo SEQ-DONE\n');
    // Shorter than SLOW_VIEWER_MS: a reader that pauses longer is closed (next test).
    await new Promise((r) => setTimeout(r, 2000));
    expect(s.bytes()).toBeLessThanOrEqual(256 * 1024 + 64 * 1024);
    expect(s.text()).not.toContain('SEQ-DONE');
    ws.resume();
    await s.waitFor('SEQ-DONE', 120_000);
    const numbers = s.text().split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
    expect(numbers.at(-1)).toBe(50000);
    expect(numbers.length).toBe(50000);
    ws.close();
  }, 180_000);

  it('closes a reader that stays behind for more than a few seconds, and the others get all the output', async () => {
    const keptUp = readStream(await transports[2]!.open({ box: 'term' }));
    const stuck = await transports[0]!.open({ box: 'term' });
    stuck.pause();
    const other = readStream(await transports[1]!.open({ box: 'term' }));
    other.send('seq 1 50000; echo SLOW-DONE\n');
    expect(await readStream(stuck).ended).toEqual({ reason: 'error', message: 'This console could not keep up and was closed; reopen it.' });
    await other.waitFor('SLOW-DONE', 120_000);
    const numbers = other.text().split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
    expect(numbers.length).toBe(50000);
    // A reader that kept up on another connection is still open and saw it all too.
    await keptUp.waitFor('SLOW-DONE', 20_000);
    expect((h.core.vms as Supervisor).sessions.get(h.core.boxes.resolve('term').id)!.serial.viewerCount).toBeGreaterThan(0);
  }, 180_000);

  it('answers every kind of broken stream frame on the WebSocket and the control socket with a clear error, and keeps serving', async () => {
    const sup = h.core.vms as Supervisor;
    const serial = sup.session(h.core.boxes.resolve('term').id).serial;
    const viewersBefore = serial.viewerCount;
    for (const raw of [await rawWebSocket(), await rawControl()]) {
      const expectReply = async (send: () => void, match: object) => {
        send();
        await raw.waitFor(match);
      };
      // toMatchObject takes a RegExp for an object (it matches anything): strings are matched through stringMatching.
      const text = (m: string | RegExp) => (typeof m === 'string' ? m : expect.stringMatching(m));
      const unattributed = (message: string | RegExp) => ({ type: 'result', id: -1, ok: false, error: { code: 'InvalidArgument', message: text(message) } });
      const closed = (stream: number, message: string | RegExp) => ({ type: 'stream-close', stream, reason: 'error', message: text(message) });
      for (const stream of [undefined, 0, -1, 1.5, '1', 2 ** 32]) {
        await expectReply(() => raw.json({ type: 'stream-open', stream, channel: 'consoles:open', input: { box: 'term' } }), unattributed(/needs a stream id: a whole number from 1 to 4294967295/));
      }
      await expectReply(() => raw.json({ type: 'stream-open', stream: 3 }), closed(3, 'A stream-open message needs a channel name.'));
      await expectReply(() => raw.json({ type: 'stream-open', stream: 3, channel: 'boxes:list', input: {} }), { type: 'stream-refused', stream: 3, error: { code: 'InvalidArgument', message: text(/boxes:list is not a stream channel/) } });
      await expectReply(() => raw.json({ type: 'stream-open', stream: 4, channel: 'consoles:open', input: { box: 'term', extra: 1 } }), { type: 'stream-refused', stream: 4, error: { code: 'InvalidArgument', message: 'Unknown field "extra": it is not part of consoles:open.' } });
      await expectReply(() => raw.json({ type: 'stream-data', stream: 99, data: 'aGk=' }), closed(99, /No stream 99 is open on this connection/));
      await expectReply(() => raw.json({ type: 'stream-opened', stream: 7 }), closed(7, /Only the host sends stream-opened/));
      await expectReply(() => raw.json({ type: 'stream-wat', stream: 7 }), closed(7, 'Unknown stream message type "stream-wat".'));
      if (raw.binary) {
        await expectReply(() => raw.binary!(Buffer.from([1, 0, 0, 0, 5, 0x41])), closed(5, /No stream 5 is open/));
        await expectReply(() => raw.binary!(Buffer.from([1, 0])), unattributed('A binary frame needs a 5-byte header (kind, stream id); this one has 2 bytes.'));
        await expectReply(() => raw.binary!(Buffer.from([2, 0, 0, 0, 1, 0x41])), unattributed(/Unknown binary frame kind 2/));
        await expectReply(() => raw.binary!(Buffer.from([1, 0, 0, 0, 0, 0x41])), unattributed(/stream 0/));
      }
      // An open stream: a duplicate id, broken frames for it, more than a window at once.
      await expectReply(() => raw.json({ type: 'stream-open', stream: 10, channel: 'consoles:open', input: { box: 'term' } }), { type: 'stream-opened', stream: 10 });
      await expectReply(() => raw.json({ type: 'stream-open', stream: 10, channel: 'consoles:open', input: { box: 'term' } }), { type: 'stream-refused', stream: 10, error: { code: 'InvalidArgument', message: 'Stream 10 is already open on this connection; open another with a new id.' } });
      await expectReply(() => raw.json({ type: 'stream-data', stream: 10, data: 'not base64!' }), closed(10, 'A stream-data message needs data: the bytes in base64.'));
      await expectReply(() => raw.json({ type: 'stream-data', stream: 10, data: 'aGk=' }), closed(10, /No stream 10 is open/));
      await expectReply(() => raw.json({ type: 'stream-open', stream: 11, channel: 'consoles:open', input: { box: 'term' } }), { type: 'stream-opened', stream: 11 });
      await expectReply(() => raw.json({ type: 'stream-ack', stream: 11, bytes: 1e9 }), closed(11, /broke the stream protocol: it acknowledged 1000000000 bytes/));
      await expectReply(() => raw.json({ type: 'stream-open', stream: 12, channel: 'consoles:open', input: { box: 'term' } }), { type: 'stream-opened', stream: 12 });
      const tooMuch = Buffer.alloc(300 * 1024, 0x23);
      await expectReply(() => raw.data(12, tooMuch), closed(12, /sent more than the 262144-byte window/));
      await expectReply(() => raw.json({ type: 'stream-open', stream: 13, channel: 'consoles:open', input: { box: 'term' } }), { type: 'stream-opened', stream: 13 });
      await expectReply(() => raw.json({ type: 'stream-close', stream: 13, reason: 'bored' }), closed(13, /needs a reason: one of closed, box-stopped, error/));
      // Still serving: a good stream on the same connection answers.
      await expectReply(() => raw.json({ type: 'stream-open', stream: 20, channel: 'consoles:open', input: { box: 'term' } }), { type: 'stream-opened', stream: 20 });
      raw.data(20, Buffer.from('echo RAW$((20+22))\n'));
      await raw.waitForText(20, 'RAW42');
      raw.close();
    }
    // Every engine stream those connections opened was let go.
    for (let i = 0; i < 50 && serial.viewerCount !== viewersBefore; i++) await new Promise((r) => setTimeout(r, 100));
    expect(serial.viewerCount).toBe(viewersBefore);
  }, 60_000);

  it('answers a broken message on an Electron stream port by closing that stream with the reason', async () => {
    const electron = await electronBridge(router);
    const { MessageChannel } = await import('node:worker_threads');
    let remote: import('node:worker_threads').MessagePort | null = null;
    const handlers = (await import('../../electron/shell/ipc.js')).ipcHandlers(router, () => ({ webContentsIds: new Set([7]), devServerUrl: null }), {
      streams: {
        create() {
          const { port1, port2 } = new MessageChannel();
          return { local: nodePort(port1), remote: port2 };
        },
        hand: (_s, _o, r) => void (remote = r as import('node:worker_threads').MessagePort),
      },
    });
    for (const [bad, why] of [
      [{ kind: 'data', bytes: 'text' }, 'A data message must carry its bytes as a Uint8Array.'],
      [{ kind: 'data', bytes: new Uint8Array(300 * 1024) }, /more than the 262144-byte window/],
      [{ kind: 'ack', bytes: -4 }, 'An ack message needs bytes: a whole number above 0.'],
      [{ kind: 'shout' }, 'Unknown stream port message kind "shout".'],
      ['just text', 'A stream port message must be an object.'],
    ] as const) {
      expect(await handlers.get('consoles:open')!(electron.sender, { box: 'term' })).toMatchObject({ ok: true, value: { stream: expect.any(Number) } });
      const port = remote!;
      const reply = new Promise<unknown>((resolve) => port.on('message', (m: { kind: string }) => m.kind === 'close' && resolve(m)));
      port.postMessage(bad);
      expect(await reply).toMatchObject({ kind: 'close', reason: 'error', message: typeof why === 'string' ? `The other side broke the stream protocol: ${why}` : expect.stringMatching(why) });
      port.close();
    }
  });

  it('a window gone before its port is handed over: the console it opened is closed again, and so is the port', async () => {
    const { MessageChannel } = await import('node:worker_threads');
    const { ipcHandlers } = await import('../../electron/shell/ipc.js');
    const { APP_ORIGIN } = await import('../../electron/shell/security.js');
    const serial = (h.core.vms as Supervisor).session(h.core.boxes.resolve('term').id).serial;
    const before = serial.viewerCount;
    let portClosed = false;
    const streams = {
      create() {
        const { port1, port2 } = new MessageChannel();
        port1.on('close', () => (portClosed = true));
        return { local: nodePort(port1), remote: port2 };
      },
      hand(): void {
        throw new Error('The window is gone.');
      },
    };
    const handlers = ipcHandlers(router, () => ({ webContentsIds: new Set([7]), devServerUrl: null }), { streams });
    const sender = { webContentsId: 7, frame: { url: `${APP_ORIGIN}/index.html`, isMainFrame: true } };
    expect(await handlers.get('consoles:open')!(sender, { box: 'term' })).toMatchObject({ ok: false });
    expect(serial.viewerCount).toBe(before);
    for (let i = 0; i < 50 && !portClosed; i++) await new Promise((r) => setTimeout(r, 20));
    expect(portClosed).toBe(true);
  });

  it('keeps working after the owner lets go and another one adopts the running box', async () => {
    const before = readStream(await transports[0]!.open({ box: 'term' }));
    client.close();
    await control.close();
    await host.close();
    await h.reopen();
    expect(await before.ended).toEqual({ reason: 'closed', message: 'Boxkeep let go of the box (the app or command holding it is closing); the box keeps running.' });
    router = createRouter(h.core);
    const s = readStream(await router.openStream('consoles:open', { box: 'term' }));
    await roundTrip(s);
  }, 60_000);

  it('ends every console with box-stopped when the box stops', async () => {
    const a = readStream(await router.openStream('consoles:open', { box: 'term' }));
    const b = readStream(await router.openStream('consoles:open', { box: 'term' }));
    await h.core.vms.stop('term', { force: true });
    expect(await a.ended).toEqual({ reason: 'box-stopped', message: 'The box stopped.' });
    expect(await b.ended).toEqual({ reason: 'box-stopped', message: 'The box stopped.' });
    expect((h.core.vms as Supervisor).sessions.size).toBe(0);
    expect(() => a.send('x')).toThrow(/The stream is closed: The box stopped/);
  });
});

/** A raw client of the stream protocol: send any frame, wait for a host message matching a pattern. */
interface RawClient {
  json(message: object): void;
  data(stream: number, bytes: Buffer): void;
  binary?: (frame: Buffer) => void;
  waitFor(match: object, ms?: number): Promise<unknown>;
  waitForText(stream: number, text: string, ms?: number): Promise<void>;
  close(): void;
}

function rawClient(send: (text: string) => void, data: (stream: number, bytes: Buffer) => void, close: () => void): RawClient & { take(message: Record<string, unknown>): void; takeData(stream: number, bytes: Buffer): void } {
  const got: Array<Record<string, unknown>> = [];
  const text = new Map<number, string>();
  const waiters = new Set<() => void>();
  const wake = () => { for (const w of [...waiters]) w(); };
  const until = (test: () => boolean, what: string, ms: number) => new Promise<void>((resolve, reject) => {
    const check = () => { if (test()) { waiters.delete(check); clearTimeout(timer); resolve(); } };
    const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`${what} did not arrive within ${ms} ms; got ${JSON.stringify(got.slice(-5))}`)); }, ms);
    waiters.add(check);
    check();
  });
  return {
    json: (m) => send(JSON.stringify(m)),
    data,
    close,
    take(m) { got.push(m); if (m.type === 'stream-data') this.takeData(m.stream as number, Buffer.from(m.data as string, 'base64')); wake(); },
    takeData(stream, bytes) { text.set(stream, (text.get(stream) ?? '') + bytes.toString('utf8')); wake(); },
    async waitFor(match, ms = 10_000) {
      let found: unknown;
      await until(() => {
        const at = got.findIndex((m) => { try { expect(m).toMatchObject(match); return true; } catch { return false; } });
        if (at < 0) return false;
        found = got.splice(at, 1)[0];
        return true;
      }, JSON.stringify(match), ms);
      return found;
    },
    waitForText: (stream, t, ms = 20_000) => until(() => (text.get(stream) ?? '').includes(t), JSON.stringify(t), ms),
  };
}

async function rawWebSocket(): Promise<RawClient> {
  const ws = new WebSocket(socketUrl(host.url), { origin: `http://127.0.0.1:${host.port}` });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const frame = (stream: number, bytes: Buffer) => Buffer.concat([Buffer.from([1, stream >>> 24, (stream >>> 16) & 255, (stream >>> 8) & 255, stream & 255]), bytes]);
  const c = rawClient((t) => ws.send(t), (stream, bytes) => ws.send(frame(stream, bytes)), () => ws.close());
  ws.on('message', (data: Buffer, isBinary) => {
    if (isBinary) return c.takeData(data.readUInt32BE(1), data.subarray(5));
    c.take(JSON.parse(data.toString('utf8')));
  });
  return Object.assign(c, { binary: (f: Buffer) => ws.send(f) });
}

async function rawControl(): Promise<RawClient> {
  const socket = net.connect(h.core.paths.controlSocket);
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  const c = rawClient((t) => socket.write(t + '\n'), (stream, bytes) => socket.write(JSON.stringify({ type: 'stream-data', stream, data: bytes.toString('base64') }) + '\n'), () => socket.destroy());
  onLines(socket, (line) => c.take(JSON.parse(line)));
  return c;
}
