// The Display tab's channel (renderer/src/display/rfb-channel.ts) under noVNC's own Websock,
// the layer of noVNC that talks to a WebSocket-shaped channel, fed by a real stream pair as a
// transport joins them (two FramedStreams, frames carried when `flush` runs). Websock needs
// two browser globals to load: `window` (its logger) and `WebSocket` (only for the readyState
// constants, taken from the ws package). The whole RFB client runs in Chromium in
// test/e2e/display.test.ts.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { endText, RfbChannel, type ChannelCloseEvent } from '../../renderer/src/display/rfb-channel.js';
import { FramedStream, STREAM_WINDOW, type StreamFrame } from '../../shared/streams.js';

const REPO = path.resolve(import.meta.dirname, '..', '..');

interface Websock {
  readyState: string;
  attach(channel: unknown): void;
  on(event: string, handler: (e?: unknown) => void): void;
  rQlen(): number;
  rQshiftBytes(n: number): Uint8Array;
  sQpushBytes(bytes: Uint8Array): void;
  flush(): void;
  close(): void;
}
let Websock: new () => Websock;

beforeAll(async () => {
  const g = globalThis as Record<string, unknown>;
  g.window ??= globalThis;
  g.WebSocket ??= WebSocket;
  Websock = (await import(pathToFileURL(path.join(REPO, 'node_modules', '@novnc', 'novnc', 'core', 'websock.js')).href)).default;
});

/** engine: the side the web host writes QEMU's bytes into; page: what the renderer gets. */
function link() {
  const toPage: StreamFrame[] = [];
  const toEngine: StreamFrame[] = [];
  const engine = new FramedStream((f) => toPage.push(f));
  const page = new FramedStream((f) => toEngine.push(f));
  const flush = () => {
    while (toPage.length || toEngine.length) {
      for (const f of toPage.splice(0)) page.receive(f);
      for (const f of toEngine.splice(0)) engine.receive(f);
    }
  };
  return { engine, page, flush, toEngine };
}

const bytes = (...b: number[]) => new Uint8Array(b);
const tick = () => new Promise((r) => setTimeout(r, 5));
/** Resolves after every listener the stream already had for its end (each is told a microtask after the end, in order). */
const heardOfEnd = (stream: FramedStream) => new Promise<void>((r) => stream.onClose(() => r()));

