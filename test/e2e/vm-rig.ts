// What the running-guest e2e test needs beyond the harness: the served API from Node (the same
// WebSocket the page uses, to stop boxes at the end whatever state the UI was left in), a
// last-resort stop for a QEMU that outlived its owner (by its recorded pid and start time,
// never by name: other people's QEMUs run on this machine), the guest's serial console, and a
// count of the channels the page invokes.
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import WebSocket from 'ws';
import { createApi, type Api } from '../../shared/client.js';
import { BoxkeepError } from '../../shared/errors.js';
import { isActive } from '../../shared/types.js';
import { HomePaths } from '../../electron/core/paths.js';
import { decodeDataFrame, encodeDataFrame, StreamClient, type StreamMessage } from '../../shared/stream-wire.js';
import type { ByteStream } from '../../shared/streams.js';
import { readHostMessage } from '../../shared/wire.js';
import { SerialDriver } from '../helpers/guest.js';
import { killLeftoverQemu } from '../helpers/leftover-qemu.js';
import { buildRenderer, importGuestImage, newHome, openBrowser, requireE2eTools, serve, withCore, type Browser, type Served, type TestHome } from './harness.js';

export interface WsApi {
  api: Api;
  close(): void;
}

/** The typed API over the served WebSocket, authenticated by the URL's token. */
export async function connectApi(url: string): Promise<WsApi> {
  const u = new URL(url);
  const ws = new WebSocket(`ws://${u.host}/ws?token=${u.searchParams.get('token')}`, { origin: u.origin });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let next = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as { type: string; id?: number; ok?: boolean; value?: unknown; error?: { code: string; message: string } };
    if (m.type !== 'result' || m.id === undefined) return;
    const call = pending.get(m.id);
    pending.delete(m.id);
    if (m.ok) call?.resolve(m.value);
    else call?.reject(BoxkeepError.fromWire(m.error!));
  });
  ws.on('close', () => {
    for (const call of pending.values()) call.reject(new Error('the WebSocket closed'));
    pending.clear();
  });
  const api = createApi(
    (channel, input) =>
      new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        ws.send(JSON.stringify({ type: 'invoke', id, channel, input }));
      }),
  );
  return { api, close: () => ws.close() };
}

/** Forces off every active box through the API. Returns what it stopped. */
export async function stopActiveBoxes(url: string): Promise<string[]> {
  const { api, close } = await connectApi(url);
  try {
    const stopped: string[] = [];
    for (const box of await api.boxes.list()) {
      if (!isActive(box.status) && box.status !== 'stopping') continue;
      await api.boxes.stop({ box: box.id, force: true });
      stopped.push(box.name);
    }
    return stopped;
  } finally {
    close();
  }
}

/**
 * The serial console of a running box, once the boot whose log starts at `fromOffset` is ready:
 * a console stream through the served WebSocket (the owner's supervisor holds QEMU's serial
 * socket, so the test shares it the way a second viewer would). Opening is retried while the
 * box is still coming up (recorded as running before its QEMU answers).
 */
export async function guestConsole(url: string, home: string, boxId: string, fromOffset: number): Promise<SerialDriver> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const driver = SerialDriver.over(await openConsoleStream(url, boxId));
      await driver.ready(120_000, { file: serialLog(home, boxId), fromOffset });
      return driver;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** One console stream on a WebSocket of its own, closed with it. */
async function openConsoleStream(url: string, boxId: string): Promise<ByteStream> {
  const u = new URL(url);
  const ws = new WebSocket(`ws://${u.host}/ws?token=${u.searchParams.get('token')}`, { origin: u.origin });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const streams = new StreamClient({ sendMessage: (m) => ws.send(JSON.stringify(m)), sendData: (id, bytes) => ws.send(encodeDataFrame(id, bytes)) });
  ws.on('message', (data: Buffer, isBinary) => {
    if (isBinary) {
      const frame = decodeDataFrame(data);
      if (frame.ok) streams.receiveData(frame.stream, frame.bytes);
      return;
    }
    const m = readHostMessage(data.toString('utf8'));
    if (m && m.type.startsWith('stream-')) streams.receive(m as StreamMessage);
  });
  ws.on('close', () => streams.dropAll('The WebSocket closed.'));
  try {
    const stream = await streams.open('consoles:open', { box: boxId });
    stream.onClose(() => ws.close());
    return stream;
  } catch (err) {
    ws.close();
    throw err;
  }
}

export const serialLog = (home: string, boxId: string) => path.join(new HomePaths(home).logsDir(boxId), 'serial.log');
export const serialLogSize = (home: string, boxId: string) => {
  try {
    return fs.statSync(serialLog(home, boxId)).size;
  } catch {
    return 0;
  }
};

export interface InvokeCounter {
  /** Invocations of `channel` the page sent since `since` (a performance.now() in this process). */
  count(channel: string, since?: number): number;
}

/** Watches the page's WebSocket frames: what the UI asks the main process, and when. */
export function countInvokes(page: Page): InvokeCounter {
  const sent: { channel: string; at: number }[] = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', (frame) => {
      try {
        const m = JSON.parse(String(frame.payload)) as { type?: string; channel?: string };
        if (m.type === 'invoke' && m.channel) sent.push({ channel: m.channel, at: performance.now() });
      } catch {
        /* not ours */
      }
    });
  });
  return { count: (channel, since = 0) => sent.filter((s) => s.channel === channel && s.at >= since).length };
}

export interface GuestBoxPage {
  t: TestHome;
  served: Served;
  b: Browser;
  page: Page;
  boxId: string;
  /** Stops every box through the API (a leftover QEMU by its fingerprint), the browser, serve; removes the home. */
  close(): Promise<void>;
}

/**
 * A fresh home with one box `box` of the tiny guest (its image booting with `append`), served
 * by `boxkeep serve` and open in Chromium on that box, not started. For e2e files that boot
 * one guest.
 */
export async function openGuestBoxPage(opts: {
  box: string; append?: string; memoryMib?: number; env?: Record<string, string>;
  /** Runs before the page loads (to watch its traffic from the start). */
  beforeLoad?: (page: Page) => void;
}): Promise<GuestBoxPage> {
  requireE2eTools();
  const rendererDir = await buildRenderer();
  const t = newHome();
  let served: Served | null = null;
  let b: Browser | null = null;
  let boxId: string | null = null;
  const close = async () => {
    if (served) await stopActiveBoxes(served.url).catch((err: Error) => console.error(`stopping the boxes through the API failed: ${err.message}`));
    await b?.close();
    await served?.stop();
    const killed = boxId ? killLeftoverQemu(t.home, [boxId]) : [];
    if (killed.length) console.error(`killed a QEMU left running by its owner: pid ${killed.join(', ')}`);
    t.cleanup();
  };
  try {
    boxId = await withCore(t.home, async (core) => {
      const imageId = await importGuestImage(core, t, 'tiny', opts.append);
      return (await core.boxes.create({ name: opts.box, image: imageId, cpus: 1, memoryMib: opts.memoryMib ?? 128 })).id;
    });
    served = await serve(t.home, rendererDir, { env: opts.env });
    b = await openBrowser(served.url, { beforeLoad: opts.beforeLoad });
    await b.page.getByRole('heading', { level: 1, name: opts.box }).waitFor();
    return { t, served, b, page: b.page, boxId, close };
  } catch (err) {
    await close();
    throw err;
  }
}
