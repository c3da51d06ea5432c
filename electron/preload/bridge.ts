// What the preload exposes as `window.boxkeep`: one named verb per channel, generated from the
// channel map, plus `on` for events. Never a raw invoke, never ipcRenderer.
//
// Errors cannot cross Electron's contextBridge with their code (only the message survives),
// so each verb resolves to main's settled envelope, passed on as it came, and the renderer's
// transport rebuilds the BoxkeepError from it. Plain Node: the Electron preload only supplies `invoke` and `subscribe`.
import { CHANNELS, isStreamChannel, type Channel } from '../../shared/channels.js';
import { isWireError, toWireError } from '../../shared/errors.js';
import { EVENT_NAMES, type EventName } from '../../shared/events.js';
import type { PreloadBridge, Settled } from '../../shared/ipc.js';
import { portStream, type PortEnd } from '../../shared/port-stream.js';
import type { ByteStream } from '../../shared/streams.js';

/** Sends one channel over IPC and resolves to main's settled reply. */
export type PreloadInvoke = (channel: Channel, input: unknown) => Promise<unknown>;
/** Listens to EVENT_CHANNEL; returns the unsubscribe. */
export type PreloadSubscribe = (listener: (message: unknown) => void) => () => void;

/** Ports main posted on STREAM_PORT_CHANNEL, waiting for the stream call that asked for them. */
export interface PortInbox {
  deliver(stream: number, port: PortEnd): void;
  take(stream: number): Promise<PortEnd>;
}

/** How long a stream call waits for its port after main answered (they travel separately). */
const PORT_WAIT_MS = 5000;

export function createPortInbox(): PortInbox {
  const arrived = new Map<number, PortEnd>();
  const waiting = new Map<number, (port: PortEnd) => void>();
  return {
    deliver(stream, port) {
      const take = waiting.get(stream);
      if (take) {
        waiting.delete(stream);
        take(port);
      } else arrived.set(stream, port);
    },
    take(stream) {
      const port = arrived.get(stream);
      if (port) {
        arrived.delete(stream);
        return Promise.resolve(port);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(stream);
          reject(new Error('The main process opened the stream but its port never came.'));
        }, PORT_WAIT_MS);
        waiting.set(stream, (p) => {
          clearTimeout(timer);
          resolve(p);
        });
      });
    },
  };
}

/**
 * A stream as the page gets it across the context bridge: functions only (the bridge copies
 * plain values once, so `ended` could not stay current; the renderer's transport tracks it).
 */
export type ExposedStream = Omit<ByteStream, 'ended'>;

export function exposeStream(stream: ByteStream): ExposedStream {
  return Object.freeze({
    write: (bytes: Uint8Array) => stream.write(bytes),
    onData: (listener: (bytes: Uint8Array) => void) => stream.onData(listener),
    onDrain: (listener: () => void) => stream.onDrain(listener),
    onClose: (listener: Parameters<ByteStream['onClose']>[0]) => stream.onClose(listener),
    pause: () => stream.pause(),
    resume: () => stream.resume(),
    close: (end?: Parameters<ByteStream['close']>[0]) => stream.close(end),
  });
}

export function buildPreloadBridge(invoke: PreloadInvoke, subscribe: PreloadSubscribe, ports: PortInbox = createPortInbox()): PreloadBridge {
  const api: Record<string, Record<string, (input?: unknown) => Promise<Settled<unknown>>>> = {};
  for (const channel of CHANNELS) {
    const [area, verb] = channel.split(':') as [string, string];
    const call = async (input?: unknown) => asSettled(await invoke(channel, input ?? {}).catch(settleThrown));
    (api[area] ??= {})[verb] = isStreamChannel(channel) ? async (input?: unknown) => openStream(await call(input), ports) : call;
  }
  const on = (event: EventName, listener: (payload: unknown) => void) => {
    if (!EVENT_NAMES.includes(event)) throw new TypeError(`Unknown event ${JSON.stringify(String(event))}; use one of ${EVENT_NAMES.join(', ')}.`);
    if (typeof listener !== 'function') throw new TypeError('The listener must be a function.');
    return subscribe((message) => {
      const m = message as { event?: unknown; payload?: unknown } | null;
      if (m && m.event === event) listener(m.payload);
    });
  };
  return Object.freeze({ ...api, on }) as unknown as PreloadBridge;
}

/** Main answered {stream: id}: the port with that id becomes the page's stream. */
async function openStream(reply: Settled<unknown>, ports: PortInbox): Promise<Settled<unknown>> {
  if (!reply.ok) return reply;
  const id = (reply.value as { stream?: unknown } | null)?.stream;
  if (typeof id !== 'number') return { ok: false, error: { code: 'Internal', message: 'The main process answered a stream call in an unknown shape.' } };
  try {
    return { ok: true, value: exposeStream(portStream(await ports.take(id))) };
  } catch (err) {
    return settleThrown(err);
  }
}

/** IPC itself failed (main never replied): the call settles as Internal, not as a rejection. */
function settleThrown(err: unknown): Settled<never> {
  return { ok: false, error: toWireError(err) };
}

function asSettled(reply: unknown): Settled<unknown> {
  const r = reply as Settled<unknown> | null;
  if (r && r.ok === true && 'value' in r) return r;
  if (r && r.ok === false && isWireError(r.error)) return r;
  return { ok: false, error: { code: 'Internal', message: 'The main process replied in an unknown shape.' } };
}
