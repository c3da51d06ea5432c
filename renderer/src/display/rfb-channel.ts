// The guest's screen as noVNC wants it: noVNC's RFB takes any object shaped like a WebSocket
// (its Websock checks for send, close, binaryType, protocol, readyState and the four on*
// handlers), so a box's display stream (raw RFB bytes from QEMU's VNC unix socket, relayed by
// the engine) is handed to it through this adapter: no websockify, no port.
//
// - The stream is already open when it is handed over, so the channel is OPEN from the start:
//   noVNC then begins the RFB handshake at attach, as it does for an open RTCDataChannel, and
//   onopen is never called.
// - Bytes arrive as ArrayBuffer messages, and only once noVNC has set onmessage: until then
//   the stream keeps them (a ByteStream holds bytes until its first reader).
// - send() copies (noVNC reuses its send buffer after each send) and respects the stream's
//   back-pressure: once write() says the window is full, later sends wait here, in order,
//   until the stream drains; bufferedAmount counts them, as a WebSocket's does. At most one
//   stream window waits here: a side that drains nothing for that long (keys and pointer
//   moves are a few bytes each) is stuck, and the stream is ended as broken (the Display tab
//   then joins again) rather than keeping every mouse move in memory.
// - The end of the stream becomes error (for a broken stream) and close events, after the
//   current task as a real socket's are: noVNC arms a timer right after calling close() and
//   expects the close event to come later. The close event's reason is the sentence the
//   Display tab shows ("The box stopped.").
//
// DOM-free (plain objects for events) so it is tested under Node against noVNC's own Websock.
import { STREAM_WINDOW, type ByteStream, type CloseReason, type StreamEnd } from '../../../shared/streams.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

export interface ChannelCloseEvent {
  type: 'close';
  /** 1000 closed here or by the guest side, 1001 the box stopped, 1011 the stream broke. */
  code: number;
  /** What the person is told. */
  reason: string;
  wasClean: boolean;
  /** The stream's own end, for the view to decide what comes next. */
  end: StreamEnd;
}

type Handler<E> = ((event: E) => void) | null;

const CODES: Record<CloseReason, number> = { closed: 1000, 'box-stopped': 1001, error: 1011 };

/** The sentence the Display tab shows when the screen's stream ends. */
export function endText(end: StreamEnd): string {
  if (end.reason === 'box-stopped') return end.message || 'The box stopped.';
  if (end.reason === 'error') return `The screen’s connection broke: ${end.message}`;
  return end.message || 'The screen was closed.';
}

export class RfbChannel {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;

  binaryType = 'arraybuffer';
  readonly protocol = '';
  readyState = OPEN;
  /** Bytes sent but not yet written to the stream (it was full). */
  bufferedAmount = 0;
  onopen: Handler<{ type: 'open' }> = null;
  onclose: Handler<ChannelCloseEvent> = null;
  onerror: Handler<{ type: 'error'; message: string }> = null;

  private message: Handler<{ type: 'message'; data: ArrayBuffer }> = null;
  private reading = false;
  private waiting: Uint8Array[] = [];
  private full = false;
  private readonly offs: (() => void)[] = [];

  constructor(private readonly stream: ByteStream) {
    this.offs.push(stream.onDrain(() => this.drain()));
    this.offs.push(stream.onClose((end) => this.ended(end)));
  }

  get onmessage(): Handler<{ type: 'message'; data: ArrayBuffer }> {
    return this.message;
  }

  /** The first handler starts the flow (and gets what the stream kept until then). */
  set onmessage(handler: Handler<{ type: 'message'; data: ArrayBuffer }>) {
    this.message = handler;
    if (handler && !this.reading) {
      this.reading = true;
      this.offs.push(this.stream.onData((bytes) => this.message?.({ type: 'message', data: exactBuffer(bytes) })));
    }
  }

  send(data: Uint8Array | ArrayBuffer | string): void {
    // A stream that ended before this channel was made tells of it a microtask later; its
    // write() would throw into noVNC until then.
    if (this.readyState !== OPEN || this.stream.ended) return;
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data instanceof ArrayBuffer ? data.slice(0) : data.slice());
    if (bytes.length === 0) return;
    if (this.full) {
      if (this.bufferedAmount + bytes.length > STREAM_WINDOW) {
        this.stream.close({ reason: 'error', message: 'the box took no input from the screen for too long.' });
        return;
      }
      this.waiting.push(bytes);
      this.bufferedAmount += bytes.length;
      return;
    }
    this.full = !this.stream.write(bytes);
  }

  close(): void {
    if (this.readyState >= CLOSING) return;
    this.readyState = CLOSING;
    this.stream.close();
  }

  private drain() {
    this.full = false;
    while (this.waiting.length && !this.full && !this.stream.ended) {
      const bytes = this.waiting.shift()!;
      this.bufferedAmount -= bytes.length;
      this.full = !this.stream.write(bytes);
    }
  }

  private ended(end: StreamEnd) {
    this.readyState = CLOSED;
    this.waiting = [];
    this.bufferedAmount = 0;
    for (const off of this.offs.splice(0)) off();
    const reason = endText(end);
    setTimeout(() => {
      if (end.reason === 'error') this.onerror?.({ type: 'error', message: reason });
      this.onclose?.({ type: 'close', code: CODES[end.reason], reason, wasClean: end.reason !== 'error', end });
    }, 0);
  }
}

/** An ArrayBuffer holding exactly these bytes (a view's buffer may hold more). */
function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return bytes.slice().buffer as ArrayBuffer;
}
