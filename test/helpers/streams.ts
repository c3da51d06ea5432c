// Reads a ByteStream as text, as a person watching a terminal would: everything received so
// far, and a wait for a pattern to show up in it.
import type { ByteStream, StreamEnd } from '../../shared/streams.js';

export interface StreamText {
  /** Everything received, decoded as UTF-8, with \r\n as \n. */
  text(): string;
  bytes(): number;
  waitFor(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  ended: Promise<StreamEnd>;
  send(text: string): boolean;
}

export function readStream(stream: ByteStream): StreamText {
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  const waiters = new Set<() => void>();
  stream.onData((chunk) => {
    bytes += chunk.length;
    text += decoder.decode(chunk, { stream: true });
    for (const w of [...waiters]) w();
  });
  const ended = new Promise<StreamEnd>((resolve) => stream.onClose(resolve));
  return {
    text: () => text.replace(/\r\n/g, '\n'),
    bytes: () => bytes,
    ended,
    send: (t) => stream.write(new TextEncoder().encode(t)),
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const t = text.replace(/\r\n/g, '\n');
          const m = typeof pattern === 'string' ? (t.includes(pattern) ? pattern : null) : pattern.exec(t)?.[0] ?? null;
          if (m !== null) {
            done();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${String(pattern)} did not come through the stream within ${timeoutMs} ms; got ${JSON.stringify(text.slice(-300))}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** worker_threads' MessagePort in the shape of an Electron MessagePortMain end (data, not an event, on 'message'). */
export function nodePort(port: import('node:worker_threads').MessagePort): import('../../shared/port-stream.js').PortEnd {
  return {
    post: (frame) => port.postMessage(frame),
    onMessage: (listener) => void port.on('message', listener),
    onClose: (listener) => void port.on('close', listener),
    start: () => port.start(),
    close: () => port.close(),
  };
}

/**
 * The Electron IPC path minus Electron: the sender check and stream handler of shell/ipc.ts,
 * the preload bridge with its port inbox, the renderer's transport; worker_threads'
 * MessageChannel stands in for MessageChannelMain and the DOM port.
 */
export async function electronBridge(router: import('../../shared/transport.js').Router, desktop?: import('../../electron/shell/ipc.js').DesktopHandlers) {
  const { MessageChannel } = await import('node:worker_threads');
  const { ipcHandlers } = await import('../../electron/shell/ipc.js');
  const { buildPreloadBridge, createPortInbox } = await import('../../electron/preload/bridge.js');
  const { APP_ORIGIN } = await import('../../electron/shell/security.js');
  const { connectBridge } = await import('../../renderer/src/transport.js');
  const sender = { webContentsId: 7, frame: { url: `${APP_ORIGIN}/index.html`, isMainFrame: true } };
  const inbox = createPortInbox();
  const streams = {
    create() {
      const { port1, port2 } = new MessageChannel();
      return { local: nodePort(port1), remote: port2 };
    },
    hand: (_sender: unknown, opened: { stream: number }, remote: unknown) => inbox.deliver(opened.stream, nodePort(remote as import('node:worker_threads').MessagePort)),
  };
  const handlers = ipcHandlers(router, () => ({ webContentsIds: new Set([7]), devServerUrl: null }), { desktop, streams });
  const preload = buildPreloadBridge((channel, input) => handlers.get(channel)!(sender, input), () => () => {}, inbox);
  return { bridge: await connectBridge({ preload }), handlers, sender };
}
