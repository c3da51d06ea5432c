// One client session of a stream transport (a WebSocket, or a connection on the control
// socket): frames in, results and events out, following shared/wire.ts. The transports only
// move text; everything about the protocol lives here so both behave the same.
import { toWireError } from '../../shared/errors.js';
import { EVENT_NAMES } from '../../shared/events.js';
import { parseInvoke, type ServerMessage } from '../../shared/wire.js';
import type { Router } from '../../shared/transport.js';

export interface ClientSessionIo {
  /** Sends one serialized message; returns false when the peer is gone. */
  send(text: string): boolean;
}

export interface ClientSession {
  /** Handles one client frame (a WebSocket text message or one line of the control socket). */
  receive(text: string): void;
  /** Stops event delivery; in-flight calls still finish but their results are dropped. */
  close(): void;
}

/** A frame too broken to name its id is answered with this id, so the client can still log it. */
export const UNATTRIBUTED_ID = -1;

export function openSession(router: Router, io: ClientSessionIo): ClientSession {
  let open = true;
  const send = (message: ServerMessage) => {
    if (open) io.send(JSON.stringify(message));
  };
  const unsubscribe = EVENT_NAMES.map((event) => router.on(event, (payload) => send({ type: 'event', event, payload } as ServerMessage)));

  return {
    receive(text) {
      if (!open) return;
      const parsed = parseInvoke(text);
      if (!parsed.ok) {
        send({ type: 'result', id: parsed.id ?? UNATTRIBUTED_ID, ok: false, error: { code: 'InvalidArgument', message: parsed.reason } });
        return;
      }
      const { id, channel, input } = parsed.message;
      router.invoke(channel, input).then(
        (value) => send({ type: 'result', id, ok: true, value: value ?? null }),
        (err: unknown) => send({ type: 'result', id, ok: false, error: toWireError(err) }),
      );
    },
    close() {
      if (!open) return;
      open = false;
      for (const off of unsubscribe) off();
    },
  };
}
