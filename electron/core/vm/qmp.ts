// Our own QMP client: JSON lines over QEMU's unix socket. One client per QEMU (its QMP
// monitor serves one connection at a time), commands matched to replies by id, events
// fanned out to listeners, and a deadline on everything so a wedged QEMU never hangs a caller.
import type { Socket } from 'node:net';
import { net } from '../builtins.js';
import { vmError } from '../../../shared/errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpGreeting {
  version: { qemu: { major: number; minor: number; micro: number }; package: string };
  capabilities: string[];
}

export interface QmpConnectOptions {
  /** How long to keep retrying the connect and waiting for the greeting (default 10 s). */
  timeoutMs?: number;
  /** Default timeout of every command (default 10 s). */
  commandTimeoutMs?: number;
  /** Checked between retries so a QEMU that died at start fails fast instead of at the deadline. */
  isAlive?: () => boolean;
  logger?: Logger;
}

export interface ExecuteOptions {
  timeoutMs?: number;
}

type EventListener = (event: QmpEvent) => void;
type CloseListener = (reason: Error | null) => void;

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const RETRY_MS = 10;
const RETRYABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

export class QmpClient {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<string, Set<EventListener>>();
  private readonly closeListeners = new Set<CloseListener>();
  private closeReason: Error | null | undefined = undefined;
  private greetingWaiter: ((value: QmpGreeting) => void) | null = null;
  greeting: QmpGreeting | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly socketPath: string,
    private readonly commandTimeoutMs: number,
    private readonly logger: Logger,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.onClosed(err));
    socket.on('close', () => this.onClosed(null));
  }

  /**
   * Connects, retrying while the socket is not there yet (QEMU creates it ~40–50 ms after
   * spawn), reads the greeting and leaves capabilities negotiation mode.
   */
  static async connect(socketPath: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    const logger = options.logger ?? silentLogger;
    let lastError: NodeJS.ErrnoException | null = null;
    for (;;) {
      if (options.isAlive && !options.isAlive()) {
        throw vmError(`QEMU exited before its QMP socket ${socketPath} accepted a connection`);
      }
      try {
        const socket = await openSocket(socketPath);
        const client = new QmpClient(socket, socketPath, options.commandTimeoutMs ?? 10_000, logger);
        try {
          await client.handshake(Math.max(deadline - Date.now(), 1));
        } catch (err) {
          client.close();
          throw err;
        }
        return client;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (!code || !RETRYABLE.has(code)) throw err;
        lastError = err as NodeJS.ErrnoException;
      }
      if (Date.now() >= deadline) {
        throw vmError(`Could not connect to QMP at ${socketPath} within ${timeoutMs} ms (${lastError?.code}); is QEMU running?`);
      }
      await sleep(RETRY_MS);
    }
  }

  private async handshake(timeoutMs: number): Promise<void> {
    let offClose = () => {};
    let timer: NodeJS.Timeout | undefined;
    try {
      this.greeting = await new Promise<QmpGreeting>((resolve, reject) => {
        // Another client holding the monitor leaves us queued in the listen backlog, silent.
        timer = setTimeout(() => {
          reject(vmError(`QMP at ${this.socketPath} sent no greeting within ${timeoutMs} ms; is another client connected?`));
        }, timeoutMs);
        this.greetingWaiter = resolve;
        offClose = this.onClose((reason) => {
          reject(vmError(`QMP at ${this.socketPath} closed before its greeting${reason ? `: ${reason.message}` : ''}`));
        });
      });
    } finally {
      clearTimeout(timer);
      offClose();
      this.greetingWaiter = null;
    }
    await this.execute('qmp_capabilities', undefined, { timeoutMs });
  }

  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  /** Runs a command; `error` replies become BoxkeepError('Vm', '<command> failed: <desc>'). */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: ExecuteOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(vmError(`${command} failed: the QMP connection is closed`));
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(Object.assign(vmError(`QMP command ${command} timed out after ${timeoutMs} ms`), { [TIMED_OUT]: true }));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.socket.write(JSON.stringify(message) + '\n');
    });
  }

  /** Subscribes to an event by name, or to every event with '*'. Returns the unsubscribe. */
  on(event: string, listener: EventListener): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * The next event of that name matching the predicate. Subscribe before triggering it:
   * `const stopped = qmp.waitForEvent('STOP'); await qmp.execute('stop'); await stopped`.
   */
  waitForEvent(name: string, predicate: (event: QmpEvent) => boolean = () => true, timeoutMs = 10_000): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(vmError(`QEMU is gone; event ${name} will not come`));
      const done = () => {
        clearTimeout(timer);
        off();
        offClose();
      };
      const timer = setTimeout(() => {
        done();
        reject(vmError(`QMP event ${name} did not arrive within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on(name, (event) => {
        if (!predicate(event)) return;
        done();
        resolve(event);
      });
      const offClose = this.onClose(() => {
        done();
        reject(vmError(`QEMU closed its QMP connection while waiting for ${name}`));
      });
    });
  }

  /**
   * Called once when the connection ends: QEMU exited or was killed (reason null, or the
   * socket error), or close() was called. Fires at once if already closed.
   */
  onClose(listener: CloseListener): () => void {
    if (this.closed) {
      queueMicrotask(() => listener(this.closeReason ?? null));
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Closes our end; QEMU keeps running. */
  close(): void {
    this.destroy();
  }

  private destroy(): void {
    this.socket.destroy();
    this.onClosed(null);
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line) this.onLine(line);
    }
  }

  private onLine(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.logger.warn('qmp: unparsable line', { op: 'qmp', line: line.slice(0, 200) });
      return;
    }
    if ('QMP' in message) {
      this.greetingWaiter?.(message.QMP as QmpGreeting);
      this.greetingWaiter = null;
    } else if (typeof message.event === 'string') {
      this.emit(message as unknown as QmpEvent);
    } else if (typeof message.id === 'number') {
      const pending = this.pending.get(message.id);
      if (!pending) return; // Its caller already timed out.
      this.pending.delete(message.id);
      clearTimeout(pending.timer);
      if ('error' in message) {
        const error = message.error as { class?: string; desc?: string };
        pending.reject(vmError(`${pending.command} failed: ${error.desc ?? error.class ?? 'unknown error'}`));
      } else {
        pending.resolve(message.return);
      }
    } else {
      this.logger.warn('qmp: reply without our id', { op: 'qmp', line: line.slice(0, 200) });
    }
  }

  private emit(event: QmpEvent): void {
    for (const key of [event.event, '*']) {
      for (const listener of [...(this.listeners.get(key) ?? [])]) {
        try {
          listener(event);
        } catch (err) {
          this.logger.error('qmp: event listener threw', { op: 'qmp', event: event.event, error: String(err) });
        }
      }
    }
  }

  private onClosed(reason: Error | null): void {
    if (this.closed) return;
    this.closeReason = reason;
    this.socket.destroy();
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      // `quit` is answered, then the socket closes; any other command in flight is lost.
      pending.reject(vmError(`${pending.command} failed: QEMU closed the QMP connection`));
      this.pending.delete(id);
    }
    for (const listener of [...this.closeListeners]) {
      try {
        listener(reason);
      } catch (err) {
        this.logger.error('qmp: close listener threw', { op: 'qmp', error: String(err) });
      }
    }
    this.closeListeners.clear();
  }
}

function openSocket(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net().createConnection(socketPath);
    const onError = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const TIMED_OUT = Symbol('timed out');

/** Did a command fail because its reply did not come in time (QEMU may still run it), not by QEMU's word? */
export const isTimeout = (err: unknown): boolean => typeof err === 'object' && err !== null && TIMED_OUT in err;

/**
 * Sends commands back to back, each without waiting for the reply to the one before: QEMU runs
 * a monitor's commands one at a time in the order they came, so this is the sequence, minus a
 * round trip each (on a loaded host, where QEMU's main loop shares the CPU with the guest, ~1 ms
 * apiece). Only for a sequence where a command whose predecessor failed fails harmlessly too.
 * Settles once every reply is in: with the results, or with the first failure, in order.
 */
export async function executeInOrder(qmp: Pick<QmpClient, 'execute'>, commands: [string, Record<string, unknown>?][]): Promise<unknown[]> {
  const settled = await Promise.allSettled(commands.map(([command, args]) => qmp.execute(command, args)));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
}

