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
import type { ControlServer } from '../host/control-server.js';
import type { Core } from '../core/core.js';
import type { Router } from '../../shared/transport.js';
import type { HomeReader } from '../core/reader.js';
import { BoxkeepError } from '../../shared/errors.js';

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

/** Streams that end of themselves in a moment (a screenshot's bytes): nobody needs to forward here meanwhile. */
const ENDS_BY_ITSELF: ReadonlySet<StreamChannel> = new Set<StreamChannel>(['displays:screenshot']);

export interface ConnectOptions {
  logger?: Logger;
  /** The command calls only read channels (Command.readOnly): a home nobody owns is opened for reading alone. */
  readOnly?: boolean;
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
  if (opts.readOnly) {
    const { openReader } = await import('../core/reader.js');
    const reader = openReader(home);
    if (reader) return reading(reader);
  }
  return inProcess(home, opts);
}

/** A home opened for reading: no events, no streams, nothing to serve (core/reader.ts). */
function reading(reader: HomeReader): Invoker {
  return {
    invoke: async (channel, input) => reader.invoke(channel, input),
    openStream: async (channel) => {
      throw new BoxkeepError('Internal', `${channel} opens a stream, which a home opened for reading does not.`);
    },
    on: () => () => {},
    close: async () => reader.close(),
    openedWith: reader.openedWith,
  };
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
  let serving: Promise<ControlServer | null> | null = null;
  return {
    invoke: (channel, input) => router.invoke(channel, input),
    // A box some earlier command started was adopted when the home opened: its serial socket is ours to hold now.
    async openStream(channel, input) {
      const stream = await router.openStream(channel, input);
      if (ENDS_BY_ITSELF.has(channel)) return stream;
      // Attached, this command holds the home for as long as the person works in the terminal:
      // listen on the control socket, as `boxkeep serve` does, so commands from other shells
      // (a snapshot meanwhile) forward here instead of being refused the home.
      serving ??= serveControl(core, router);
      await serving;
      return stream;
    },
    on: (event, listener) => router.on(event, listener),
    async close() {
      // Commands other shells forwarded here get their answers first (a `box stop` that ended this console).
      await (await serving)?.close({ waitForCallsMs: FORWARDED_CALLS_WAIT_MS });
      await core.close();
    },
    openedWith: core.lastRecovery,
  };
}

/** How long a detaching console waits for commands forwarded to it to answer. */
const FORWARDED_CALLS_WAIT_MS = 30_000;

async function serveControl(core: Core, router: Router): Promise<ControlServer | null> {
  const [{ startControlServer }, { loggedRouter }] = await Promise.all([import('../host/control-server.js'), import('../host/logged-router.js')]);
  try {
    return await startControlServer({ router: loggedRouter(router, core.logger, 'cli'), socketPath: core.paths.controlSocket, logger: core.logger });
  } catch (err) {
    // Still attached; only other commands are refused the home, as before.
    core.logger.warn('control socket unavailable: other `boxkeep` commands cannot reach this one', { op: 'control-listen', error: (err as Error).message });
    return null;
  }
}
