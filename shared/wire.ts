// Messages on the connection transports (WebSocket for the browser, the local control socket
// for the CLI). One JSON object per WebSocket text frame, or per line on the control socket.
// Byte streams add their own messages (shared/stream-wire.ts) on the same connection.
import { BoxkeepError, type WireError } from './errors.js';
import { EVENT_NAMES, type Emitter, type EventMap, type EventName } from './events.js';
import { isStreamMessageType, parseStreamMessage, type StreamMessage } from './stream-wire.js';

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
/** Everything a host may send: results, events and stream messages. */
export type HostMessage = ServerMessage | StreamMessage;

/** Largest message either side accepts; larger ones are refused, not parsed. */
export const MAX_MESSAGE_BYTES = 1_000_000;

export type ParsedClientMessage =
  | { ok: true; message: InvokeMessage | StreamMessage }
  | { ok: false; reason: string; id: number | null; stream?: number | null };

/** Parses a client frame defensively: anything malformed yields a reason instead of a throw. */
export function parseInvoke(text: string): ParsedClientMessage {
  if (text.length > MAX_MESSAGE_BYTES) return { ok: false, reason: 'The message is larger than 1 MB.', id: null };
  const m = parseObject(text);
  if (typeof m === 'string') return { ok: false, reason: m, id: null };
  if (isStreamMessageType(m.type)) {
    const parsed = parseStreamMessage(m);
    return parsed.ok ? parsed : { ok: false, reason: parsed.reason, id: null, stream: parsed.stream };
  }
  const id = typeof m.id === 'number' && Number.isSafeInteger(m.id) ? m.id : null;
  if (m.type !== 'invoke') return { ok: false, reason: 'The message type must be "invoke" (or a stream message).', id };
  if (id === null) return { ok: false, reason: 'The message needs a whole-number id.', id };
  if (typeof m.channel !== 'string') return { ok: false, reason: 'The message needs a channel name.', id };
  return { ok: true, message: { type: 'invoke', id, channel: m.channel, input: m.input } };
}

/** A JSON object, or why the text is not one. */
export function parseObject(text: string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'The message is not valid JSON.';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'The message must be a JSON object.';
  return value as Record<string, unknown>;
}

/** A host message read defensively by a client; null for anything it cannot use. */
export function readHostMessage(text: string): HostMessage | null {
  const m = parseObject(text);
  if (typeof m === 'string') return null;
  if (isStreamMessageType(m.type)) {
    const parsed = parseStreamMessage(m);
    return parsed.ok ? parsed.message : null;
  }
  return isServerMessage(m) ? m : null;
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
