// The local control socket, <home>/control.sock: the process that owns a home (the app, or
// `boxkeep serve`) listens here so `boxkeep ...` forwards to it instead of fighting over the
// home lock. One JSON message per line, as shared/wire.ts describes.
import fs from 'node:fs';
import net from 'node:net';
import { BoxkeepError } from '../../shared/errors.js';
import type { Router } from '../../shared/transport.js';
import { MAX_MESSAGE_BYTES } from '../../shared/wire.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { controlEndpoint } from './control-endpoint.js';
import { onLines } from './lines.js';
import { openSession, UNATTRIBUTED_ID, type ClientSession } from './session.js';

export interface ControlServer {
  /** Where clients connect: the socket file, or the named pipe on Windows. */
  endpoint: string;
  /** Stops listening and cuts every connection; with waitForCallsMs, calls in flight first get that long to answer. */
  close(opts?: { waitForCallsMs?: number }): Promise<void>;
}

/**
 * Listens on the home's control socket. Call only while holding the home lock: a socket file
 * left by a crashed owner is removed, which would cut off a live owner.
 */
export async function startControlServer(opts: { router: Router; socketPath: string; logger?: Logger }): Promise<ControlServer> {
  const logger = opts.logger ?? silentLogger;
  const endpoint = controlEndpoint(opts.socketPath);
  const isFile = process.platform !== 'win32';
  const sockets = new Set<net.Socket>();
  const sessions = new Set<ClientSession>();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    const session = openSession(opts.router, { send: (text) => !socket.destroyed && socket.write(text + '\n') });
    sessions.add(session);
    onLines(socket, (line) => session.receive(line), {
      maxChars: MAX_MESSAGE_BYTES,
      onOverflow() {
        const error = new BoxkeepError('InvalidArgument', 'The message is larger than 1 MB; the connection is closed.').toWire();
        socket.end(JSON.stringify({ type: 'result', id: UNATTRIBUTED_ID, ok: false, error }) + '\n');
      },
    });
    const done = () => {
      session.close();
      sessions.delete(session);
      sockets.delete(socket);
    };
    socket.on('close', done);
    socket.on('error', done);
  });

  if (isFile) removeStaleSocket(endpoint);
  // Listen on a private name, restrict it to this user, then move it into place: the socket
  // is never reachable by others, not even for the moment between listen and chmod.
  const staging = isFile ? `${endpoint}.${process.pid}.tmp` : endpoint;
  if (isFile) fs.rmSync(staging, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(explainListenError(err, endpoint)));
    server.listen(staging, () => resolve());
  });
  if (isFile) {
    fs.chmodSync(staging, 0o600);
    fs.renameSync(staging, endpoint);
  }
  logger.info('control socket listening', { op: 'control-listen', endpoint });

  return {
    endpoint,
    async close(closeOpts = {}) {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      if (closeOpts.waitForCallsMs) {
        // A command forwarded here just before this owner finished (a `box stop` that ended an
        // attached console) gets its answer, written out, before the connection goes.
        const waited = Promise.all([...sessions].map((s) => s.settled()));
        await Promise.race([waited, new Promise((r) => setTimeout(r, closeOpts.waitForCallsMs).unref())]);
        await Promise.all([...sockets].map((socket) => new Promise<void>((r) => (socket.writableLength === 0 || socket.destroyed ? r() : socket.write('', () => r())))));
      }
      for (const socket of sockets) socket.destroy();
      await stopped;
      if (isFile) fs.rmSync(endpoint, { force: true });
    },
  };
}

function removeStaleSocket(endpoint: string) {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(endpoint);
  } catch {
    return;
  }
  if (!stat.isSocket()) {
    throw new BoxkeepError('Storage', `${endpoint} exists and is not a socket; move it out of the Boxkeep home and start again.`);
  }
  fs.rmSync(endpoint, { force: true });
}

function explainListenError(err: NodeJS.ErrnoException, endpoint: string): BoxkeepError {
  if (err.code === 'EINVAL' || err.code === 'ENAMETOOLONG') {
    return new BoxkeepError('Storage', `The control socket path ${endpoint} is too long for this system (${Buffer.byteLength(endpoint)} bytes; about 100 is the limit). Use a shorter home path (BOXKEEP_HOME).`);
  }
  if (err.code === 'EADDRINUSE') {
    return new BoxkeepError('InvalidState', `Another process is already listening on ${endpoint}; close the other Boxkeep instance.`);
  }
  return new BoxkeepError('Storage', `Could not open the control socket ${endpoint}: ${err.message}`);
}
