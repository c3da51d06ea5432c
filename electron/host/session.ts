// One client session of a connection transport (a WebSocket, or a connection on the control
// socket): frames in, results, events and stream frames out, following shared/wire.ts and
// shared/stream-wire.ts. The transports only move text (and binary data frames, where they
// have them); everything about the protocol lives here so both behave the same.
import { toWireError } from '../../shared/errors.js';
import { EVENT_NAMES } from '../../shared/events.js';
import { decodeDataFrame, jsonCarrier, type StreamCarrier } from '../../shared/stream-wire.js';
import { parseInvoke, type HostMessage } from '../../shared/wire.js';
import type { Router } from '../../shared/transport.js';
import { openStreamHost } from './stream-host.js';

export interface ClientSessionIo {
  /** Sends one serialized message; returns false when the peer is gone. */
  send(text: string): boolean;
  /** Sends one stream's bytes as a binary frame; without it they go base64 in a JSON message. */
  sendData?(stream: number, bytes: Uint8Array): void;
}

export interface ClientSession {
  /** Handles one client frame (a WebSocket text message or one line of the control socket). */
  receive(text: string): void;
  /** A binary frame (the WebSocket's stream data). */
  receiveBinary(frame: Uint8Array): void;
  /** Stops event delivery; in-flight calls still finish but their results are dropped. */
  close(): void;
  /** Resolves once no call of this session is in flight (their results sent). */
  settled(): Promise<void>;
}

/** A frame too broken to name its id is answered with this id, so the client can still log it. */
export const UNATTRIBUTED_ID = -1;

export function openSession(router: Router, io: ClientSessionIo): ClientSession {
  let open = true;
  const send = (message: HostMessage) => {
    if (open) io.send(JSON.stringify(message));
  };
  const unsubscribe = EVENT_NAMES.map((event) => router.on(event, (payload) => send({ type: 'event', event, payload } as HostMessage)));
  const json = jsonCarrier(send);
  const carrier: StreamCarrier = io.sendData ? { sendMessage: send, sendData: (stream, bytes) => open && io.sendData!(stream, bytes) } : json;
  const streams = openStreamHost(router, carrier);
  const inFlight = new Set<Promise<unknown>>();

  return {
    receive(text) {
      if (!open) return;
      const parsed = parseInvoke(text);
      if (!parsed.ok) {
        // A broken stream message that names its stream closes that stream, so its reader learns why.
        if (typeof parsed.stream === 'number') return streams.fail(parsed.stream, parsed.reason);
        send({ type: 'result', id: parsed.id ?? UNATTRIBUTED_ID, ok: false, error: { code: 'InvalidArgument', message: parsed.reason } });
        return;
      }
      if (parsed.message.type !== 'invoke') return streams.receive(parsed.message);
      const { id, channel, input } = parsed.message;
      const call = router.invoke(channel, input).then(
        (value) => send({ type: 'result', id, ok: true, value: value ?? null }),
        (err: unknown) => send({ type: 'result', id, ok: false, error: toWireError(err) }),
      );
      inFlight.add(call);
      void call.finally(() => inFlight.delete(call));
    },
    receiveBinary(frame) {
      if (!open) return;
      const data = decodeDataFrame(frame);
      if (data.ok) return streams.receiveData(data.stream, data.bytes);
      send({ type: 'result', id: UNATTRIBUTED_ID, ok: false, error: { code: 'InvalidArgument', message: data.reason } });
    },
    async settled() {
      while (inFlight.size) await Promise.allSettled([...inFlight]);
    },
    close() {
      if (!open) return;
      for (const off of unsubscribe) off();
      streams.close();
      open = false;
    },
  };
}
