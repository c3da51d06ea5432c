// A stream over a MessagePort of its own (Electron: MessageChannelMain in the main process, the
// port handed to the renderer by the preload). One port is one stream, so no ids: each message
// is one StreamFrame, structured-cloned (bytes as a Uint8Array, never base64). Written against
// a small port shape, so the same code runs on Electron's MessagePortMain, the DOM MessagePort
// and, in tests, worker_threads' MessagePort.
import { CLOSE_REASONS, FramedStream, STREAM_WINDOW, type CloseReason, type StreamFrame } from './streams.js';

export interface PortEnd {
  post(message: StreamFrame): void;
  onMessage(listener: (data: unknown) => void): void;
  /** The port is closed, by either side. */
  onClose(listener: () => void): void;
  start(): void;
  close(): void;
}

/** A port message checked field by field; anything else yields why. */
export function parsePortFrame(data: unknown): StreamFrame | string {
  if (typeof data !== 'object' || data === null) return 'A stream port message must be an object.';
  const m = data as Record<string, unknown>;
  if (m.kind === 'data') {
    if (!(m.bytes instanceof Uint8Array)) return 'A data message must carry its bytes as a Uint8Array.';
    if (m.bytes.length > STREAM_WINDOW) return `A data message carries ${m.bytes.length} bytes, more than the ${STREAM_WINDOW}-byte window.`;
    return { kind: 'data', bytes: m.bytes };
  }
  if (m.kind === 'ack') {
    if (typeof m.bytes !== 'number' || !Number.isSafeInteger(m.bytes) || m.bytes <= 0) return 'An ack message needs bytes: a whole number above 0.';
    return { kind: 'ack', bytes: m.bytes };
  }
  if (m.kind === 'close') {
    if (!(CLOSE_REASONS as unknown[]).includes(m.reason)) return `A close message needs a reason: one of ${CLOSE_REASONS.join(', ')}.`;
    return { kind: 'close', reason: m.reason as CloseReason, message: typeof m.message === 'string' ? m.message.slice(0, 2000) : '' };
  }
  return `Unknown stream port message kind ${JSON.stringify(String(m.kind).slice(0, 30))}.`;
}

/**
 * The stream spoken over `port`. Whoever receives a close frame closes the port (so a close
 * frame is never lost to a port closed right after posting it); a port that closes without
 * one means the other side is gone.
 */
export function portStream(port: PortEnd): FramedStream {
  const stream = new FramedStream((frame) => port.post(frame));
  port.onMessage((data) => {
    const frame = parsePortFrame(data);
    if (typeof frame === 'string') return stream.close({ reason: 'error', message: `The other side broke the stream protocol: ${frame}` });
    stream.receive(frame);
    if (frame.kind === 'close') port.close();
  });
  port.onClose(() => stream.drop({ reason: 'closed', message: 'The other side of the stream went away.' }));
  port.start();
  return stream;
}
