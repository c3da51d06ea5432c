// The host end of a connection's streams (a WebSocket or a control-socket connection): opens
// what the client asks through the router, joins each engine stream to its framed stream on
// the connection, and answers frames for streams that are not open with a clear close.
import { BoxkeepError, toWireError } from '../../shared/errors.js';
import { joinStreams, type StreamEnd } from '../../shared/streams.js';
import { MAX_STREAMS_PER_CONNECTION, StreamTable, type StreamCarrier, type StreamMessage } from '../../shared/stream-wire.js';
import type { Router } from '../../shared/transport.js';

const GONE: StreamEnd = { reason: 'closed', message: 'The viewer disconnected.' };

export interface StreamHost {
  receive(message: StreamMessage): void;
  receiveData(stream: number, bytes: Uint8Array): void;
  /** A broken message named this stream: it ends (if open) with reason 'error' and why. */
  fail(stream: number, why: string): void;
  /** The connection closed: every stream on it ends, and so does what it was joined to. */
  close(): void;
}

export function openStreamHost(router: Router, carrier: StreamCarrier): StreamHost {
  const table = new StreamTable(carrier);
  const opening = new Set<number>();
  let closed = false;

  const notOpen = (stream: number) =>
    carrier.sendMessage({ type: 'stream-close', stream, reason: 'error', message: `No stream ${stream} is open on this connection (it was closed, or never opened); open one with stream-open first.` });
  const refuse = (stream: number, err: unknown) => carrier.sendMessage({ type: 'stream-refused', stream, error: toWireError(err) });

  function open(stream: number, channel: string, input: unknown) {
    if (table.streams.has(stream) || opening.has(stream)) {
      return refuse(stream, new BoxkeepError('InvalidArgument', `Stream ${stream} is already open on this connection; open another with a new id.`));
    }
    if (table.streams.size + opening.size >= MAX_STREAMS_PER_CONNECTION) {
      return refuse(stream, new BoxkeepError('InvalidState', `This connection already has ${MAX_STREAMS_PER_CONNECTION} streams open; close one first.`));
    }
    opening.add(stream);
    router.openStream(channel, input).then(
      (engine) => {
        opening.delete(stream);
        if (closed) return engine.close(GONE);
        const framed = table.create(stream);
        // "opened" first: the join starts data flowing at once.
        carrier.sendMessage({ type: 'stream-opened', stream });
        joinStreams(engine, framed);
      },
      (err: unknown) => {
        opening.delete(stream);
        if (!closed) refuse(stream, err);
      },
    );
  }

  return {
    receive(message) {
      if (closed) return;
      if (message.type === 'stream-open') return open(message.stream, message.channel, message.input);
      if (message.type === 'stream-opened' || message.type === 'stream-refused') {
        return carrier.sendMessage({ type: 'stream-close', stream: message.stream, reason: 'error', message: `Only the host sends ${message.type}; a client opens streams with stream-open.` });
      }
      // A late ack or close for a stream that just ended is harmless; data for it is a mistake worth saying.
      if (!table.receive(message) && message.type === 'stream-data') notOpen(message.stream);
    },
    receiveData(stream, bytes) {
      if (!closed && !table.receiveData(stream, bytes)) notOpen(stream);
    },
    fail(stream, why) {
      if (closed) return;
      const framed = table.streams.get(stream);
      if (framed) framed.close({ reason: 'error', message: why });
      else carrier.sendMessage({ type: 'stream-close', stream, reason: 'error', message: why });
    },
    close() {
      if (closed) return;
      closed = true;
      table.dropAll(GONE);
    },
  };
}
