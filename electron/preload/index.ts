// The preload: exposes window.boxkeep, one named verb per channel (built from the contract in
// preload/bridge.ts, the desktop-only ones such as the file picker included), and `on` for
// events. No ipcRenderer, no generic invoke reaches the page.
import { contextBridge, ipcRenderer } from 'electron';
import { EVENT_CHANNEL } from '../../shared/ipc.js';
import { buildPreloadBridge } from './bridge.js';

const bridge = buildPreloadBridge(
  (channel, input) => ipcRenderer.invoke(channel, input),
  (listener) => {
    const handler = (_event: unknown, message: unknown) => listener(message);
    ipcRenderer.on(EVENT_CHANNEL, handler);
    return () => void ipcRenderer.off(EVENT_CHANNEL, handler);
  },
);

contextBridge.exposeInMainWorld('boxkeep', bridge);
