// What the preload exposes as `window.boxkeep`: one named verb per channel, generated from the
// channel map, plus `on` for events. Never a raw invoke, never ipcRenderer.
//
// Errors cannot cross Electron's contextBridge with their code (only the message survives),
// so each verb resolves to main's settled envelope, passed on as it came, and the renderer's
// transport rebuilds the BoxkeepError from it. Plain Node: the Electron preload only supplies `invoke` and `subscribe`.
import { CHANNELS, type Channel } from '../../shared/channels.js';
import { isWireError, toWireError } from '../../shared/errors.js';
import { EVENT_NAMES, type EventName } from '../../shared/events.js';
import type { PreloadBridge, Settled } from '../../shared/ipc.js';

/** Sends one channel over IPC and resolves to main's settled reply. */
export type PreloadInvoke = (channel: Channel, input: unknown) => Promise<unknown>;
/** Listens to EVENT_CHANNEL; returns the unsubscribe. */
export type PreloadSubscribe = (listener: (message: unknown) => void) => () => void;

export function buildPreloadBridge(invoke: PreloadInvoke, subscribe: PreloadSubscribe): PreloadBridge {
  const api: Record<string, Record<string, (input?: unknown) => Promise<Settled<unknown>>>> = {};
  for (const channel of CHANNELS) {
    const [area, verb] = channel.split(':') as [string, string];
    (api[area] ??= {})[verb] = async (input?: unknown) => asSettled(await invoke(channel, input ?? {}).catch(settleThrown));
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
