// Byte streams: a channel marked `stream` in the channel map opens one (`consoles:open {box}`),
// and it carries raw bytes both ways until either side closes it, with the reason. Every
// transport hands its callers the same ByteStream; this file holds that shape, the one written
// by the engine (LocalStream) and the one spoken over a carrier of frames (FramedStream: the
// WebSocket, the control socket, an Electron MessagePort).
//
// Back-pressure is credit based: a side may have at most STREAM_WINDOW bytes sent and not yet
// acknowledged; the receiver acknowledges bytes once its listeners have taken them, and holds
// its acknowledgements while paused. So a reader that stops reading stops the writer within
// one window, and nothing on the way buffers more than that.

export type CloseReason = 'closed' | 'box-stopped' | 'error';
export const CLOSE_REASONS: readonly CloseReason[] = ['closed', 'box-stopped', 'error'];

/** Why a stream ended, in words a person can act on. */
export interface StreamEnd {
  reason: CloseReason;
  message: string;
}

/** Bytes a side may have in flight (sent, not acknowledged). */
export const STREAM_WINDOW = 256 * 1024;
/** Largest data frame a FramedStream sends; longer writes are cut into such pieces. */
export const STREAM_CHUNK = 64 * 1024;

export interface ByteStream {
  /** Sends bytes to the other side. False once a window is in flight: wait for onDrain. Throws once ended. */
  write(bytes: Uint8Array): boolean;
  onData(listener: (bytes: Uint8Array) => void): () => void;
  /** Writing is welcome again after write() returned false. */
  onDrain(listener: () => void): () => void;
  /** Called once, with why it ended; at once if it has already ended. */
  onClose(listener: (end: StreamEnd) => void): () => void;
  /** Asks the other side to stop sending (it stops within one window); resume() lets it go on. */
  pause(): void;
  resume(): void;
  /** Ends the stream for both sides; the default reason is 'closed'. */
  close(end?: StreamEnd): void;
  readonly ended: StreamEnd | null;
}

export const CLOSED_HERE: StreamEnd = { reason: 'closed', message: 'The stream was closed.' };

/** Listeners, data buffered until the first reader, and the end: what every ByteStream shares. */
abstract class BaseStream implements ByteStream {
  ended: StreamEnd | null = null;
  private readonly data = new Set<(bytes: Uint8Array) => void>();
  private readonly drain = new Set<() => void>();
  private readonly closeListeners = new Set<(end: StreamEnd) => void>();
  /** Bytes that came before anyone listened: a caller attaches onData after open resolves. */
  protected early: Uint8Array[] = [];

  abstract write(bytes: Uint8Array): boolean;
  abstract pause(): void;
  abstract resume(): void;
  abstract close(end?: StreamEnd): void;
  /** Bytes were handed to a reader (FramedStream acknowledges them then). */
  protected delivered(_n: number): void {}

  onData(listener: (bytes: Uint8Array) => void) {
    this.data.add(listener);
    if (this.early.length) {
      const early = this.early;
      this.early = [];
      for (const bytes of early) this.deliver(bytes);
    }
    return () => void this.data.delete(listener);
  }

  onDrain(listener: () => void) {
    this.drain.add(listener);
    return () => void this.drain.delete(listener);
  }

  onClose(listener: (end: StreamEnd) => void) {
    if (this.ended) {
      const end = this.ended;
      queueMicrotask(() => listener(end));
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => void this.closeListeners.delete(listener);
  }

  protected deliver(bytes: Uint8Array): void {
    if (this.data.size === 0) {
      this.early.push(bytes);
      return;
    }
    for (const listener of this.data) guard(() => listener(bytes));
    this.delivered(bytes.length);
  }

  protected drained(): void {
    for (const listener of this.drain) guard(listener);
  }

  /** Marks the end and tells the listeners, once. */
  protected finish(end: StreamEnd): boolean {
    if (this.ended) return false;
    this.ended = end;
    for (const listener of this.closeListeners) guard(() => listener(end));
    this.closeListeners.clear();
    this.drain.clear();
    return true;
  }

  protected assertOpen(): void {
    if (this.ended) throw new StreamClosedError(this.ended);
  }
}

/** A faulty listener must not stop the others, nor the stream. */
function guard(fn: () => void) {
  try {
    fn();
  } catch {
    /* ignored on purpose */
  }
}

export class StreamClosedError extends Error {
  constructor(readonly end: StreamEnd) {
    super(`The stream is closed: ${end.message}`);
    this.name = 'StreamClosedError';
  }
}

/** What the owner of a LocalStream does with what its reader asks. */
export interface LocalStreamHooks {
  write(bytes: Uint8Array): boolean;
  setPaused(paused: boolean): void;
  /** The reader closed it (not called when the owner ends it). */
  closed(end: StreamEnd): void;
  /** The first reader attached: a source that sends only what is asked for (a file) starts now, not into the buffer for early bytes. */
  listening?(): void;
}

/** The engine's side of a stream: the owner pushes bytes and ends it; the reader's calls go to the hooks. */
export class LocalStream extends BaseStream {
  private listened = false;

  constructor(private readonly hooks: LocalStreamHooks) {
    super();
  }

  override onData(listener: (bytes: Uint8Array) => void) {
    const off = super.onData(listener);
    if (!this.listened) {
      this.listened = true;
      this.hooks.listening?.();
    }
    return off;
  }

