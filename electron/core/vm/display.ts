// The box's screen, held by the supervisor: QEMU's VNC server on vnc.sock in the run folder.
// Unlike the serial terminal (one connection shared by every viewer, see serial.ts), RFB is a
// stateful protocol per client (its own handshake, pixel format, encodings and update
// requests), so every display stream is its own VNC connection and carries that client's raw
// RFB bytes both ways; QEMU serves them side by side (share=ignore, see qemu.ts).
//
// Back-pressure is the socket's: a viewer that pauses stops this connection being read, and
// QEMU only sends a framebuffer update when its client asks for one, so a slow viewer slows
// its own updates and nobody else's.
import type { Socket } from 'node:net';
import { net } from '../builtins.js';
import { invalidState, vmError } from '../../../shared/errors.js';
import { LocalStream, type ByteStream, type StreamEnd } from '../../../shared/streams.js';
import type { Logger } from '../logger.js';

/** After a connection drops, how long to wait for the supervisor to say why (QEMU's exit) before calling it an error. */
const WHY_WAIT_MS = 1000;

/**
 * Viewers of one box at once. Each is a VNC client inside QEMU with its own update state and
 * output buffer; QEMU's own limit (-vnc connections=, 32 by default) drops clients past it
 * without a word, so a clear refusal here, well below it, says what to do instead.
 */
export const MAX_VIEWERS = 8;

export class DisplayHub {
  private readonly viewers = new Map<LocalStream, Socket>();
  /** Viewers whose connection dropped, waiting WHY_WAIT_MS for end() to give the reason. */
  private readonly dropped = new Map<LocalStream, ReturnType<typeof setTimeout>>();
  private endedWith: StreamEnd | null = null;
  /** Opens waiting for QEMU to accept: they count against MAX_VIEWERS too. */
  private connecting = 0;

  constructor(private readonly socketPath: string, private readonly label: string, private readonly logger: Logger, private readonly boxId: string) {}

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** A new VNC connection as a stream; resolves once QEMU accepted it. */
  async open(): Promise<ByteStream> {
    this.assertOpen();
    if (this.viewers.size + this.connecting >= MAX_VIEWERS) {
      throw invalidState(`The screen of ${this.label} already has ${MAX_VIEWERS} viewers open, the most it takes; close one of them first.`);
    }
    this.connecting++;
    let socket: Socket;
    try {
      socket = await this.connect();
    } finally {
      this.connecting--;
    }
    // The box stopped (or this process let go of it) while QEMU was accepting: a viewer added
    // now would never be ended, and its socket would keep this process alive.
    if (this.endedWith) {
      socket.destroy();
      this.assertOpen();
    }
    const stream = new LocalStream({
      write: (bytes) => (socket.destroyed ? true : socket.write(bytes)),
      setPaused: (paused) => (paused ? socket.pause() : socket.resume()),
      closed: () => {
        this.viewers.delete(stream);
        clearTimeout(this.dropped.get(stream));
        this.dropped.delete(stream);
        socket.destroy();
      },
    });
    this.viewers.set(stream, socket);
    socket.on('data', (bytes: Buffer) => stream.push(bytes));
    socket.on('drain', () => stream.writable());
    socket.on('error', () => undefined); // 'close' follows and says what matters
    socket.on('close', () => {
      if (!this.viewers.delete(stream)) return;
      // QEMU dropped this client: a protocol error on the viewer's side, or QEMU exiting, which
      // the supervisor reports in a moment (then the viewer ends with box-stopped, see end()).
      const timer = setTimeout(() => {
        this.dropped.delete(stream);
        stream.end({ reason: 'error', message: `The connection to the screen of ${this.label} was lost; open it again.` });
      }, WHY_WAIT_MS);
      timer.unref?.();
      this.dropped.set(stream, timer);
    });
    this.logger.info('display opened', { op: 'display-open', boxId: this.boxId, viewers: this.viewers.size });
    return stream;
  }

  private assertOpen(): void {
    if (this.endedWith) throw invalidState(`The screen of ${this.label} is closed: ${this.endedWith.message}`);
  }

  /** The box is gone (or this process lets go of it): every viewer ends with `end`. */
  end(end: StreamEnd): void {
    if (this.endedWith) return;
    this.endedWith = end;
    for (const [stream, timer] of [...this.dropped]) {
      clearTimeout(timer);
      this.dropped.delete(stream);
      stream.end(end);
    }
    for (const [stream, socket] of [...this.viewers]) {
      this.viewers.delete(stream);
      stream.end(end);
      socket.destroy();
    }
  }

  private connect(): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const socket = net().connect(this.socketPath);
      socket.once('error', (err) => {
        reject(vmError(`Could not connect to the screen of ${this.label} (${this.socketPath}): ${err.message}. Stop the box and start it again.`, err));
      });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve(socket);
      });
    });
  }
}
