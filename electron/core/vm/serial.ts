// The box's serial terminal, held by the supervisor. QEMU's serial chardev serves one client
// at a time, so this process connects once (at the first console opened, whether it started
// the box or adopted it) and keeps the connection for as long as it controls the box; every
// console stream is a viewer of that one connection: output fans out to all of them, input
// from any goes in. QEMU itself writes the log (`logfile=` on the chardev), whoever listens.
//
// Back-pressure goes to the guest: while any viewer is paused the socket is not read, QEMU's
// writes to it stall, and so does the guest's serial port, as a real line with flow control.
// A viewer that goes away (its connection closed) stops holding it, and so does one that stays
// paused longer than SLOW_VIEWER_MS: a stuck reader (a frozen tab, a CLI piped into a pager
// nobody reads) must not freeze the guest's console, and its log, for everyone else.
import type { Socket } from 'node:net';
import { net } from '../builtins.js';
import { vmError } from '../../../shared/errors.js';
import { LocalStream, type ByteStream, type StreamEnd } from '../../../shared/streams.js';
import type { Logger } from '../logger.js';

/** After the socket drops, how long to wait for the supervisor to say why (QEMU's exit) before calling it an error. */
const WHY_WAIT_MS = 1000;
/** How long one viewer may hold the guest's output back (its window full) before it is closed. */
export const SLOW_VIEWER_MS = 5000;
export const SLOW_VIEWER_END: StreamEnd = { reason: 'error', message: 'This console could not keep up and was closed; reopen it.' };

interface Viewer {
  stream: LocalStream;
  paused: boolean;
  /** Runs while the viewer is paused: it ends the viewer when it fires. */
  slowTimer: ReturnType<typeof setTimeout> | null;
}

export class SerialHub {
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private readonly viewers = new Set<Viewer>();
  private endedWith: StreamEnd | null = null;
  private lostTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly socketPath: string, private readonly label: string, private readonly logger: Logger, private readonly boxId: string) {}

  get viewerCount(): number {
    return this.viewers.size;
  }

  async open(): Promise<ByteStream> {
    if (this.endedWith) throw vmError(`The console of ${this.label} is closed: ${this.endedWith.message}`);
    const socket = await this.connect();
    const viewer: Viewer = {
      paused: false,
      slowTimer: null,
      stream: new LocalStream({
        write: (bytes) => (socket.destroyed ? true : socket.write(bytes)),
        setPaused: (paused) => {
          if (!this.viewers.has(viewer)) return;
          viewer.paused = paused;
          if (paused && !viewer.slowTimer) {
            viewer.slowTimer = setTimeout(() => this.drop(viewer, SLOW_VIEWER_END), SLOW_VIEWER_MS);
            viewer.slowTimer.unref?.();
          } else if (!paused) this.stopTimer(viewer);
          this.updateFlow();
        },
        closed: () => this.forget(viewer),
      }),
    };
    this.viewers.add(viewer);
    return viewer.stream;
  }

  /** The box is gone (or this process lets go of it): every viewer ends with `end`. */
  end(end: StreamEnd): void {
    if (this.endedWith) return;
    this.endedWith = end;
    if (this.lostTimer) clearTimeout(this.lostTimer);
    this.endAll(end);
    this.socket?.destroy();
    this.socket = null;
  }

  private connect(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const socket = net().connect(this.socketPath);
      socket.once('error', (err) => {
        this.connecting = null;
        reject(vmError(`Could not connect to the serial console of ${this.label} (${this.socketPath}): ${err.message}. Stop the box and start it again.`, err));
      });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        socket.on('error', () => undefined); // 'close' follows and says what matters
        this.connecting = null;
        this.socket = socket;
        socket.on('data', (bytes: Buffer) => {
          for (const viewer of this.viewers) viewer.stream.push(bytes);
        });
        socket.on('drain', () => {
          for (const viewer of this.viewers) viewer.stream.writable();
        });
        socket.on('close', () => this.lost(socket));
        this.logger.info('serial console attached', { op: 'console-attach', boxId: this.boxId });
        resolve(socket);
      });
    });
    return this.connecting;
  }

  /** The socket closed under us: usually QEMU exiting, which the supervisor reports in a moment. */
  private lost(socket: Socket) {
    if (this.socket !== socket || this.endedWith) return;
    this.socket = null;
    this.lostTimer = setTimeout(() => {
      this.lostTimer = null;
      if (this.endedWith) return;
      // Not ended for good: a later open connects again.
      this.endAll({ reason: 'error', message: `The serial connection to ${this.label} was lost; open the console again.` });
    }, WHY_WAIT_MS);
    this.lostTimer.unref?.();
  }

  private endAll(end: StreamEnd) {
    for (const viewer of [...this.viewers]) this.drop(viewer, end);
  }

  /** Ends one viewer from this side; the others go on. */
  private drop(viewer: Viewer, end: StreamEnd) {
    this.forget(viewer);
    viewer.stream.end(end);
  }

  private forget(viewer: Viewer) {
    this.stopTimer(viewer);
    this.viewers.delete(viewer);
    this.updateFlow();
  }

  private stopTimer(viewer: Viewer) {
    if (viewer.slowTimer) clearTimeout(viewer.slowTimer);
    viewer.slowTimer = null;
  }

  private updateFlow() {
    const socket = this.socket;
    if (!socket) return;
    if ([...this.viewers].some((v) => v.paused)) socket.pause();
    else socket.resume();
  }
}
