// How the CLI reaches the engine. Commands only see this interface, so where the engine runs
// (in this process, or inside a running app) is decided in one place: connect().
import type { Channel, StreamChannel } from '../../shared/channels.js';
import type { ByteStream } from '../../shared/streams.js';
import type { EventMap, EventName } from '../../shared/events.js';
import type { RecoveryReport } from '../../shared/types.js';
import type { Logger } from '../core/logger.js';
import { HomePaths } from '../core/paths.js';
import fs from 'node:fs';
import type { ControlClient } from '../host/control-client.js';

export interface Invoker {
  /** Runs a channel; rejects with a BoxkeepError only. */
  invoke(channel: Channel, input: unknown): Promise<unknown>;
  /** Opens a stream channel (box console --attach), here or in the owning app alike. */
  openStream(channel: StreamChannel, input: unknown): Promise<ByteStream>;
  on<E extends EventName>(event: E, listener: (payload: EventMap[E]) => void): () => void;
  close(): Promise<void>;
  /** What recovery did when this process opened the home; null when another process owns it. */
  readonly openedWith: RecoveryReport | null;
}

export interface ConnectOptions {
  logger?: Logger;
}

export async function connect(home: string, opts: ConnectOptions = {}): Promise<Invoker> {
  // While the app (or `boxkeep serve`) runs it owns the home (home.lock) and listens on
  // <home>/control.sock speaking shared/wire.ts: forward to it rather than fight over the home.
  // No socket file, no owner: the client (and node:net) is loaded only when there may be one.
  const socket = new HomePaths(home).controlSocket;
  if (process.platform === 'win32' || fs.existsSync(socket)) {
    const { connectControl } = await import('../host/control-client.js');
    const owner = await connectControl(socket);
    if (owner) return forwarded(owner);
  }
  return inProcess(home, opts);
}

function forwarded(client: ControlClient): Invoker {
  return {
    invoke: (channel, input) => client.invoke(channel, input),
    openStream: (channel, input) => client.openStream(channel, input),
    on: (event, listener) => client.on(event, listener),
    close: async () => client.close(),
    openedWith: null,
  };
}

async function inProcess(home: string, opts: ConnectOptions): Promise<Invoker> {
  // Loaded here, not at the top: help and usage errors must not pay for SQLite and the engine.
  const [{ openCore }, { createRouter }] = await Promise.all([import('../core/core.js'), import('../core/router.js')]);
  const core = await openCore({ home, owner: 'cli', recovery: 'when-needed', ...(opts.logger ? { logger: opts.logger } : {}) });
  const router = createRouter(core);
  return {
    invoke: (channel, input) => router.invoke(channel, input),
    // A box some earlier command started was adopted when the home opened: its serial socket is ours to hold now.
    openStream: (channel, input) => router.openStream(channel, input),
    on: (event, listener) => router.on(event, listener),
    close: () => core.close(),
    openedWith: core.lastRecovery,
  };
}
