// The preload: exposes window.boxkeep, one named verb per channel (built from the contract in
// preload/bridge.ts, the desktop-only ones such as the file picker included), and `on` for
// events. No ipcRenderer, no generic invoke reaches the page.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { EVENT_CHANNEL, STREAM_PORT_CHANNEL } from '../../shared/ipc.js';
import type { PortEnd } from '../../shared/port-stream.js';
import { buildPreloadBridge, createPortInbox } from './bridge.js';

// A stream's MessagePort stays here: the page gets functions over it, never the port.
const ports = createPortInbox();
ipcRenderer.on(STREAM_PORT_CHANNEL, (event: IpcRendererEvent, opened: { stream?: unknown }) => {
  const port = event.ports[0];
  if (event.ports.length === 1 && port && typeof opened?.stream === 'number') ports.deliver(opened.stream, domPort(port));
});

function domPort(port: IpcRendererEvent['ports'][number]): PortEnd {
  return {
    post: (frame) => port.postMessage(frame),
    onMessage: (listener) => (port.onmessage = (e: { data: unknown }) => listener(e.data)),
    onClose: (listener) => port.addEventListener('close', listener),
    start: () => port.start(),
    close: () => port.close(),
  };
}

const bridge = buildPreloadBridge(
  (channel, input) => ipcRenderer.invoke(channel, input),
  (listener) => {
    const handler = (_event: unknown, message: unknown) => listener(message);
    ipcRenderer.on(EVENT_CHANNEL, handler);
    return () => void ipcRenderer.off(EVENT_CHANNEL, handler);
  },
  ports,
);

contextBridge.exposeInMainWorld('boxkeep', bridge);
