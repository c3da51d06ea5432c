// How the renderer reaches the engine. Inside Electron the preload exposes `window.boxkeep`
// (named verbs resolving to settled envelopes); in a plain browser the page was served by
// `boxkeep serve` and talks to it over a WebSocket, with the token from the page URL. Either
// way the screens get the same typed BoxkeepBridge, and errors arrive as BoxkeepError with
// their code intact.
//
// Written against small structural types instead of the DOM lib so it also runs (and is
// tested) under Node with the `ws` client.
import type { Channel } from '../../shared/channels.js';
import { createApi, type BoxkeepBridge, type Invoke, type OpenStream } from '../../shared/client.js';
import { BoxkeepError } from '../../shared/errors.js';
import { Emitter, type EventMap, type EventName } from '../../shared/events.js';
import type { PreloadBridge, Settled } from '../../shared/ipc.js';
import { decodeDataFrame, encodeDataFrame, StreamClient } from '../../shared/stream-wire.js';
import type { ByteStream, StreamEnd } from '../../shared/streams.js';
import { deliverServerMessage, readHostMessage, type InvokeMessage, type PendingCall } from '../../shared/wire.js';

export interface SocketLike {
  readonly readyState: number;
  /** Stream data frames come as ArrayBuffer (browser, binaryType 'arraybuffer') or Buffer (ws). */
  binaryType?: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type SocketFactory = new (url: string) => SocketLike;

/** 'lost': reconnecting has failed long enough to say why and what to do (the detail). */
export type ConnectionStatus = 'connected' | 'reconnecting' | 'lost';

/** How long a dropped connection retries quietly before the page says what it found. */
export const LOST_AFTER_MS = 4000;

export interface ConnectOptions {
  /** Defaults to globalThis.boxkeep (the preload); pass null to force the WebSocket. */
  preload?: PreloadBridge | null;
  /** The page URL, carrying ?token=...; defaults to location.href. */
  pageUrl?: string;
  /** Defaults to globalThis.WebSocket. */
  WebSocket?: SocketFactory;
  onStatus?: (status: ConnectionStatus, detail?: string) => void;
  /**
   * Asked once per outage, after LOST_AFTER_MS: does this address still serve the page? If
   * it does while the WebSocket keeps failing, the server refuses this page's token.
   * Defaults to a HEAD request for the page (which needs no token).
   */
  pageServed?: () => Promise<boolean>;
  /** Reconnect backoff bounds in milliseconds. */
  retry?: { minMs: number; maxMs: number };
}

const OPEN = 1;
/** How long a call made while disconnected waits for the link to come back. */
const QUEUE_WAIT_MS = 30_000;

export async function connectBridge(options: ConnectOptions = {}): Promise<BoxkeepBridge> {
  const g = globalThis as { boxkeep?: PreloadBridge; location?: { href: string }; WebSocket?: SocketFactory };
  const preload = options.preload === undefined ? g.boxkeep : options.preload;
  if (preload) return fromPreload(preload);
  const pageUrl = options.pageUrl ?? g.location?.href;
  const Socket = options.WebSocket ?? g.WebSocket;
  if (!pageUrl || !Socket) {
    throw new BoxkeepError('Internal', 'Boxkeep cannot reach its engine: open this page from the Boxkeep app, or from the URL that `boxkeep serve` printed.');
  }
  const pageServed = options.pageServed ?? (() => fetch(new URL('/', pageUrl), { method: 'HEAD' }).then((r) => r.ok, () => false));
  return connectWebSocket(socketUrl(pageUrl, rememberToken(pageUrl)), Socket, { ...options, pageServed });
}

/** What a page that cannot get back in tells the person: why, and where to go instead. */
export function lostConnectionText(served: boolean, port: string): string {
  return served
    ? 'Boxkeep was restarted and no longer accepts this page’s access token. Open the address “boxkeep serve” printed when it started again (it ends in ?token=…); this page cannot get back in.'
    : `Boxkeep is not answering at this address (port ${port}). If “boxkeep serve” was restarted, its port was taken and it now listens elsewhere: open the address it printed (it ends in ?token=…). This page keeps trying here.`;
}

const TOKEN_KEY = 'boxkeep.token';

/**
 * The token arrives once, in the address `boxkeep serve` printed. It is kept in this tab's
 * sessionStorage (per origin, so per port) and taken out of the address bar, so it does not
 * linger in history, and a reload still connects.
 */
function rememberToken(pageUrl: string): string | null {
  const page = new URL(pageUrl);
  const fromUrl = page.searchParams.get('token') ?? new URLSearchParams(page.hash.slice(1)).get('token');
  const storage = (globalThis as { sessionStorage?: { getItem(k: string): string | null; setItem(k: string, v: string): void } }).sessionStorage;
  try {
    if (fromUrl) {
      storage?.setItem(TOKEN_KEY, fromUrl);
      page.searchParams.delete('token');
      const history = (globalThis as { history?: { state: unknown; replaceState(state: unknown, unused: string, url: string): void } }).history;
      history?.replaceState(history.state, '', page.pathname + page.search + (page.hash.includes('token=') ? '' : page.hash));
    }
    return fromUrl ?? storage?.getItem(TOKEN_KEY) ?? null;
  } catch {
    return fromUrl;
  }
}

/** ws://host/ws?token=..., from the page's own address (or the token remembered for it). */
export function socketUrl(pageUrl: string, remembered: string | null = null): string {
  const page = new URL(pageUrl);
  const token = page.searchParams.get('token') ?? new URLSearchParams(page.hash.slice(1)).get('token') ?? remembered;
  const url = new URL('/ws', page);
  url.protocol = page.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  url.search = token ? `?token=${encodeURIComponent(token)}` : '';
  return url.toString();
}

function fromPreload(preload: PreloadBridge): BoxkeepBridge {
  const invoke: Invoke = async (channel: Channel, input: unknown) => {
    const [area, verb] = channel.split(':') as [string, string];
    const verbs = (preload as unknown as Record<string, Record<string, (input: unknown) => Promise<Settled<unknown>>> | undefined>)[area];
    const method = verbs?.[verb];
    if (typeof method !== 'function') throw new BoxkeepError('Internal', `This app's preload does not offer ${channel}; reinstall Boxkeep.`);
    const reply = await method(input);
    if (reply?.ok === true) return reply.value;
    throw BoxkeepError.fromWire(reply?.error);
  };
  // The preload resolves a stream channel to functions over its MessagePort (it keeps the port).
  const openStream: OpenStream = async (channel, input) => fromExposed((await invoke(channel, input)) as Omit<ByteStream, 'ended'>);
  const on = <E extends EventName>(event: E, listener: (payload: EventMap[E]) => void) => preload.on(event, listener);
  return Object.assign(createApi(invoke, openStream), { on, desktop: true });
}

/** A ByteStream again, `ended` tracked here: the context bridge copies only functions live. */
function fromExposed(exposed: Omit<ByteStream, 'ended'>): ByteStream {
  const stream: ByteStream = {
    ended: null,
    write: (bytes) => exposed.write(bytes),
    onData: (listener) => exposed.onData(listener),
    onDrain: (listener) => exposed.onDrain(listener),
    onClose: (listener) => exposed.onClose(listener),
    pause: () => exposed.pause(),
    resume: () => exposed.resume(),
    close: (end) => exposed.close(end),
  };
  exposed.onClose((end) => ((stream as { ended: StreamEnd | null }).ended = end));
  return stream;
}

interface Pending extends PendingCall {
  channel: string;
}

function connectWebSocket(url: string, Socket: SocketFactory, options: ConnectOptions): Promise<BoxkeepBridge> {
  const events = new Emitter();
  const pending = new Map<number, Pending>();
  const queued: Array<{ message: InvokeMessage; timer: ReturnType<typeof setTimeout> }> = [];
  const { minMs, maxMs } = options.retry ?? { minMs: 250, maxMs: 5000 };
  let socket: SocketLike | null = null;
  let nextId = 1;
  let everConnected = false;
  let delay = minMs;
  /** When the connection dropped (null while connected), and whether this outage was diagnosed. */
  let droppedAt: number | null = null;
  let diagnosed = false;
  // Streams live on one connection: data as binary frames, the rest as JSON. A dropped
  // connection ends them (the caller opens again once it is back); they are never queued.
  const streams = new StreamClient({
    sendMessage: (message) => socket?.readyState === OPEN && socket.send(JSON.stringify(message)),
    sendData: (stream, bytes) => socket?.readyState === OPEN && socket.send(encodeDataFrame(stream, bytes)),
  });
  const openStream: OpenStream = (channel, input) => {
    if (socket?.readyState !== OPEN) return Promise.reject(new BoxkeepError('InvalidState', `Boxkeep is unreachable, so ${channel} could not open; it opens again once the connection is back.`));
    return streams.open(channel, input);
  };

  const invoke: Invoke = (channel, input) =>
    new Promise((resolve, reject) => {
      const message: InvokeMessage = { type: 'invoke', id: nextId++, channel, input };
      pending.set(message.id, { channel, resolve, reject });
      if (socket?.readyState === OPEN) return socket.send(JSON.stringify(message));
      const timer = setTimeout(() => {
        const at = queued.findIndex((q) => q.message.id === message.id);
        if (at >= 0) queued.splice(at, 1);
        pending.delete(message.id);
        reject(new BoxkeepError('Internal', `Boxkeep is unreachable, so ${channel} was not sent. Check that \`boxkeep serve\` (or the app) is still running, then try again.`));
      }, QUEUE_WAIT_MS);
      queued.push({ message, timer });
    });

  return new Promise((resolveBridge, rejectBridge) => {
    const open = () => {
      const ws = new Socket(url);
      socket = ws;
      ws.binaryType = 'arraybuffer';
      ws.onmessage = (ev) => {
        if (typeof ev.data !== 'string') {
          const frame = decodeDataFrame(ev.data instanceof ArrayBuffer ? new Uint8Array(ev.data) : (ev.data as Uint8Array));
          if (frame.ok) streams.receiveData(frame.stream, frame.bytes);
          return;
        }
        const message = readHostMessage(ev.data);
        if (!message) return;
        if (message.type.startsWith('stream-')) streams.receive(message as never);
        else deliverServerMessage(message as never, pending, events);
      };
      ws.onopen = () => {
        delay = minMs;
        droppedAt = null;
        diagnosed = false;
        for (const q of queued.splice(0)) {
          clearTimeout(q.timer);
          ws.send(JSON.stringify(q.message));
        }
        options.onStatus?.('connected');
        if (everConnected) {
          // Events sent while we were away are lost: tell every view to reload.
          events.emit('boxes:changed', { boxId: null });
        } else {
          everConnected = true;
          resolveBridge(Object.assign(createApi(invoke, openStream), { on: events.on.bind(events), desktop: false }));
        }
      };
      ws.onerror = () => {};
      ws.onclose = () => {
        if (socket !== ws) return;
        socket = null;
        streams.dropAll('The connection to Boxkeep dropped; the stream ended.');
        for (const [id, call] of pending) {
          if (queued.some((q) => q.message.id === id)) continue;
          pending.delete(id);
          call.reject(new BoxkeepError('Internal', `The connection to Boxkeep dropped while ${call.channel} was running; it may have finished. Check the view once it reloads.`));
        }
        if (!everConnected) {
          rejectBridge(new BoxkeepError('Internal', 'Could not connect to Boxkeep. Check that `boxkeep serve` is still running and open the full URL it printed (with ?token=...).'));
          return;
        }
        droppedAt ??= Date.now();
        if (!diagnosed && Date.now() - droppedAt >= LOST_AFTER_MS && options.pageServed) {
          diagnosed = true;
          const port = new URL(url).port;
          void options.pageServed().then((served) => {
            if (droppedAt !== null) options.onStatus?.('lost', lostConnectionText(served, port));
          });
        } else if (!diagnosed) {
          options.onStatus?.('reconnecting');
        }
        setTimeout(open, delay);
        delay = Math.min(maxMs, delay * 2);
      };
    };
    open();
  });
}