describe('the Display tab’s channel under noVNC’s Websock', () => {
  it('is accepted as a channel, open at once, and hands noVNC the bytes the guest sent, also those sent before attach', () => {
    const { engine, page, flush } = link();
    engine.write(new TextEncoder().encode('RFB 003.008\n'));
    flush();
    const sock = new Websock();
    let messages = 0;
    sock.on('message', () => messages++);
    sock.attach(new RfbChannel(page));
    expect(sock.readyState).toBe('open');
    expect(messages).toBe(1);
    expect(new TextDecoder().decode(sock.rQshiftBytes(sock.rQlen()))).toBe('RFB 003.008\n');
    engine.write(bytes(1, 2, 3));
    flush();
    expect([...sock.rQshiftBytes(sock.rQlen())]).toEqual([1, 2, 3]);
  });

  it('sends what noVNC sends, byte for byte, although noVNC reuses its buffer before the transport carries it', () => {
    const { engine, page, flush } = link();
    const got: number[] = [];
    engine.onData((b) => got.push(...b));
    const sock = new Websock();
    sock.attach(new RfbChannel(page));
    sock.sQpushBytes(bytes(3, 0, 0, 0));
    sock.flush();
    sock.sQpushBytes(bytes(4, 1, 0, 0));
    sock.flush();
    flush();
    expect(got).toEqual([3, 0, 0, 0, 4, 1, 0, 0]);
  });

  it('holds sends once the stream’s window is full and sends them, in order, when it drains', () => {
    const { engine, page, flush, toEngine } = link();
    const channel = new RfbChannel(page);
    const sock = new Websock();
    sock.attach(channel);
    const big = new Uint8Array(STREAM_WINDOW).fill(7);
    sock.sQpushBytes(big);
    sock.flush();
    sock.sQpushBytes(bytes(9, 9));
    sock.flush();
    expect(channel.bufferedAmount).toBe(2);
    const inFlight = toEngine.reduce((n, f) => n + (f.kind === 'data' ? f.bytes.length : 0), 0);
    expect(inFlight).toBe(STREAM_WINDOW);
    let read = 0;
    let tail: number[] = [];
    engine.onData((b) => {
      read += b.length;
      tail = [...tail, ...b].slice(-3);
    });
    flush();
    expect(read).toBe(STREAM_WINDOW + 2);
    expect(tail).toEqual([7, 9, 9]);
    expect(channel.bufferedAmount).toBe(0);
  });

  it('holds at most one window of sends for a stream that never drains, then ends it as broken instead of growing without bound', async () => {
    const { engine, page, flush, toEngine } = link();
    const channel = new RfbChannel(page);
    const sock = new Websock();
    const closes: ChannelCloseEvent[] = [];
    sock.on('close', (e) => closes.push(e as ChannelCloseEvent));
    sock.attach(channel);
    sock.sQpushBytes(new Uint8Array(STREAM_WINDOW));
    sock.flush();
    // Pointer events (6 bytes each) while the other side reads nothing.
    for (let i = 0; i < STREAM_WINDOW / 6 + 10; i++) {
      sock.sQpushBytes(bytes(5, 0, 0, 1, 0, 1));
      sock.flush();
    }
    expect(channel.bufferedAmount).toBeLessThanOrEqual(STREAM_WINDOW);
    expect(channel.readyState).toBe(RfbChannel.CLOSED);
    toEngine.splice(0, toEngine.length - 1);
    flush();
    expect(engine.ended?.reason).toBe('error');
    await tick();
    expect(closes.map((c) => [c.code, c.reason])).toEqual([[1011, 'The screen’s connection broke: the box took no input from the screen for too long.']]);
  });

  it('takes a stream that ended before it was handed over: sends are dropped, not thrown into noVNC, and the close says why', async () => {
    const { engine, page, flush } = link();
    engine.close({ reason: 'box-stopped', message: 'The box stopped.' });
    flush();
    const sock = new Websock();
    const closes: ChannelCloseEvent[] = [];
    sock.on('close', (e) => closes.push(e as ChannelCloseEvent));
    sock.attach(new RfbChannel(page));
    // The stream tells of its end a microtask later: until then the channel looks open.
    sock.sQpushBytes(bytes(1));
    expect(() => sock.flush()).not.toThrow();
    // Once the channel has heard of the end (its listener was queued first), its close event is
    // one task away. Started before that, the 5 ms tick could fire first whenever the process
    // stalled a few ms in between (a loaded machine, a GC pause): the flake this test had.
    await heardOfEnd(page);
    await tick();
    expect(sock.readyState).toBe('closed');
    expect(closes.map((c) => [c.code, c.reason])).toEqual([[1001, 'The box stopped.']]);
  });

  it('turns a stop of the box into a close event saying so, after the current task', async () => {
    const { engine, page, flush } = link();
    const sock = new Websock();
    const closes: ChannelCloseEvent[] = [];
    sock.on('close', (e) => closes.push(e as ChannelCloseEvent));
    sock.attach(new RfbChannel(page));
    engine.close({ reason: 'box-stopped', message: 'The box stopped.' });
    flush();
    expect(sock.readyState).toBe('closed');
    expect(closes).toEqual([]);
    await tick();
    expect(closes.map((c) => [c.code, c.reason, c.wasClean])).toEqual([[1001, 'The box stopped.', true]]);
  });

  it('reports a broken stream as an error, then a close that says what broke', async () => {
    const { engine, page, flush } = link();
    const sock = new Websock();
    const seen: string[] = [];
    sock.on('error', () => seen.push('error'));
    sock.on('close', (e) => seen.push(`close ${(e as ChannelCloseEvent).code}: ${(e as ChannelCloseEvent).reason}`));
    sock.attach(new RfbChannel(page));
    engine.close({ reason: 'error', message: 'QEMU’s VNC socket went away.' });
    flush();
    await tick();
    expect(seen).toEqual(['error', 'close 1011: The screen’s connection broke: QEMU’s VNC socket went away.']);
  });

  it('closes the stream for the engine when noVNC disconnects, and tells noVNC afterwards, not from inside close()', async () => {
    const { engine, page, flush } = link();
    const sock = new Websock();
    const closes: ChannelCloseEvent[] = [];
    sock.on('close', (e) => closes.push(e as ChannelCloseEvent));
    sock.attach(new RfbChannel(page));
    sock.close();
    expect(closes).toEqual([]);
    flush();
    expect(engine.ended?.reason).toBe('closed');
    await tick();
    expect(closes.map((c) => c.code)).toEqual([1000]);
  });

  it('words each end for the person at the screen', () => {
    expect(endText({ reason: 'box-stopped', message: '' })).toBe('The box stopped.');
    expect(endText({ reason: 'closed', message: 'The stream was closed.' })).toBe('The stream was closed.');
    expect(endText({ reason: 'error', message: 'x' })).toBe('The screen’s connection broke: x');
  });
});
