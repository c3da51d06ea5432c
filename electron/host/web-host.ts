// The web host: the built renderer over HTTP and the router over a WebSocket, on 127.0.0.1
// only, behind a random token. It is how the UI runs in a plain browser (tests, headless
// Linux hosts) with exactly the contract the Electron window uses.
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Router } from '../../shared/transport.js';
import { encodeDataFrame } from '../../shared/stream-wire.js';
import { MAX_MESSAGE_BYTES } from '../../shared/wire.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { checkAccess, checkOrigin, newToken, TOKEN_PARAM } from './access.js';
import { openSession } from './session.js';
import { lookupStatic, rendererBuilt } from './static-files.js';
import { SECURITY_HEADERS, webHostCsp } from './ui-policy.js';

export const WS_PATH = '/ws';

/** The page may open a WebSocket to this host's own port and nowhere else. */
const headersFor = (port: number): Record<string, string> => ({ ...SECURITY_HEADERS, 'Content-Security-Policy': webHostCsp(port) });
/** A browser tab that stops reading events is cut off rather than growing our memory. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export interface WebHostOptions {
  router: Router;
  /** The built renderer: dist/renderer. */
  staticDir: string;
  /** 0 (the default) lets the system pick a free port. */
  port?: number;
  /** Tests pass a fixed token; everyone else gets a fresh random one. */
  token?: string;
  logger?: Logger;
}

export interface WebHost {
  /** The address to open, token included. */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

export async function startWebHost(opts: WebHostOptions): Promise<WebHost> {
  const token = opts.token ?? newToken();
  const logger = opts.logger ?? silentLogger;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  let port = 0;

  const server = http.createServer((req, res) => {
    try {
      serveHttp(req, res);
    } catch (err) {
      logger.error('web host request failed', { url: req.url?.split('?')[0], error: String(err) });
      if (!res.headersSent) plain(res, 500, 'Boxkeep could not serve this request; see the log.');
    }
  });

  function serveHttp(req: IncomingMessage, res: ServerResponse) {
    const access = checkOrigin(req, port);
    if (!access.ok) return plain(res, access.status, access.message);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return plain(res, 405, `The web host serves files only (GET); ${req.method} is not allowed. Use the WebSocket at ${WS_PATH}.`);
    }
    const pathname = rawPath(req);
    if (pathname === WS_PATH) return plain(res, 426, 'This address is the WebSocket; connect to it with a WebSocket client.');
    if (!rendererBuilt(opts.staticDir)) {
      return plain(res, 503, `The Boxkeep UI is not built yet (no index.html in ${opts.staticDir}). Run \`npm run build:renderer\`, then reload.`);
    }
    const found = lookupStatic(opts.staticDir, pathname);
    if (found.kind === 'refused') return plain(res, 400, found.reason);
    if (found.kind === 'missing') {
      // Browsers ask for a favicon on their own; a build without one should not log an error.
      if (pathname === '/favicon.ico') return res.writeHead(204, headersFor(port)).end();
      return plain(res, 404, `No such file: ${pathname.slice(0, 200)}`);
    }
    const headers: Record<string, string> = { ...headersFor(port), 'Content-Type': found.contentType };
    // index.html must never be cached: it names the hashed assets of the current build.
    headers['Cache-Control'] = found.isIndex ? 'no-store' : 'private, max-age=3600';
    const size = fs.statSync(found.file).size;
    res.writeHead(200, { ...headers, 'Content-Length': String(size) });
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(found.file)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  // Guarded like a request: whatever a client sends, it gets an answer and the host keeps running.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      upgrade(req, socket, head);
    } catch (err) {
      logger.error('web host upgrade failed', { url: req.url?.split('?')[0], error: String(err) });
      refuseUpgrade(socket, 500, 'Boxkeep could not open this WebSocket; see the log.');
    }
  });

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const access = checkAccess(req, port, token);
    if (rawPath(req) !== WS_PATH) return refuseUpgrade(socket, 404, `The WebSocket lives at ${WS_PATH}.`);
    if (!access.ok) {
      logger.warn('web host refused a WebSocket', { status: access.status, origin: req.headers.origin ?? null });
      return refuseUpgrade(socket, access.status, access.message);
    }
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws));
  }

  function attach(ws: WebSocket) {
    const session = openSession(opts.router, {
      send(text) {
        if (ws.readyState !== ws.OPEN) return false;
        if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
          ws.terminate();
          return false;
        }
        ws.send(text);
        return true;
      },
      // Stream data as binary frames (shared/stream-wire.ts); the same cap on what a tab may leave unread.
      sendData(stream, bytes) {
        if (ws.readyState !== ws.OPEN) return;
        if (ws.bufferedAmount > MAX_BUFFERED_BYTES) return ws.terminate();
        ws.send(encodeDataFrame(stream, bytes), { binary: true });
      },
    });
    ws.on('message', (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (isBinary) session.receiveBinary(bytes);
      else session.receive(bytes.toString('utf8'));
    });
    ws.on('close', () => session.close());
    ws.on('error', () => session.close());
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(Object.assign(new Error(`Port ${opts.port} on 127.0.0.1 is already in use: pick another with --port, or leave it out to use any free port.`), { code: err.code }));
      else if (err.code === 'EACCES') reject(new Error(`Port ${opts.port} needs privileges this user does not have: pick a port above 1023.`));
      else reject(err);
    });
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}/?${TOKEN_PARAM}=${token}`,
    port,
    token,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function plain(res: ServerResponse, status: number, message: string) {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(message + '\n');
}

/**
 * The path as sent, not URL-normalized ("/%2e%2e/x" must reach lookupStatic to be refused), and
 * never parsed as a URL: a path like "//" is no URL and would throw.
 */
function rawPath(req: IncomingMessage): string {
  return (req.url ?? '/').split(/[?#]/)[0] || '/';
}

function refuseUpgrade(socket: Duplex, status: number, message: string) {
  const reason = http.STATUS_CODES[status] ?? 'Refused';
  const body = message + '\n';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
