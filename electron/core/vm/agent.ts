// Our own QEMU guest agent client: JSON over the box's qga.sock (a virtio-serial port that
// qemu-ga in the guest reads). Unlike QMP, nobody greets us and nothing tells us whether
// anyone is listening: a guest without the agent simply never answers, and an agent that was
// restarted, or a client that gave up on a reply, leaves stale bytes in the channel. So every
// connection starts with guest-sync-delimited (a random id, a 0xFF byte before it to reset
// the agent's parser; the agent puts 0xFF before its reply, and everything before that is
// dropped), replies are read one at a time in order, and every call has a deadline: a call
// that times out poisons the connection (its reply may still come), so the caller opens a new
// one, which syncs again. libvirt's agent calls can block forever; ours never do.
import type { Socket } from 'node:net';
import { crypto, net } from '../builtins.js';
import { vmError } from '../../../shared/errors.js';

export interface AgentConnectOptions {
  /** How long guest-sync may take: past it, the guest is taken to have no agent (default 1 s). */
  syncTimeoutMs?: number;
}

const SYNC_BYTE = 0xff;
/**
 * The most the guest may have sent that no call has taken yet: the replies we ask for (sync,
 * fsfreeze) are a few bytes, and the guest is untrusted (a line that never ends, or output
 * nobody asked for, must not grow our memory). Past it the connection is dropped.
 */
export const MAX_AGENT_BUFFER = 1 << 20;

export class GuestAgent {
  private buffer = Buffer.alloc(0);
  /** Bytes before the sync reply's 0xFF are stale (an earlier client's replies): dropped. */
  private synced = false;
  private waiter: { resolve: (line: string) => void; reject: (err: Error) => void } | null = null;
  private broken: Error | null = null;

  private constructor(private readonly socket: Socket, readonly socketPath: string) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(vmError(`the guest agent channel failed: ${err.message}`)));
    socket.on('close', () => this.fail(vmError('the guest agent channel closed')));
  }

  /**
   * Connects and syncs; null when no agent answers in time (no socket, or a guest that runs
   * no agent): callers go on without it.
   */
  static async connect(socketPath: string, options: AgentConnectOptions = {}): Promise<GuestAgent | null> {
    const timeoutMs = options.syncTimeoutMs ?? 1000;
    let socket: Socket;
    try {
      socket = await openSocket(socketPath, timeoutMs);
    } catch {
      return null;
    }
    const agent = new GuestAgent(socket, socketPath);
    try {
      await agent.sync(timeoutMs);
      return agent;
    } catch {
      agent.close();
      return null;
    }
  }

  private async sync(timeoutMs: number): Promise<void> {
    const id = crypto().randomInt(1, 2 ** 47);
    this.socket.write(Buffer.from([SYNC_BYTE]));
    const deadline = Date.now() + timeoutMs;
    let reply: unknown = await this.request('guest-sync-delimited', { id }, timeoutMs).catch((err: Error) => err);
    // Anything else is an earlier client's (a sync with another id, a reply it gave up on): skip it.
    while (reply !== id) {
      if (this.broken) throw this.broken;
      reply = await this.readReply('guest-sync-delimited', Math.max(deadline - Date.now(), 1)).catch((err: Error) => err);
    }
  }

  /** Runs a command and returns its `return` value; an `error` reply becomes a BoxkeepError('Vm'). */
  call<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 5000): Promise<T> {
    return this.request(command, args, timeoutMs) as Promise<T>;
  }

  /**
   * Sends a command that answers nothing when it works (guest-shutdown: the guest is gone
   * before it could). Resolves once written.
   */
  send(command: string, args?: Record<string, unknown>): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.socket.write(message(command, args), (err) => (err ? reject(vmError(`${command} could not be sent to the guest agent: ${err.message}`)) : resolve()));
    });
  }

  close(): void {
    this.fail(vmError('the guest agent connection was closed'));
  }

  /** Still usable: a call that failed while this holds got an answer (the agent's error), not silence. */
  get open(): boolean {
    return this.broken === null;
  }

  private request(command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<unknown> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.waiter) return Promise.reject(vmError(`${command}: another guest agent call is still waiting for its reply`));
    this.socket.write(message(command, args));
    return this.readReply(command, timeoutMs);
  }

  private readReply(command: string, timeoutMs: number): Promise<unknown> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        // Its reply may still arrive and would be taken for the next call's.
        this.fail(vmError(`the guest agent did not answer ${command} within ${timeoutMs} ms`));
        reject(vmError(`the guest agent did not answer ${command} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        resolve: (line) => { clearTimeout(timer); resolve(line); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      };
      this.drain();
    }).then((line) => {
      let reply: { return?: unknown; error?: { class?: string; desc?: string } };
      try {
        reply = JSON.parse(line) as typeof reply;
      } catch {
        throw vmError(`the guest agent answered ${command} with something that is not JSON: ${line.slice(0, 200)}`);
      }
      if (reply.error) throw vmError(`${command} failed in the guest: ${reply.error.desc ?? reply.error.class ?? 'unknown error'}`);
      return reply.return;
    });
  }

  private onData(chunk: Buffer): void {
    if (this.broken) return;
    if (this.buffer.length + chunk.length > MAX_AGENT_BUFFER) {
      this.fail(vmError(`the guest agent sent more than ${MAX_AGENT_BUFFER} bytes that no call took (a reply too long, or output nobody asked for); the connection was dropped`));
      return;
    }
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.synced) {
      const at = this.buffer.indexOf(SYNC_BYTE);
      if (at < 0) {
        this.buffer = Buffer.alloc(0);
        return;
      }
      this.buffer = this.buffer.subarray(at + 1);
      this.synced = true;
    }
    this.drain();
  }

  /** Hands the next complete reply line to the waiting call, if both are there. */
  private drain(): void {
    if (!this.waiter) return;
    for (;;) {
      const newline = this.buffer.indexOf(0x0a);
      if (newline < 0) return;
      // A delimited sync reply starts with 0xFF: also in the middle of the stream, when an
      // earlier client's sync was answered first.
      const raw = this.buffer.subarray(0, newline);
      const line = raw.subarray(raw.lastIndexOf(SYNC_BYTE) + 1).toString('utf8').trim();
      this.buffer = this.buffer.subarray(newline + 1);
      if (!line) continue;
      const waiter = this.waiter;
      this.waiter = null;
      waiter.resolve(line);
      return;
    }
  }

  private fail(err: Error): void {
    if (this.broken) return;
    this.broken = err;
    this.socket.destroy();
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(err);
  }
}

function message(command: string, args?: Record<string, unknown>): string {
  return JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args }) + '\n';
}

function openSocket(socketPath: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net().createConnection(socketPath);
    const timer = setTimeout(() => onError(vmError(`no connection to ${socketPath} within ${timeoutMs} ms`)), timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
