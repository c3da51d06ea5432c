// The preload: exposes window.boxkeep, one named verb per channel (built from the contract in
// shell/preload-api.ts), and `on` for events; and window.boxkeepShell, what only the desktop
// can do (a file picker). No ipcRenderer, no generic invoke reaches the page.
import { contextBridge, ipcRenderer } from 'electron';
import { buildPreloadBridge, buildShellBridge, EVENT_CHANNEL } from '../shell/preload-api.js';

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