  write(bytes: Uint8Array): boolean {
    this.assertOpen();
    return this.hooks.write(bytes);
  }
  pause() {
    if (!this.ended) this.hooks.setPaused(true);
  }
  resume() {
    if (!this.ended) this.hooks.setPaused(false);
  }
  close(end: StreamEnd = CLOSED_HERE) {
    if (this.finish(end)) this.hooks.closed(end);
  }

  /** Owner: bytes for the reader. */
  push(bytes: Uint8Array) {
    if (!this.ended) this.deliver(bytes);
  }
  /** Owner: writes are welcome again. */
  writable() {
    if (!this.ended) this.drained();
  }
  /** Owner: the source is gone. */
  end(end: StreamEnd) {
    this.finish(end);
  }
}

/** What one side of a stream tells the other over a carrier. */
export type StreamFrame =
  | { kind: 'data'; bytes: Uint8Array }
  | { kind: 'ack'; bytes: number }
  | { kind: 'close'; reason: CloseReason; message: string };

/**
 * One end of a stream whose other end is across a carrier of frames. Sends data only within
 * the window the peer granted, queueing the rest; acknowledges what its listeners took unless
 * paused. A peer that breaks the protocol (more than a window in flight, an ack for bytes never
 * sent) ends the stream with reason 'error' for both sides.
 */
export class FramedStream extends BaseStream {
  private inFlight = 0;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private unacked = 0;
  private paused = false;
  private wantsDrain = false;
  /** Set by closeWhenSent: the end to send once the queue is empty. */
  private closing: StreamEnd | null = null;

  constructor(private readonly send: (frame: StreamFrame) => void) {
    super();
  }

  write(bytes: Uint8Array): boolean {
    this.assertOpen();
    if (this.closing) throw new StreamClosedError(this.closing);
    for (let at = 0; at < bytes.length; at += STREAM_CHUNK) {
      const piece = bytes.subarray(at, at + STREAM_CHUNK);
      this.queue.push(piece);
      this.queued += piece.length;
    }
    this.flush();
    const room = this.inFlight + this.queued < STREAM_WINDOW;
    if (!room) this.wantsDrain = true;
    return room;
  }

  pause() {
    this.paused = true;
  }

  resume() {
    this.paused = false;
    this.acknowledge();
  }

  close(end: StreamEnd = CLOSED_HERE) {
    if (this.ended) return;
    this.send({ kind: 'close', reason: end.reason, message: end.message });
    this.finish(end);
  }

  /**
   * Ends the stream once every byte written so far has gone to the peer, in order before the
   * end; close() drops what still waits for window. A source that finished (a file sent
   * whole) ends so: its last window of bytes must not be lost to its own end.
   */
  closeWhenSent(end: StreamEnd) {
    if (this.ended) return;
    if (this.queue.length === 0) return this.close(end);
    this.closing = end;
  }

  /** The carrier is gone: end without telling the peer (there is no one to tell). */
  drop(end: StreamEnd) {
    this.finish(end);
  }

  /** A frame from the peer. */
  receive(frame: StreamFrame): void {
    if (this.ended) return;
    if (frame.kind === 'close') {
      this.finish({ reason: frame.reason, message: frame.message });
      return;
    }
    if (frame.kind === 'ack') {
      if (!(frame.bytes > 0 && frame.bytes <= this.inFlight)) return this.broken(`acknowledged ${frame.bytes} bytes while ${this.inFlight} were in flight`);
      this.inFlight -= frame.bytes;
      this.flush();
      if (this.wantsDrain && this.inFlight + this.queued < STREAM_WINDOW) {
        this.wantsDrain = false;
        this.drained();
      }
      return;
    }
    if (frame.bytes.length === 0) return;
    if (this.unacked + frame.bytes.length > STREAM_WINDOW) return this.broken(`sent more than the ${STREAM_WINDOW}-byte window without waiting for acknowledgement`);
    this.unacked += frame.bytes.length;
    this.deliver(frame.bytes);
  }

  protected override delivered() {
    this.acknowledge();
  }

  private acknowledge() {
    // Bytes still waiting for a first reader stay unacknowledged: unacked counts them.
    if (this.paused || this.ended || this.unacked === 0 || this.early.length > 0) return;
    const bytes = this.unacked;
    this.unacked = 0;
    this.send({ kind: 'ack', bytes });
  }

  private flush() {
    while (this.queue.length && this.inFlight + this.queue[0]!.length <= STREAM_WINDOW && !this.ended) {
      const piece = this.queue.shift()!;
      this.queued -= piece.length;
      this.inFlight += piece.length;
      this.send({ kind: 'data', bytes: piece });
    }
    if (this.closing && this.queue.length === 0) this.close(this.closing);
  }

  private broken(what: string) {
    this.close({ reason: 'error', message: `The other side broke the stream protocol: it ${what}.` });
  }
}

/**
 * Joins two streams both ways: what either receives, the other writes, with back-pressure
 * carried across (a full writer pauses the reader feeding it), and an end on either side
 * ends the other with the same reason (after the bytes already written, for reason closed).
 */
export function joinStreams(a: ByteStream, b: ByteStream): void {
  const carry = (from: ByteStream, to: ByteStream) => {
    from.onData((bytes) => {
      if (!to.ended && !to.write(bytes)) from.pause();
    });
    to.onDrain(() => from.resume());
    // A source that ended as it should has its last bytes delivered first (see closeWhenSent).
    from.onClose((end) => (end.reason === 'closed' && to instanceof FramedStream ? to.closeWhenSent(end) : to.close(end)));
  };
  carry(a, b);
  carry(b, a);
}
