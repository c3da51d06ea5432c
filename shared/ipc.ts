// What crosses Electron IPC between the main process and the preload, beyond the channel map:
// the reply envelope, the shape of window.boxkeep built on it, and the channel events use.
import type { Api, Subscribe } from './client.js';
import type { WireError } from './errors.js';

/**
 * Main's reply to one call. Errors cannot cross Electron's contextBridge with their code (only
 * the message survives), so every call resolves to this envelope instead of rejecting.
 */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: WireError };

/** The client's Api, each verb resolving to its Settled envelope instead of rejecting. */
export type SettledApi = {
  [A in keyof Api]: { [V in keyof Api[A]]: Api[A][V] extends (...args: infer I) => Promise<infer R> ? (...args: I) => Promise<Settled<R>> : never };
};

/** window.boxkeep, as the preload builds it and the renderer's transport reads it. */
export type PreloadBridge = SettledApi & { on: Subscribe };

/** The single IPC channel main uses to push events to windows. */
export const EVENT_CHANNEL = 'boxkeep:event';

/** Main's answer to a stream channel; the port for it comes on STREAM_PORT_CHANNEL with the same id. */
export interface StreamOpened {
  stream: number;
}
/** Where main posts the MessagePort of an opened stream, with its StreamOpened as the message. */
export const STREAM_PORT_CHANNEL = 'boxkeep:stream-port';
