// The preload: exposes window.boxkeep, one named verb per channel (built from the contract in
// preload/bridge.ts), and `on` for events; and window.boxkeepShell, what only the desktop
// can do (a file picker). No ipcRenderer, no generic invoke reaches the page.
import { contextBridge, ipcRenderer } from 'electron';
import { EVENT_CHANNEL } from '../../shared/ipc.js';
import { buildPreloadBridge, buildShellBridge } from './bridge.js';

const bridge = buildPreloadBridge(
  (channel, input) => ipcRenderer.invoke(channel, input),
  (listener) => {
    const handler = (_event: unknown, message: unknown) => listener(message);
    ipcRenderer.on(EVENT_CHANNEL, handler);
    return () => void ipcRenderer.off(EVENT_CHANNEL, handler);
  },
);

contextBridge.exposeInMainWorld('boxkeep', bridge);
contextBridge.exposeInMainWorld('boxkeepShell', buildShellBridge((channel) => ipcRenderer.invoke(channel)));
