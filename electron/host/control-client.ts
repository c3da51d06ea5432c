// The CLI side of the control socket: when an app (or `boxkeep serve`) owns the home, calls go
// to it over <home>/control.sock and come back with the owner's results and errors.
import net from 'node:net';
import { BoxkeepError } from '../../shared/errors.js';
import { Emitter } from '../../shared/events.js';
import type { Router } from '../../shared/transport.js';
import { jsonCarrier, StreamClient } from '../../shared/stream-wire.js';
import { deliverServerMessage, MAX_MESSAGE_BYTES, readHostMessage, type PendingCall } from '../../shared/wire.js';
import { controlEndpoint } from './control-endpoint.js';
import { onLines } from './lines.js';

export interface ControlClient extends Router {
  close(): void;
}

/** Error codes meaning "nobody is listening": the caller owns the home itself instead. */
const NOBODY_HOME = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK']);

/**
 * Connects to the owner of the home whose control socket is `socketPath`. Resolves to null
 * when no owner is listening (no socket, or one left by a process that died).
 */
export function connectControl(socketPath: string, opts: { timeoutMs?: number } = {}): Promise<ControlClient | null> {
  const endpoint = controlEndpoint(socketPath);
  return new Promise((resolve, reject) => {
    const socket = net.connect(endpoint);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new BoxkeepError('InvalidState', `The Boxkeep app owning this home does not answer on ${endpoint}. If it hangs, close it (or end it) and try again.`));
    }, opts.timeoutMs ?? 3000);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code && NOBODY_HOME.has(err.code)) resolve(null);
      else reject(new BoxkeepError('InvalidState', `Could not reach the Boxkeep app on ${endpoint}: ${err.message}`));
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(wrap(socket, endpoint));
    });
  });
}

function wrap(socket: net.Socket, endpoint: string): ControlClient {
  const events = new Emitter();
  const pending = new Map<number, PendingCall>();
  let nextId = 1;
  let closedBy: BoxkeepError | null = null;
  const writeLine = (message: object) => !socket.destroyed && socket.write(JSON.stringify(message) + '\n');
  // Stream data goes base64 in JSON lines: one framing for everything on this socket.
  const streams = new StreamClient(jsonCarrier(writeLine));

  onLines(socket, (line) => {
    // A line we cannot read is skipped; its call fails when the socket closes.
    const message = readHostMessage(line);
    if (!message) return;
    if (message.type.startsWith('stream-')) streams.receive(message as never);
    else deliverServerMessage(message as never, pending, events);
  });
  const fail = () => {
    closedBy ??= new BoxkeepError('InvalidState', `The Boxkeep app closed the connection (${endpoint}); it may have quit. Run the command again.`);
    for (const call of pending.values()) call.reject(closedBy);
    pending.clear();
    streams.dropAll(closedBy.message);
  };
  socket.on('close', fail);
  socket.on('error', fail);

  return {
    invoke(channel, input) {
      if (closedBy || socket.destroyed) return Promise.reject(closedBy ?? new BoxkeepError('InvalidState', 'The connection to the Boxkeep app is closed.'));
      const id = nextId++;
      const text = JSON.stringify({ type: 'invoke', id, channel, input: input ?? {} });
      if (Buffer.byteLength(text) > MAX_MESSAGE_BYTES) {
        return Promise.reject(new BoxkeepError('InvalidArgument', 'The request is larger than 1 MB; shorten its text fields.'));
      }
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        socket.write(text + '\n');
      });
    },
    openStream(channel, input) {
      if (closedBy || socket.destroyed) return Promise.reject(closedBy ?? new BoxkeepError('InvalidState', 'The connection to the Boxkeep app is closed.'));
      return streams.open(channel, input ?? {});
    },
    on: (event, listener) => events.on(event, listener),
    close() {
      closedBy ??= new BoxkeepError('InvalidState', 'The connection to the Boxkeep app was closed by this process.');
      // Not end() first: destroy() right after it drops what end() would have sent anyway.
      socket.destroy();
    },
  };
}
