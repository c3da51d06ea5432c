// Messages on the stream transports (WebSocket for the browser, the local control socket for
// the CLI). One JSON object per WebSocket text frame, or per line on the control socket.
import { BoxkeepError, type WireError } from './errors.js';
import { EVENT_NAMES, type Emitter, type EventMap, type EventName } from './events.js';

export interface InvokeMessage {
  type: 'invoke';
  id: number;
  channel: string;
  input: unknown;
}

export type ResultMessage =
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: WireError };

export interface EventMessage<E extends EventName = EventName> {
  type: 'event';
  event: E;
  payload: EventMap[E];
}

export type ServerMessage = ResultMessage | EventMessage;

/** Largest message either side accepts; larger ones are refused, not parsed. */
export const MAX_MESSAGE_BYTES = 1_000_000;

/** Parses a client frame defensively: anything malformed yields a reason instead of a throw. */
export function parseInvoke(text: string): { ok: true; message: InvokeMessage } | { ok: false; reason: string; id: number | null } {
  if (text.length > MAX_MESSAGE_BYTES) return { ok: false, reason: 'The message is larger than 1 MB.', id: null };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'The message is not valid JSON.', id: null };
  }
  if (typeof value !== 'object' || value === null) return { ok: false, reason: 'The message must be a JSON object.', id: null };
  const m = value as Record<string, unknown>;
  const id = typeof m.id === 'number' && Number.isSafeInteger(m.id) ? m.id : null;
  if (m.type !== 'invoke') return { ok: false, reason: 'The message type must be "invoke".', id };
  if (id === null) return { ok: false, reason: 'The message needs a whole-number id.', id };
  if (typeof m.channel !== 'string') return { ok: false, reason: 'The message needs a channel name.', id };
  return { ok: true, message: { type: 'invoke', id, channel: m.channel, input: m.input } };
}

export function isServerMessage(value: unknown): value is ServerMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  if (m.type === 'result') return typeof m.id === 'number' && typeof m.ok === 'boolean';
  if (m.type === 'event') return (EVENT_NAMES as unknown[]).includes(m.event);
  return false;
}

/** A call the client has sent and is waiting on, keyed by its message id. */
export interface PendingCall {
  resolve(value: unknown): void;
  reject(err: BoxkeepError): void;
}

/**
 * The client side of a server message: an event goes to the emitter, a result settles (and
 * forgets) the call with its id. A result for an unknown id is dropped: that call has already
 * been failed, e.g. when the connection dropped or the call timed out.
 */
export function deliverServerMessage(message: ServerMessage, pending: Map<number, PendingCall>, events: Emitter): void {
  if (message.type === 'event') return events.emit(message.event, message.payload as never);
  const call = pending.get(message.id);
  if (!call) return;
  pending.delete(message.id);
  if (message.ok) call.resolve(message.value);
  else call.reject(BoxkeepError.fromWire(message.error));
}
